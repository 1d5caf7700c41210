"""Numbers quoted from the CSC413 assignment 2 (csc413assignment2)."""

from __future__ import annotations

from gancnn.quotes._quote import Quote
from gancnn.reference.colourization import QUOTED, REFERENCE

SOURCE = "csc413assignment2"

# The colourisation results paragraph of part 5 (after "Figure 1: training and validation loss for
# 25 epochs", before 5.4): the reference protocol's epochs are the coursework's, and
# `gancnn.reference.colourization.QUOTED` holds its (validation accuracy, validation loss) per network.
_RESULTS = "section 5, results after figure 1 (before 5.4)"


def _accuracy(arch: str) -> Quote:
    """The validation pixel accuracy (%) the coursework reports for a network after its 25-epoch run."""
    percent = round(100 * QUOTED[arch][0], 1)
    what = f"validation pixel accuracy (%) of {arch} after the 25 epochs (the PoolUpsampleNet one is 'the highest')"
    return Quote(SOURCE, _RESULTS, what, percent, f"{percent:.1f}%")


def _loss(arch: str) -> Quote:
    """The validation cross-entropy the coursework reports for a network after its 25-epoch run."""
    loss = QUOTED[arch][1]
    return Quote(SOURCE, _RESULTS, f"validation loss of {arch}", loss, f"{loss:.4f}")


QUOTES: dict[str, Quote] = {
    "colour_epochs": Quote(SOURCE, _RESULTS, "training epochs of the colourisation networks", REFERENCE.epochs),
    "pool_val_acc": _accuracy("PoolUpsampleNet"),
    "pool_val_loss": _loss("PoolUpsampleNet"),
    "convt_val_acc": _accuracy("ConvTransposeNet"),
    "convt_val_loss": _loss("ConvTransposeNet"),
}

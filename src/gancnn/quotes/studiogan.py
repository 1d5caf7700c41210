"""Numbers quoted from the PyTorch-StudioGAN benchmark table (kang2023studiogan).

The CIFAR-10 FIDs of the library's benchmark table (10K test vs 10K generated images, standard FID; 49.030
for DCGAN and 14.009 for SAGAN), held rounded in `gancnn.reference.gans.STUDIOGAN_FID` and read from there.
"""

from __future__ import annotations

from gancnn.quotes._quote import Quote
from gancnn.reference.gans import STUDIOGAN_FID

SOURCE = "kang2023studiogan"

QUOTES: dict[str, Quote] = {
    f"{model}_fid": Quote(
        SOURCE,
        "CIFAR-10 benchmark table (10K test vs 10K generated images)",
        f"standard FID of StudioGAN's {model.upper()} on CIFAR-10",
        STUDIOGAN_FID[model],
    )
    for model in ("dcgan", "sagan")
}

"""gancnn: the small library behind the book "GANs and CNNs from the inside"."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _inline_figures_in_kernels() -> None:
    """Inside a Jupyter kernel, draw figures inline even when MPLBACKEND=Agg leaked from the shell."""
    if "ipykernel" not in _sys.modules or _os.environ.get("MPLBACKEND", "").lower() != "agg":
        return
    _os.environ.pop("MPLBACKEND")
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


_inline_figures_in_kernels()

"""The reference tier: networks trained once with a modern schedule, stored under `artifacts/reference/`.

Chapters load these weights instead of training, so the quick build spends its minutes on the
analyses. `python -m gancnn.reference` (or `make reference`) trains whatever is missing, resuming
from `runs/checkpoints/` after an interruption.
"""

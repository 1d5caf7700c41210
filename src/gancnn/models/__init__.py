"""Model definitions, one architecture family per module (import the submodule you need)."""

"""gancnn: the small library behind the book "GANs and CNNs from the inside"."""

__version__ = "0.1.0"

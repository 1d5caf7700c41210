"""Convolution arithmetic (chapter conv-arithmetic): output sizes, convolutions as matrices, receptive fields,
normalisation layers, and the figures that draw them."""

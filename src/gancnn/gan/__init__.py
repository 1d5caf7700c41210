"""GANs (chapters gan-math and dcgan-sagan): the minimax game, spectral norms and Lipschitz bounds, operator
shape tables, GAN training, FID, and the MNIST GAN behind the Gaussian-mixture chapter."""

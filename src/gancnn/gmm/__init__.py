"""GAN data versus Gaussian mixtures (chapter gmm-equivalence): random-matrix tools and noise models."""

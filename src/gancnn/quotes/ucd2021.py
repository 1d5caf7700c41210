"""Numbers quoted from the preprint on the mathematics of GANs and GAN data as Gaussian mixtures (ucd2021ganmath).

Sections 3-4 write BigGAN-deep-256 out as operators (its sizes are quoted here where the prose names them);
sections 6-7 set up the GAN-versus-GMM experiments. The MNIST GAN's epochs and noise dimension are read from
the code that reproduces them (`gancnn.reference.mnist.SOURCE_GAN_EPOCHS`, `gancnn.models.mnist_gan.NOISE_DIM`).
"""

from __future__ import annotations

from gancnn.models.mnist_gan import NOISE_DIM
from gancnn.quotes._quote import Quote
from gancnn.reference.mnist import SOURCE_GAN_EPOCHS

SOURCE = "ucd2021ganmath"

QUOTES: dict[str, Quote] = {
    # BigGAN-deep-256 as operators (sections 3-4)
    "cond_dim": Quote(SOURCE, "section 3.2 (eq. 3)", "dimension d = 2t of the conditional vector c = (z, e)", 256),
    "stage1_channels": Quote(
        SOURCE,
        "section 3.2 (refactor)",
        "channels C = d_11 of the first generator stage (after the refactor)",
        2048,
        "2048",
    ),
    "bottleneck_channels": Quote(
        SOURCE, "section 3.3.1 (eqs. 10-11)", "output channels C^(C_0) = d_4 of the block's first 1x1 convolution", 512
    ),
    "biggan_width": Quote(
        SOURCE, "section 3.4 and eq. 55", "channel width of BigGAN-deep-256 (channels of the last block, d_7)", 128
    ),
    "byte_factor": Quote(SOURCE, "section 4.1", "factor of the conversion x -> (x + 1)/2 * 256 to bytes", 256),
    # GAN data against its GMM twin (sections 6-7)
    "noise_pool": Quote(SOURCE, "section 6.2", "images per class (N), K = 3: m of them estimate the GMM", 500),
    "noise_m": Quote(SOURCE, "section 6.2", "images per class that estimate the GMM statistics (m), K = 3", 330),
    "mnist_noise_dim": Quote(SOURCE, "section 7.2", "dimension of the MNIST GAN's Gaussian noise z", NOISE_DIM),
    "mnist_gan_epochs": Quote(SOURCE, "section 7.2", "training epochs of the MNIST GAN", SOURCE_GAN_EPOCHS),
    "mnist_simulations": Quote(SOURCE, "section 7.4", "repeated draws of the 500 x 9216 MNIST Gram matrix", 500),
}

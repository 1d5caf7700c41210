"""Tests of the MNIST GAN and CNN shapes and of the class-pool sampler."""

import torch

from gancnn.gan.mnist import class_pools, cnn_features
from gancnn.gmm import noise
from gancnn.models.mnist_cnn import FEATURE_DIM, MnistCNN
from gancnn.models.mnist_gan import Discriminator, Generator


def test_generator_and_discriminator_shapes():
    gen, disc = Generator().eval(), Discriminator()
    x = gen(torch.randn(7, 100))
    assert x.shape == (7, 1, 28, 28) and x.abs().max() <= 1
    assert disc(x).shape == (7,)
    assert len(gen.linears()) == 5
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in gen.modules()) == 3


def test_cnn_feature_size_is_9216():
    cnn = MnistCNN().eval()
    x = torch.randn(3, 1, 28, 28)
    assert FEATURE_DIM == 9216
    assert cnn.features(x).shape == (3, 9216)
    assert cnn(x).shape == (3, 10)
    assert torch.allclose(cnn_features(cnn, x, batch=2), cnn.features(x), atol=1e-6)


def test_class_pools_labels_agree_with_cnn():
    torch.manual_seed(0)
    gen, cnn = Generator().eval(), MnistCNN().eval()
    with torch.no_grad():
        counts = cnn(gen(torch.randn(500, 100))).argmax(1).bincount(minlength=10)
    c = int(counts.argmax())
    classes, feats, imgs = class_pools(gen, cnn, [c], per_class=5, z_sampler=noise.normal, gen_seed=0, batch=200)
    assert classes == [c]
    assert feats[0].shape == (5, 9216) and imgs[0].shape == (5, 1, 28, 28)
    with torch.no_grad():
        assert (cnn(imgs[0]).argmax(1) == c).all()
        assert torch.allclose(cnn.features(imgs[0]), feats[0], atol=1e-5)


def test_class_pools_picks_most_frequent_classes():
    torch.manual_seed(1)
    gen, cnn = Generator().eval(), MnistCNN().eval()
    classes, feats, _ = class_pools(gen, cnn, 2, per_class=3, z_sampler=noise.normal, gen_seed=0, batch=100)
    with torch.no_grad():
        x = gen(noise.normal(100, 100, torch.Generator().manual_seed(0)))
        counts = cnn(x).argmax(1).bincount(minlength=10)
    assert classes == sorted(counts.argsort(descending=True)[:2].tolist())
    assert len(feats) == 2 and all(f.shape == (3, 9216) for f in feats)


def test_mnist_gan_replayed_checkpoint_keeps_every_snapshot(tmp_artifacts, offline_data) -> None:
    """A deleted result recomputed from the finished checkpoint has all its snapshots (they live in the checkpoint)."""
    import shutil

    import torch

    from gancnn.book.paths import artifacts_dir
    from gancnn.gan.mnist import train_gan

    _, first = train_gan("quick", 0, n_train=128, epochs=2, batch_size=32, n_snapshots=4)
    assert first["snapshot_steps"] == [2, 4, 6, 8] and first["snapshots"].dtype == torch.uint8
    shutil.rmtree(artifacts_dir() / "quick" / "mnist-gan")
    _, again = train_gan("quick", 0, n_train=128, epochs=2, batch_size=32, n_snapshots=4)
    assert again["snapshot_steps"] == first["snapshot_steps"]
    assert torch.equal(again["snapshots"], first["snapshots"])

"""gancnn: the small library behind the book "GANs and CNNs from the inside".

Layout (imports only point down this list):

* `gancnn.book`: plumbing shared by every chapter (paths, parameters and the chapter start-up, seeding, the
  result cache, plots and display helpers, the papermill runner, build timings).
* `gancnn.data`, `gancnn.train`: the data sets with their provenance, and the resumable training loop.
* `gancnn.models`: the networks, as plain modules (and the one parameter count).
* Topic packages, one per part of the book: `conv` (convolution arithmetic), `gan` (GAN maths, training,
  FID), `adjoint` (AdjointBackMap and the analyses built on it), `gmm` (Gaussian-mixture comparisons),
  `coursework` (optimisation and colourisation exercises).
* `gancnn.reference`: the reference tier, networks trained once and stored under `artifacts/reference/`.

The cut follows the book rather than the kind of code, so a formula read in a chapter is one package away;
`models` stays a layer of its own because the GAN, adjoint and coursework chapters share architectures.
Importing gancnn has no side effects; a chapter's kernel is prepared by `gancnn.book.startup.start_chapter`.
"""

__version__ = "0.1.0"

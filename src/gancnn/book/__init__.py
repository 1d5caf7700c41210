"""Book plumbing, the bottom layer: paths, parameters, seeding, the result cache, plots, display, the runner.

Nothing here imports a topic package; every other part of gancnn may import from here.
"""

"""AdjointBackMap (chapters adjoint-v1, adjoint-v2, adversarial): effective hypersurfaces, batch-norm and
bias folding, the source-schedule classifier training, attacks and hypersurface statistics."""

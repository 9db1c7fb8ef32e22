"""cosmojax: differentiable cosmology in JAX.

Simulate the universe, measure it, compress it with neural networks and infer its
parameters, with every step a pure function that ``jit``, ``vmap`` and ``grad`` go through.

Subpackages
-----------
cosmology   parameters, background, growth, linear power spectrum, halofit
mesh        k-grids, mass assignment, window compensation, gradients
sphere      HEALPix geometry, spherical-harmonic transforms, spherical convolutions
sims        random fields, the forward model (LPT and particle-mesh N-body), bias, CMB skies
stats       power spectra, exact n-point counts and estimators, Fisher matrices
nn          flax networks and heads, training loop
imnn        information-maximising neural networks
infer       ABC, NUTS (numpyro, blackjax), likelihoods, Fisher forecasts
parallel    device meshes and sharding
io          catalogues, snapshots and checkpoints
plotting    figures: P(k) over theory, xi(r), the three-point function

Each subpackage is imported when first used (``cosmojax.stats`` or ``import
cosmojax.stats``), so ``import cosmojax.cosmology`` loads JAX and the cosmology alone, not
the networks, samplers or HEALPix.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("cosmology", "mesh", "sphere", "sims", "stats", "nn", "imnn", "infer", "parallel", "io", "plotting")

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"cosmojax.{name}")
    raise AttributeError(f"module 'cosmojax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))

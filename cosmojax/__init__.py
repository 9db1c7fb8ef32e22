"""cosmojax: differentiable cosmology in JAX.

Simulate the universe, measure it, compress it with neural networks and infer its
parameters, with every step a pure function that ``jit``, ``vmap`` and ``grad`` go through.

Subpackages
-----------
cosmology   parameters, background, growth, linear power spectrum
mesh        k-grids, mass assignment, window compensation, gradients
sphere      HEALPix geometry, spherical-harmonic transforms, spherical convolutions
sims        random fields, LPT and particle-mesh N-body, bias, CMB skies
stats       power spectra, exact n-point counts and estimators
nn          flax networks and heads, training loop
imnn        information-maximising neural networks
infer       ABC, NUTS (numpyro, blackjax), likelihoods, Fisher forecasts
parallel    multi-device helpers
io          catalogues and snapshots
"""

__version__ = "0.1.0"

from cosmojax import cosmology, mesh, sphere, sims, stats, nn, imnn, infer, parallel, io  # noqa: E402

__all__ = ["__version__", "cosmology", "mesh", "sphere", "sims", "stats", "nn", "imnn", "infer", "parallel", "io"]

"""cosmojax: differentiable cosmology in JAX.

Simulate the universe, measure it, compress it with neural networks and infer its
parameters, with every step a pure function that ``jit``, ``vmap`` and ``grad`` go through.

Subpackages
-----------
cosmology   parameters, background, growth, linear power spectrum
mesh        k-grids, mass assignment, window compensation, gradients
sims        random fields and simulators
stats       power spectra and n-point statistics
"""

__version__ = "0.1.0"

from cosmojax import cosmology, mesh, sims, stats  # noqa: E402

__all__ = ["__version__", "cosmology", "mesh", "sims", "stats"]

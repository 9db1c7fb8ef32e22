"""Field-level inference of the initial conditions from a noisy final density.

The pieces live in one module each; this module gathers them (and ``cosmojax.infer``
exports every name):

- ``cosmojax.infer.field_posterior``: the posterior of the initial white noise given an
  observed overdensity (``make_field_posterior``, forward model through
  ``cosmojax.sims.lpt_density``), synthetic data (``noisy_observation``) and the MAP
  (``reconstruct_initial_conditions``);
- ``cosmojax.infer.field_modes``: its linear theory and Fourier-mode diagnostics
  (``linear_transfer``, ``linear_mode_variance``, ``mode_variance``, ``large_scale_modes``);
- ``cosmojax.infer.field_hmc``: the whitened HMC / NUTS sampler
  (``sample_initial_conditions``, ``FieldSamples``).
"""

from cosmojax.infer.field_hmc import ALGORITHMS, FieldSamples, sample_initial_conditions
from cosmojax.infer.field_modes import large_scale_modes, linear_mode_variance, linear_transfer, mode_variance
from cosmojax.infer.field_posterior import (
    FieldPosterior,
    make_field_posterior,
    noisy_observation,
    reconstruct_initial_conditions,
)

__all__ = [
    "FieldPosterior",
    "make_field_posterior",
    "noisy_observation",
    "reconstruct_initial_conditions",
    "linear_transfer",
    "linear_mode_variance",
    "mode_variance",
    "large_scale_modes",
    "ALGORITHMS",
    "FieldSamples",
    "sample_initial_conditions",
]

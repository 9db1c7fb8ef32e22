"""Simulators: random fields, and the forward models built on them.

Every simulator takes a ``key`` (or white noise) first; sizes are static, parameters traced.
"""

from cosmojax.sims.fields import (
    gaussian_field,
    gaussian_field_from_noise,
    lognormal_field,
    lognormal_gaussian_power,
    lognormal_transform,
    noise_to_modes,
    paired_gaussian_fields,
    power_on_mesh,
    white_noise,
)

__all__ = [
    "white_noise",
    "noise_to_modes",
    "power_on_mesh",
    "gaussian_field",
    "gaussian_field_from_noise",
    "paired_gaussian_fields",
    "lognormal_field",
    "lognormal_gaussian_power",
    "lognormal_transform",
]

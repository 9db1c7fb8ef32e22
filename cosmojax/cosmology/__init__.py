"""Cosmological parameters, background expansion, linear growth, linear and halofit power.

Everything here is a pure function of a ``Cosmology`` pytree: jit, vmap and grad safe in
every parameter. Lengths in Mpc/h, wavenumbers in h/Mpc, power in (Mpc/h)^3.
"""

from cosmojax.cosmology.background import (
    HUBBLE_DISTANCE,
    angular_diameter_distance,
    comoving_distance,
    dark_energy_density,
    hubble,
    luminosity_distance,
    omega_m_a,
    transverse_comoving_distance,
    transverse_from_comoving,
)
from cosmojax.cosmology.growth import (
    GrowthTable,
    growth_factor,
    growth_factor_from_table,
    growth_factor_second,
    growth_factor_second_from_table,
    growth_rate,
    growth_rate_from_table,
    growth_rate_second,
    growth_rate_second_from_table,
    growth_table,
)
from cosmojax.cosmology.halofit import halofit_from_parameters, halofit_parameters, halofit_power
from cosmojax.cosmology.parameters import Cosmology, planck2018
from cosmojax.cosmology.primed import LinearTheory, prime
from cosmojax.cosmology.power import PowerTable, linear_power, linear_power_table, sigma_r, tophat_window
from cosmojax.cosmology.transfer import eisenstein_hu, eisenstein_hu_nowiggle, sound_horizon

__all__ = [
    "Cosmology",
    "planck2018",
    "HUBBLE_DISTANCE",
    "hubble",
    "omega_m_a",
    "dark_energy_density",
    "comoving_distance",
    "transverse_comoving_distance",
    "angular_diameter_distance",
    "luminosity_distance",
    "LinearTheory",
    "prime",
    "GrowthTable",
    "growth_table",
    "growth_factor",
    "growth_rate",
    "growth_factor_second",
    "growth_rate_second",
    "growth_factor_from_table",
    "growth_rate_from_table",
    "growth_factor_second_from_table",
    "growth_rate_second_from_table",
    "eisenstein_hu",
    "eisenstein_hu_nowiggle",
    "sound_horizon",
    "PowerTable",
    "linear_power",
    "linear_power_table",
    "sigma_r",
    "tophat_window",
    "halofit_power",
    "halofit_parameters",
    "halofit_from_parameters",
    "transverse_from_comoving",
]

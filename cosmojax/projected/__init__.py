"""Projected observables: redshift distributions, tracers, Limber angular spectra, their
real-space correlations (FFTLog) and Gaussian covariance.

Lengths in Mpc/h, wavenumbers in h/Mpc; angular spectra are dimensionless. Every function
is a pure function of a ``Cosmology`` and pytree tracers: jit, vmap and grad go through
all their numbers.
"""

from cosmojax.projected.covariance import data_vector, gaussian_covariance, pair_indices, shape_noise, shot_noise
from cosmojax.projected.hankel import correlation, hankel_transform, valid_theta_range
from cosmojax.projected.limber import angular_cl, matter_power, radial_grid, radial_redshifts
from cosmojax.projected.redshift import (
    GaussianNZ,
    PhotozBinNZ,
    SmailNZ,
    TabulatedNZ,
    check_distribution,
    mean_redshift,
    photoz_bins,
    redshift_density,
    tabulated_nz,
)
from cosmojax.projected.tracers import CMBLensing, NumberCounts, RadialGrid, WeakLensing

__all__ = [
    "SmailNZ",
    "GaussianNZ",
    "TabulatedNZ",
    "PhotozBinNZ",
    "tabulated_nz",
    "photoz_bins",
    "redshift_density",
    "mean_redshift",
    "check_distribution",
    "WeakLensing",
    "NumberCounts",
    "CMBLensing",
    "RadialGrid",
    "angular_cl",
    "radial_grid",
    "radial_redshifts",
    "matter_power",
    "correlation",
    "hankel_transform",
    "valid_theta_range",
    "pair_indices",
    "data_vector",
    "gaussian_covariance",
    "shape_noise",
    "shot_noise",
]

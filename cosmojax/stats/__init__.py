"""Summary statistics: power spectra and exact n-point counts with their estimators, and the
Fisher matrices of summaries, of Gaussian likelihoods and of Gaussian fields.

Users write ``cosmojax.stats.power_spectrum`` or ``cosmojax.stats.pair_counts``; the modules
behind are private detail. Positions are (N, 3) arrays in Mpc/h, wavenumbers in h/Mpc.
"""

from cosmojax.stats.estimators import (
    analytic_rr,
    analytic_rr_rppi,
    analytic_rr_smu,
    combine_catalogues,
    correlation_function,
    davis_peebles,
    elementary_symmetric,
    hamilton,
    landy_szalay,
    legendre_bin_weights,
    marked_correlation,
    marked_statistic,
    natural,
    neighbour_counts,
    projected_correlation,
    szapudi_szalay_3pcf,
    szapudi_szalay_4pcf,
    white_mark,
    xi_multipoles,
)
from cosmojax.stats.fisher import (
    FisherStats,
    correlation_function_fisher,
    fisher_modes,
    fisher_statistics,
    gaussian_field_fisher,
    gaussian_likelihood_fisher,
    marginal_errors,
    power_spectrum_fisher,
    score_compression,
    shell_kedges,
    summary_fisher,
    summary_moments,
)
from cosmojax.stats.grid_correlation import (
    expected_grid_correlation,
    grid_correlation_covariance,
    grid_correlation_function,
    shell_redges,
)
from cosmojax.stats.pairs import (
    PairCounts,
    pair_counts,
    pair_counts_rppi,
    pair_counts_smu,
    pair_plan,
    smooth_pair_counts,
)
from cosmojax.stats.power_spectrum import (
    PowerSpectrum,
    cross_correlation,
    default_kedges,
    expected_power,
    power_multipoles,
    power_spectrum,
)
from cosmojax.stats.quadruplets import QuadrupletCounts, quadruplet_counts
from cosmojax.stats.threepcf_multipoles import ThreePCFMultipoles, random_multipole_norm, threepcf_multipoles
from cosmojax.stats.triplets import TripletCounts, equilateral, isosceles, triplet_counts

__all__ = [
    # power spectra
    "PowerSpectrum",
    "default_kedges",
    "power_spectrum",
    "power_multipoles",
    "cross_correlation",
    "expected_power",
    # correlation function of a mesh
    "grid_correlation_function",
    "expected_grid_correlation",
    "grid_correlation_covariance",
    "shell_redges",
    # Fisher matrices
    "FisherStats",
    "summary_moments",
    "summary_fisher",
    "fisher_statistics",
    "score_compression",
    "gaussian_likelihood_fisher",
    "gaussian_field_fisher",
    "fisher_modes",
    "marginal_errors",
    "shell_kedges",
    "power_spectrum_fisher",
    "correlation_function_fisher",
    # pair counts
    "PairCounts",
    "pair_counts",
    "pair_counts_smu",
    "pair_counts_rppi",
    "smooth_pair_counts",
    "pair_plan",
    # triplets and quadruplets
    "TripletCounts",
    "triplet_counts",
    "equilateral",
    "isosceles",
    "QuadrupletCounts",
    "quadruplet_counts",
    "ThreePCFMultipoles",
    "threepcf_multipoles",
    "random_multipole_norm",
    # estimators
    "natural",
    "davis_peebles",
    "hamilton",
    "landy_szalay",
    "correlation_function",
    "analytic_rr",
    "analytic_rr_smu",
    "analytic_rr_rppi",
    "xi_multipoles",
    "legendre_bin_weights",
    "projected_correlation",
    "marked_correlation",
    "marked_statistic",
    "neighbour_counts",
    "white_mark",
    "szapudi_szalay_3pcf",
    "szapudi_szalay_4pcf",
    "combine_catalogues",
    "elementary_symmetric",
]

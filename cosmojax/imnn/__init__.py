"""Information-maximising neural networks (Charnock, Lavaux & Wandelt 2018, arXiv:1802.03537).

An IMNN trains any network f(d; w) so that its summaries x carry as much Fisher information
about the parameters theta as possible, F = dmu^T C^-1 dmu at a fiducial theta, while the
summary covariance C is held near the identity. The trained network plus the Fisher
statistics give the score-compressed estimate theta_hat = theta_fid + F^-1 dmu^T C^-1 (x - mu).

Modules
-------
fisher       ``fisher_statistics``, ``score_compression`` (re-exported from
             ``cosmojax.stats.fisher``, where every Fisher matrix lives); the deprecated
             ``fisher_matrix`` and ``gaussian_field_fisher`` forms
loss         ``imnn_loss`` (-ln|F| + r(Lambda2) Lambda2) and its coupling
derivatives  summary sources: ``finite_differences``, ``autodiff``, ``precomputed``
trainer      ``imnn`` (init, step) and the ``fit_imnn`` driver
"""

from cosmojax.imnn.derivatives import (
    SummarySource,
    autodiff,
    finite_differences,
    precomputed,
    sharded_map,
    simulate_dataset,
)
from cosmojax.imnn.fisher import (
    FisherStats,
    fisher_matrix,
    fisher_statistics,
    gaussian_field_fisher,
    score_compression,
    summary_moments,
)
from cosmojax.imnn.loss import LossInfo, coupling_alpha, coupling_strength, covariance_distance, imnn_loss
from cosmojax.imnn.trainer import IMNN, IMNNInfo, IMNNResult, IMNNState, device_mesh, fit_imnn, imnn

__all__ = [
    "SummarySource",
    "finite_differences",
    "autodiff",
    "precomputed",
    "simulate_dataset",
    "sharded_map",
    "FisherStats",
    "summary_moments",
    "fisher_matrix",
    "fisher_statistics",
    "score_compression",
    "gaussian_field_fisher",
    "LossInfo",
    "imnn_loss",
    "covariance_distance",
    "coupling_alpha",
    "coupling_strength",
    "IMNN",
    "IMNNState",
    "IMNNInfo",
    "IMNNResult",
    "device_mesh",
    "imnn",
    "fit_imnn",
]

"""Fisher forecasts (re-exported from ``cosmojax.stats.fisher``, where every Fisher matrix lives).

``gaussian_likelihood_fisher`` (the Fisher matrix of a Gaussian likelihood from the Jacobian
of a model), ``gaussian_field_fisher`` (the bound for a Gaussian field), ``power_spectrum_fisher``
and ``correlation_function_fisher`` (exact Fisher matrices of two mesh summaries),
``marginal_errors`` and ``shell_kedges``. The older name ``fisher_matrix(model, theta, ...)``
still works and is deprecated in favour of ``gaussian_likelihood_fisher``.
"""

from __future__ import annotations

import warnings
from typing import Callable

from cosmojax.stats.fisher import (
    correlation_function_fisher,
    fisher_modes,
    gaussian_field_fisher,
    gaussian_likelihood_fisher,
    marginal_errors,
    power_spectrum_fisher,
    shell_kedges,
)


def fisher_matrix(model: Callable, theta, covariance=None, *, precision=None):
    """Deprecated name of :func:`cosmojax.stats.gaussian_likelihood_fisher` (same arguments).

    Fisher matrix (q, q) of a Gaussian likelihood with mean ``model(theta)`` and a
    ``covariance`` (or ``precision``). jit safe; differentiable in what ``model`` closes over.
    Emits a ``DeprecationWarning``.
    """
    warnings.warn("cosmojax.infer.fisher_matrix is deprecated; use cosmojax.infer.gaussian_likelihood_fisher "
                  "(also cosmojax.stats.gaussian_likelihood_fisher) with the same arguments.",
                  DeprecationWarning, stacklevel=2)
    return gaussian_likelihood_fisher(model, theta, covariance, precision=precision)


__all__ = [
    "gaussian_likelihood_fisher",
    "fisher_matrix",
    "gaussian_field_fisher",
    "marginal_errors",
    "shell_kedges",
    "power_spectrum_fisher",
    "correlation_function_fisher",
    "fisher_modes",
]

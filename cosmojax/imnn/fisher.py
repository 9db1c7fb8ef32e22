"""Fisher information of network summaries and score compression (re-exported).

The Fisher algebra lives in ``cosmojax.stats.fisher``; this module re-exports the parts the
IMNN uses (``FisherStats``, ``summary_moments``, ``fisher_statistics``, ``score_compression``,
``fisher_modes``) and keeps two older names working:

- ``fisher_matrix(dmu, invC)``: deprecated, use ``cosmojax.stats.summary_fisher``;
- ``gaussian_field_fisher(mesh_shape, box_size, dlnp_dtheta)``: deprecated, use
  ``cosmojax.stats.gaussian_field_fisher(log_power, theta, mesh_shape, box_size)``.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.stats import fisher as _fisher
from cosmojax.stats.fisher import FisherStats, fisher_modes, fisher_statistics, score_compression, summary_moments


def fisher_matrix(dmu, invC):
    """Deprecated name of :func:`cosmojax.stats.summary_fisher` (same arguments and result).

    F = dmu C^-1 dmu^T for ``dmu`` (p, s) and ``invC`` (s, s); returns (p, p), symmetrised.
    jit, vmap and grad safe. Emits a ``DeprecationWarning``.
    """
    warnings.warn("cosmojax.imnn.fisher_matrix is deprecated; use cosmojax.stats.summary_fisher(dmu, invC).",
                  DeprecationWarning, stacklevel=2)
    return _fisher.summary_fisher(dmu, invC)


def gaussian_field_fisher(mesh_shape: Sequence[int], box_size, dlnp_dtheta: Callable):
    """Deprecated form of :func:`cosmojax.stats.gaussian_field_fisher` taking d ln P / d theta.

    .. math:: F_{ij} = \\tfrac12 \\sum_{\\mathbf{k} \\ne 0}
              \\frac{\\partial \\ln P}{\\partial\\theta_i}\\frac{\\partial \\ln P}{\\partial\\theta_j}

    Parameters
    ----------
    mesh_shape : tuple of 2 or 3 ints
    box_size : float or tuple, Mpc/h
    dlnp_dtheta : callable ``k -> (p, *k.shape)`` array
        Derivatives of ln P with respect to each parameter at wavenumber k (h/Mpc), evaluated
        on the host (numpy or JAX).

    Returns
    -------
    (p, p) numpy float64 array, computed in float64. Not traced (a reference value for tests
    and forecasts). Emits a ``DeprecationWarning``: the same matrix is
    ``cosmojax.stats.gaussian_field_fisher(log_power, theta, mesh_shape, box_size)``, which is
    what this wrapper evaluates, with ln P linear in theta and slopes ``dlnp_dtheta``.
    """
    warnings.warn(
        "cosmojax.imnn.gaussian_field_fisher(mesh_shape, box_size, dlnp_dtheta) is deprecated; use "
        "cosmojax.stats.gaussian_field_fisher(log_power, theta, mesh_shape, box_size).",
        DeprecationWarning,
        stacklevel=2,
    )
    k, _ = fisher_modes(mesh_shape, box_size)
    slopes = np.asarray(dlnp_dtheta(k), dtype=np.float64).reshape(-1, k.size)  # (p, n_modes)
    with jax.enable_x64(True):
        g = jnp.asarray(slopes)
        F = _fisher.gaussian_field_fisher(lambda t, _k: t @ g, jnp.zeros(g.shape[0]), mesh_shape, box_size)
        return np.asarray(F, dtype=np.float64)


__all__ = [
    "FisherStats",
    "summary_moments",
    "fisher_statistics",
    "score_compression",
    "fisher_modes",
    "fisher_matrix",
    "gaussian_field_fisher",
]

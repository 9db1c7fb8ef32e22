"""Fisher information of network summaries, score compression, and the Gaussian-field bound.

For summaries x = f(d; w) of simulations at a fiducial theta, with mean mu, covariance C
and mean derivative dmu = d mu / d theta (Charnock et al. 2018, arXiv:1802.03537, eq. 4-6),

.. math::

    F_{\\alpha\\beta} = \\frac{\\partial\\mu}{\\partial\\theta_\\alpha}^T C^{-1}
                      \\frac{\\partial\\mu}{\\partial\\theta_\\beta},
    \\qquad
    \\hat\\theta = \\theta_{fid} + F^{-1} \\frac{\\partial\\mu}{\\partial\\theta}^T C^{-1} (x - \\mu).

Shapes: n_s fiducial summaries ``(n_s, n_summaries)``, n_d derivatives
``(n_d, n_params, n_summaries)``; ``dmu`` is ``(n_params, n_summaries)``.

Matrix products run at full float32 precision on every backend (no TF32 on GPUs).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax import mesh as _mesh
from cosmojax._validate import check_box_size, check_mesh_shape

_HI = jax.lax.Precision.HIGHEST


class FisherStats(NamedTuple):
    """Moments of the summaries and their Fisher matrix.

    F : (p, p) Fisher matrix; C, invC : (s, s) covariance and its inverse;
    mu : (s,) mean; dmu : (p, s) derivative of the mean with respect to theta.
    """

    F: jnp.ndarray
    C: jnp.ndarray
    invC: jnp.ndarray
    mu: jnp.ndarray
    dmu: jnp.ndarray


def summary_moments(summaries):
    """Mean ``(s,)`` and unbiased covariance ``(s, s)`` of ``(n_s, s)`` summaries.

    jit, vmap and grad safe.
    """
    mu = jnp.mean(summaries, axis=0)
    r = summaries - mu
    return mu, jnp.matmul(r.T, r, precision=_HI) / (summaries.shape[0] - 1)


def fisher_matrix(dmu, invC):
    """F = dmu C^-1 dmu^T for ``dmu`` (p, s) and ``invC`` (s, s); returns (p, p), symmetrised.

    jit, vmap and grad safe.
    """
    F = jnp.linalg.multi_dot([dmu, invC, dmu.T], precision=_HI)
    return 0.5 * (F + F.T)


def fisher_statistics(summaries, derivatives) -> FisherStats:
    """Fisher statistics from fiducial summaries and summary derivatives.

    Parameters
    ----------
    summaries : (n_s, s) array, network outputs at the fiducial parameters
    derivatives : (n_d, p, s) array, d summary / d theta for each derivative simulation

    Returns
    -------
    FisherStats. jit, vmap and grad safe (gradients flow to the network through both).
    """
    if summaries.ndim != 2 or derivatives.ndim != 3 or derivatives.shape[-1] != summaries.shape[-1]:
        raise ValueError(
            f"summaries must be (n_s, s) and derivatives (n_d, p, s) with the same s; "
            f"got {summaries.shape} and {derivatives.shape}."
        )
    mu, C = summary_moments(summaries)
    invC = jnp.linalg.inv(C)
    invC = 0.5 * (invC + invC.T)
    dmu = jnp.mean(derivatives, axis=0)
    return FisherStats(fisher_matrix(dmu, invC), C, invC, mu, dmu)


def score_compression(summaries, stats: FisherStats, theta_fid):
    """Quasi-maximum-likelihood estimate from summaries (the score compression of the IMNN).

    .. math:: \\hat\\theta = \\theta_{fid} + F^{-1}\\, \\partial\\mu^T C^{-1} (x - \\mu)

    Parameters
    ----------
    summaries : (..., s) array
    stats : FisherStats at ``theta_fid``
    theta_fid : (p,) array, parameter units

    Returns
    -------
    (..., p) array of estimates in parameter units. Its covariance is F^-1 at the fiducial
    point when the summaries are Gaussian. jit, vmap and grad safe.
    """
    proj = jnp.linalg.solve(stats.F, jnp.matmul(stats.dmu, stats.invC, precision=_HI))  # (p, s)
    return jnp.asarray(theta_fid) + jnp.matmul(summaries - stats.mu, proj.T, precision=_HI)


def gaussian_field_fisher(mesh_shape: Sequence[int], box_size, dlnp_dtheta: Callable):
    """Fisher matrix of a Gaussian random field with power spectrum P(k; theta).

    .. math:: F_{ij} = \\tfrac12 \\sum_{\\mathbf{k} \\ne 0}
              \\frac{\\partial \\ln P}{\\partial\\theta_i}\\frac{\\partial \\ln P}{\\partial\\theta_j}

    summed over every mode of the full FFT grid except k = 0 (N_cells - 1 real degrees of
    freedom: a complex pair k, -k is two real Gaussians of variance P/2, a self-conjugate
    mode one of variance P). It is evaluated on the rfftn grid with
    ``cosmojax.mesh.hermitian_weights`` (Tegmark, Taylor & Heavens 1997).

    Parameters
    ----------
    mesh_shape : tuple of 2 or 3 ints
    box_size : float or tuple, Mpc/h
    dlnp_dtheta : callable ``k -> (p, *k.shape)`` array
        Derivatives of ln P with respect to each parameter at wavenumber k (h/Mpc).

    Returns
    -------
    (p, p) numpy float64 array. Not traced (a reference value for tests and forecasts).
    """
    k, w = fisher_modes(mesh_shape, box_size)
    g = np.asarray(dlnp_dtheta(k), dtype=np.float64).reshape(-1, k.size)
    return 0.5 * (g * w) @ g.T


def fisher_modes(mesh_shape: Sequence[int], box_size, kmax: float | None = None):
    """The rfftn modes a Gaussian-field Fisher sum runs over, and their weights.

    Returns (k, w), two 1D float64 numpy arrays: |k| (h/Mpc) of every rfftn cell with
    0 < |k| (<= kmax when given) and its ``cosmojax.mesh.hermitian_weights`` weight, so that
    F = 1/2 sum_i w_i dlnP_i dlnP_i^T counts each full-grid mode once.
    Host-side, from static sizes: not traced, not differentiable.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    k = np.sqrt(sum(kk**2 for kk in _mesh.kvec_numpy(shape, sizes)))
    w = _mesh.hermitian_weights_numpy(shape) * (k > 0)
    if kmax is not None:
        w = w * (k <= kmax)
    keep = w > 0
    return k[keep], w[keep]

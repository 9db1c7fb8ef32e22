"""The IMNN loss: maximise ln|F| while holding the summary covariance near the identity.

Charnock et al. 2018 (arXiv:1802.03537, section II.B):

.. math::

    \\Lambda = -\\ln|F| + r_{\\Lambda_2} \\Lambda_2, \\qquad
    \\Lambda_2 = \\lVert C - I \\rVert_F + \\lVert C^{-1} - I \\rVert_F,

    r_{\\Lambda_2} = \\frac{\\lambda \\Lambda_2}{\\Lambda_2 + \\exp(-\\alpha \\Lambda_2)}, \\qquad
    \\alpha = -\\frac{1}{\\epsilon}\\ln\\left(\\epsilon(\\lambda - 1) + \\frac{\\epsilon^2}{1 + \\epsilon}\\right).

Fixing the covariance removes the freedom to rescale the summaries; the coupling r falls to
zero as C -> I, so that at convergence only ln|F| is optimised. ``lam`` sets the strength of
the regularisation and ``epsilon`` the closeness to the identity at which it switches off.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_positive
from cosmojax.imnn.fisher import FisherStats


class LossInfo(NamedTuple):
    """Parts of the IMNN loss: ``logdet_F``, ``Lambda2`` and the coupling ``r`` (scalars)."""

    logdet_F: jnp.ndarray
    Lambda2: jnp.ndarray
    r: jnp.ndarray


def covariance_distance(C, invC):
    """Lambda2 = ||C - I||_F + ||C^-1 - I||_F for (s, s) matrices. jit, vmap and grad safe."""
    eye = jnp.eye(C.shape[-1], dtype=C.dtype)
    return jnp.linalg.norm(C - eye) + jnp.linalg.norm(invC - eye)


def coupling_alpha(lam: float, epsilon: float) -> float:
    """alpha(lambda, epsilon) of the adaptive coupling; needs lam > 0 and epsilon > 0.

    Host-side: ``lam`` and ``epsilon`` are concrete floats; returns a Python float (not traced).
    """
    check_positive("lam", lam)
    check_positive("epsilon", epsilon)
    arg = epsilon * (lam - 1.0) + epsilon**2 / (1.0 + epsilon)
    if arg <= 0:
        raise ValueError(f"epsilon * (lam - 1) + epsilon^2 / (1 + epsilon) must be > 0; got {arg} (raise lam).")
    return float(-np.log(arg) / epsilon)


def coupling_strength(Lambda2, lam: float, alpha: float):
    """r(Lambda2) = lam Lambda2 / (Lambda2 + exp(-alpha Lambda2)). jit, vmap and grad safe."""
    return lam * Lambda2 / (Lambda2 + jnp.exp(-alpha * Lambda2))


def imnn_loss(stats: FisherStats, lam: float = 10.0, epsilon: float = 0.1):
    """IMNN loss -ln|F| + r(Lambda2) Lambda2 and its parts.

    Parameters
    ----------
    stats : FisherStats of the current summaries
    lam, epsilon : float
        Coupling strength and the Lambda2 below which the regularisation fades (paper's
        defaults 10 and 0.1).

    Returns
    -------
    (loss, LossInfo) with a scalar loss. jit, vmap and grad safe (in ``stats``).
    """
    alpha = coupling_alpha(lam, epsilon)
    _, logdet = jnp.linalg.slogdet(stats.F)
    lambda2 = covariance_distance(stats.C, stats.invC)
    r = coupling_strength(lambda2, lam, alpha)
    return -logdet + r * lambda2, LossInfo(logdet, lambda2, r)

"""Output heads and their losses: a small MLP, a mixture density head and a Gaussian head.

All heads act on the last axis of their input, so any leading batch shape works. Losses
return one value per sample (shape of the leading axes); average them yourself.

References
----------
Bishop 1994, "Mixture density networks"; Grimit et al. 2006 (QJRMS 132, 2925) for the
closed-form CRPS of a Gaussian mixture; Charnock et al. 2018 (arXiv:1802.03537) and
Fluri et al. 2019 for Gaussian heads trained on 1/2 (ln|Sigma| + r^T Sigma^-1 r).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.nn._common import activation


class MLP(nn.Module):
    """Fully connected network: Dense -> activation, repeated, then a linear Dense.

    Attributes
    ----------
    features : sequence of int
        Widths of all layers; the last one is the output size and has no activation.
    activation : str or callable
        Hidden activation (``"relu"``, ``"gelu"``, ``"tanh"``, ... or a function).

    Input ``(..., d_in)``, output ``(..., features[-1])``. Parameters: sum over layers of
    ``(d_prev + 1) * width``. jit, vmap and grad safe (in inputs and parameters).
    """

    features: Sequence[int]
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x):
        act = activation(self.activation)
        for i, width in enumerate(self.features):
            x = nn.Dense(width)(x)
            if i < len(self.features) - 1:
                x = act(x)
        return x


class MixtureDensityHead(nn.Module):
    """Gaussian mixture over a ``n_targets``-dimensional target with diagonal components.

    Weights come from a softmax, widths from a softplus (plus ``min_sigma``), so the
    mixture is valid for any input.

    Attributes
    ----------
    n_components : int
        Number of mixture components K.
    n_targets : int
        Dimension D of the target (1 for a scalar).
    min_sigma : float
        Floor added to every width, in target units.

    Returns
    -------
    (weights, means, sigmas) : arrays of shape ``(..., K)``, ``(..., K, D)``, ``(..., K, D)``.
    Parameters: ``(d_in + 1) * K * (1 + 2 D)``. jit, vmap and grad safe.
    """

    n_components: int
    n_targets: int = 1
    min_sigma: float = 1e-3

    @nn.compact
    def __call__(self, x):
        k, d = self.n_components, self.n_targets
        logits = nn.Dense(k, name="logits")(x)
        means = nn.Dense(k * d, name="means")(x).reshape(x.shape[:-1] + (k, d))
        raw = nn.Dense(k * d, name="widths")(x).reshape(x.shape[:-1] + (k, d))
        return jax.nn.softmax(logits, axis=-1), means, nn.softplus(raw) + self.min_sigma


def mdn_log_prob(weights, means, sigmas, y):
    """Log density of ``y`` under a diagonal Gaussian mixture.

    Parameters
    ----------
    weights : (..., K) array, summing to 1 over K
    means, sigmas : (..., K, D) arrays, target units (sigmas > 0)
    y : (..., D) array, target units

    Returns
    -------
    (...,) array of ln p(y). jit, vmap and grad safe.
    """
    z = (y[..., None, :] - means) / sigmas
    comp = -0.5 * jnp.sum(z**2 + 2.0 * jnp.log(sigmas) + jnp.log(2.0 * jnp.pi), axis=-1)
    return jax.nn.logsumexp(comp + jnp.log(weights), axis=-1)


def mdn_nll(weights, means, sigmas, y):
    """Negative log-likelihood of ``y`` under the mixture, shape ``(...,)``.

    See ``mdn_log_prob`` for shapes. jit, vmap and grad safe.
    """
    return -mdn_log_prob(weights, means, sigmas, y)


def _crps_a(m, s2):
    """A(m, s^2) = E|X| for X ~ N(m, s^2)."""
    s = jnp.sqrt(s2)
    u = m / s
    pdf = jnp.exp(-0.5 * u**2) / jnp.sqrt(2.0 * jnp.pi)
    cdf = 0.5 * (1.0 + jax.lax.erf(u / np.sqrt(2.0)))
    return 2.0 * s * pdf + m * (2.0 * cdf - 1.0)


def mdn_crps(weights, means, sigmas, y):
    """Continuous ranked probability score of the mixture at ``y``, summed over targets.

    For each target dimension the marginal is a 1D Gaussian mixture with the closed form

    .. math::

        \\mathrm{CRPS} = \\sum_i w_i A(y - \\mu_i, \\sigma_i^2)
            - \\tfrac12 \\sum_{ij} w_i w_j A(\\mu_i - \\mu_j, \\sigma_i^2 + \\sigma_j^2),
        \\quad A(m, s^2) = 2 s\\, \\varphi(m/s) + m\\,(2\\Phi(m/s) - 1)

    (Grimit et al. 2006). Same shapes as ``mdn_nll``; result ``(...,)`` in target units
    (lower is better; equals |y - mu| for a point mass). jit, vmap and grad safe.
    """
    w = weights[..., :, None]
    s2 = sigmas**2
    term1 = jnp.sum(w * _crps_a(y[..., None, :] - means, s2), axis=-2)
    dm = means[..., :, None, :] - means[..., None, :, :]
    ds2 = s2[..., :, None, :] + s2[..., None, :, :]
    ww = weights[..., :, None, None] * weights[..., None, :, None]
    term2 = 0.5 * jnp.sum(ww * _crps_a(dm, ds2), axis=(-3, -2))
    return jnp.sum(term1 - term2, axis=-1)


def _tril_indices(n):
    return np.tril_indices(n)


class GaussianHead(nn.Module):
    """Predict a mean and the Cholesky factor L of the inverse covariance, Sigma^-1 = L L^T.

    L is lower triangular with a positive diagonal (softplus plus ``min_diag``), so the
    predicted covariance is always positive definite.

    Attributes
    ----------
    n_targets : int
        Dimension D of the target.
    min_diag : float
        Floor on the diagonal of L (inverse target units).

    Returns
    -------
    (mean, chol_precision) : arrays ``(..., D)`` and ``(..., D, D)``.
    Parameters: ``(d_in + 1) * (D + D (D + 1) / 2)``. jit, vmap and grad safe.
    """

    n_targets: int
    min_diag: float = 1e-4

    @nn.compact
    def __call__(self, x):
        d = self.n_targets
        mean = nn.Dense(d, name="mean")(x)
        n_tril = d * (d + 1) // 2
        raw = nn.Dense(n_tril, name="cholesky")(x)
        rows, cols = _tril_indices(d)
        chol = jnp.zeros(x.shape[:-1] + (d, d), raw.dtype).at[..., rows, cols].set(raw)
        diag = nn.softplus(jnp.diagonal(chol, axis1=-2, axis2=-1)) + self.min_diag
        eye = jnp.eye(d, dtype=bool)
        chol = jnp.where(eye, diag[..., None, :] * jnp.eye(d, dtype=raw.dtype), chol)
        return mean, chol


def gaussian_nll(mean, chol_precision, y):
    """Gaussian loss 1/2 (ln|Sigma| + r^T Sigma^-1 r) with r = y - mean (constant dropped).

    .. math:: \\tfrac12\\left(\\ln|\\Sigma| + r^T \\Sigma^{-1} r\\right)
              = -\\sum_i \\ln L_{ii} + \\tfrac12 \\lVert L^T r \\rVert^2

    Parameters
    ----------
    mean : (..., D) array
    chol_precision : (..., D, D) lower-triangular array, Sigma^-1 = L L^T
    y : (..., D) array

    Returns
    -------
    (...,) array. jit, vmap and grad safe.
    """
    r = y - mean
    lt_r = jnp.einsum("...ji,...j->...i", chol_precision, r)
    logdet_l = jnp.sum(jnp.log(jnp.diagonal(chol_precision, axis1=-2, axis2=-1)), axis=-1)
    return -logdet_l + 0.5 * jnp.sum(lt_r**2, axis=-1)


def gaussian_covariance(chol_precision):
    """Covariance Sigma = (L L^T)^-1 from the head's ``(..., D, D)`` factor. jit/vmap/grad safe."""
    d = chol_precision.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(d, dtype=chol_precision.dtype), chol_precision.shape)
    linv = jax.scipy.linalg.solve_triangular(chol_precision, eye, lower=True)
    return jnp.einsum("...ki,...kj->...ij", linv, linv)

"""Gaussian likelihoods of summary statistics with simulation-estimated covariances.

A covariance estimated from ``n_sims`` simulations of a ``p``-dimensional summary gives a
biased inverse. Two standard remedies:

- Hartlap, Simon & Schneider (2007): scale the inverse by (n - p - 2) / (n - 1);
- Sellentin & Heavens (2016): marginalise over the true covariance, which turns the
  Gaussian into a multivariate t: ln L = -n/2 ln(1 + chi^2 / (n - 1)) + const.

Matrix products run at full float32 precision on every backend (no TF32 on GPUs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_ndim

_HI = jax.lax.Precision.HIGHEST


def sample_covariance(simulations):
    """Unbiased sample mean and covariance of summaries from simulations.

    ``simulations``: (n_sims, p) array. Returns (mean (p,), covariance (p, p)).
    jit, vmap and grad safe.
    """
    check_ndim("simulations", simulations, 2)
    check_finite("simulations", simulations)
    sims = jnp.asarray(simulations)
    mean = sims.mean(0)
    r = sims - mean
    return mean, jnp.matmul(r.T, r, precision=_HI) / (sims.shape[0] - 1)


def hartlap_factor(n_sims: int, dim: int) -> float:
    """(n - p - 2) / (n - 1): the debiasing factor of an inverse sample covariance."""
    if n_sims <= dim + 2:
        raise ValueError(f"n_sims must exceed dim + 2 = {dim + 2} for an invertible estimate; got {n_sims}.")
    return (n_sims - dim - 2) / (n_sims - 1)


def precision_from_simulations(simulations, correction: str = "hartlap"):
    """Inverse covariance of summaries from (n_sims, p) simulations.

    correction : "hartlap" (debiased, Hartlap et al. 2007) or "none".
    Returns a (p, p) array. jit-unsafe only through the size check (n_sims, p static).
    """
    if correction not in ("hartlap", "none"):
        raise ValueError(f"correction must be 'hartlap' or 'none'; got {correction!r}.")
    n, p = np.shape(simulations)
    factor = hartlap_factor(n, p) if correction == "hartlap" else 1.0
    _, cov = sample_covariance(simulations)
    return factor * jnp.linalg.inv(cov)


def gaussian_log_likelihood(data, model, precision):
    """Gaussian log-likelihood up to a constant: -1/2 (d - m)^T Psi (d - m).

    data, model : (p,) arrays in the summary's units; precision : (p, p) inverse covariance.
    Returns a scalar. jit, vmap and grad safe (in ``model`` above all).
    """
    r = jnp.asarray(data) - jnp.asarray(model)
    return -0.5 * jnp.linalg.multi_dot([r, jnp.asarray(precision), r], precision=_HI)


def sellentin_heavens_log_likelihood(data, model, covariance, n_sims: int):
    """Sellentin & Heavens (2016) likelihood for a covariance estimated from ``n_sims`` sims.

    ln L = -n/2 ln(1 + chi^2 / (n - 1)), chi^2 = (d - m)^T C^-1 (d - m), with C the
    (uncorrected) sample covariance. Returns a scalar. jit, vmap and grad safe.
    """
    if n_sims < 2:
        raise ValueError(f"n_sims must be >= 2; got {n_sims}.")
    r = jnp.asarray(data) - jnp.asarray(model)
    chi2 = jnp.matmul(r, jnp.linalg.solve(jnp.asarray(covariance), r), precision=_HI)
    return -0.5 * n_sims * jnp.log1p(chi2 / (n_sims - 1))

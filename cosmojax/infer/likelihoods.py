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

from cosmojax._validate import check_finite, check_int, check_ndim

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
    """(n - p - 2) / (n - 1): the debiasing factor of an inverse sample covariance.

    n_sims : simulations behind the covariance, > dim + 2; dim : p, length of the summary.
    Returns a float in (0, 1) that multiplies the inverse sample covariance (Hartlap,
    Simon & Schneider 2007, eq. 17). Host-side, on static sizes.
    """
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


def _check_shapes(data, model, matrix, matrix_name: str) -> int:
    """p, after checking that data and model are (p,) and the matrix (p, p); ValueError
    naming the argument otherwise. Shapes only, so safe under jit, vmap and grad."""
    p = np.shape(data)
    if len(p) != 1:
        raise ValueError(f"data must be a (p,) summary vector; got shape {p}.")
    if np.shape(model) != p:
        raise ValueError(f"model must have the data's shape {p}; got {np.shape(model)}.")
    if np.shape(matrix) != p + p:
        raise ValueError(f"{matrix_name} must have shape {p + p}; got {np.shape(matrix)}.")
    return p[0]


def gaussian_log_likelihood(data, model, precision):
    """Gaussian log-likelihood up to a constant: -1/2 (d - m)^T Psi (d - m).

    data, model : (p,) arrays in the summary's units; precision : (p, p) inverse covariance.
    Returns a scalar. jit, vmap and grad safe (in ``model`` above all).
    """
    _check_shapes(data, model, precision, "precision")
    r = jnp.asarray(data) - jnp.asarray(model)
    return -0.5 * jnp.linalg.multi_dot([r, jnp.asarray(precision), r], precision=_HI)


def sellentin_heavens_log_likelihood(data, model, covariance, n_sims: int):
    """Sellentin & Heavens (2016) likelihood for a covariance estimated from ``n_sims`` sims.

    ln L = -n/2 ln(1 + chi^2 / (n - 1)), chi^2 = (d - m)^T C^-1 (d - m), with C the
    (uncorrected) sample covariance. data, model : (p,); covariance : (p, p); n_sims > p
    (fewer simulations give a singular sample covariance). Returns a scalar. jit, vmap
    and grad safe.
    """
    p = _check_shapes(data, model, covariance, "covariance")
    n_sims = check_int("n_sims", n_sims, p + 1)
    r = jnp.asarray(data) - jnp.asarray(model)
    chi2 = jnp.matmul(r, jnp.linalg.solve(jnp.asarray(covariance), r), precision=_HI)
    return -0.5 * n_sims * jnp.log1p(chi2 / (n_sims - 1))

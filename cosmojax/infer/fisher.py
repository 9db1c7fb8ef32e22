"""Fisher forecasts from autodiff of a model.

For a Gaussian likelihood with a parameter-independent covariance,

.. math:: F_{ij} = \\frac{\\partial \\mu}{\\partial\\theta_i}^T C^{-1} \\frac{\\partial \\mu}{\\partial\\theta_j},

and for a Gaussian random field with known P(k; theta),

.. math:: F_{ij} = \\frac12 \\sum_{\\text{independent modes}} \\frac{\\partial\\ln P}{\\partial\\theta_i}\\frac{\\partial\\ln P}{\\partial\\theta_j}.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from cosmojax.imnn.fisher import fisher_modes


def fisher_matrix(model: Callable, theta, covariance):
    """Fisher matrix of a Gaussian likelihood with mean ``model(theta)``.

    Parameters
    ----------
    model : callable (q,) -> (p,), differentiable (e.g. binned P(k) or xi(r) from cosmojax)
    theta : (q,) fiducial parameters
    covariance : (p, p) covariance of the data, or (p,) for a diagonal one

    Returns
    -------
    (q, q) array. jit safe; derivatives by forward-mode autodiff (``jax.jacfwd``).
    """
    theta = jnp.asarray(theta, dtype=jnp.result_type(float))
    jac = jax.jacfwd(model)(theta)
    cov = jnp.asarray(covariance)
    if cov.ndim == 1:
        return jac.T @ (jac / cov[:, None])
    return jac.T @ jnp.linalg.solve(cov, jac)


def gaussian_field_fisher(log_power: Callable, theta, mesh_shape, box_size, *, kmax: float | None = None):
    """Fisher matrix of a Gaussian random field on a periodic mesh.

    Parameters
    ----------
    log_power : callable (theta, k) -> ln P(k; theta), k in h/Mpc (any shape)
    theta : (q,) fiducial parameters
    mesh_shape : tuple of 2 or 3 ints; box_size : float or tuple, Mpc/h
    kmax : only modes with 0 < |k| <= kmax (h/Mpc) count; default all but k = 0

    Each pair (k, -k) is one independent complex mode carrying 2 real Gaussian numbers,
    and each self-conjugate mode (on the Nyquist corners) one real number with half the
    information; the sum below counts them that way, which equals 1/2 sum over all full-
    grid modes. Returns (q, q). jit and grad safe in ``theta``.
    """
    k, w = fisher_modes(mesh_shape, box_size, kmax)
    k = jnp.asarray(k, dtype=jnp.result_type(float))
    w = jnp.asarray(w, dtype=jnp.result_type(float))
    theta = jnp.asarray(theta, dtype=jnp.result_type(float))
    grads = jax.jacfwd(lambda t: log_power(t, k))(theta)  # (n_modes, q)
    return 0.5 * (grads * w[:, None]).T @ grads


def marginal_errors(fisher):
    """Marginalised 1-sigma errors sqrt(diag F^-1), shape (q,), in parameter units.

    ``fisher``: (q, q). jit, vmap and grad safe.
    """
    return jnp.sqrt(jnp.diag(jnp.linalg.inv(jnp.asarray(fisher))))

"""Fisher forecasts from autodiff of a model.

For a Gaussian likelihood with a parameter-independent covariance,

.. math:: F_{ij} = \\frac{\\partial \\mu}{\\partial\\theta_i}^T C^{-1} \\frac{\\partial \\mu}{\\partial\\theta_j},

and for a Gaussian random field with known P(k; theta),

.. math:: F_{ij} = \\frac12 \\sum_{\\text{independent modes}} \\frac{\\partial\\ln P}{\\partial\\theta_i}\\frac{\\partial\\ln P}{\\partial\\theta_j}.

The second is the bound on what any summary of the field can carry. Two summaries are
modelled here exactly, as linear functions of the per-mode power of the mesh:

- the binned power spectrum of ``cosmojax.stats.power_spectrum`` (model
  ``cosmojax.stats.expected_power``, Gaussian covariance 2 P^2 / N_modes per bin);
  with one bin per |k| shell its Fisher matrix equals the field's;
- the correlation function of a mesh, ``grid_correlation_function``: the average of
  (1/N) sum_x delta(x) delta(x + r) over lags r in each |r| bin, computed by FFT.
  Its mean is ``expected_grid_correlation`` and its Gaussian covariance
  ``grid_correlation_covariance`` (or one estimated from simulations).

Matrix products run at full float32 precision on every backend (no TF32 on GPUs).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.imnn.fisher import fisher_modes
from cosmojax.stats import expected_power
from cosmojax.stats.grid_correlation import grid_correlation_covariance, expected_grid_correlation

_HI = jax.lax.Precision.HIGHEST


def fisher_matrix(model: Callable, theta, covariance=None, *, precision=None):
    """Fisher matrix of a Gaussian likelihood with mean ``model(theta)``.

    Parameters
    ----------
    model : callable (q,) -> (p,), differentiable (e.g. binned P(k) or xi(r) from cosmojax)
    theta : (q,) fiducial parameters
    covariance : (p, p) covariance of the data, or (p,) for a diagonal one
    precision : (p, p) inverse covariance instead of ``covariance`` (e.g. the
        Hartlap-corrected ``precision_from_simulations``); give exactly one of the two

    Returns
    -------
    (q, q) array, in inverse parameter units squared. jit safe; derivatives by forward-mode
    autodiff (``jax.jacfwd``); differentiable in what ``model`` closes over.
    """
    if (covariance is None) == (precision is None):
        raise ValueError("give exactly one of covariance and precision.")
    theta = jnp.asarray(theta, dtype=jnp.result_type(float))
    jac = jax.jacfwd(model)(theta)
    if precision is not None:
        precision = jnp.asarray(precision)
        return jnp.linalg.multi_dot([jac.T, 0.5 * (precision + precision.T), jac], precision=_HI)
    cov = jnp.asarray(covariance)
    if cov.ndim == 1:
        return jnp.matmul(jac.T, jac / cov[:, None], precision=_HI)
    return jnp.matmul(jac.T, jnp.linalg.solve(cov, jac), precision=_HI)


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
    return 0.5 * jnp.matmul((grads * w[:, None]).T, grads, precision=_HI)


def marginal_errors(fisher):
    """Marginalised 1-sigma errors sqrt(diag F^-1), shape (q,), in parameter units.

    ``fisher``: (q, q). jit, vmap and grad safe.
    """
    return jnp.sqrt(jnp.diag(jnp.linalg.inv(jnp.asarray(fisher))))


def shell_kedges(mesh_shape: Sequence[int], box_size, kmax: float | None = None) -> np.ndarray:
    """Bin edges that put every distinct |k| of the mesh in a bin of its own, h/Mpc.

    Edges sit half-way between consecutive distinct |k| > 0 (up to ``kmax`` when given;
    otherwise every mode but k = 0, Nyquist corners included). With them a binned power
    spectrum loses nothing for an isotropic P(k). Returns a numpy array of edges.
    """
    k, _ = fisher_modes(mesh_shape, box_size, kmax)
    values = np.unique(np.round(k, 12))
    mid = 0.5 * (values[1:] + values[:-1])
    return np.concatenate([[0.5 * values[0]], mid, [values[-1] * (1 + 1e-9) + 1e-12]])


def power_spectrum_fisher(log_power: Callable, theta, mesh_shape, box_size, *, kedges=None):
    """Fisher matrix of the binned power spectrum of a Gaussian field.

    The model is ``cosmojax.stats.expected_power`` (the mean Pbar of P over each bin's
    modes) and the covariance the Gaussian one: diagonal, with variance 2 <P^2> / N_modes
    per bin (<P^2> the mean of P^2 over the bin's modes, N_modes counted on the full FFT
    grid as ``power_spectrum`` does). Within a single |k| shell <P^2> = Pbar^2 and this is
    the familiar 2 P^2 / N_modes; with ``kedges = shell_kedges(...)`` the result equals
    ``gaussian_field_fisher`` over the same modes. Wider bins are linear compressions of
    the per-mode power and give less (never more: using 2 Pbar^2 / N_modes for a wide bin
    would understate its variance).

    Parameters
    ----------
    log_power : callable (theta, k) -> ln P(k; theta), k in h/Mpc
    theta : (q,) fiducial parameters
    mesh_shape : tuple of 2 or 3 ints; box_size : float or tuple, Mpc/h
    kedges : (n_bins + 1,) increasing edges, h/Mpc, default ``default_kedges``

    Returns
    -------
    (q, q) array. Derivatives by ``jax.jacfwd`` of the binned model; jit safe with static
    sizes and edges (close over them).
    """
    theta = jnp.asarray(theta, dtype=jnp.result_type(float))

    def binned(t, power_of):
        return expected_power(lambda k: power_of(jnp.exp(log_power(t, k))), mesh_shape, box_size, kedges=kedges)

    with jax.ensure_compile_time_eval():  # the mode counts are static, also under jit
        counts = np.asarray(expected_power(jnp.ones_like, mesh_shape, box_size, kedges=kedges).n_modes)
    keep = counts > 0
    variance = 2 * binned(theta, jnp.square).power[keep] / counts[keep]
    return fisher_matrix(lambda t: binned(t, lambda p: p).power[keep], theta, variance)


def correlation_function_fisher(log_power: Callable, theta, mesh_shape, box_size, *, redges, precision=None):
    """Fisher matrix of the mesh correlation function ``grid_correlation_function``.

    The model is ``expected_grid_correlation`` differentiated by ``jax.jacfwd``; the
    covariance is ``grid_correlation_covariance`` at ``theta`` unless a ``precision``
    (e.g. ``precision_from_simulations`` of simulated xi, with the Hartlap factor) is given.
    xi is a linear compression of the per-mode power, so with the Gaussian covariance its
    Fisher matrix never exceeds ``gaussian_field_fisher``.

    Parameters
    ----------
    log_power : callable (theta, k) -> ln P(k; theta), k in h/Mpc
    theta : (q,) fiducial parameters
    mesh_shape, box_size, redges : as for ``grid_correlation_function``
    precision : optional (n_bins, n_bins) inverse covariance of xi

    Returns
    -------
    (q, q) array. jit safe with static sizes and edges.
    """
    theta = jnp.asarray(theta, dtype=jnp.result_type(float))

    def model(t):
        return expected_grid_correlation(lambda k: jnp.exp(log_power(t, k)), mesh_shape, box_size, redges=redges)

    if precision is None:
        cov = grid_correlation_covariance(lambda k: jnp.exp(log_power(theta, k)), mesh_shape, box_size, redges=redges)
        return fisher_matrix(model, theta, cov)
    n_bins = np.asarray(redges).size - 1
    if np.shape(precision) != (n_bins, n_bins):
        raise ValueError(f"precision must have shape ({n_bins}, {n_bins}) to match redges; got {np.shape(precision)}.")
    return fisher_matrix(model, theta, precision=precision)

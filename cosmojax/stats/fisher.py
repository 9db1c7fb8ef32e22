"""Fisher matrices: of summaries from simulations, of a Gaussian likelihood, of a Gaussian field.

Every Fisher matrix in cosmojax is computed here; ``cosmojax.imnn`` and ``cosmojax.infer``
re-export these functions.

Summaries with mean derivative ``dmu`` and inverse covariance ``C^-1``
(Tegmark, Taylor & Heavens 1997; for network summaries Charnock et al. 2018,
arXiv:1802.03537, eq. 4-6):

.. math::

    F_{\\alpha\\beta} = \\frac{\\partial\\mu}{\\partial\\theta_\\alpha}^T C^{-1}
                      \\frac{\\partial\\mu}{\\partial\\theta_\\beta},
    \\qquad
    \\hat\\theta = \\theta_{fid} + F^{-1} \\frac{\\partial\\mu}{\\partial\\theta}^T C^{-1} (x - \\mu).

``summary_fisher`` takes ``dmu`` and ``C^-1`` as arrays, ``fisher_statistics`` estimates them
from simulated summaries, and ``gaussian_likelihood_fisher`` takes ``dmu`` from the Jacobian
of a differentiable model (forward-mode autodiff) and a given covariance.

For a Gaussian random field with known P(k; theta) (the bound on what any summary of the
field can carry):

.. math:: F_{ij} = \\frac12 \\sum_{\\text{independent modes}}
          \\frac{\\partial\\ln P}{\\partial\\theta_i}\\frac{\\partial\\ln P}{\\partial\\theta_j}

(``gaussian_field_fisher``). Two summaries of a mesh are modelled exactly, as linear
functions of the per-mode power: the binned power spectrum (``power_spectrum_fisher``, model
``expected_power``, Gaussian covariance 2 P^2 / N_modes per bin; with one bin per |k| shell,
``shell_kedges``, its Fisher matrix equals the field's) and the mesh correlation function
(``correlation_function_fisher``, model ``expected_grid_correlation``, covariance
``grid_correlation_covariance`` or one estimated from simulations).

Shapes: p parameters, s summaries; ``dmu`` is ``(p, s)``, fiducial summaries ``(n_s, s)``,
summary derivatives ``(n_d, p, s)``. Matrix products run at full float32 precision on every
backend (no TF32 on GPUs).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax import mesh as _mesh
from cosmojax._validate import check_box_size, check_mesh_shape
from cosmojax.stats.grid_correlation import expected_grid_correlation, grid_correlation_covariance
from cosmojax.stats.power_spectrum import expected_power

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


def summary_fisher(dmu, invC):
    """Fisher matrix of Gaussian summaries from their mean derivative and inverse covariance.

    .. math:: F = \\partial\\mu\\, C^{-1}\\, \\partial\\mu^T

    Parameters
    ----------
    dmu : (p, s) array, d mean / d theta (summary units per parameter unit)
    invC : (s, s) array, inverse covariance of the summaries (symmetrised here)

    Returns
    -------
    (p, p) array, symmetric, in inverse parameter units squared. jit, vmap and grad safe.
    """
    dmu = jnp.asarray(dmu)
    invC = jnp.asarray(invC)
    if dmu.ndim < 2 or invC.ndim < 2 or invC.shape[-2:] != (dmu.shape[-1], dmu.shape[-1]):
        raise ValueError(f"dmu must be (p, s) and invC (s, s) with the same s; got {dmu.shape} and {invC.shape}.")
    invC = 0.5 * (invC + jnp.swapaxes(invC, -1, -2))
    F = jnp.matmul(jnp.matmul(dmu, invC, precision=_HI), jnp.swapaxes(dmu, -1, -2), precision=_HI)
    return 0.5 * (F + jnp.swapaxes(F, -1, -2))


def fisher_statistics(summaries, derivatives) -> FisherStats:
    """Fisher statistics from fiducial summaries and summary derivatives.

    Parameters
    ----------
    summaries : (n_s, s) array, summaries of simulations at the fiducial parameters
    derivatives : (n_d, p, s) array, d summary / d theta for each derivative simulation

    Returns
    -------
    FisherStats. jit, vmap and grad safe (gradients flow to the summaries through both).
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
    return FisherStats(summary_fisher(dmu, invC), C, invC, mu, dmu)


def score_compression(summaries, stats: FisherStats, theta_fid):
    """Quasi-maximum-likelihood estimate from summaries (score compression).

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


def gaussian_likelihood_fisher(model: Callable, theta, covariance=None, *, precision=None):
    """Fisher matrix of a Gaussian likelihood with mean ``model(theta)`` and a fixed covariance.

    .. math:: F_{ij} = \\frac{\\partial \\mu}{\\partial\\theta_i}^T C^{-1} \\frac{\\partial \\mu}{\\partial\\theta_j}

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
    jac = jax.jit(jax.jacfwd(model))(theta)  # (p, q); compiled, not op by op, when called eagerly
    if jac.ndim != 2:
        raise ValueError(f"model must map theta (q,) to a data vector (p,); its Jacobian has shape {jac.shape}.")
    n_data = jac.shape[0]
    if precision is not None:
        if np.shape(precision) != (n_data, n_data):
            raise ValueError(f"precision must have shape ({n_data}, {n_data}) to match the model; "
                             f"got {np.shape(precision)}.")
        return summary_fisher(jac.T, precision)
    cov = jnp.asarray(covariance)
    if cov.shape not in ((n_data,), (n_data, n_data)):
        raise ValueError(f"covariance must have shape ({n_data},) or ({n_data}, {n_data}) to match the model; "
                         f"got {cov.shape}.")
    if cov.ndim == 1:
        F = jnp.matmul(jac.T, jac / cov[:, None], precision=_HI)
    else:
        F = jnp.matmul(jac.T, jnp.linalg.solve(cov, jac), precision=_HI)
    return 0.5 * (F + F.T)


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


def gaussian_field_fisher(log_power: Callable, theta, mesh_shape, box_size, *, kmax: float | None = None):
    """Fisher matrix of a Gaussian random field with power spectrum P(k; theta) on a periodic mesh.

    .. math:: F_{ij} = \\tfrac12 \\sum_{\\mathbf{k} \\ne 0}
              \\frac{\\partial \\ln P}{\\partial\\theta_i}\\frac{\\partial \\ln P}{\\partial\\theta_j}

    summed over every mode of the full FFT grid except k = 0 (N_cells - 1 real degrees of
    freedom: a complex pair k, -k is two real Gaussians of variance P/2, a self-conjugate
    mode one of variance P). It is evaluated on the rfftn grid with the weights of
    ``fisher_modes`` (Tegmark, Taylor & Heavens 1997).

    Parameters
    ----------
    log_power : callable (theta, k) -> ln P(k; theta), k in h/Mpc (a 1D array of |k|)
    theta : (q,) fiducial parameters
    mesh_shape : tuple of 2 or 3 ints; box_size : float or tuple, Mpc/h
    kmax : only modes with 0 < |k| <= kmax (h/Mpc) count; default all but k = 0

    Returns
    -------
    (q, q) array, in inverse parameter units squared. Derivatives by ``jax.jacfwd``; jit and
    grad safe in ``theta`` (sizes static).
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
    Host-side, from static sizes: not traced.
    """
    k, _ = fisher_modes(mesh_shape, box_size, kmax)
    if k.size == 0:
        raise ValueError(f"kmax = {kmax!r} h/Mpc leaves no mode of the mesh; raise it above the fundamental mode.")
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
    return gaussian_likelihood_fisher(lambda t: binned(t, lambda p: p).power[keep], theta, variance)


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
        return gaussian_likelihood_fisher(model, theta, cov)
    n_bins = np.asarray(redges).size - 1
    if np.shape(precision) != (n_bins, n_bins):
        raise ValueError(f"precision must have shape ({n_bins}, {n_bins}) to match redges; got {np.shape(precision)}.")
    return gaussian_likelihood_fisher(model, theta, precision=precision)

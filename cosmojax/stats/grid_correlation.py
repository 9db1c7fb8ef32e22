"""Correlation function of a density mesh, its exact expectation and Gaussian covariance.

``grid_correlation_function`` averages (1/N) sum_x delta(x) delta(x + r) over the lags r in
each |r| bin, by FFT (minimal-image lags on the periodic mesh). For a Gaussian field with
power P(k) its mean (``expected_grid_correlation``) and covariance
(``grid_correlation_covariance``) are exact sums over the mesh's modes, so the estimator can
enter a Gaussian likelihood or a Fisher forecast with no continuum approximation.
Matrix products run at full float32 precision on every backend (no TF32 on GPUs).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_box_size, check_edges, check_finite, check_mesh_shape, check_real

_HI = jax.lax.Precision.HIGHEST


def _lags(shape, sizes):
    """|r| of every lag vector of the full mesh (minimal image), Mpc/h."""
    axes = [np.fft.fftfreq(n, 1.0 / n) * (L / n) for n, L in zip(shape, sizes)]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(sum(g**2 for g in grids))


def shell_redges(mesh_shape: Sequence[int], box_size, rmax: float | None = None) -> np.ndarray:
    """Bin edges that put every distinct lag |r| of the mesh in a bin of its own, Mpc/h.

    Edges sit half-way between consecutive distinct |r| (minimal-image lags, r = 0
    included) up to ``rmax``. By default the largest lag shell is left out: the lags of a
    zero-mean field sum to zero, so its xi is fixed by the others and a covariance that
    included it would be singular. Returns a numpy array of edges.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    values = np.unique(np.round(_lags(shape, sizes), 10))
    values = values[:-1] if rmax is None else values[values <= rmax]
    if values.size < 1:
        raise ValueError(f"rmax must be >= 0 to keep any lag; got {rmax!r}.")
    mid = 0.5 * (values[1:] + values[:-1])
    top = values[-1] + 0.5 * (np.min(sizes) / max(shape)) * 1e-3
    return np.concatenate([[0.0], mid, [top]])


def _lag_bins(mesh_shape, box_size, redges):
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    edges = check_edges("redges", redges, min_value=0.0)
    r = _lags(shape, sizes)
    n_bins = edges.size - 1
    index = np.searchsorted(edges, r, side="right") - 1
    index = np.where((index < 0) | (index >= n_bins), n_bins, index)
    counts = np.bincount(index.ravel(), minlength=n_bins + 1)[:n_bins]
    if np.any(counts == 0):
        raise ValueError(f"redges leave bins {np.flatnonzero(counts == 0).tolist()} without any lag of the mesh; widen them.")
    rsum = np.bincount(index.ravel(), r.ravel(), minlength=n_bins + 1)[:n_bins]
    return shape, sizes, index, counts, rsum / counts


def grid_correlation_function(field, box_size, *, redges):
    """Two-point correlation function of a periodic mesh, by FFT.

    .. math:: \\hat\\xi(r_b) = \\frac{1}{N_b} \\sum_{|\\mathbf r| \\in b} \\frac1N \\sum_{\\mathbf x}
              \\delta(\\mathbf x)\\, \\delta(\\mathbf x + \\mathbf r),

    with the lag vectors r the mesh's own separations (minimal image), N cells and N_b lags
    in bin b; the inner sum is the inverse FFT of |delta_k|^2 (Wiener-Khinchin).

    Parameters
    ----------
    field : (n_1, ..., n_d) real array, overdensity (d = 2 or 3)
    box_size : float or tuple of d floats, Mpc/h
    redges : (n_bins + 1,) increasing edges in Mpc/h; bins are [lo, hi), so r = 0 (the
        variance) is in the first bin when redges[0] <= 0; every bin must hold a lag

    Returns
    -------
    (r, xi): (n_bins,) mean |r| of the lags in each bin (Mpc/h) and xi, dimensionless.
    jit safe with static ``box_size`` and ``redges`` (close over them); vmap safe over
    fields; differentiable in ``field``.
    """
    check_real("field", field)
    shape, sizes, index, counts, r_mean = _lag_bins(np.shape(field), box_size, redges)
    check_finite("field", field)
    n_bins = counts.size
    modes = jnp.fft.rfftn(field)
    lag = jnp.fft.irfftn(jnp.abs(modes) ** 2, s=shape) / float(np.prod(shape))
    sums = jax.ops.segment_sum(lag.ravel(), jnp.asarray(index.ravel()), num_segments=n_bins + 1)[:n_bins]
    return jnp.asarray(r_mean, lag.dtype), sums / jnp.asarray(counts, lag.dtype)


def _lag_cosines(shape, sizes, index, counts):
    """c_b(k) = mean over the lags of bin b of cos(k . r), on the full FFT grid: (n_bins, N)."""
    n_bins = counts.size
    masks = np.stack([(index == b).astype(float) for b in range(n_bins)])
    c = np.real(np.fft.fftn(masks, axes=tuple(range(1, len(shape) + 1)))) / counts.reshape((-1,) + (1,) * len(shape))
    kvec = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n, 1.0 / n) / L for n, L in zip(shape, sizes)], indexing="ij")
    kmag = np.sqrt(sum(k**2 for k in kvec))
    return c.reshape(n_bins, -1), kmag.ravel()


def _power_full(power, kmag):
    positive = kmag > 0
    k = jnp.asarray(np.where(positive, kmag, 1.0), dtype=jnp.result_type(float))
    return jnp.where(jnp.asarray(positive), power(k), 0.0)


def expected_grid_correlation(power, mesh_shape, box_size, *, redges):
    """The expectation of ``grid_correlation_function`` for a field with spectrum ``power``.

    .. math:: \\langle\\hat\\xi(r_b)\\rangle = \\frac1V \\sum_{\\mathbf k \\ne 0} P(k)\\, c_b(\\mathbf k),
              \\qquad c_b(\\mathbf k) = \\frac{1}{N_b}\\sum_{|\\mathbf r| \\in b} \\cos(\\mathbf k\\cdot\\mathbf r),

    the sum over the full FFT grid (the mesh's own, discrete and periodic, xi: no
    continuum integral, so it is exact for any mesh).

    Parameters
    ----------
    power : callable k -> P(k), h/Mpc -> (Mpc/h)^d (called with k > 0 only)
    mesh_shape, box_size, redges : as for ``grid_correlation_function``

    Returns
    -------
    (n_bins,) array, dimensionless. jit and grad safe in what ``power`` closes over
    (sizes and edges static).
    """
    shape, sizes, index, counts, _ = _lag_bins(mesh_shape, box_size, redges)
    c, kmag = _lag_cosines(shape, sizes, index, counts)
    p = _power_full(power, kmag)
    return jnp.matmul(jnp.asarray(c, p.dtype), p, precision=_HI) / float(np.prod(sizes))


def grid_correlation_covariance(power, mesh_shape, box_size, *, redges):
    """Gaussian-field covariance of ``grid_correlation_function``.

    .. math:: C_{bc} = \\frac{2}{V^2} \\sum_{\\mathbf k \\ne 0} c_b(\\mathbf k)\\, c_c(\\mathbf k)\\, P(k)^2

    over the full FFT grid (each complex pair k, -k is one exponential variable of
    variance P^2, each self-conjugate mode a chi^2_1 of variance 2 P^2; both give this sum).

    Returns
    -------
    (n_bins, n_bins) array, dimensionless. jit and grad safe in what ``power`` closes over.
    """
    shape, sizes, index, counts, _ = _lag_bins(mesh_shape, box_size, redges)
    c, kmag = _lag_cosines(shape, sizes, index, counts)
    p = _power_full(power, kmag)
    cj = jnp.asarray(c, p.dtype)
    return 2.0 * jnp.matmul(cj * p**2, cj.T, precision=_HI) / float(np.prod(sizes)) ** 2

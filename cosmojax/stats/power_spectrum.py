"""Power spectra of periodic meshes: auto, cross and Legendre multipoles.

For real overdensity meshes delta_1, delta_2 with N cells in a box of volume V,

.. math::

    \\hat P_\\ell(k) = \\frac{2\\ell + 1}{N_k} \\sum_{|\\mathbf k| \\in \\text{bin}}
        \\frac{V}{N^2}\\, \\mathrm{Re}\\left[\\delta_1(\\mathbf k) \\delta_2^*(\\mathbf k)\\right]
        \\mathcal L_\\ell(\\hat{\\mathbf k} \\cdot \\hat{\\mathbf n}),

summed over all modes of the full FFT grid (the rfftn half is weighted by
``cosmojax.mesh.hermitian_weights``), with N_k their number. For a Gaussian field the
monopole of one bin scatters around the true P(k) with variance 2 P^2 / N_k.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_box_size, check_choice, check_edges, check_finite, check_mesh_shape, check_real
from cosmojax.mesh import SCHEMES, hermitian_weights_numpy, kvec_numpy, rfftn_shape, window


class PowerSpectrum(NamedTuple):
    """A binned power spectrum.

    k : (n_bins,) mean |k| of the modes in each bin, h/Mpc (NaN for an empty bin)
    power : (n_bins,) for ``power_spectrum`` or (n_ells, n_bins) for ``power_multipoles``,
        (Mpc/h)^d (NaN for an empty bin)
    n_modes : (n_bins,) number of modes of the full FFT grid in each bin
    """

    k: jax.Array
    power: jax.Array
    n_modes: jax.Array


def default_kedges(mesh_shape: Sequence[int], box_size) -> np.ndarray:
    """Bins of width k_f centred on k_f, 2 k_f, ... up to the Nyquist wavenumber, h/Mpc.

    k_f = 2 pi / L_max is the fundamental of the longest side; k_Nyq = pi n / L of the
    coarsest axis. Returns a numpy array of edges.
    Host-side, from static sizes (not traced).
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    k_f = 2 * np.pi / max(sizes)
    k_nyq = min(np.pi * n / L for n, L in zip(shape, sizes))
    n_bins = max(int(np.floor(k_nyq / k_f - 0.5)), 1)
    return k_f * (np.arange(n_bins + 1) + 0.5)


def _legendre(ell: int, mu):
    if ell == 0:
        return jnp.ones_like(mu)
    if ell == 2:
        return 0.5 * (3 * mu**2 - 1)
    if ell == 4:
        return (35 * mu**4 - 30 * mu**2 + 3) / 8
    # Bonnet's recursion for other orders
    p0, p1 = jnp.ones_like(mu), mu
    for n in range(1, ell):
        p0, p1 = p1, ((2 * n + 1) * mu * p1 - n * p0) / (n + 1)
    return p1


def _binning(shape, sizes, kedges):
    """Static bin index per rfftn cell (n_bins for out of range), counts and mean k."""
    kvec = kvec_numpy(shape, sizes)
    kmag = np.sqrt(sum(k**2 for k in kvec))
    kmag = np.broadcast_to(kmag, rfftn_shape(shape))
    n_bins = kedges.size - 1
    index = np.searchsorted(kedges, kmag, side="right") - 1
    index = np.where((index < 0) | (index >= n_bins), n_bins, index)
    weights = hermitian_weights_numpy(shape)
    n_modes = np.bincount(index.ravel(), weights.ravel(), minlength=n_bins + 1)[:n_bins]
    ksum = np.bincount(index.ravel(), (weights * kmag).ravel(), minlength=n_bins + 1)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        k_mean = np.where(n_modes > 0, ksum / n_modes, np.nan)
    return index, weights, n_modes, k_mean, kvec, kmag


def _check_inputs(field, field2, box_size, kedges, compensate):
    shape = check_mesh_shape("field.shape", np.shape(field))
    sizes = check_box_size("box_size", box_size, len(shape))
    check_real("field", field)
    check_real("field2", field2)
    check_finite("field", field)
    if field2 is not None:
        if np.shape(field2) != shape:
            raise ValueError(f"field2 must have the shape of field {shape}; got {np.shape(field2)}.")
        check_finite("field2", field2)
    if compensate is not None:
        check_choice("compensate", compensate, SCHEMES)
    edges = default_kedges(shape, sizes) if kedges is None else check_edges("kedges", kedges, min_value=0.0)
    return shape, sizes, edges


def _modes(field, shape, compensate):
    modes = jnp.fft.rfftn(field)
    if compensate is not None:
        modes = modes / window(shape, compensate)
    return modes


def _binned_power(field, field2, box_size, kedges, compensate, ells, los, shot_noise):
    shape, sizes, edges = _check_inputs(field, field2, box_size, kedges, compensate)
    check_real("shot_noise", shot_noise)
    index, weights, n_modes, k_mean, kvec, kmag = _binning(shape, sizes, edges)
    n_bins = edges.size - 1
    modes1 = _modes(field, shape, compensate)
    modes2 = modes1 if field2 is None else _modes(field2, shape, compensate)
    norm = float(np.prod(sizes)) / float(np.prod(shape)) ** 2
    cross = jnp.real(modes1 * jnp.conj(modes2)) * norm
    dtype = cross.dtype
    flat_index = jnp.asarray(index.ravel())
    counts = jnp.asarray(np.where(n_modes > 0, n_modes, np.nan), dtype=dtype)

    def bin_sum(values):
        summed = jax.ops.segment_sum((weights * values).ravel(), flat_index, num_segments=n_bins + 1)
        return summed[:n_bins] / counts

    if ells is None:
        power = bin_sum(cross) - shot_noise
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(kmag > 0, sum(k * n for k, n in zip(kvec, los)) / kmag, 0.0)
        power = jnp.stack(
            [(2 * ell + 1) * bin_sum(cross * _legendre(ell, jnp.asarray(mu, dtype))) - (shot_noise if ell == 0 else 0.0)
             for ell in ells]
        )
    return PowerSpectrum(jnp.asarray(k_mean, dtype), power, jnp.asarray(n_modes, dtype))


def power_spectrum(field, box_size, *, field2=None, kedges=None, compensate=None, shot_noise=0.0):
    """Binned auto or cross power spectrum of 2D or 3D periodic meshes.

    Parameters
    ----------
    field : (n_1, ..., n_d) real array, overdensity delta (d = 2 or 3)
    box_size : float or tuple of d floats, Mpc/h
    field2 : same shape as ``field`` or None; when given, the cross spectrum Re<d1 d2*>
    kedges : (n_bins + 1,) increasing bin edges in h/Mpc, or None for ``default_kedges``
    compensate : None, "ngp", "cic" or "tsc": divide the modes by that mass-assignment
        window before squaring (use the scheme the field was painted with)
    shot_noise : float, (Mpc/h)^d, subtracted from every bin (1 / number density for a
        Poisson-sampled auto spectrum)

    Returns
    -------
    PowerSpectrum(k, power, n_modes), each (n_bins,); power in (Mpc/h)^d.
    jit safe with static ``box_size``, ``kedges``, ``compensate`` (close over them); vmap
    safe over fields; differentiable in ``field``, ``field2`` and ``shot_noise``.
    """
    return _binned_power(field, field2, box_size, kedges, compensate, None, None, shot_noise)


def power_multipoles(
    field, box_size, *, field2=None, ells=(0, 2, 4), los=None, kedges=None, compensate=None, shot_noise=0.0
):
    """Legendre multipoles P_ell(k) of the power spectrum about a fixed line of sight.

    Parameters
    ----------
    field, field2, box_size, kedges, compensate, shot_noise : as in ``power_spectrum``
        (``shot_noise`` is subtracted from the monopole only)
    ells : tuple of non-negative ints, the multipole orders
    los : (d,) line-of-sight vector (normalised here), default the last axis (z in 3D)

    Returns
    -------
    PowerSpectrum(k, power, n_modes) with power of shape (len(ells), n_bins), (Mpc/h)^d.
    Same jit/vmap/grad safety as ``power_spectrum``.
    """
    d = np.ndim(field)
    ells = tuple(ells)
    if not ells or not all(isinstance(ell, (int, np.integer)) and ell >= 0 for ell in ells):
        raise ValueError(f"ells must be a non-empty tuple of non-negative ints; got {ells!r}.")
    if los is None:
        los = np.eye(d)[-1]
    check_real("los", los)
    los = np.asarray(los, dtype=float)
    if los.shape != (d,) or not np.all(np.isfinite(los)) or np.linalg.norm(los) == 0:
        raise ValueError(f"los must be a non-zero vector of {d} finite numbers; got {los!r}.")
    los = los / np.linalg.norm(los)
    return _binned_power(field, field2, box_size, kedges, compensate, ells, los, shot_noise)


def cross_correlation(field, field2, box_size, *, kedges=None):
    """Cross-correlation coefficient r(k) = P_12 / sqrt(P_11 P_22) of two meshes.

    Parameters as in ``power_spectrum``. Returns a ``PowerSpectrum`` whose ``power`` is
    r(k), dimensionless in [-1, 1]: 1 where the fields agree mode by mode up to a scale
    factor. jit safe with static ``box_size`` and ``kedges``; differentiable.
    """
    shape, sizes, edges = _check_inputs(field, field2, box_size, kedges, None)
    index, weights, n_modes, k_mean, _, _ = _binning(shape, sizes, edges)
    m1, m2 = jnp.fft.rfftn(field), jnp.fft.rfftn(field2)  # one FFT per field for all three spectra
    flat_index = jnp.asarray(index.ravel())

    def bin_sum(values):
        return jax.ops.segment_sum((weights * values).ravel(), flat_index, num_segments=edges.size)[:-1]

    r = bin_sum(jnp.real(m1 * jnp.conj(m2))) / jnp.sqrt(bin_sum(jnp.abs(m1) ** 2) * bin_sum(jnp.abs(m2) ** 2))
    return PowerSpectrum(jnp.asarray(k_mean, r.dtype), r, jnp.asarray(n_modes, r.dtype))


def expected_power(power, mesh_shape: Sequence[int], box_size, *, kedges=None) -> PowerSpectrum:
    """The expectation of ``power_spectrum`` for a field with spectrum ``power``.

    Each bin's value is the mean of P(|k|) over the bin's modes (not P at the bin's mean
    k), which is what the estimator measures on average, so it is the right model for
    likelihoods of binned spectra.

    Parameters
    ----------
    power : callable k -> P(k), h/Mpc -> (Mpc/h)^d
    mesh_shape, box_size, kedges : as for the measured spectrum

    Returns
    -------
    PowerSpectrum(k, power, n_modes). jit and grad safe in what ``power`` closes over.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    edges = default_kedges(shape, sizes) if kedges is None else check_edges("kedges", kedges, min_value=0.0)
    index, weights, n_modes, k_mean, _, kmag = _binning(shape, sizes, edges)
    n_bins = edges.size - 1
    inside = index < n_bins
    k_in = jnp.asarray(kmag[inside], dtype=jnp.result_type(float))
    p = power(k_in)
    sums = jax.ops.segment_sum(jnp.asarray(weights[inside], p.dtype) * p, jnp.asarray(index[inside]), num_segments=n_bins)
    counts = jnp.asarray(np.where(n_modes > 0, n_modes, np.nan), p.dtype)
    return PowerSpectrum(jnp.asarray(k_mean, p.dtype), sums / counts, jnp.asarray(n_modes, p.dtype))

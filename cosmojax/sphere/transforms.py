"""Differentiable spherical-harmonic transforms on HEALPix maps (RING ordering).

Synthesis (``alm2map``) and analysis (``map2alm``) follow healpy exactly:

.. math::

    f(\\theta_p, \\phi_p) = \\sum_{\\ell m} a_{\\ell m} Y_{\\ell m}(\\theta_p, \\phi_p),\\qquad
    \\hat a_{\\ell m} = \\frac{4\\pi}{N_{\\rm pix}} \\sum_p f_p Y^*_{\\ell m}(\\theta_p, \\phi_p),

with ``iter`` Jacobi refinements :math:`a \\leftarrow a + \\hat a(f - Y a)` as healpy's
``map2alm(..., iter=n)``. Spin 2 maps (Q, U) relate to (E, B) alms by

.. math::

    Q \\pm iU = -\\sum_{\\ell m} (a^E_{\\ell m} \\pm i a^B_{\\ell m})\\, {}_{\\pm2}Y_{\\ell m},

HEALPix's convention (Gorski et al. 2005, ApJ 622, 759). Alms use healpy's layout: a 1D
complex array indexed by ``healpy.Alm.getidx(lmax, l, m)`` = ``m (2 lmax + 1 - m) / 2 + l``,
m >= 0; the imaginary part of m = 0 terms is ignored, as in healpy.

Method: per ring, the Legendre sums for m = 0..mmax are built by a ``lax.scan`` over l
(north and south rings together, from the parity symmetry), then the phi direction is a
discrete Fourier transform of each ring evaluated for all rings at once with Bluestein's
chirp-z algorithm on one padded FFT length. Cost O(lmax nrings mmax + npix log npix);
memory O(nrings (mmax + nside)), a few MB at nside 256. Gradients use the adjoint
transform (a custom VJP), so reverse-mode memory is that of one more transform.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_int, check_real
from cosmojax.sphere.geometry import check_nside, npix_to_nside, pixel_rings, ring_geometry
from cosmojax.sphere.legendre import (
    LegendreSeeds,
    init_state,
    lambda_mm_seeds,
    legendre_step,
    spin2_from_lambda,
)


# ----------------------------------------------------------------------------- alm layout


def alm_size(lmax: int, mmax: int | None = None) -> int:
    """Number of complex coefficients in healpy's layout, (mmax+1)(2 lmax + 2 - mmax)/2."""
    mmax = lmax if mmax is None else mmax
    return (mmax + 1) * (2 * lmax + 2 - mmax) // 2


def alm_index(lmax: int, ell, m):
    """healpy's index of (l, m) in an alm array: m (2 lmax + 1 - m) / 2 + l (numpy ints)."""
    m = np.asarray(m)
    return m * (2 * lmax + 1 - m) // 2 + np.asarray(ell)


def alm_lm(lmax: int, mmax: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Degrees l and orders m of every entry of an alm array (two int numpy arrays)."""
    mmax = lmax if mmax is None else mmax
    ms = np.concatenate([np.full(lmax + 1 - m, m) for m in range(mmax + 1)])
    ls = np.concatenate([np.arange(m, lmax + 1) for m in range(mmax + 1)])
    return ls, ms


def lmax_from_size(size: int, mmax: int | None = None, name: str = "alm") -> int:
    """lmax of an alm array of ``size`` entries (mmax = lmax unless given)."""
    if mmax is None:
        lmax = int(round((np.sqrt(8 * size + 1) - 3) / 2))
        if lmax < 0 or alm_size(lmax) != size:
            raise ValueError(
                f"{name} has {size} coefficients along its last axis, which is not (lmax+1)(lmax+2)/2 for any "
                "lmax; pass alms in healpy's layout or give lmax and mmax."
            )
        return lmax
    # size = (mmax+1)(2 lmax + 2 - mmax)/2
    twice = 2 * size // (mmax + 1) - 2 + mmax
    lmax = twice // 2
    if alm_size(lmax, mmax) != size or lmax < mmax:
        raise ValueError(f"{name} has {size} coefficients, which does not match mmax={mmax} for any lmax.")
    return lmax


# ----------------------------------------------------------------------------- static plan


class _Plan(NamedTuple):
    nside: int
    lmax: int
    mmax: int
    nnorth: int  # rings from the north pole to the equator, inclusive
    fft_len: int
    cos_n: np.ndarray  # (nnorth, 1)
    sin_n: np.ndarray  # (nnorth, 1)
    seed_mant: np.ndarray  # (nnorth, M)
    seed_scale: np.ndarray  # (nnorth, M)
    phase: np.ndarray  # (nrings, M) complex, exp(i m phi0)
    fold_index: np.ndarray  # (nrings * M,) flat index ring * L + (m mod nphi)
    pix_index: np.ndarray  # (npix,) flat index ring * L + position
    slot_index: np.ndarray  # (nrings * L,) pixel at each slot, npix where empty
    chirp: np.ndarray  # (nrings, L) complex, exp(i pi k^2 / N), zero for k >= N
    chirp_hat: np.ndarray  # (nrings, L) complex, FFT of the conjugate chirp kernel
    dense_index: np.ndarray  # (lmax+1, M) index into the alm array, nalm where l < m
    sparse_index: np.ndarray  # (nalm,) flat index l * M + m into the dense array
    m_weight: np.ndarray  # (nalm,) 1 for m = 0, 2 otherwise


@functools.lru_cache(maxsize=16)
def _plan(nside: int, lmax: int, mmax: int) -> _Plan:
    geom = ring_geometry(nside)
    nrings, npix = geom.nrings, geom.npix
    nnorth = 2 * nside
    fft_len = 1 << int(np.ceil(np.log2(2 * geom.nphi.max() - 1)))
    m = np.arange(mmax + 1)
    seeds = lambda_mm_seeds(geom.sin_theta[:nnorth], mmax)
    phase = np.exp(1j * m[None, :] * geom.phi0[:, None])
    fold = (np.arange(nrings)[:, None] * fft_len + m[None, :] % geom.nphi[:, None]).ravel()
    ring, pos = pixel_rings(nside)
    pix_index = ring * fft_len + pos
    slot_index = np.full(nrings * fft_len, npix, dtype=np.int64)
    slot_index[pix_index] = np.arange(npix)
    k = np.arange(fft_len)
    n = geom.nphi[:, None]
    inside = k[None, :] < n
    # exp(i pi k^2 / N) with k^2 reduced mod 2N in integers, so the phase is exact.
    chirp = np.where(inside, np.exp(1j * np.pi * ((k[None, :] ** 2) % (2 * n)) / n), 0.0)
    dist = np.minimum(k, fft_len - k)[None, :]
    kernel = np.where(dist < n, np.exp(-1j * np.pi * ((dist**2) % (2 * n)) / n), 0.0)
    chirp_hat = np.fft.fft(kernel, axis=-1)
    nalm = alm_size(lmax, mmax)
    ls, ms = alm_lm(lmax, mmax)
    ell = np.arange(lmax + 1)[:, None]
    dense_index = np.where(ell >= m[None, :], alm_index(lmax, ell, m[None, :]), nalm)
    return _Plan(
        nside=nside,
        lmax=lmax,
        mmax=mmax,
        nnorth=nnorth,
        fft_len=fft_len,
        cos_n=geom.cos_theta[:nnorth, None],
        sin_n=geom.sin_theta[:nnorth, None],
        seed_mant=seeds.mantissa,
        seed_scale=seeds.scale,
        phase=phase,
        fold_index=np.asarray(fold, dtype=np.int32),
        pix_index=np.asarray(pix_index, dtype=np.int32),
        slot_index=np.asarray(slot_index, dtype=np.int32),
        chirp=chirp,
        chirp_hat=chirp_hat,
        dense_index=np.asarray(dense_index, dtype=np.int32),
        sparse_index=np.asarray(ls * (mmax + 1) + ms, dtype=np.int32),
        m_weight=np.where(ms == 0, 1.0, 2.0),
    )


def _real_dtype(x):
    return jnp.finfo(jnp.result_type(x)).dtype


def _complex_dtype(real):
    return jnp.result_type(real, jnp.complex64)


# ----------------------------------------------------------------------------- ring FFTs


def _ring_dft(coef, plan: _Plan):
    """X_j = sum_k c_k exp(+2 pi i j k / N_ring) for all rings at once (Bluestein)."""
    cdt = coef.dtype
    chirp = jnp.asarray(plan.chirp, dtype=cdt)
    spectrum = jnp.fft.fft(coef * chirp, axis=-1) * jnp.asarray(plan.chirp_hat, dtype=cdt)
    return jnp.fft.ifft(spectrum, axis=-1) * chirp


def _rings_to_map(coef, plan: _Plan):
    """(..., nrings, M) Fourier coefficients (m >= 0, real-field weights applied) -> (..., npix)."""
    nrings, fft_len = plan.phase.shape[0], plan.fft_len
    lead = coef.shape[:-2]
    folded = jnp.zeros(lead + (nrings * fft_len,), dtype=coef.dtype)
    folded = folded.at[..., jnp.asarray(plan.fold_index)].add(coef.reshape(lead + (-1,)))
    values = _ring_dft(folded.reshape(lead + (nrings, fft_len)), plan).real
    return jnp.take(values.reshape(lead + (-1,)), jnp.asarray(plan.pix_index), axis=-1)


def _map_to_rings(maps, plan: _Plan):
    """(..., npix) real maps -> (..., nrings, M) sums  sum_j f_j exp(-i m phi_j)."""
    nrings, fft_len = plan.phase.shape[0], plan.fft_len
    lead = maps.shape[:-1]
    padded = jnp.concatenate([maps, jnp.zeros(lead + (1,), maps.dtype)], axis=-1)
    slots = jnp.take(padded, jnp.asarray(plan.slot_index), axis=-1).reshape(lead + (nrings, fft_len))
    cdt = _complex_dtype(maps.dtype)
    spectrum = jnp.conj(_ring_dft(slots.astype(cdt), plan))
    picked = jnp.take(spectrum.reshape(lead + (-1,)), jnp.asarray(plan.fold_index), axis=-1)
    return picked.reshape(lead + (nrings, -1)) * jnp.conj(jnp.asarray(plan.phase, dtype=cdt))


def _split_rings(values, plan: _Plan):
    """(..., nrings, M) -> north (..., nnorth, M) and mirrored south (..., nnorth, M), equator's partner 0."""
    n = plan.nnorth
    north = values[..., :n, :]
    south = jnp.flip(values[..., n:, :], axis=-2)
    pad = [(0, 0)] * (south.ndim - 2) + [(0, 1), (0, 0)]
    return north, jnp.pad(south, pad)


def _join_rings(north, south, plan: _Plan):
    return jnp.concatenate([north, jnp.flip(south[..., : plan.nnorth - 1, :], axis=-2)], axis=-2)


# ----------------------------------------------------------------------------- Legendre sums


def _parity(ell, mmax, dtype):
    return jnp.where((ell + jnp.arange(mmax + 1)) % 2 == 0, 1.0, -1.0).astype(dtype)


def _has_t(spin):
    return spin in (0, "pol")


def _has_eb(spin):
    return spin in (2, "pol")


def _legendre_synthesis(plan: _Plan, dense, spin):
    """dense (ncomp, lmax+1, M) complex -> north, south (ncomp, nnorth, M) complex ring sums.

    spin 0: (T,) -> (T,); spin 2: (E, B) -> (Q, U); "pol": (T, E, B) -> (T, Q, U).
    Each component has its own accumulator in the scan carry (a stacked carry makes XLA
    copy it at every step).
    """
    rdt = _real_dtype(dense.real)
    cos_n = jnp.asarray(plan.cos_n, rdt)
    sin_n = jnp.asarray(plan.sin_n, rdt)
    mant, scl = jnp.asarray(plan.seed_mant, rdt), jnp.asarray(plan.seed_scale)
    ncomp = dense.shape[0]
    zeros = jnp.zeros((plan.nnorth, plan.mmax + 1), dense.dtype)

    def body(carry, inputs):
        state, north, south = carry
        ell, a_l = inputs  # a_l: (ncomp, M)
        state, lam, lam_prev = legendre_step(state, ell, cos_n, mant, scl)
        sgn = _parity(ell, plan.mmax, rdt)
        up_n, up_s = [], []
        if _has_t(spin):
            term = a_l[0][None, :] * lam
            up_n.append(term)
            up_s.append(sgn * term)
        if _has_eb(spin):
            f1, f2 = spin2_from_lambda(ell, cos_n, sin_n, lam, lam_prev)
            e, b = a_l[-2][None, :], a_l[-1][None, :]
            # Q = -(E F1 + i B F2), U = -(B F1 - i E F2); F1 terms are even under
            # theta -> pi - theta (times the parity (-1)^(l+m)), F2 terms odd
            q_even, u_even = -e * f1, -b * f1
            q_odd, u_odd = (-1j * b) * f2, (1j * e) * f2
            up_n += [q_even + q_odd, u_even + u_odd]
            up_s += [sgn * (q_even - q_odd), sgn * (u_even - u_odd)]
        north = tuple(x + y for x, y in zip(north, up_n))
        south = tuple(x + y for x, y in zip(south, up_s))
        return (state, north, south), None

    init = (_state0(plan, rdt), (zeros,) * ncomp, (zeros,) * ncomp)
    (_, north, south), _ = jax.lax.scan(body, init, (jnp.arange(plan.lmax + 1), jnp.moveaxis(dense, 1, 0)))
    return jnp.stack(north), jnp.stack(south)


def _state0(plan: _Plan, rdt):
    return init_state(LegendreSeeds(plan.seed_mant, plan.seed_scale), rdt)


def _legendre_analysis(plan: _Plan, north, south, spin):
    """north, south (ncomp, nnorth, M) complex ring sums -> dense (ncomp, lmax+1, M) complex."""
    rdt = _real_dtype(north.real)
    cos_n = jnp.asarray(plan.cos_n, rdt)
    sin_n = jnp.asarray(plan.sin_n, rdt)
    mant, scl = jnp.asarray(plan.seed_mant, rdt), jnp.asarray(plan.seed_scale)
    plus, minus = north + south, north - south

    def ring_sum(f, values):
        return jnp.sum(f * values, axis=0)

    def body(state, ell):
        state, lam, lam_prev = legendre_step(state, ell, cos_n, mant, scl)
        even_m = (ell + jnp.arange(plan.mmax + 1)) % 2 == 0
        # a function of parity (-1)^(l+m) under theta -> pi - theta pairs with north + south
        # when l + m is even and with north - south when odd; one of opposite parity the reverse
        out = []
        if _has_t(spin):
            out.append(jnp.where(even_m, ring_sum(lam, plus[0]), ring_sum(lam, minus[0])))
        if _has_eb(spin):
            f1, f2 = spin2_from_lambda(ell, cos_n, sin_n, lam, lam_prev)
            qp, qm, up, um = plus[-2], minus[-2], plus[-1], minus[-1]
            f1_q = jnp.where(even_m, ring_sum(f1, qp), ring_sum(f1, qm))
            f1_u = jnp.where(even_m, ring_sum(f1, up), ring_sum(f1, um))
            f2_q = jnp.where(even_m, ring_sum(f2, qm), ring_sum(f2, qp))
            f2_u = jnp.where(even_m, ring_sum(f2, um), ring_sum(f2, up))
            out.append(-(f1_q + 1j * f2_u))  # E = -sum (F1 Q + i F2 U)
            out.append(-(f1_u - 1j * f2_q))  # B = -sum (F1 U - i F2 Q)
        return state, jnp.stack(out)

    _, out = jax.lax.scan(body, _state0(plan, rdt), jnp.arange(plan.lmax + 1))
    return jnp.moveaxis(out, 0, -2)


# ----------------------------------------------------------------------------- core linear maps


def _to_dense(alm, plan: _Plan):
    padded = jnp.concatenate([alm, jnp.zeros(alm.shape[:-1] + (1,), alm.dtype)], axis=-1)
    return jnp.take(padded, jnp.asarray(plan.dense_index), axis=-1)


def _to_sparse(dense, plan: _Plan):
    flat = dense.reshape(dense.shape[:-2] + (-1,))
    return jnp.take(flat, jnp.asarray(plan.sparse_index), axis=-1)


def _synthesis_impl(key, alm):
    nside, lmax, mmax, spin = key
    plan = _plan(nside, lmax, mmax)
    dense = _to_dense(alm, plan)
    # the imaginary part of m = 0 terms does not enter a real map
    dense = dense.at[..., 0].set(dense[..., 0].real.astype(dense.dtype))

    def one(d):
        north, south = _legendre_synthesis(plan, d, spin)
        rings = _join_rings(north, south, plan)
        weight = jnp.where(jnp.arange(mmax + 1) == 0, 1.0, 2.0).astype(rings.real.dtype)
        return _rings_to_map(rings * jnp.asarray(plan.phase, rings.dtype) * weight, plan)

    lead = alm.shape[:-2]
    flat = dense.reshape((-1,) + dense.shape[-3:])
    out = jax.lax.map(one, flat) if flat.shape[0] > 1 else one(flat[0])[None]
    return out.reshape(lead + out.shape[-2:])


def _adjoint_impl(key, maps):
    nside, lmax, mmax, spin = key
    plan = _plan(nside, lmax, mmax)

    def one(f):
        rings = _map_to_rings(f, plan)
        north, south = _split_rings(rings, plan)
        return _to_sparse(_legendre_analysis(plan, north, south, spin), plan)

    lead = maps.shape[:-2]
    flat = maps.reshape((-1,) + maps.shape[-2:])
    out = jax.lax.map(one, flat) if flat.shape[0] > 1 else one(flat[0])[None]
    return out.reshape(lead + out.shape[-2:])


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _synthesis(key, alm):
    """(..., ncomp, nalm) complex -> (..., ncomp, npix) real; key = (nside, lmax, mmax, spin)."""
    return _synthesis_impl(key, alm)


def _synthesis_fwd(key, alm):
    return _synthesis_impl(key, alm), None


def _synthesis_bwd(key, _, ct):
    plan = _plan(*key[:3])
    weight = jnp.asarray(plan.m_weight, _real_dtype(ct))
    return (weight * jnp.conj(_adjoint(key, ct)),)


_synthesis.defvjp(_synthesis_fwd, _synthesis_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _adjoint(key, maps):
    """(..., ncomp, npix) real -> (..., ncomp, nalm) complex: sum_p f_p conj(Y_lm(p)), no pixel weight."""
    return _adjoint_impl(key, maps)


def _adjoint_fwd(key, maps):
    return _adjoint_impl(key, maps), None


def _adjoint_bwd(key, _, ct):
    plan = _plan(*key[:3])
    weight = jnp.asarray(plan.m_weight, _real_dtype(ct))
    return (_synthesis(key, jnp.conj(ct) / weight),)


_adjoint.defvjp(_adjoint_fwd, _adjoint_bwd)


# ----------------------------------------------------------------------------- checks


def _check_lmax(lmax, mmax, limit, what):
    lmax = check_int("lmax", lmax, 0, allow_none=True)
    mmax = check_int("mmax", mmax, 0, allow_none=True)
    if lmax is not None and lmax > limit:
        raise ValueError(f"lmax={lmax} is too large for {what}; use lmax <= {limit}.")
    if lmax is not None and mmax is not None and mmax > lmax:
        raise ValueError(f"mmax must be <= lmax; got mmax={mmax}, lmax={lmax}.")


def _alm_sizes(alm, lmax, mmax, name):
    size = np.shape(alm)[-1] if np.ndim(alm) else 0
    if np.ndim(alm) < 1:
        raise ValueError(f"{name} must be an array whose last axis holds the alms; got a scalar.")
    if lmax is None:
        if mmax is not None:
            raise ValueError("give lmax together with mmax.")
        lmax = lmax_from_size(size, None, name)
    mmax = lmax if mmax is None else int(mmax)
    if alm_size(lmax, mmax) != size:
        raise ValueError(
            f"{name} has {size} coefficients along its last axis; lmax={lmax}, mmax={mmax} needs "
            f"{alm_size(lmax, mmax)}."
        )
    return int(lmax), int(mmax)


def _as_complex(alm):
    alm = jnp.asarray(alm)
    if not jnp.issubdtype(alm.dtype, jnp.complexfloating):
        alm = alm.astype(_complex_dtype(jnp.result_type(float)))
    return alm


def _as_real(maps):
    maps = jnp.asarray(maps)
    if jnp.issubdtype(maps.dtype, jnp.complexfloating):
        raise ValueError("maps must be real; got a complex array.")
    if not jnp.issubdtype(maps.dtype, jnp.floating):
        maps = maps.astype(jnp.result_type(float))
    return maps


# ----------------------------------------------------------------------------- public API


def alm2map(alm, nside: int, lmax: int | None = None, mmax: int | None = None, pol: bool = False):
    """Spherical-harmonic synthesis of a HEALPix map (as ``healpy.alm2map``).

    Parameters
    ----------
    alm : (..., nalm) complex array, or (..., 3, nalm) for ``pol=True`` (T, E, B)
        Coefficients in healpy's layout; units of the map (e.g. muK).
    nside : int, power of 2
    lmax, mmax : int, optional
        Default: lmax from the size with mmax = lmax. lmax <= 4 nside.
    pol : bool
        If True, the last-but-one axis holds (T, E, B) and the maps are (T, Q, U).

    Returns
    -------
    (..., npix) real array in RING ordering, or (..., 3, npix) for ``pol``.
    jit, vmap and grad safe (grad with respect to ``alm``, by the adjoint transform).
    """
    nside = check_nside(nside)
    _check_lmax(lmax, mmax, 4 * nside, f"synthesis at nside {nside}")
    lmax, mmax = _alm_sizes(alm, lmax, mmax, "alm")
    _check_lmax(lmax, mmax, 4 * nside, f"synthesis at nside {nside}")
    check_finite("alm", alm)
    alm = _as_complex(alm)
    if pol:
        if alm.ndim < 2 or alm.shape[-2] != 3:
            raise ValueError(f"with pol=True alm must have shape (..., 3, nalm) for (T, E, B); got {alm.shape}.")
        return _synthesis_jit((nside, lmax, mmax, "pol"), alm)
    return _synthesis_jit((nside, lmax, mmax, 0), alm[..., None, :])[..., 0, :]


def alm2map_spin(alm, nside: int, lmax: int | None = None, mmax: int | None = None):
    """Spin-2 synthesis: (E, B) alms -> (Q, U) maps, HEALPix polarisation convention.

    Parameters
    ----------
    alm : (..., 2, nalm) complex array, (E, B) in healpy's layout
    nside : int, power of 2
    lmax, mmax : int, optional (lmax <= 4 nside)

    Returns
    -------
    (..., 2, npix) real array (Q, U), RING ordering; equal to the Q, U maps of
    ``healpy.alm2map([T, E, B], nside, pol=True)``. jit, vmap and grad safe (in ``alm``).
    """
    nside = check_nside(nside)
    _check_lmax(lmax, mmax, 4 * nside, f"synthesis at nside {nside}")
    lmax, mmax = _alm_sizes(alm, lmax, mmax, "alm")
    _check_lmax(lmax, mmax, 4 * nside, f"synthesis at nside {nside}")
    if np.ndim(alm) < 2 or np.shape(alm)[-2] != 2:
        raise ValueError(f"alm must have shape (..., 2, nalm) for (E, B); got {np.shape(alm)}.")
    check_finite("alm", alm)
    return _synthesis_jit((nside, lmax, mmax, 2), _as_complex(alm))


@functools.partial(jax.jit, static_argnums=(0,))
def _synthesis_jit(key, alm):
    return _synthesis(key, alm)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _analysis(maps, nside, lmax, mmax, spin, iter):
    key = (nside, lmax, mmax, spin)
    weight = 4 * np.pi / (12 * nside * nside)
    alm = weight * _adjoint(key, maps)

    def refine(_, alm):
        return alm + weight * _adjoint(key, maps - _synthesis(key, alm))

    return jax.lax.fori_loop(0, iter, refine, alm) if iter > 0 else alm


def _check_maps(maps, lmax, mmax, iter, ncomp):
    if np.ndim(maps) < 1:
        raise ValueError("maps must be an array with pixels along the last axis; got a scalar.")
    nside = npix_to_nside(np.shape(maps)[-1], "maps")
    if ncomp is not None and (np.ndim(maps) < 2 or np.shape(maps)[-2] != ncomp):
        names = "(T, Q, U)" if ncomp == 3 else "(Q, U)"
        raise ValueError(f"maps must have shape (..., {ncomp}, npix) for {names}; got {np.shape(maps)}.")
    check_real("maps", maps)
    iter = check_int("iter", iter, 0)
    lmax = 3 * nside - 1 if lmax is None else lmax
    _check_lmax(lmax, mmax, 3 * nside - 1, f"analysis at nside {nside}")
    mmax = lmax if mmax is None else mmax
    check_finite("maps", maps)
    return nside, int(lmax), int(mmax)


def map2alm(maps, lmax: int | None = None, mmax: int | None = None, iter: int = 3, pol: bool = False):
    """Spherical-harmonic analysis of a HEALPix map (as ``healpy.map2alm``, no ring weights).

    Parameters
    ----------
    maps : (..., npix) real array in RING ordering, or (..., 3, npix) (T, Q, U) for ``pol``
    lmax, mmax : int, optional
        Default lmax = 3 nside - 1 (also the largest allowed), mmax = lmax.
    iter : int
        Number of Jacobi refinements, as healpy's ``iter`` (default 3, healpy's default).
    pol : bool
        If True, analyse (T, Q, U) into (T, E, B).

    Returns
    -------
    (..., nalm) complex array in healpy's layout, or (..., 3, nalm) for ``pol``; map units.
    jit, vmap and grad safe (grad with respect to ``maps``, by the adjoint transform).
    """
    nside, lmax, mmax = _check_maps(maps, lmax, mmax, iter, 3 if pol else None)
    maps = _as_real(maps)
    if pol:
        return _analysis(maps, nside, lmax, mmax, "pol", iter)
    return _analysis(maps[..., None, :], nside, lmax, mmax, 0, iter)[..., 0, :]


def map2alm_spin(maps, lmax: int | None = None, mmax: int | None = None, iter: int = 3):
    """Spin-2 analysis: (Q, U) maps -> (E, B) alms, HEALPix polarisation convention.

    Parameters
    ----------
    maps : (..., 2, npix) real array (Q, U), RING ordering
    lmax, mmax : int, optional (default and largest lmax = 3 nside - 1)
    iter : int, Jacobi refinements as healpy's ``iter`` (default 3)

    Returns
    -------
    (..., 2, nalm) complex array (E, B); equal to the E, B alms of
    ``healpy.map2alm([T, Q, U], pol=True)``. jit, vmap and grad safe (in ``maps``).
    """
    nside, lmax, mmax = _check_maps(maps, lmax, mmax, iter, 2)
    return _analysis(_as_real(maps), nside, lmax, mmax, 2, iter)

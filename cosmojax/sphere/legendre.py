"""Normalised associated Legendre functions and spin-2 harmonics, ring by ring.

Spin 0 uses the orthonormal functions

.. math::

    \\lambda_{\\ell m}(\\theta) = \\sqrt{\\frac{2\\ell+1}{4\\pi}\\frac{(\\ell-m)!}{(\\ell+m)!}}
        P_\\ell^m(\\cos\\theta),\\qquad Y_{\\ell m} = \\lambda_{\\ell m} e^{i m \\phi},

(with the Condon-Shortley phase, as HEALPix), built by the stable recursion in
:math:`\\ell` at fixed :math:`m`

.. math::

    \\lambda_{mm} = (-1)^m \\sqrt{\\frac{2m+1}{4\\pi}\\prod_{k=1}^m\\frac{2k-1}{2k}}\\,\\sin^m\\theta,
    \\quad
    \\lambda_{\\ell m} = a_{\\ell m}\\left(\\cos\\theta\\,\\lambda_{\\ell-1,m}
        - b_{\\ell m}\\lambda_{\\ell-2,m}\\right),

    a_{\\ell m} = \\sqrt{\\frac{4\\ell^2-1}{\\ell^2-m^2}},\\quad
    b_{\\ell m} = \\sqrt{\\frac{(\\ell-1)^2-m^2}{4(\\ell-1)^2-1}}.

Spin 2 uses the combinations :math:`F_{1,2} = ({}_{2}Y \\pm {}_{-2}Y)/2` without the phase,
written with :math:`\\lambda_{\\ell m}` and :math:`\\lambda_{\\ell-1,m}`
(Zaldarriaga & Seljak 1997, PRD 55, 1830; Gorski et al. 2005, ApJ 622, 759):

.. math::

    F_1 = c_\\ell\\left[-\\left(\\frac{\\ell-m^2}{\\sin^2\\theta} + \\frac{\\ell(\\ell-1)}{2}\\right)
          \\lambda_{\\ell m} + \\frac{\\cos\\theta}{\\sin^2\\theta} q_{\\ell m}
          \\lambda_{\\ell-1,m}\\right],\\quad
    F_2 = c_\\ell\\frac{m}{\\sin^2\\theta}\\left[-(\\ell-1)\\cos\\theta\\,\\lambda_{\\ell m}
          + q_{\\ell m}\\lambda_{\\ell-1,m}\\right],

with :math:`c_\\ell = 2/\\sqrt{(\\ell-1)\\ell(\\ell+1)(\\ell+2)}` and
:math:`q_{\\ell m} = \\sqrt{(2\\ell+1)(\\ell^2-m^2)/(2\\ell-1)}`.

:math:`\\sin^m\\theta` underflows for large m near the poles (and in float32 long before),
so values are carried as a mantissa times :math:`2^{64 s}` with an integer scale ``s``
per (ring, m), and only read out once ``s >= -1`` (the rest are below 2^-64 of the
largest values). Memory is O(nrings x mmax) per step: no lmax x nrings x mmax table is
ever held, so nside 256 transforms need a few MB here.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

_SCALE_BITS = 64
_BIG = 2.0**_SCALE_BITS


class LegendreSeeds(NamedTuple):
    """Starting values of the recursion: lambda_mm = mantissa * 2^(64 * scale).

    mantissa : (nrings, mmax + 1) float64 numpy array
    scale : (nrings, mmax + 1) int32 numpy array (<= 0)
    """

    mantissa: np.ndarray
    scale: np.ndarray


def lambda_mm_seeds(sin_theta, mmax: int) -> LegendreSeeds:
    """The diagonal values lambda_mm(theta), m = 0..mmax, in scaled form (numpy float64).

    Parameters
    ----------
    sin_theta : (nrings,) array, sin of the colatitude, > 0
    mmax : int

    Returns
    -------
    LegendreSeeds with (nrings, mmax + 1) arrays; static set-up, not traced.
    """
    s = np.asarray(sin_theta, dtype=np.float64)[:, None]
    m = np.arange(mmax + 1)
    ratio = np.concatenate([[0.0], np.cumsum(np.log2((2.0 * m[1:] - 1) / (2.0 * m[1:])))])
    log2_abs = 0.5 * np.log2((2.0 * m + 1) / (4 * np.pi)) + 0.5 * ratio + m * np.log2(s)
    scale = np.where(log2_abs >= 0, 0, np.floor(log2_abs / _SCALE_BITS)).astype(np.int32)
    sign = np.where(m % 2 == 1, -1.0, 1.0)
    mantissa = sign * np.exp2(log2_abs - _SCALE_BITS * scale)
    return LegendreSeeds(mantissa=mantissa, scale=scale)


class RecursionState(NamedTuple):
    """Carry of the recursion at step l: lambda_{l-1} and lambda_{l-2} mantissas and the scale."""

    previous: jax.Array
    previous2: jax.Array
    scale: jax.Array


def init_state(seeds: LegendreSeeds, dtype) -> RecursionState:
    """A zero state for the recursion, shaped like the seeds; ``dtype`` is the real dtype."""
    zeros = jnp.zeros(seeds.mantissa.shape, dtype=dtype)
    return RecursionState(zeros, zeros, jnp.zeros(seeds.scale.shape, dtype=jnp.int32))


def _readout(scale, dtype):
    return jnp.where(scale >= 0, 1.0, jnp.where(scale == -1, 2.0**-_SCALE_BITS, 0.0)).astype(dtype)


def legendre_step(state: RecursionState, ell, cos_theta, mantissa_seed, scale_seed):
    """Advance the recursion to degree ``ell`` for every (ring, m).

    Parameters
    ----------
    state : RecursionState at degree ell - 1
    ell : int scalar (may be traced, e.g. a scan index)
    cos_theta : (nrings, 1) array
    mantissa_seed, scale_seed : (nrings, mmax + 1) arrays from ``lambda_mm_seeds``

    Returns
    -------
    (new_state, lam, lam_prev): ``lam`` = lambda_{ell, m} and ``lam_prev`` = lambda_{ell-1, m},
    each (nrings, mmax + 1), zero where m > ell. jit, vmap and grad safe.
    """
    dtype = state.previous.dtype
    mmax = state.previous.shape[-1] - 1
    m = jnp.arange(mmax + 1, dtype=dtype)
    lf = jnp.asarray(ell, dtype=dtype)
    above = ell > jnp.arange(mmax + 1)
    diag = ell == jnp.arange(mmax + 1)
    denom = jnp.where(above, lf * lf - m * m, 1.0)
    a = jnp.sqrt((4 * lf * lf - 1) / denom)
    lm1 = lf - 1
    b = jnp.sqrt(jnp.maximum(lm1 * lm1 - m * m, 0.0) / jnp.maximum(4 * lm1 * lm1 - 1, 1.0))
    step = a * (cos_theta * state.previous - b * state.previous2)
    new = jnp.where(diag, mantissa_seed, jnp.where(above, step, 0.0))
    scale = jnp.where(diag, scale_seed, state.scale)
    read = _readout(scale, dtype)
    lam = new * read
    lam_prev = state.previous * read
    grow = (jnp.abs(new) > _BIG) & (scale < 0)
    shrink = jnp.where(grow, 2.0**-_SCALE_BITS, 1.0).astype(dtype)
    next_state = RecursionState(new * shrink, state.previous * shrink, scale + grow.astype(jnp.int32))
    return next_state, lam, lam_prev


def spin2_from_lambda(ell, cos_theta, sin_theta, lam, lam_prev):
    """The spin-2 functions F1, F2 of degree ``ell`` from lambda_{ell,m} and lambda_{ell-1,m}.

    Parameters
    ----------
    ell : int scalar (may be traced)
    cos_theta, sin_theta : (nrings, 1) arrays
    lam, lam_prev : (nrings, mmax + 1) arrays

    Returns
    -------
    F1, F2 : (nrings, mmax + 1) arrays, zero for ell < 2. jit, vmap and grad safe.
    """
    dtype = lam.dtype
    mmax = lam.shape[-1] - 1
    m = jnp.arange(mmax + 1, dtype=dtype)
    lf = jnp.asarray(ell, dtype=dtype)
    valid = ell >= 2
    c = jnp.where(valid, 2.0 / jnp.sqrt(jnp.maximum((lf - 1) * lf * (lf + 1) * (lf + 2), 1.0)), 0.0)
    q = jnp.sqrt((2 * lf + 1) / jnp.maximum(2 * lf - 1, 1.0) * jnp.maximum(lf * lf - m * m, 0.0))
    inv_s2 = 1.0 / (sin_theta * sin_theta)
    f1 = c * (-((lf - m * m) * inv_s2 + 0.5 * lf * (lf - 1)) * lam + cos_theta * inv_s2 * q * lam_prev)
    f2 = c * m * inv_s2 * (-(lf - 1) * cos_theta * lam + q * lam_prev)
    return f1, f2


def legendre_table(lmax: int, mmax: int, theta, spin: int = 0):
    """Tabulate the ring functions for all degrees (for tests and small sizes).

    Parameters
    ----------
    lmax, mmax : int, mmax <= lmax
    theta : (nrings,) array, colatitudes in radians, strictly inside (0, pi)
    spin : 0 or 2

    Returns
    -------
    spin 0: (lmax + 1, nrings, mmax + 1) array of lambda_lm(theta);
    spin 2: (2, lmax + 1, nrings, mmax + 1) array of (F1, F2).
    Memory is O(lmax nrings mmax): the transforms never build this table.
    jit-safe for fixed sizes (theta is static set-up).
    """
    if spin not in (0, 2):
        raise ValueError(f"spin must be 0 or 2; got {spin!r}.")
    if not 0 <= mmax <= lmax:
        raise ValueError(f"need 0 <= mmax <= lmax; got lmax={lmax}, mmax={mmax}.")
    theta = np.asarray(theta, dtype=np.float64)
    if np.any((theta <= 0) | (theta >= np.pi)):
        raise ValueError("theta must lie strictly between 0 and pi (radians).")
    dtype = jnp.result_type(float)
    seeds = lambda_mm_seeds(np.sin(theta), mmax)
    cos_t = jnp.asarray(np.cos(theta)[:, None], dtype=dtype)
    sin_t = jnp.asarray(np.sin(theta)[:, None], dtype=dtype)
    mant = jnp.asarray(seeds.mantissa, dtype=dtype)
    scl = jnp.asarray(seeds.scale)

    def body(state, ell):
        state, lam, lam_prev = legendre_step(state, ell, cos_t, mant, scl)
        if spin == 0:
            return state, lam
        return state, jnp.stack(spin2_from_lambda(ell, cos_t, sin_t, lam, lam_prev))

    _, out = jax.lax.scan(body, init_state(seeds, dtype), jnp.arange(lmax + 1))
    return out if spin == 0 else jnp.moveaxis(out, 1, 0)

"""Angular power spectra of HEALPix maps and alms (as healpy's ``alm2cl`` / ``anafast``).

.. math::

    \\hat C_\\ell^{XY} = \\frac{1}{2\\ell+1}\\sum_{m=-\\ell}^{\\ell} a^X_{\\ell m} a^{Y*}_{\\ell m}
    = \\frac{1}{2\\ell+1}\\left[\\mathrm{Re}\\, a^X_{\\ell 0}a^{Y*}_{\\ell 0}
      + 2\\sum_{m>0}\\mathrm{Re}\\, a^X_{\\ell m}a^{Y*}_{\\ell m}\\right].

On a masked sky the pseudo-spectrum of ``w f`` is divided by the second moment of the
weight, :math:`f_{\\rm sky} = \\langle w^2 \\rangle` (Hivon et al. 2002, ApJ 567, 2), which
is unbiased for a slowly varying spectrum and does not deconvolve mode coupling.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_int, check_positive, check_real
from cosmojax.sphere.geometry import npix_to_nside
from cosmojax.sphere.transforms import _alm_sizes, alm_lm, lmax_from_size, map2alm


def alm2cl(alm, alm2=None, lmax: int | None = None, mmax: int | None = None):
    """Auto or cross power spectrum of alms in healpy's layout.

    Parameters
    ----------
    alm, alm2 : (..., nalm) complex arrays (``alm2`` defaults to ``alm``); map units
    lmax, mmax : int, optional (default from the size, mmax = lmax)

    Returns
    -------
    (..., lmax + 1) real array, map units squared. jit, vmap and grad safe.
    """
    lmax, mmax = _alm_sizes(alm, lmax, mmax, "alm")
    if alm2 is None:
        alm2 = alm
    elif np.shape(alm2)[-1] != np.shape(alm)[-1]:
        raise ValueError(f"alm2 must have the size of alm ({np.shape(alm)[-1]}); got {np.shape(alm2)[-1]}.")
    return _alm2cl(jnp.asarray(alm), jnp.asarray(alm2), lmax, mmax)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _alm2cl(alm, alm2, lmax, mmax):
    ls, ms = alm_lm(lmax, mmax)
    prod = jnp.real(alm * jnp.conj(alm2))
    weight = jnp.asarray(np.where(ms == 0, 1.0, 2.0), prod.dtype)
    onehot = jnp.asarray(ls[:, None] == np.arange(lmax + 1)[None, :], dtype=prod.dtype)
    summed = jnp.matmul(prod * weight, onehot, precision=jax.lax.Precision.HIGHEST)
    return summed / jnp.asarray(2 * np.arange(lmax + 1) + 1.0, prod.dtype)


def fsky_w2(mask):
    """Second moment of a mask or weight map, <w^2>, the f_sky correction of pseudo-C_l.

    Parameters
    ----------
    mask : (npix,) array with values in [0, 1]

    Returns
    -------
    scalar. jit, vmap and grad safe.
    """
    return jnp.mean(jnp.asarray(mask) ** 2)


def _check_mask(mask, npix):
    if mask is None:
        return
    if np.shape(mask)[-1] != npix:
        raise ValueError(f"mask must have {npix} pixels like the maps; got shape {np.shape(mask)}.")
    check_finite("mask", mask)
    check_positive("mask", mask, strict=False)


def anafast(maps, maps2=None, lmax: int | None = None, iter: int = 3, pol: bool = False, mask=None):
    """Auto or cross C_l of HEALPix maps, optionally on a masked sky (as ``healpy.anafast``).

    Parameters
    ----------
    maps : (..., npix) real array, or (..., 3, npix) (T, Q, U) with ``pol=True``; RING order
    maps2 : optional array like ``maps``, for cross-spectra
    lmax : int, optional (default and largest 3 nside - 1)
    iter : int, Jacobi refinements of the analysis (default 3, as healpy)
    pol : bool
        If True return the six spectra (TT, EE, BB, TE, EB, TB), healpy's order.
    mask : (npix,) array of weights in [0, 1], optional
        Applied to both maps; the result is divided by ``fsky_w2(mask)``.

    Returns
    -------
    (..., lmax + 1) array, or (..., 6, lmax + 1) for ``pol``; map units squared.
    jit, vmap and grad safe (in ``maps``, ``maps2`` and ``mask``).
    """
    if np.ndim(maps) < 1:
        raise ValueError("maps must be an array with pixels along the last axis; got a scalar.")
    npix = np.shape(maps)[-1]
    nside = npix_to_nside(npix, "maps")
    if maps2 is not None and np.shape(maps2) != np.shape(maps):
        raise ValueError(f"maps2 must have the shape of maps {np.shape(maps)}; got {np.shape(maps2)}.")
    _check_mask(mask, npix)
    lmax = 3 * nside - 1 if lmax is None else lmax
    weight = 1.0 if mask is None else jnp.asarray(mask)
    norm = 1.0 if mask is None else fsky_w2(mask)
    alm1 = map2alm(jnp.asarray(maps) * weight, lmax=lmax, iter=iter, pol=pol)
    alm2 = alm1 if maps2 is None else map2alm(jnp.asarray(maps2) * weight, lmax=lmax, iter=iter, pol=pol)
    if not pol:
        return alm2cl(alm1, alm2, lmax=lmax) / norm
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)]
    cls = [alm2cl(alm1[..., i, :], alm2[..., j, :], lmax=lmax) for i, j in pairs]
    return jnp.stack(cls, axis=-2) / norm


def gaussian_beam(fwhm: float, lmax: int, pol: bool = False):
    """Harmonic transfer function of a Gaussian beam (as ``healpy.gauss_beam``).

    .. math:: b_\\ell = \\exp\\left(-\\tfrac12 \\ell(\\ell+1)\\sigma^2\\right),\\quad
              \\sigma = \\mathrm{fwhm}/\\sqrt{8\\ln 2};

    for polarisation the spin-2 factor :math:`e^{2\\sigma^2}` multiplies E and B.

    Parameters
    ----------
    fwhm : float, radians (may be traced)
    lmax : int
    pol : bool, if True return (3, lmax + 1) rows for (T, E, B)

    Returns
    -------
    (lmax + 1,) or (3, lmax + 1) array, dimensionless. jit, vmap and grad safe in ``fwhm``.
    """
    sigma = jnp.asarray(fwhm) / np.sqrt(8 * np.log(2))
    ell = jnp.arange(lmax + 1)
    b = jnp.exp(-0.5 * ell * (ell + 1) * sigma**2)
    if not pol:
        return b
    bp = b * jnp.exp(2 * sigma**2)
    return jnp.stack([b, bp, bp])


def almxfl(alm, fl, mmax: int | None = None):
    """Multiply alms by a function of l (as ``healpy.almxfl``).

    Parameters
    ----------
    alm : (..., nalm) complex array, healpy layout
    fl : (..., L) array; entries beyond L are taken as 0 (so an f_l shorter than lmax + 1
        cuts the high multipoles)
    mmax : int, optional

    Returns
    -------
    (..., nalm) complex array. jit, vmap and grad safe (in ``alm`` and ``fl``).
    """
    mmax = check_int("mmax", mmax, 0, allow_none=True)
    lmax = lmax_from_size(np.shape(alm)[-1], mmax, "alm")
    mmax = lmax if mmax is None else mmax
    ls, _ = alm_lm(lmax, mmax)
    check_real("fl", fl)
    fl = jnp.asarray(fl)
    n = fl.shape[-1]
    padded = jnp.concatenate([fl, jnp.zeros(fl.shape[:-1] + (max(lmax + 1 - n, 0),), fl.dtype)], axis=-1)
    return jnp.asarray(alm) * jnp.take(padded, jnp.asarray(ls), axis=-1)

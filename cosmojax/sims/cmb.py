"""Gaussian CMB skies on HEALPix: alms from spectra, T/Q/U maps, white noise, masks.

Harmonic coefficients are drawn with the TT-TE-EE covariance factorised per multipole
(as healpy's ``synalm(new=True)``):

.. math::

    a^T = \\sqrt{C^{TT}}\\, g_1,\\quad
    a^E = \\frac{C^{TE}}{\\sqrt{C^{TT}}} g_1 + \\sqrt{C^{EE} - \\frac{(C^{TE})^2}{C^{TT}}}\\, g_2,\\quad
    a^B = \\sqrt{C^{BB}}\\, g_3,

with :math:`g_i` unit complex Gaussians (real for m = 0), so the draws are reparameterised:
a fixed key gives maps that are differentiable in the spectra. Spectra are in muK^2, maps
in muK, RING ordering. Noise depths are in muK arcmin.

Guards: ``key`` must be a PRNG key (``jax.random.key(seed)``; an integer seed raises
``TypeError`` on every path); complex spectra raise ``TypeError``; ``lmax`` and ``nside``
must be whole numbers (never truncated). NaN checks run on concrete values only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_int, check_key, check_positive, check_real
from cosmojax.sphere.geometry import check_nside, npix_to_nside, ring_geometry
from cosmojax.sphere.spectra import almxfl, gaussian_beam
from cosmojax.sphere.transforms import alm2map, alm_lm, alm_size

ARCMIN = np.pi / (180.0 * 60.0)


def _safe_sqrt(x):
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def unit_alm(key, lmax: int, ncomp: int | None = None, mmax: int | None = None):
    """Unit-variance Gaussian alms: <|a_lm|^2> = 1, real for m = 0, healpy layout.

    Parameters
    ----------
    key : PRNG key
    lmax : int
    ncomp : int, optional; if given the result has a leading axis of this size
    mmax : int, optional

    Returns
    -------
    (nalm,) or (ncomp, nalm) complex array. jit and vmap safe (over keys).
    """
    check_key("key", key)
    lmax = check_int("lmax", lmax, 0)
    mmax = lmax if mmax is None else check_int("mmax", mmax, 0)
    if ncomp is not None:
        ncomp = check_int("ncomp", ncomp)
    nalm = alm_size(lmax, mmax)
    shape = (nalm,) if ncomp is None else (ncomp, nalm)
    dtype = jnp.result_type(float)
    re_key, im_key = jax.random.split(key)
    _, ms = alm_lm(lmax, mmax)
    m0 = jnp.asarray(ms == 0)
    re = jax.random.normal(re_key, shape, dtype)
    im = jax.random.normal(im_key, shape, dtype)
    scale = jnp.where(m0, 1.0, np.sqrt(0.5)).astype(dtype)
    return (re + 1j * jnp.where(m0, 0.0, im).astype(dtype)) * scale


def _check_cls(cls, lmax):
    check_real("cls", cls)
    cls = jnp.asarray(cls)
    if cls.ndim not in (1, 2) or (cls.ndim == 2 and cls.shape[0] != 4):
        raise ValueError(
            "cls must be (L,) for temperature only or (4, L) for (TT, EE, BB, TE) in muK^2; "
            f"got shape {cls.shape}."
        )
    check_finite("cls", cls)
    if cls.ndim == 2 and cls.shape[0] == 4:
        check_positive("cls[:3] (TT, EE, BB)", cls[:3], strict=False)
    else:
        check_positive("cls", cls, strict=False)
    size = cls.shape[-1]
    lmax = size - 1 if lmax is None else check_int("lmax", lmax, 0)
    if lmax > size - 1:
        raise ValueError(f"lmax must be between 0 and len(cls) - 1 = {size - 1}; got {lmax}.")
    return cls[..., : lmax + 1], lmax


def synalm(key, cls, lmax: int | None = None):
    """Gaussian alms with the given spectra (as ``healpy.synalm(cls, new=True)``).

    Parameters
    ----------
    key : PRNG key
    cls : (L,) array C_l^TT, or (4, L) array (TT, EE, BB, TE); muK^2, l = 0..L-1
    lmax : int, optional, default L - 1

    Returns
    -------
    (nalm,) complex array (temperature only) or (3, nalm) for (T, E, B); muK, healpy
    layout with mmax = lmax. jit and vmap safe; differentiable in ``cls`` for a fixed key.
    """
    check_key("key", key)
    cls, lmax = _check_cls(cls, lmax)
    if cls.ndim == 1:
        return almxfl(unit_alm(key, lmax), _safe_sqrt(cls))
    g = unit_alm(key, lmax, ncomp=3)
    tt, ee, bb, te = cls
    sqrt_tt = _safe_sqrt(tt)
    ratio = jnp.where(tt > 0, te / jnp.where(tt > 0, sqrt_tt, 1.0), 0.0)
    resid = _safe_sqrt(ee - ratio**2)
    a_t = almxfl(g[0], sqrt_tt)
    a_e = almxfl(g[0], ratio) + almxfl(g[1], resid)
    a_b = almxfl(g[2], _safe_sqrt(bb))
    return jnp.stack([a_t, a_e, a_b])


def synfast(key, cls, nside: int, lmax: int | None = None, fwhm: float = 0.0):
    """Gaussian T (or T, Q, U) maps with the given spectra (as ``healpy.synfast``).

    The maps equal ``healpy.alm2map(synalm(key, cls, lmax), nside, pol=True)`` after
    smoothing by a Gaussian beam of ``fwhm``.

    Parameters
    ----------
    key : PRNG key
    cls : (L,) or (4, L) array, muK^2 (see ``synalm``)
    nside : int, power of 2
    lmax : int, optional, default min(L - 1, 3 nside - 1)
    fwhm : float, beam full width at half maximum in radians (0: no smoothing)

    Returns
    -------
    (npix,) map for (L,) spectra, (3, npix) (T, Q, U) for (4, L); muK, RING ordering.
    jit and vmap safe; differentiable in ``cls`` and ``fwhm`` for a fixed key.
    """
    check_key("key", key)
    nside = check_nside(nside)
    if lmax is None:
        lmax = min(np.shape(cls)[-1] - 1, 3 * nside - 1)
    alm = synalm(key, cls, lmax)
    if np.ndim(cls) == 2:
        beam = gaussian_beam(fwhm, lmax, pol=True)
        alm = jnp.stack([almxfl(alm[i], beam[i]) for i in range(3)])
        return alm2map(alm, nside, pol=True)
    return alm2map(almxfl(alm, gaussian_beam(fwhm, lmax)), nside)


def pixel_noise_std(hits, depth, nside: int | None = None):
    """Per-pixel white-noise standard deviation for a noise depth and a hit map.

    .. math:: \\sigma_p = \\frac{\\mathrm{depth}}{\\sqrt{\\Omega_{\\rm pix}}}
              \\sqrt{\\frac{\\langle h \\rangle}{h_p}},

    so that the sky-averaged inverse variance matches a homogeneous map of that depth.

    Parameters
    ----------
    hits : (npix,) array of non-negative hit counts (or relative weights); RING or NESTED
    depth : float or (ncomp,) array, muK arcmin
    nside : int, optional (checked against ``hits``)

    Returns
    -------
    (npix,) or (ncomp, npix) array, muK; 0 where ``hits`` is 0 (those pixels carry no
    data and must be masked). jit, vmap and grad safe (in ``depth`` and ``hits`` > 0).
    """
    npix = np.shape(hits)[-1]
    found = npix_to_nside(npix, "hits")
    if nside is not None and check_nside(nside) != found:
        raise ValueError(f"hits has nside {found} but nside={nside} was given.")
    check_positive("hits", hits, strict=False)
    check_positive("depth", depth)
    hits = jnp.asarray(hits)
    omega = 4 * np.pi / npix / ARCMIN**2  # arcmin^2
    seen = hits > 0
    mean_hits = jnp.mean(hits)
    rel = jnp.where(seen, jnp.sqrt(mean_hits / jnp.where(seen, hits, 1.0)), 0.0)
    depth = jnp.asarray(depth)
    return depth[..., None] / np.sqrt(omega) * rel if depth.ndim else depth / np.sqrt(omega) * rel


def white_noise(key, hits, depth):
    """Anisotropic white noise maps from a hit map.

    Parameters
    ----------
    key : PRNG key
    hits : (npix,) array, hit counts >= 0 (0 = unobserved: noise 0 there, mask it)
    depth : float or (ncomp,) array, muK arcmin (e.g. (depth_T, depth_P, depth_P))

    Returns
    -------
    (npix,) or (ncomp, npix) array, muK. jit and vmap safe; differentiable in ``depth``.
    """
    check_key("key", key)
    std = pixel_noise_std(hits, depth)
    return std * jax.random.normal(key, std.shape, std.dtype)


def noise_spectrum(depth, lmax: int):
    """Angular power of homogeneous white noise, N_l = (depth in radians)^2, muK^2.

    depth : float, muK arcmin -> (lmax + 1,) array. jit, vmap and grad safe.
    """
    return jnp.full((lmax + 1,), (jnp.asarray(depth) * ARCMIN) ** 2)


def latitude_mask(nside: int, cut_deg: float, apodization_deg: float = 0.0):
    """Mask of the band |latitude| < ``cut_deg`` about the map's equator (e.g. the Galaxy).

    Parameters
    ----------
    nside : int
    cut_deg : float, degrees, 0 <= cut_deg < 90
    apodization_deg : float, degrees >= 0: width of a cosine taper from 0 at the cut to 1

    Returns
    -------
    (npix,) numpy float64 array in [0, 1], RING ordering. Static set-up (numpy).
    """
    if not 0 <= cut_deg < 90:
        raise ValueError(f"cut_deg must be in [0, 90) degrees; got {cut_deg}.")
    if apodization_deg < 0:
        raise ValueError(f"apodization_deg must be >= 0; got {apodization_deg}.")
    geom = ring_geometry(check_nside(nside))
    lat = np.degrees(np.pi / 2 - geom.theta)
    dist = np.abs(lat) - cut_deg
    if apodization_deg > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.clip(dist / apodization_deg, 0.0, 1.0))
        ring_values = np.where(dist <= 0, 0.0, ramp)
    else:
        ring_values = (dist > 0).astype(float)
    return np.repeat(ring_values, geom.nphi)


def toy_hit_map(nside: int, contrast: float = 1.0):
    """A smooth satellite-like hit map, 1 + contrast cos^2(theta), normalised to mean 1.

    nside : int; contrast : float >= 0 -> (npix,) numpy float64 array, RING ordering.
    Deeper towards the poles (of the scan), as for a spinning satellite.
    """
    if contrast < 0:
        raise ValueError(f"contrast must be >= 0; got {contrast}.")
    geom = ring_geometry(check_nside(nside))
    hits = np.repeat(1.0 + contrast * geom.cos_theta**2, geom.nphi)
    return hits / hits.mean()

"""HEALPix ring geometry and pixel reordering, read from healpy.

A HEALPix map of resolution ``nside`` has ``npix = 12 nside^2`` pixels on
``nrings = 4 nside - 1`` iso-latitude rings. Ring ``r`` (0-based, north to south) holds
``nphi[r]`` equally spaced pixels at colatitude ``theta[r]`` starting at longitude
``phi0[r]``; in RING ordering its pixels are ``start[r] .. start[r] + nphi[r] - 1``
(Gorski et al. 2005, ApJ 622, 759). Everything here is static numpy set-up; the reordering
functions are gathers, so they are jit, vmap and grad safe.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import healpy as hp
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice

ORDERINGS = ("ring", "nest")


class RingGeometry(NamedTuple):
    """Static description of the HEALPix rings (numpy arrays, float64 / int64).

    nside : int
    theta : (nrings,) colatitude of each ring, radians
    cos_theta, sin_theta : (nrings,) cos and sin of ``theta`` (exact values from healpy)
    phi0 : (nrings,) longitude of the first pixel of each ring, radians
    nphi : (nrings,) number of pixels in each ring
    start : (nrings,) RING-ordered index of the first pixel of each ring
    """

    nside: int
    theta: np.ndarray
    cos_theta: np.ndarray
    sin_theta: np.ndarray
    phi0: np.ndarray
    nphi: np.ndarray
    start: np.ndarray

    @property
    def npix(self) -> int:
        return 12 * self.nside * self.nside

    @property
    def nrings(self) -> int:
        return 4 * self.nside - 1


def check_nside(nside) -> int:
    """Return ``nside`` as an int after checking it is a power of 2 (1 .. 2^13).

    16.0 is accepted; 16.5, "16", True and complex values are refused (``ValueError``).
    """
    if isinstance(nside, (bool, str, bytes)) or not isinstance(nside, (int, float, np.integer, np.floating)):
        raise ValueError(f"nside must be a power of 2 such as 16; got {nside!r}.")
    value = int(nside)
    if value != nside or value < 1 or value > 8192 or value & (value - 1):
        raise ValueError(f"nside must be a power of 2 between 1 and 8192; got {nside!r}.")
    return value


def npix_to_nside(npix: int, name: str = "map") -> int:
    """The ``nside`` of a map with ``npix`` pixels; ValueError if ``npix`` is not 12 nside^2."""
    nside = int(round(np.sqrt(npix / 12.0)))
    if nside < 1 or 12 * nside * nside != npix or nside & (nside - 1):
        raise ValueError(
            f"{name} has {npix} pixels along its last axis, which is not 12 * nside**2 for a power-of-2 "
            "nside; pass a full-sky HEALPix map (e.g. 3072 pixels for nside 16)."
        )
    return nside


@functools.lru_cache(maxsize=32)
def ring_geometry(nside: int) -> RingGeometry:
    """Ring geometry of a HEALPix grid, from ``healpy.ringinfo``.

    Parameters
    ----------
    nside : int, power of 2

    Returns
    -------
    RingGeometry of numpy arrays, each of shape (4 nside - 1,). Static set-up (not traced).
    """
    nside = check_nside(nside)
    rings = np.arange(1, 4 * nside)
    start, nphi, cos_theta, sin_theta, shifted = hp.ringinfo(nside, rings)
    nphi = np.asarray(nphi, dtype=np.int64)
    phi0 = np.where(shifted, np.pi / nphi, 0.0)
    theta = np.arctan2(sin_theta, cos_theta)
    return RingGeometry(
        nside=nside,
        theta=np.asarray(theta, dtype=np.float64),
        cos_theta=np.asarray(cos_theta, dtype=np.float64),
        sin_theta=np.asarray(sin_theta, dtype=np.float64),
        phi0=np.asarray(phi0, dtype=np.float64),
        nphi=nphi,
        start=np.asarray(start, dtype=np.int64),
    )


def pixel_rings(nside: int) -> tuple[np.ndarray, np.ndarray]:
    """Ring index (0-based) and position within the ring of every RING-ordered pixel.

    Returns two (npix,) int64 numpy arrays.
    """
    geom = ring_geometry(nside)
    ring = np.repeat(np.arange(geom.nrings), geom.nphi)
    pos = np.arange(geom.npix) - geom.start[ring]
    return ring, pos


@functools.lru_cache(maxsize=32)
def _nest_to_ring_index(nside: int) -> np.ndarray:
    return np.asarray(hp.ring2nest(nside, np.arange(12 * nside * nside)), dtype=np.int32)


@functools.lru_cache(maxsize=32)
def _ring_to_nest_index(nside: int) -> np.ndarray:
    return np.asarray(hp.nest2ring(nside, np.arange(12 * nside * nside)), dtype=np.int32)


def reorder(maps, order_in: str, order_out: str):
    """Convert maps between NESTED and RING pixel ordering (as ``healpy.reorder``).

    Parameters
    ----------
    maps : (..., npix) array
        HEALPix maps along the last axis.
    order_in, order_out : {"ring", "nest"}

    Returns
    -------
    (..., npix) array, the same values reordered. jit, vmap and grad safe (a gather).
    """
    order_in = check_choice("order_in", str(order_in).lower(), ORDERINGS)
    order_out = check_choice("order_out", str(order_out).lower(), ORDERINGS)
    nside = npix_to_nside(np.shape(maps)[-1], "maps")
    if order_in == order_out:
        return jnp.asarray(maps)
    # out[i] = in[index[i]]: the RING map at ring pixel i is the NEST map at nest pixel ring2nest(i).
    index = _nest_to_ring_index(nside) if order_out == "ring" else _ring_to_nest_index(nside)
    return jnp.take(jnp.asarray(maps), jnp.asarray(index), axis=-1)

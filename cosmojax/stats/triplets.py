"""Exact triplet (triangle) counts binned by their three sides.

Every unordered triangle ``{i, j, k}`` of distinct points whose three sides all lie in
``[edges[0], edges[-1])`` is counted once, in the cell ``(a, b, c)`` of an
``(n, n, n)`` array where ``a >= b >= c`` are the bins of its sides sorted longest first
(bins are monotone in length, so sorting bins sorts sides). Only cells with ``a >= b >= c``
fill. Sides are decided on squared lengths in the working precision, as for pair counts;
periodic boxes use minimum-image sides.

With ``labels`` (0 for data, 1 for randoms, a combined catalogue) counts are split by how
many random points each triangle holds: the result has a leading axis of length 4
(DDD, DDR, DRR, RRR), which is what the Szapudi-Szalay estimator needs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_int
from cosmojax.stats import _engine
from cosmojax.stats._inputs import tuple_count_setup
from cosmojax.stats._kernels import histogram, tuple_side_bins


class TripletCounts(NamedTuple):
    """Binned triangle counts.

    counts : int array (n, n, n), or (4, n, n, n) split by number of randoms with labels.
    weighted : float array, same shape, sums of ``w_i w_j w_k``.
    edges : (n + 1,) numpy array, Mpc/h.
    """

    counts: object
    weighted: object
    edges: np.ndarray


def _triplet_kernel(items, data, static):
    periodic, weighted, labelled, n = static
    w = data["cat"][1]
    sides = tuple_side_bins(items, data, periodic, 3)
    (bab, vab), (bac, vac), (bbc, vbc) = sides[0, 1], sides[0, 2], sides[1, 2]
    # triangles (Ba, Bb, Bc, C)
    bab, vab = bab[:, :, None, :], vab[:, :, None, :]
    bac, vac = bac[:, None, :, :], vac[:, None, :, :]
    bbc, vbc = bbc[None, :, :, :], vbc[None, :, :, :]
    ok = vab & vac & vbc
    hi = jnp.maximum(jnp.maximum(bab, bac), bbc)
    lo = jnp.minimum(jnp.minimum(bab, bac), bbc)
    mid = bab + bac + bbc - hi - lo
    flat = (hi * n + mid) * n + lo
    nbins = n**3
    if labelled:
        lab = data["labels"]
        la, lb, lc = (lab[:, items[:, t]] for t in range(3))
        flat = flat + nbins * (la[:, None, None, :] + lb[None, :, None, :] + lc[None, None, :, :])
        nbins = 4 * nbins
    ww = w[:, items[:, 0]][:, None, None, :] * w[:, items[:, 1]][None, :, None, :] * w[:, items[:, 2]][None, None, :, :]
    counts, wsum = histogram(flat, ok, ww, nbins, weighted)
    return {"counts": counts, "weighted": wsum}


def triplet_counts(pos, *, edges, box_size=None, weights=None, labels=None, chunk_size: int = 1 << 20,
                   block_size: int | None = None, devices=None) -> TripletCounts:
    """Count triangles by their three sides, sorted longest first.

    Parameters
    ----------
    pos : (N, 3) float array, Mpc/h.
    edges : (n + 1,) increasing float array, Mpc/h, >= 0; a triangle counts when all three
        sides are in ``[edges[0], edges[-1])``.
    box_size : float or 3 floats, Mpc/h, or None for open geometry; ``edges[-1] <= L/2``.
    weights : (N,) float array or None.
    labels : (N,) int array of 0 (data) and 1 (random) or None; splits the counts by the
        number of randoms in each triangle.
    chunk_size : int, point triples evaluated at once per device.
    block_size : int or None, points per cell block (None: from the cell occupancy, 4..32).
    devices : None, int or list of devices.

    Returns
    -------
    TripletCounts: ``counts`` (n, n, n) int (or (4, n, n, n) with labels), ``weighted``.

    Notes
    -----
    Exact (integer-equal to a brute-force count in the same precision; use x64 for float64).
    Differentiable with respect to ``weights``; needs concrete positions (host-side cell
    decomposition), not jit-safe in positions. Bad input (NaN, an empty catalogue, points
    outside the box, non-integer sizes) raises ValueError; complex positions or weights
    raise TypeError.
    """
    chunk_size = check_int("chunk_size", chunk_size, 1)
    e, plan, data, n, size, static = tuple_count_setup(
        "triplet_counts", 3, pos, edges, box_size, weights, labels, block_size, (4, 32)
    )
    out = _engine.execute(_triplet_kernel, static, plan.items, np.full(3, plan.blocks[0].empty_block), data,
                          chunk_items=max(1, int(chunk_size) // size**3), tuple_volume=size**3, devices=devices)
    shape = ((4,) if labels is not None else ()) + (n, n, n)
    return TripletCounts(counts=out["counts"].reshape(shape), weighted=out["weighted"].reshape(shape), edges=e)


def equilateral(cube):
    """Equilateral slice ``cube[..., i, i, i]`` of a (..., n, n, n) triangle array, shape (..., n).

    Indexing only: jit, vmap and grad safe.
    """
    n = cube.shape[-1]
    i = np.arange(n)
    return cube[..., i, i, i]


def isosceles(cube):
    """Isosceles slice: entry ``[i, k]`` is the cell of triangles with two sides in bin i and
    the third in bin k, i.e. ``cube[i, i, k]`` for k <= i and ``cube[k, i, i]`` for k > i.

    cube : (..., n, n, n) array of triangles sorted longest first. Returns (..., n, n).
    Indexing only: jit, vmap and grad safe.
    """
    n = cube.shape[-1]
    i, k = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a = np.where(k <= i, i, k)
    c = np.where(k <= i, k, i)
    return cube[..., a, i, c]

"""Exact quadruplet (tetrahedron) counts with all six sides in one bin.

Every unordered set of four distinct points whose six pairwise separations all fall in the
same bin ``[edges[i], edges[i+1])`` is counted once in bin ``i``: the nearly regular
tetrahedra of the 4-point function. Sides are decided on squared lengths in the working
precision; periodic boxes use minimum-image sides.

With ``labels`` (0 data, 1 random) the counts are split by the number of randoms in the
tetrahedron (leading axis of length 5: DDDD, DDDR, DDRR, DRRR, RRRR), for the
Szapudi-Szalay-style estimator :func:`cosmojax.stats.estimators.szapudi_szalay_4pcf`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_int
from cosmojax.stats import _engine
from cosmojax.stats._inputs import tuple_count_setup
from cosmojax.stats._kernels import histogram_small, tuple_side_bins

# For each pair (p, q) of tetrahedron vertices, where its (B, B, C) array goes in (B, B, B, B, C).
_ALL = slice(None)
_EXPAND = {
    (0, 1): (_ALL, _ALL, None, None, _ALL),
    (0, 2): (_ALL, None, _ALL, None, _ALL),
    (0, 3): (_ALL, None, None, _ALL, _ALL),
    (1, 2): (None, _ALL, _ALL, None, _ALL),
    (1, 3): (None, _ALL, None, _ALL, _ALL),
    (2, 3): (None, None, _ALL, _ALL, _ALL),
}
_VERTEX = [(_ALL, None, None, None, _ALL), (None, _ALL, None, None, _ALL), (None, None, _ALL, None, _ALL),
           (None, None, None, _ALL, _ALL)]


class QuadrupletCounts(NamedTuple):
    """Binned tetrahedron counts.

    counts : int array (n,), or (5, n) split by number of randoms with labels.
    weighted : float array, same shape, sums of ``w_i w_j w_k w_l``.
    edges : (n + 1,) numpy array, Mpc/h.
    """

    counts: object
    weighted: object
    edges: np.ndarray


def _quadruplet_kernel(items, data, static):
    periodic, weighted, labelled, n = static
    w = data["cat"][1]
    sides = tuple_side_bins(items, data, periodic, 4)
    ok = None
    first = None
    same = None
    for pair, where in _EXPAND.items():
        b, v = sides[pair]
        b, v = b[where], v[where]
        ok = v if ok is None else ok & v
        if first is None:
            first = b
        else:
            same = (b == first) if same is None else same & (b == first)
    ok = ok & same
    flat = first
    nbins = n
    wv = [w[:, items[:, t]][_VERTEX[t]] for t in range(4)]
    ww = wv[0] * wv[1] * wv[2] * wv[3]
    if labelled:
        lab = [data["labels"][:, items[:, t]][_VERTEX[t]] for t in range(4)]
        nrand = lab[0] + lab[1] + lab[2] + lab[3]
        flat = flat + n * nrand
        nbins = 5 * n
    flat_b = jnp.broadcast_to(flat, ok.shape)
    counts, wsum = histogram_small(flat_b, ok, ww, nbins, weighted)
    return {"counts": counts, "weighted": wsum}


def quadruplet_counts(pos, *, edges, box_size=None, weights=None, labels=None, chunk_size: int = 1 << 20,
                      block_size: int | None = None, devices=None) -> QuadrupletCounts:
    """Count tetrahedra whose six sides all lie in the same separation bin.

    Parameters
    ----------
    pos : (N, 3) float array, Mpc/h.
    edges : (n + 1,) increasing float array, Mpc/h, >= 0.
    box_size : float or 3 floats, Mpc/h, or None for open geometry; ``edges[-1] <= L/2``.
    weights : (N,) float array or None.
    labels : (N,) array of 0 (data) and 1 (random) or None; splits counts by randoms.
    chunk_size : int, point quadruples evaluated at once per device.
    block_size : int or None, points per block (None: from the cell occupancy, 4..16).
    devices : None, int or list of devices.

    Returns
    -------
    QuadrupletCounts: ``counts`` (n,) int (or (5, n) with labels) and ``weighted``.

    Notes
    -----
    Exact in the working precision (float64 under x64). Differentiable with respect to
    ``weights``; positions must be concrete (not jit-safe in positions).
    Cost grows as N * (neighbours within edges[-1])^3; keep catalogues or edges[-1] modest.
    Bad input (NaN, an empty catalogue, points outside the box, non-integer sizes) raises
    ValueError; complex positions or weights raise TypeError.
    """
    chunk_size = check_int("chunk_size", chunk_size, 1)
    e, plan, data, n, size, static = tuple_count_setup(
        "quadruplet_counts", 4, pos, edges, box_size, weights, labels, block_size, (4, 16)
    )
    out = _engine.execute(_quadruplet_kernel, static, plan.items, np.full(4, plan.blocks[0].empty_block), data,
                          chunk_items=max(1, int(chunk_size) // size**4), tuple_volume=size**4, devices=devices)
    shape = ((5,) if labels is not None else ()) + (n,)
    return QuadrupletCounts(counts=out["counts"].reshape(shape), weighted=out["weighted"].reshape(shape), edges=e)

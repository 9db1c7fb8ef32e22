"""Traced building blocks shared by the n-point counting kernels.

The pair, triplet, quadruplet and 3PCF-multipole kernels (``pairs``, ``triplets``,
``quadruplets``, ``threepcf_multipoles``) evaluate chunks of block tuples on coordinate-major
blocks ``(3, B, C)`` (``B`` points per block, ``C`` work items last); this module holds
what more than one of them uses: separations of every pair of two blocks, the validity
masks of the point pairs of a block tuple, separation bins of every side of a k-point
tuple, and three histograms (scatter-add, one-hot matrix product, comparison with each bin).
Everything here is traced inside the jitted kernels: jit and vmap safe; differentiable in
positions (``separation``) and weights (the histograms' weighted sums).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def separation(pa, pb, box):
    """Separation components and squared separation of every pair of two blocks.

    pa, pb : (3, Ba, C), (3, Bb, C) coordinate-major blocks with the C work items last (this
    layout keeps the inner loops vectorised), Mpc/h. box : (3,) side lengths for minimum-image
    separations, or None for open geometry. Returns ``(d, d2)``: ``d`` a tuple of three
    (Ba, Bb, C) arrays ``pa - pb`` (minimum image when ``box`` is given) and
    ``d2 = dx^2 + dy^2 + dz^2``. jit, vmap and grad safe.
    """
    d = []
    for k in range(3):
        dk = pa[k][:, None, :] - pb[k][None, :, :]
        if box is not None:
            dk = dk - box[k] * jnp.round(dk / box[k])
        d.append(dk)
    d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    return tuple(d), d2


def pair_masks(items, valid, k: int):
    """Validity masks of each pair (p, q) of tuple positions for auto counts (ordered points).

    ``items``: (C, k) int block indices; ``valid``: (B, n_blocks) bool. Returns {(p, q): (B, B,
    C) bool}: both points real, and the first before the second when both come from the same
    block. Boolean, so not differentiable; jit and vmap safe.
    """
    size = valid.shape[0]
    upper = jnp.arange(size)[:, None, None] < jnp.arange(size)[None, :, None]
    masks = {}
    for p in range(k):
        for q in range(p + 1, k):
            m = valid[:, items[:, p]][:, None, :] & valid[:, items[:, q]][None, :, :]
            masks[p, q] = m & ((items[:, p] != items[:, q])[None, None, :] | upper)
    return masks


def side_bins(pa, pb, e2, box, mask):
    """Separation bin of every pair of two blocks and whether it is a counted side.

    ``e2``: (n + 1,) squared edges; bin i is ``e2[i] <= d2 < e2[i + 1]``. Returns (bins, valid),
    (Ba, Bb, C) int and bool.
    """
    _, d2 = separation(pa, pb, box)
    b = jnp.sum(d2[..., None] >= e2, axis=-1) - 1
    n = e2.shape[0] - 1
    return b, mask & (b >= 0) & (b < n)


def tuple_side_bins(items, data, periodic: bool, k: int):
    """Separation bin and validity of every side (p, q), p < q, of the k-point tuples of a
    chunk of work items of one catalogue: {(p, q): (bins, valid)}, each (B, B, C) for block
    size B and C items. ``data`` holds ``"cat"`` (positions, weights, validity), ``"box"``
    and ``"e2"`` (squared bin edges)."""
    pos, _, valid = data["cat"]
    box = data["box"] if periodic else None
    masks = pair_masks(items, valid, k)
    p = [pos[:, :, items[:, t]] for t in range(k)]
    return {pair: side_bins(p[pair[0]], p[pair[1]], data["e2"], box, mask) for pair, mask in masks.items()}


def histogram(flat, valid, ww, nbins: int, weighted: bool):
    """Integer counts and weighted sums of ``flat`` bin indices where ``valid`` (scatter-add).

    ``flat``, ``valid``, ``ww`` of one shape; returns (nbins,) int32 and (nbins,) float. jit and
    vmap safe; grad safe in ``ww``.
    """
    flat = jnp.where(valid, flat, nbins).ravel()
    counts = jnp.zeros(nbins + 1, jnp.int32).at[flat].add(1)[:nbins]
    if weighted:
        wsum = jnp.zeros(nbins + 1, ww.dtype).at[flat].add(ww.ravel())[:nbins]
    else:
        wsum = counts.astype(ww.dtype)
    return counts, wsum


def histogram2d(ia, na: int, ib, nb: int, valid, ww, weighted: bool):
    """Counts (na, nb) of index pairs (ia, ib) where ``valid``, as a product of one-hot
    matrices (a matrix multiply: fast on every backend, exact for < 2^24 entries per call in
    float32).

    ``ia``, ``ib``, ``valid``, ``ww`` of one shape; returns (na * nb,) int32 counts and float
    sums, row-major. jit and vmap safe; grad safe in ``ww``.
    """
    dtype = ww.dtype
    ia = jnp.where(valid, ia, -1).ravel()
    oa = (ia[:, None] == jnp.arange(na)).astype(dtype)
    ob = (ib.ravel()[:, None] == jnp.arange(nb)).astype(dtype)
    hi = jax.lax.Precision.HIGHEST
    counts = jnp.round(jnp.matmul(oa.T, ob, precision=hi)).astype(jnp.int32)
    if weighted:
        wsum = jnp.matmul(oa.T, ob * ww.ravel()[:, None], precision=hi)
    else:
        wsum = counts.astype(dtype)
    return counts.ravel(), wsum.ravel()


def histogram_small(flat, valid, ww, nbins: int, weighted: bool):
    """Histogram by comparison with each bin (few bins): counts (nbins,) int32 and sums.

    ``flat``, ``valid``, ``ww`` of one shape. jit and vmap safe; grad safe in ``ww``.
    """
    hits = (flat[..., None] == jnp.arange(nbins)) & valid[..., None]
    axes = tuple(range(flat.ndim))
    counts = jnp.sum(hits, axis=axes, dtype=jnp.int32)
    if weighted:
        wsum = jnp.sum(jnp.where(hits, ww[..., None], 0), axis=axes)
    else:
        wsum = counts.astype(ww.dtype)
    return counts, wsum

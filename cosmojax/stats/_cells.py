"""Cell decomposition of catalogues into fixed-shape padded blocks (host side, numpy).

Points are assigned to a regular grid of cells whose side is at least ``r_reach / refine``
(larger when the catalogue is sparse, so a cell holds a few blocks); inside a cell they are
ordered along a Morton curve and cut into blocks of ``block_size`` consecutive points, the
last block padded with invalid entries, so each block is compact in space. A work item is a
k-tuple of blocks (k = 2, 3, 4) whose bounding boxes are pairwise closer than ``r_reach``
(pairs come from neighbouring cells; triples and quadruples are grown from the close pairs);
the counting kernels then evaluate every k-tuple of points of an item at once in a dense
``(B,) * k`` array. Block and item counts are padded up to size classes (a few sizes per
octave) so that the jitted kernels compile once per size class rather than once per
catalogue.

Everything here runs on concrete numpy arrays before tracing; the kernels receive only
integer index arrays, so gradients still flow to positions and weights through gathers.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np


def size_class(n: int, steps_per_octave: int = 4) -> int:
    """Smallest value >= n of the form m * 2**e with ``steps_per_octave <= m < 2*steps_per_octave``.

    Padding to these sizes wastes at most ``1/steps_per_octave`` of the work while keeping
    the number of distinct compiled shapes logarithmic in the size.
    """
    n = max(int(n), 1)
    if n <= 2 * steps_per_octave:
        return n
    e = int(np.floor(np.log2(n / steps_per_octave)))
    m = -(-n // (1 << e))
    return m << e


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (and >= 1)."""
    return 1 << max(int(np.ceil(np.log2(max(int(n), 1)))), 0)


class Grid(NamedTuple):
    """A regular grid of cells covering the points.

    origin, side : (3,) float, Mpc/h. ncell : (3,) int cells per axis. periodic : bool.
    """

    origin: np.ndarray
    side: np.ndarray
    ncell: np.ndarray
    periodic: bool


class Blocks(NamedTuple):
    """Points of one catalogue arranged by cell into padded blocks.

    idx : (n_blocks_padded, B) int32, index into the catalogue (0 for padding).
    valid : (n_blocks_padded, B) bool, False for padding entries.
    cell_first, cell_count : (n_cells,) int, first block and number of blocks of each cell.
    n_real : number of blocks holding points; blocks from ``n_real`` on are empty.
    lo, hi : (n_real, 3) float, bounding box of each block's points (Mpc/h).
    """

    idx: np.ndarray
    valid: np.ndarray
    cell_first: np.ndarray
    cell_count: np.ndarray
    n_real: int
    lo: np.ndarray
    hi: np.ndarray

    @property
    def empty_block(self) -> int:
        return self.n_real


def make_grid(points: list[np.ndarray], r_reach: float, box_size, refine: int, occupancy: float) -> Grid:
    """Choose a grid of cells covering every catalogue.

    The side is the larger of ``r_reach / refine`` and the side holding about ``occupancy``
    points of the largest catalogue on average, so that cells are never much emptier than a
    block; pruning of block tuples by bounding boxes recovers the locality of finer cells.
    """
    if box_size is not None:
        extent = np.broadcast_to(np.asarray(box_size, dtype=float), (3,)).copy()
        origin = np.zeros(3)
    else:
        nonempty = [p for p in points if len(p)]
        allp = np.concatenate(nonempty, axis=0) if nonempty else np.zeros((1, 3))
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        extent = np.maximum(hi - lo, 1e-9 * max(float(np.max(hi - lo)), 1.0)) * (1 + 1e-9)
        origin = lo
    n_max = max(max(len(p) for p in points), 1)
    density = n_max / float(np.prod(extent))
    side = (occupancy / density) ** (1.0 / 3.0)
    if r_reach > 0 and np.isfinite(r_reach):
        side = max(side, r_reach / refine)
    ncell = np.maximum(np.floor(extent / side), 1).astype(np.int64)
    return Grid(origin=origin, side=extent / ncell, ncell=ncell, periodic=box_size is not None)


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Interleave zeros between the low 10 bits of v (for 3D Morton codes)."""
    v = v.astype(np.uint64) & np.uint64(0x3FF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x030000FF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x0300F00F)
    v = (v | (v << np.uint64(4))) & np.uint64(0x030C30C3)
    v = (v | (v << np.uint64(2))) & np.uint64(0x09249249)
    return v


def make_blocks(pos: np.ndarray, grid: Grid, block_size: int) -> Blocks:
    """Sort points by cell, then along a Morton curve inside each cell, and cut each cell
    into blocks of ``block_size`` consecutive points (compact in space)."""
    n_cells = int(np.prod(grid.ncell))
    rel = (pos - grid.origin) / grid.side
    ijk = np.clip(np.floor(rel).astype(np.int64), 0, grid.ncell - 1)
    cells = (ijk[:, 0] * grid.ncell[1] + ijk[:, 1]) * grid.ncell[2] + ijk[:, 2]
    frac = np.clip(((rel - ijk) * 1024).astype(np.int64), 0, 1023)
    morton = (_spread_bits(frac[:, 0]) << np.uint64(2)) | (_spread_bits(frac[:, 1]) << np.uint64(1)) | \
        _spread_bits(frac[:, 2])
    order = np.lexsort((morton, cells))
    occupancy = np.bincount(cells, minlength=n_cells)
    cell_count = -(-occupancy // block_size)
    cell_first = np.concatenate([[0], np.cumsum(cell_count)[:-1]])
    n_real = int(cell_count.sum())
    n_pad = size_class(n_real + 1)
    idx = np.zeros((n_pad, block_size), np.int32)
    valid = np.zeros((n_pad, block_size), bool)
    sorted_cells = cells[order]
    point_start = np.concatenate([[0], np.cumsum(occupancy)[:-1]])
    rank_in_cell = np.arange(len(pos)) - point_start[sorted_cells]
    block = cell_first[sorted_cells] + rank_in_cell // block_size
    slot = rank_in_cell % block_size
    idx[block, slot] = order
    valid[block, slot] = True
    lo = np.full((max(n_real, 1), 3), np.inf)
    hi = np.full((max(n_real, 1), 3), -np.inf)
    if len(pos):
        np.minimum.at(lo, block, pos[order])
        np.maximum.at(hi, block, pos[order])
    return Blocks(idx=idx, valid=valid, cell_first=cell_first, cell_count=cell_count, n_real=n_real,
                  lo=lo[:n_real], hi=hi[:n_real])


def blocks_close(blocks_a: Blocks, a: np.ndarray, blocks_b: Blocks, b: np.ndarray, r_reach: float, box) -> np.ndarray:
    """Whether blocks ``a`` and ``b`` (index arrays) have bounding boxes closer than r_reach
    (minimum image in a periodic box)."""
    centre_a = np.ascontiguousarray((0.5 * (blocks_a.lo + blocks_a.hi)).T)
    half_a = np.ascontiguousarray((0.5 * (blocks_a.hi - blocks_a.lo)).T)
    centre_b = np.ascontiguousarray((0.5 * (blocks_b.lo + blocks_b.hi)).T)
    half_b = np.ascontiguousarray((0.5 * (blocks_b.hi - blocks_b.lo)).T)
    gap2 = np.zeros(len(a))
    for k in range(3):
        dc = np.abs(centre_a[k][a] - centre_b[k][b])
        if box is not None:
            dc = np.minimum(dc, box[k] - dc)
        gap = np.maximum(dc - half_a[k][a] - half_b[k][b], 0.0)
        gap2 += gap * gap
    return gap2 < (r_reach * (1 + 1e-9)) ** 2


def _offsets(grid: Grid, r_reach: float) -> np.ndarray:
    """Integer cell offsets (K, 3) within reach per axis (not yet pruned by distance)."""
    reach = np.ceil(r_reach / grid.side - 1e-12).astype(np.int64)
    reach = np.minimum(reach, grid.ncell - 1) if not grid.periodic else np.minimum(reach, grid.ncell)
    axes = [np.arange(-reach[d], reach[d] + 1) for d in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _close(delta: np.ndarray, grid: Grid, r_reach: float) -> np.ndarray:
    """Whether two cells with integer offset ``delta`` (..., 3) can hold points closer than r_reach."""
    d = np.abs(delta)
    if grid.periodic:
        d = d % grid.ncell
        d = np.minimum(d, grid.ncell - d)
    gap = np.maximum(d - 1, 0) * grid.side
    return np.sum(gap**2, axis=-1) < (r_reach * (1 + 1e-9)) ** 2


def cell_tuples(grid: Grid, r_reach: float, k: int, ordered: bool) -> np.ndarray:
    """All k-tuples of cells pairwise within reach, shape (T, k) int64.

    ``ordered=False`` returns each unordered tuple once, its cell indices sorted
    (non-decreasing); ``ordered=True`` (cross counts of two catalogues, k = 2) returns
    every ordered tuple. Tuples are unique even when a small periodic grid wraps onto itself.
    """
    offsets = _offsets(grid, r_reach)
    offsets = offsets[_close(offsets, grid, r_reach)]
    # Build offset combinations (o_1 .. o_{k-1}) relative to the first cell, pairwise close.
    current = np.zeros((1, 1, 3), np.int64)
    for _ in range(k - 1):
        new = current[:, None, :, :].repeat(len(offsets), axis=1)
        extra = np.broadcast_to(offsets[None, :, None, :], (len(current), len(offsets), 1, 3))
        cand = np.concatenate([new, extra], axis=2)
        cand = cand.reshape(-1, cand.shape[2], 3)
        ok = np.ones(len(cand), bool)
        for j in range(1, cand.shape[1] - 1):
            ok &= _close(cand[:, -1] - cand[:, j], grid, r_reach)
        current = cand[ok]
    n = grid.ncell
    ijk = np.stack(np.meshgrid(*[np.arange(m) for m in n], indexing="ij"), axis=-1).reshape(-1, 1, 3)
    out = []
    # Process offset combinations in slabs to bound memory.
    slab = max(1, 2_000_000 // max(len(ijk), 1))
    for s in range(0, len(current), slab):
        cells = ijk + current[None, s:s + slab].reshape(1, -1, 3)  # (n_cells, slab*k, 3)
        cells = cells.reshape(len(ijk), -1, k, 3)
        if grid.periodic:
            cells = cells % n
            inside = np.ones(cells.shape[:2], bool)
        else:
            inside = np.all((cells >= 0) & (cells < n), axis=(-1, -2))
        flat = (cells[..., 0] * n[1] + cells[..., 1]) * n[2] + cells[..., 2]
        flat = flat[inside]
        if not ordered:
            flat = np.sort(flat, axis=-1)
        out.append(flat)
    tuples = np.concatenate(out, axis=0) if out else np.zeros((0, k), np.int64)
    return np.unique(tuples, axis=0)


def block_tuples(tuples: np.ndarray, blocks: list[Blocks], ordered: bool, prune=None) -> np.ndarray:
    """Expand cell tuples (T, k) into block tuples (M, k) int32.

    Each position j of a tuple takes its blocks from ``blocks[j]``. For unordered tuples
    (one catalogue), only non-decreasing block tuples are kept so every unordered k-tuple of
    points is reached through exactly one item. ``prune=(r_reach, box)`` drops tuples with
    a pair of blocks whose bounding boxes are r_reach or more apart.
    """
    k = tuples.shape[1]
    if k == 2:
        return _block_pairs(tuples, blocks, ordered, prune)
    counts = np.stack([blocks[j].cell_count[tuples[:, j]] for j in range(k)], axis=1)
    keep = np.all(counts > 0, axis=1)
    tuples, counts = tuples[keep], counts[keep]
    total = np.prod(counts, axis=1)
    rows = np.repeat(np.arange(len(tuples)), total)
    r = np.arange(int(total.sum())) - np.repeat(np.cumsum(total) - total, total)
    out = np.empty((len(rows), k), np.int64)
    stride = np.ones(len(rows), np.int64)
    for j in reversed(range(k)):
        c = counts[rows, j]
        out[:, j] = blocks[j].cell_first[tuples[rows, j]] + (r // stride) % c
        stride = stride * c
    if not ordered:
        out = out[np.all(np.diff(out, axis=1) >= 0, axis=1)]
    if prune is not None:
        r_reach, box = prune
        keep = np.ones(len(out), bool)
        for p in range(k):
            for q in range(p + 1, k):
                keep &= blocks_close(blocks[p], out[:, p], blocks[q], out[:, q], r_reach, box)
        out = out[keep]
    return out.astype(np.int32)


def _block_pairs(tuples: np.ndarray, blocks: list[Blocks], ordered: bool, prune) -> np.ndarray:
    """``block_tuples`` for k = 2 with int32 arithmetic and few passes (the common case)."""
    ca = blocks[0].cell_count[tuples[:, 0]].astype(np.int64)
    cb = blocks[1].cell_count[tuples[:, 1]].astype(np.int64)
    total = ca * cb
    keep = total > 0
    tuples, ca, cb, total = tuples[keep], ca[keep], cb[keep], total[keep]
    fa = blocks[0].cell_first[tuples[:, 0]].astype(np.int32)
    fb = blocks[1].cell_first[tuples[:, 1]].astype(np.int32)
    start = (np.cumsum(total) - total).astype(np.int64)
    m = int(total.sum())
    dtype = np.int32 if m < 2**31 else np.int64
    r = np.arange(m, dtype=dtype) - np.repeat(start.astype(dtype), total)
    cb_rep = np.repeat(cb.astype(dtype), total)
    ia = r // cb_rep
    b = np.repeat(fb, total) + (r - ia * cb_rep).astype(np.int32)
    a = np.repeat(fa, total) + ia.astype(np.int32)
    if not ordered:
        ok = a <= b
        a, b = a[ok], b[ok]
    if prune is not None:
        ok = blocks_close(blocks[0], a, blocks[1], b, prune[0], prune[1])
        a, b = a[ok], b[ok]
    return np.stack([a, b], axis=1).astype(np.int32)


def pad_items(items: np.ndarray, multiple: int, fill: np.ndarray) -> np.ndarray:
    """Pad the item list with ``fill`` rows up to a multiple of ``multiple``."""
    m = len(items)
    target = max(-(-m // multiple), 1) * multiple
    pad = np.broadcast_to(fill, (target - m, items.shape[1]))
    return np.concatenate([items, pad.astype(items.dtype)], axis=0)


def all_pairs_blocks(n: int, block_size: int) -> Blocks:
    """Blocks of consecutive points without any spatial ordering (one cell holding all)."""
    n_real = -(-n // block_size) if n else 0
    n_pad = size_class(n_real + 1)
    flat = np.arange(n_pad * block_size)
    idx = np.where(flat < n, flat, 0).reshape(n_pad, block_size).astype(np.int32)
    valid = (flat < n).reshape(n_pad, block_size)
    return Blocks(idx=idx, valid=valid, cell_first=np.array([0]), cell_count=np.array([n_real]), n_real=n_real,
                  lo=np.full((n_real, 3), -np.inf), hi=np.full((n_real, 3), np.inf))


def unordered_block_tuples(n_blocks: int, k: int) -> np.ndarray:
    """All non-decreasing k-tuples of block indices in ``range(n_blocks)``, (M, k) int32."""
    combos = list(itertools.combinations_with_replacement(range(n_blocks), k))
    return np.array(combos, np.int32).reshape(-1, k)


class Plan(NamedTuple):
    """Work decomposition of a count: blocks of each catalogue and the block tuples.

    blocks : tuple of :class:`Blocks`, one per catalogue taking part (1 for auto counts).
    items : (M, k) int32 block tuples, unpadded. k : tuple order. auto : one catalogue.
    r_reach : float, Mpc/h, the largest separation the plan covers.
    n_points : tuple of ints, the size of each catalogue the plan was built from.
    box : tuple of 3 floats (periodic box, Mpc/h) or None (open geometry).

    The blocks' bounding boxes (``Blocks.lo``, ``Blocks.hi``) are the plan's fingerprint of
    the positions: :func:`check_plan` accepts positions only when every point lies in the
    bounding box of its block (grown by what the spare reach allows).
    """

    blocks: tuple
    items: np.ndarray
    k: int
    auto: bool
    r_reach: float
    n_points: tuple = ()
    box: tuple | None = None


def outside_blocks(blocks: Blocks, pos: np.ndarray, margin: float) -> int:
    """Number of points of ``pos`` (N, 3) outside the bounding box of their block grown by
    ``margin`` (Mpc/h) on every side. Host-side numpy; O(N)."""
    idx = blocks.idx[:blocks.n_real]
    valid = blocks.valid[:blocks.n_real]
    pts = pos[idx]  # (n_real, B, 3)
    inside = np.all((pts >= blocks.lo[:, None, :] - margin) & (pts <= blocks.hi[:, None, :] + margin), axis=-1)
    return int(np.sum(valid & ~inside))


def check_plan(plan, sizes: list[int], points: list, names: list[str], r_reach: float, box, builder: str) -> None:
    """Raise ValueError unless ``plan`` covers the catalogues named ``names`` up to ``r_reach``.

    ``sizes``: the number of points of each catalogue. ``points``: one entry per catalogue,
    an (N, 3) float64 numpy array when the positions are concrete or None when traced (then
    only the sizes can be compared). A plan is
    accepted for positions that moved from those it was built from by less than what its
    spare reach covers: every point within the bounding box of its block grown by
    ``(plan.r_reach - r_reach) / (2 sqrt 3)`` (plus float32 rounding), which guarantees that
    no pair closer than ``r_reach`` falls in a block pair the plan left out. Host-side.
    """
    if not isinstance(plan, Plan) or plan.k != 2 or not plan.n_points:
        raise TypeError(f"plan must be built by {builder}; got {type(plan).__name__}.")
    if plan.auto != (len(sizes) == 1):
        which = "auto counts of one catalogue" if plan.auto else "cross counts of two catalogues"
        raise ValueError(f"plan was built for {which}; build it with {builder}(...) from the same "
                         f"{' and '.join(names)} you count.")
    if plan.r_reach < r_reach * (1 - 1e-12):
        raise ValueError(f"plan covers separations up to {plan.r_reach} Mpc/h but {r_reach} Mpc/h are "
                         f"needed; rebuild it with {builder}(..., r_max={r_reach}).")
    if (plan.box is None) != (box is None) or (box is not None and tuple(plan.box) != tuple(box)):
        raise ValueError(f"plan was built with box_size={plan.box} but the count uses box_size={box}; build the "
                         f"plan with the same box_size.")
    margin = 0.5 * (plan.r_reach - r_reach) / np.sqrt(3.0) if np.isfinite(plan.r_reach) else np.inf
    for name, n, pts, n_plan, blocks in zip(names, sizes, points, plan.n_points, plan.blocks):
        if n != n_plan:
            raise ValueError(f"plan was built from {n_plan} points but {name} has {n}; build the plan from the "
                             f"same positions with {builder}(...).")
        if pts is None or not np.isfinite(margin):
            continue
        tol = max(margin, 0.0) + 1e-6 * max(1.0, float(np.max(np.abs(pts))) if len(pts) else 1.0)
        bad = outside_blocks(blocks, pts, tol)
        if bad:
            raise ValueError(f"plan was built from other positions than {name} ({bad} of {n} points lie outside "
                             f"the cells the plan assigned them to); build the plan from the same positions with "
                             f"{builder}(...).")


def build_plan(points: list[np.ndarray], k: int, r_reach: float, box_size, block_size: int | None,
               refine: int = 1, block_range: tuple[int, int] = (8, 128), blocks_per_cell: float = 4.0,
               neighbours_per_block: float = 4.0) -> Plan:
    """Cell plan for k-point counting of one catalogue (``len(points) == 1``) or a cross
    count of two catalogues (``k == 2``, ``len(points) == 2``).

    ``block_size=None`` picks the largest power of two in ``block_range`` not above the
    mean number of points within ``r_reach`` of a point divided by ``neighbours_per_block``:
    blocks much larger than a neighbourhood would mostly hold pairs out of reach.
    """
    auto = len(points) == 1
    box = None if box_size is None else np.broadcast_to(np.asarray(box_size, float), (3,)).copy()
    if block_size is None:
        grid0 = make_grid(points, np.inf, box, refine, 1.0)
        n_max = max(max(len(p) for p in points), 1)
        density = n_max / float(np.prod(grid0.side * grid0.ncell))
        neighbours = density * 4.0 / 3.0 * np.pi * r_reach**3 if np.isfinite(r_reach) else n_max
        b = 1 << int(np.floor(np.log2(max(neighbours / neighbours_per_block, 1.0))))
        block_size = int(np.clip(b, *block_range))
    grid = make_grid(points, r_reach, box, refine, blocks_per_cell * block_size)
    blocks = tuple(make_blocks(p, grid, block_size) for p in points)
    tuples = cell_tuples(grid, r_reach, 2, ordered=not auto)
    per_position = [blocks[0]] * 2 if auto else list(blocks)
    items = block_tuples(tuples, per_position, ordered=not auto, prune=(r_reach, box))
    if k > 2:
        if not auto:
            raise ValueError("k-point plans with k > 2 are for one catalogue.")
        pairs = items
        for _ in range(k - 2):
            items = extend_tuples(items, pairs, blocks[0].n_real)
    return Plan(blocks=blocks, items=items, k=k, auto=auto, r_reach=float(r_reach),
                n_points=tuple(len(p) for p in points), box=None if box is None else tuple(float(b) for b in box))


def extend_tuples(tuples: np.ndarray, pairs: np.ndarray, n_blocks: int) -> np.ndarray:
    """Extend non-decreasing block tuples (M, k) by one block d >= their last, keeping only
    tuples all of whose block pairs are in ``pairs`` (close pairs a <= b). Returns (M', k+1)."""
    if len(tuples) == 0:
        return np.zeros((0, tuples.shape[1] + 1), np.int32)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].astype(np.int64)
    keys = pairs[:, 0] * n_blocks + pairs[:, 1]
    start = np.searchsorted(pairs[:, 0], np.arange(n_blocks), side="left")
    end = np.searchsorted(pairs[:, 0], np.arange(n_blocks), side="right")
    first = tuples[:, 0].astype(np.int64)
    deg = end[first] - start[first]
    rows = np.repeat(np.arange(len(tuples)), deg)
    offset = np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg)
    d = pairs[start[first][rows] + offset, 1]
    keep = d >= tuples[rows, -1]
    rows, d = rows[keep], d[keep]
    for j in range(1, tuples.shape[1]):
        kk = tuples[rows, j].astype(np.int64) * n_blocks + d
        at = np.minimum(np.searchsorted(keys, kk), len(keys) - 1)
        ok = keys[at] == kk
        rows, d = rows[ok], d[ok]
    return np.concatenate([tuples[rows], d[:, None].astype(tuples.dtype)], axis=1).astype(np.int32)


def build_dense_plan(sizes: list[int], k: int, block_size: int) -> Plan:
    """Plan evaluating every k-tuple of points (no cells); depends only on the sizes, so it
    can be built while positions are traced."""
    auto = len(sizes) == 1
    blocks = tuple(all_pairs_blocks(n, block_size) for n in sizes)
    if auto:
        items = unordered_block_tuples(blocks[0].n_real, k)
    else:
        a, b = np.meshgrid(np.arange(blocks[0].n_real), np.arange(blocks[1].n_real), indexing="ij")
        items = np.stack([a.ravel(), b.ravel()], axis=1).astype(np.int32)
    return Plan(blocks=blocks, items=items, k=k, auto=auto, r_reach=np.inf, n_points=tuple(int(n) for n in sizes))

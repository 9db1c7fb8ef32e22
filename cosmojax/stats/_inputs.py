"""Argument checks and data arrangement shared by the n-point counters."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import (check_box_size, check_edges, check_finite, check_int, check_positions,
                                check_positive, check_real, is_concrete)


def check_catalogue(name: str, pos, weights, weights_name: str, box) -> None:
    """Positions (N, 3) real, finite, N >= 1; weights (N,) real and finite; inside [0, L)
    when periodic. Complex or boolean arrays raise TypeError, the rest ValueError."""
    check_real(name, pos)
    check_positions(name, pos, 3)
    if np.shape(pos)[0] == 0:
        raise ValueError(f"{name} is empty (0 points); pass a catalogue with at least one point.")
    if weights is not None:
        check_real(weights_name, weights)
        if np.ndim(weights) != 1 or np.shape(weights)[0] != np.shape(pos)[0]:
            raise ValueError(f"{weights_name} must have shape ({np.shape(pos)[0]},) to match {name}; "
                             f"got {np.shape(weights)}.")
        check_finite(weights_name, weights)
    if box is not None and is_concrete(pos):
        p = np.asarray(pos, dtype=float)
        if p.size and (np.any(p < 0) or np.any(p >= np.asarray(box))):
            raise ValueError(f"{name} has points outside the periodic box [0, {box}); wrap them with "
                             f"pos % box_size first.")


def check_box(box_size, r_reach: float) -> tuple | None:
    """Box side lengths (3 floats) or None; the largest separation must be <= L/2."""
    if box_size is None:
        return None
    box = check_box_size("box_size", box_size, 3)
    if r_reach > 0.5 * min(box) * (1 + 1e-12):
        raise ValueError(f"the largest separation counted ({r_reach:g} Mpc/h) exceeds half the box "
                         f"({0.5 * min(box):g} Mpc/h); minimum-image distances would be ambiguous, so lower "
                         f"the last bin edge or use a larger box_size.")
    return box


def edges_arg(name: str, edges, *, min_value: float = 0.0, max_value: float | None = None) -> np.ndarray:
    """Concrete strictly increasing edges within [min_value, max_value]."""
    e = check_edges(name, edges, min_value=min_value)
    if max_value is not None and e[-1] > max_value:
        raise ValueError(f"{name} must end at <= {max_value}; got {e[-1]}.")
    return e


def work_sizes(chunk_size, block_size) -> tuple[int, int | None]:
    """Whole-number ``chunk_size >= 1`` and ``block_size >= 1`` (or None): never truncated."""
    return check_int("chunk_size", chunk_size, 1), check_int("block_size", block_size, 1, allow_none=True)


def check_width(name: str, width) -> float:
    check_positive(name, width)
    return float(width)


def arrange(pos, weights, blocks):
    """Gather a catalogue into blocks: positions (3, B, nb), weights (B, nb) zero on padding,
    validity (B, nb) bool. Differentiable in ``pos`` and ``weights``.

    The block index is the last axis, so a chunk of work items gathers to (..., C) arrays
    whose innermost axis is the item axis: long and vectorisable even for small blocks.
    """
    idx = jnp.asarray(blocks.idx.T)
    valid = jnp.asarray(blocks.valid.T)
    pos = jnp.asarray(pos)
    if not jnp.issubdtype(pos.dtype, jnp.floating):
        pos = pos.astype(jnp.result_type(float))
    bpos = pos.T[:, idx]  # (3, B, nb)
    if weights is None:
        bw = valid.astype(pos.dtype)
    else:
        w = jnp.asarray(weights)
        if not jnp.issubdtype(w.dtype, jnp.floating):
            w = w.astype(pos.dtype)
        bw = jnp.where(valid, w[idx], 0)
    return bpos, bw, valid


def host_positions(pos) -> np.ndarray:
    return np.asarray(pos, dtype=np.float64).reshape(-1, 3)


def tuple_count_setup(what: str, order: int, pos, edges, box_size, weights, labels, block_size, block_range):
    """Checks and cell plan shared by the triplet (order 3) and quadruplet (order 4) counters.

    Returns (edges, plan, data, n_bins, block_points, static) for ``_engine.execute``.
    """
    from cosmojax.stats import _cells

    e = edges_arg("edges", edges)
    box = check_box(box_size, e[-1])
    check_catalogue("pos", pos, weights, "weights", box)
    block_size = check_int("block_size", block_size, 1, allow_none=True)
    if not is_concrete(pos):
        raise ValueError(f"{what} needs concrete positions (call it outside jit/grad over positions).")
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (np.shape(pos)[0],) or not np.all((lab == 0) | (lab == 1)):
            raise ValueError(f"labels must be an ({np.shape(pos)[0]},) array of 0 (data) and 1 (random).")
    plan = _cells.build_plan([host_positions(pos)], order, e[-1], box, block_size, refine=1, block_range=block_range)
    data = {"cat": arrange(pos, weights, plan.blocks[0])}
    dtype = data["cat"][0].dtype
    data["box"] = jnp.asarray(box if box is not None else (1.0, 1.0, 1.0), dtype)
    data["e2"] = jnp.asarray(e**2, dtype)
    if labels is not None:
        blk = plan.blocks[0]
        data["labels"] = jnp.asarray(np.where(blk.valid, np.asarray(labels)[blk.idx], 0).T, jnp.int32)
    n = len(e) - 1
    size = plan.blocks[0].idx.shape[1]
    static = (box is not None, weights is not None, labels is not None, n)
    return e, plan, data, n, size, static

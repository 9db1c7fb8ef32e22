"""Exact pair counts in separation bins: r, (s, mu) and (r_p, pi), periodic or open.

Convention: a pair with separation ``r`` falls in bin ``i`` when ``edges[i] <= r < edges[i+1]``.
Decisions are made on squared quantities, ``r^2 < edges[i]^2``, in the working precision
(float64 under ``jax_enable_x64``), so counts are integer-equal to a brute-force count done
the same way. Periodic boxes use minimum-image separations, ``d - L * round(d / L)``.

Auto counts (``pos2=None``) count each unordered pair ``i < j`` once and never a point with
itself; cross counts count every ``(i, j)`` with ``i`` in catalogue 1 and ``j`` in catalogue 2.

Line of sight. For (s, mu) and (r_p, pi) binning ``los`` is an axis (``"x"``, ``"y"``,
``"z"``; default ``"z"`` for periodic boxes) or ``"midpoint"`` (default in open geometry,
observer at the origin): the direction of ``l = x_i + x_j``, so
``mu = |s.l| / (|s| |l|)``, ``pi = |s.l| / |l|`` and ``r_p^2 = s^2 - pi^2``. A pair with
``s = 0`` has ``mu = 0``. The mu bins must cover [0, 1]; ``mu = 1`` falls in the last bin.

Cost follows the number of close pairs: points are sorted into cells (side >= r_max/2),
along a Morton curve inside each cell, and cut into fixed-size padded blocks; only pairs
of blocks whose bounding boxes come closer than r_max are evaluated (see
``cosmojax.stats._cells``), ``chunk_size`` point pairs at a time per device, spread over
``devices``. Block and work-list sizes are padded to size classes so the kernel compiles
once per size class. Memory: the catalogue, the work list (8 bytes per block pair) and one
chunk (about 40 bytes per point pair) per device.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice, check_int, check_positive, is_concrete
from cosmojax.stats import _cells, _engine
from cosmojax.stats._inputs import (arrange, check_box, check_catalogue, check_width, edges_arg, host_positions,
                                    work_sizes)
from cosmojax.stats._kernels import histogram2d, separation

_AXES = {"x": 0, "y": 1, "z": 2}


class PairCounts(NamedTuple):
    """Binned pair counts.

    counts : int array, shape of the bins (``(n_r,)``, ``(n_s, n_mu)`` or ``(n_rp, n_pi)``),
        number of pairs per bin (int64 numpy when computed eagerly; float for smooth bins).
    weighted : float array, same shape, sum of ``w_i w_j`` over the pairs of each bin.
    norm : float, the weighted number of possible pairs: ``((sum w)^2 - sum w^2) / 2`` for
        auto counts, ``sum w1 * sum w2`` for cross counts; ``weighted / norm`` is the fraction
        of pairs per bin used by the estimators.
    edges : tuple of 1D numpy arrays, the bin edges along each binned axis.
    """

    counts: object
    weighted: object
    norm: object
    edges: tuple


def _norm(w1, w2, n1, n2, auto):
    if auto:
        if w1 is None:
            return jnp.asarray(0.5 * n1 * (n1 - 1.0))
        w1 = jnp.asarray(w1)
        return 0.5 * (jnp.sum(w1) ** 2 - jnp.sum(w1**2))
    s1 = jnp.sum(jnp.asarray(w1)) if w1 is not None else jnp.asarray(float(n1))
    s2 = jnp.sum(jnp.asarray(w2)) if w2 is not None else jnp.asarray(float(n2))
    return s1 * s2


def pair_plan(pos1, pos2=None, *, r_max: float, box_size=None, block_size: int | None = None):
    """Cell decomposition for pair counting up to ``r_max``, reusable across calls.

    Parameters
    ----------
    pos1, pos2 : (N1, 3), (N2, 3) arrays, Mpc/h, concrete (not traced). ``pos2`` None for
        auto counts.
    r_max : float, Mpc/h. Largest separation the plan covers. To differentiate with respect
        to positions, add a margin larger than the largest displacement.
    box_size : float or 3 floats, Mpc/h, or None for open geometry.
    block_size : points per block, or None for a choice from the mean cell occupancy.

    Returns
    -------
    ``cosmojax.stats._cells.Plan``, holding the sizes, the box and the bounding box of every
    block of points, against which each count that uses it checks its positions. Not
    jit-safe (it is host-side preprocessing). Bad input raises ValueError (TypeError for
    complex positions).
    """
    if not is_concrete(pos1) or (pos2 is not None and not is_concrete(pos2)):
        raise ValueError("pair_plan needs concrete positions (build it outside jit/grad).")
    check_positive("r_max", r_max)
    block_size = check_int("block_size", block_size, 1, allow_none=True)
    box = check_box(box_size, float(r_max))
    check_catalogue("pos1", pos1, None, "weights1", box)
    if pos2 is not None:
        check_catalogue("pos2", pos2, None, "weights2", box)
    points = [host_positions(pos1)] + ([] if pos2 is None else [host_positions(pos2)])
    return _cells.build_plan(points, 2, float(r_max), box, block_size, refine=2, block_range=(8, 128),
                             neighbours_per_block=128.0)


def _get_plan(pos1, pos2, r_reach, box, block_size, plan):
    cats = [pos1] + ([] if pos2 is None else [pos2])
    sizes = [np.shape(p)[0] for p in cats]
    if plan is not None:
        points = [host_positions(p) if is_concrete(p) else None for p in cats]
        _cells.check_plan(plan, sizes, points, ["pos1", "pos2"][:len(cats)], r_reach, box, "pair_plan")
        return plan
    if all(is_concrete(p) for p in cats):
        return pair_plan(pos1, pos2, r_max=r_reach, box_size=box, block_size=block_size)
    return _cells.build_dense_plan(sizes, 2, block_size or 64)


def _los_projection(d, d2, pa, pb, los):
    """Squared line-of-sight component t2, and |l|^2 for the midpoint line of sight (else None)."""
    if los == "midpoint":
        ell = [pa[k][:, None, :] + pb[k][None, :, :] for k in range(3)]
        sl = d[0] * ell[0] + d[1] * ell[1] + d[2] * ell[2]
        l2 = ell[0] * ell[0] + ell[1] * ell[1] + ell[2] * ell[2]
        return sl * sl, l2
    t = d[_AXES[los]]
    return t * t, None


def _radial_counts(d2, ww, e2, weighted: bool):
    """Counts per radial bin from squared separations (inf where not a pair): one pass over
    the pairs per edge, each a vectorised reduction."""
    flat = jax.lax.optimization_barrier(d2.ravel())
    ne = e2.shape[0]

    def below(k, acc):
        return acc.at[k].set(jnp.sum(flat < e2[k], dtype=jnp.int32))

    cum = jax.lax.fori_loop(0, ne, below, jnp.zeros(ne, jnp.int32))
    counts = cum[1:] - cum[:-1]
    if not weighted:
        return counts, counts.astype(ww.dtype)
    wflat = ww.ravel()

    def inbin(k, acc):
        sel = (flat >= e2[k]) & (flat < e2[k + 1])
        return acc.at[k].set(jnp.sum(jnp.where(sel, wflat, 0)))

    wsum = jax.lax.fori_loop(0, ne - 1, inbin, jnp.zeros(ne - 1, ww.dtype))
    return counts, wsum


def _pair_kernel(items, data, static):
    mode, auto, periodic, weighted, los = static
    a, b = items[:, 0], items[:, 1]
    p1, w1, v1 = data["cat1"]
    p2, w2, v2 = data["cat1"] if auto else data["cat2"]
    pa, pb = p1[:, :, a], p2[:, :, b]  # (3, B, C)
    mask = v1[:, a][:, None, :] & v2[:, b][None, :, :]  # (Ba, Bb, C)
    if auto:
        size = pa.shape[1]
        upper = jnp.arange(size)[:, None, None] < jnp.arange(size)[None, :, None]
        mask = mask & ((a != b)[None, None, :] | upper)
    ww = w1[:, a][:, None, :] * w2[:, b][None, :, :]
    d, d2 = separation(pa, pb, data["box"] if periodic else None)

    if mode == "r":
        counts, wsum = _radial_counts(jnp.where(mask, d2, jnp.inf), ww, data["e2"], weighted)
        return {"counts": counts, "weighted": wsum}

    if mode == "smooth":
        e, width = data["e"], data["width"]
        safe = jnp.where(mask, d2, 1.0)
        r = jnp.sqrt(safe)
        cdf = jax.nn.sigmoid((r[..., None] - e) / width)
        soft = jnp.where(mask[..., None], cdf[..., :-1] - cdf[..., 1:], 0)
        return {"counts": jnp.sum(soft, axis=(0, 1, 2)),
                "weighted": jnp.sum(soft * ww[..., None], axis=(0, 1, 2))}

    if mode == "smu":
        e2, m2 = data["e2"], data["m2"]
        t2, l2 = _los_projection(d, d2, pa, pb, los)
        scale = d2 if l2 is None else d2 * l2
        positive = d2 > 0
        mbin = sum(((t2 >= m2[k] * scale) & positive).astype(jnp.int32) for k in range(m2.shape[0]))
        rbin = sum((d2 >= e2[k]).astype(jnp.int32) for k in range(e2.shape[0])) - 1
        n_mu = m2.shape[0] + 1
        n_r = e2.shape[0] - 1
        valid = mask & (rbin >= 0) & (rbin < n_r)
        counts, wsum = histogram2d(rbin, n_r, mbin, n_mu, valid, ww, weighted)
        return {"counts": counts, "weighted": wsum}

    # mode == "rppi"
    rp_e2, pi_e2 = data["rp_e2"], data["pi_e2"]
    if los == "midpoint":
        t2, l2 = _los_projection(d, d2, pa, pb, los)
        pi2 = jnp.where(l2 > 0, t2 / jnp.where(l2 > 0, l2, 1.0), 0.0)
        rp2 = jnp.maximum(d2 - pi2, 0.0)
    else:
        ax = _AXES[los]
        others = [i for i in range(3) if i != ax]
        pi2 = d[ax] * d[ax]
        rp2 = d[others[0]] * d[others[0]] + d[others[1]] * d[others[1]]
    rpbin = sum((rp2 >= rp_e2[k]).astype(jnp.int32) for k in range(rp_e2.shape[0])) - 1
    pibin = sum((pi2 >= pi_e2[k]).astype(jnp.int32) for k in range(pi_e2.shape[0])) - 1
    n_rp, n_pi = rp_e2.shape[0] - 1, pi_e2.shape[0] - 1
    valid = mask & (rpbin >= 0) & (rpbin < n_rp) & (pibin >= 0) & (pibin < n_pi)
    counts, wsum = histogram2d(rpbin, n_rp, pibin, n_pi, valid, ww, weighted)
    return {"counts": counts, "weighted": wsum}


def _run(mode, pos1, pos2, weights1, weights2, box_size, r_reach, bins, shape, edges, los, chunk_size,
         block_size, devices, plan=None):
    chunk_size, block_size = work_sizes(chunk_size, block_size)
    box = check_box(box_size, r_reach)
    check_catalogue("pos1", pos1, weights1, "weights1", box)
    if pos2 is not None:
        check_catalogue("pos2", pos2, weights2, "weights2", box)
    elif weights2 is not None:
        raise ValueError("weights2 was given without pos2; pass pos2 for a cross count or drop weights2.")
    if los is not None:
        check_choice("los", los, ["x", "y", "z", "midpoint"])
        if los == "midpoint" and box is not None:
            raise ValueError("los='midpoint' needs open geometry; use an axis ('x', 'y', 'z') for a periodic box.")
    plan = _get_plan(pos1, pos2, r_reach, box, block_size, plan)
    auto = pos2 is None
    weighted = weights1 is not None or weights2 is not None or mode == "smooth"
    data = {"cat1": arrange(pos1, weights1, plan.blocks[0])}
    if not auto:
        data["cat2"] = arrange(pos2, weights2, plan.blocks[1])
    dtype = data["cat1"][0].dtype
    data["box"] = jnp.asarray(box if box is not None else (1.0, 1.0, 1.0), dtype)
    data.update({k: jnp.asarray(v, dtype) for k, v in bins.items()})
    size = plan.blocks[0].idx.shape[1]
    empty = np.array([plan.blocks[0].empty_block, plan.blocks[-1].empty_block], np.int32)
    static = (mode, auto, box is not None, weighted, los)
    if mode in ("smu", "rppi"):  # one-hot matrices hold chunk x bins entries
        chunk_size = min(int(chunk_size), max((1 << 24) // max(shape), size * size))
    out = _engine.execute(_pair_kernel, static, plan.items, empty, data,
                          chunk_items=max(1, int(chunk_size) // (size * size)), tuple_volume=size * size,
                          devices=devices)
    n1 = np.shape(pos1)[0]
    n2 = n1 if auto else np.shape(pos2)[0]
    return PairCounts(counts=out["counts"].reshape(shape), weighted=out["weighted"].reshape(shape),
                      norm=_norm(weights1, weights2, n1, n2, auto), edges=edges)


def pair_counts(pos1, pos2=None, *, edges, box_size=None, weights1=None, weights2=None,
                chunk_size: int = 1 << 20, block_size: int | None = None, devices=None, plan=None) -> PairCounts:
    """Count pairs in bins of separation r.

    Parameters
    ----------
    pos1 : (N1, 3) float array, Mpc/h.
    pos2 : (N2, 3) float array, Mpc/h, or None for auto counts (unordered pairs i < j).
    edges : (n_r + 1,) increasing float array, Mpc/h, >= 0. Bin i is ``[edges[i], edges[i+1])``.
    box_size : float or 3 floats, Mpc/h, or None. Periodic box ``[0, L)^3`` with
        minimum-image separations; ``edges[-1]`` must be <= L/2 and points inside the box.
    weights1, weights2 : (N1,), (N2,) float arrays or None (unit weights).
    chunk_size : int, point pairs evaluated at once per device (memory ~ 40 bytes each).
    block_size : int or None, points per cell block (None: chosen from the cell occupancy).
    devices : None (all local devices), int or list of devices to spread the work over.
    plan : a :func:`pair_plan` built from these positions (and ``box_size``) to reuse, or
        None. It is checked against the catalogues before use: a plan built from another
        catalogue (or other sizes, another box, auto versus cross, a smaller ``r_max``)
        raises ValueError. Concrete positions must lie in the cells the plan assigned them
        to, grown by ``(r_max - edges[-1]) / (2 sqrt 3)``, which is exactly what keeps the
        counts exact; under jit/grad (traced positions) only the sizes can be checked.

    Returns
    -------
    PairCounts with ``counts (n_r,)`` integers and ``weighted (n_r,)`` sums of ``w_i w_j``.

    Notes
    -----
    Exact: integer-equal to a brute-force count in the same precision (use x64 for float64).
    Differentiable with respect to the weights (``weighted`` and ``norm``). jit-safe in the
    weights; with traced positions (inside jit/grad) the cell decomposition cannot be built,
    so every pair is evaluated in chunks (O(N^2) time, bounded memory) unless a ``plan``
    built beforehand is given. Not vmap-safe over catalogues (shapes set the work).
    Raises ValueError for bad input (non-increasing edges, r_max > L/2, points outside the
    box, NaN, an empty catalogue, weights of the wrong shape, non-integer or boolean
    ``chunk_size``/``block_size``, a plan from other positions) and TypeError for complex
    or boolean positions or weights. Under jit/grad the shape, dtype and size checks still
    raise; the value checks on traced positions and weights (NaN, inside the box, the
    plan's cells) cannot run, so check a catalogue eagerly once before tracing over it.
    """
    e = edges_arg("edges", edges)
    return _run("r", pos1, pos2, weights1, weights2, box_size, e[-1], {"e2": e**2}, (len(e) - 1,), (e,), None,
                chunk_size, block_size, devices, plan)


def pair_counts_smu(pos1, pos2=None, *, edges, mu_edges, box_size=None, los: str | None = None, weights1=None,
                    weights2=None, chunk_size: int = 1 << 20, block_size: int | None = None, devices=None,
                    plan=None) -> PairCounts:
    """Count pairs in bins of separation s and cosine mu to the line of sight.

    Parameters
    ----------
    pos1, pos2, box_size, weights1, weights2, chunk_size, block_size, devices, plan :
        as for :func:`pair_counts`.
    edges : (n_s + 1,) increasing float array, Mpc/h, separation bin edges.
    mu_edges : (n_mu + 1,) increasing array from 0 to 1. Bin j is ``[mu_j, mu_{j+1})``,
        the last one closed at 1.
    los : "x", "y", "z" (default for periodic boxes) or "midpoint" (default in open
        geometry, direction of ``x_i + x_j`` seen from the origin).

    Returns
    -------
    PairCounts with ``counts`` and ``weighted`` of shape (n_s, n_mu).

    Notes
    -----
    mu is tested through ``t^2 >= mu_j^2 s^2 |l|^2`` (squared quantities, no roots). Same
    safety as :func:`pair_counts`: exact, differentiable in weights, jit-safe in weights.
    """
    e = edges_arg("edges", edges)
    m = edges_arg("mu_edges", mu_edges, max_value=1.0)
    if m[0] != 0.0 or m[-1] != 1.0:
        raise ValueError(f"mu_edges must run from 0 to 1, e.g. np.linspace(0, 1, 11); got {m[0]} .. {m[-1]}.")
    los = los or ("z" if box_size is not None else "midpoint")
    return _run("smu", pos1, pos2, weights1, weights2, box_size, e[-1], {"e2": e**2, "m2": m[1:-1] ** 2},
                (len(e) - 1, len(m) - 1), (e, m), los, chunk_size, block_size, devices, plan)


def pair_counts_rppi(pos1, pos2=None, *, rp_edges, pi_edges, box_size=None, los: str | None = None,
                     weights1=None, weights2=None, chunk_size: int = 1 << 20, block_size: int | None = None,
                     devices=None, plan=None) -> PairCounts:
    """Count pairs in bins of transverse r_p and line-of-sight pi separation.

    Parameters
    ----------
    rp_edges : (n_rp + 1,) increasing float array, Mpc/h.
    pi_edges : (n_pi + 1,) increasing float array, Mpc/h, >= 0 (pi = |line-of-sight part|).
    los : "x", "y", "z" (default for periodic boxes) or "midpoint" (default in open geometry).
    Others as for :func:`pair_counts`; pairs are reached up to
    ``sqrt(rp_edges[-1]^2 + pi_edges[-1]^2)``, which must be <= L/2 in a periodic box.

    Returns
    -------
    PairCounts with ``counts`` and ``weighted`` of shape (n_rp, n_pi).

    Notes
    -----
    Axis lines of sight use ``pi^2 = d_los^2`` and ``r_p^2`` = the sum of the other two squared
    components; the midpoint uses ``pi^2 = (s.l)^2 / |l|^2``, ``r_p^2 = max(s^2 - pi^2, 0)``.
    Exact, differentiable in weights, jit-safe in weights, as :func:`pair_counts`.
    """
    rp = edges_arg("rp_edges", rp_edges)
    pi = edges_arg("pi_edges", pi_edges)
    los = los or ("z" if box_size is not None else "midpoint")
    reach = float(np.hypot(rp[-1], pi[-1]))
    return _run("rppi", pos1, pos2, weights1, weights2, box_size, reach, {"rp_e2": rp**2, "pi_e2": pi**2},
                (len(rp) - 1, len(pi) - 1), (rp, pi), los, chunk_size, block_size, devices, plan)


def smooth_pair_counts(pos1, pos2=None, *, edges, width: float, box_size=None, weights1=None, weights2=None,
                       chunk_size: int = 1 << 20, block_size: int | None = None, devices=None,
                       plan=None) -> PairCounts:
    """Pair counts with smooth bins, differentiable with respect to positions.

    Each pair adds ``sigma((r - e_i)/h) - sigma((r - e_{i+1})/h)`` to bin i (``sigma`` the
    logistic function, ``h = width`` in Mpc/h), which tends to the sharp bins as h -> 0.

    Parameters
    ----------
    edges : (n_r + 1,) increasing float array, Mpc/h.
    width : float > 0, Mpc/h, smoothing length h.
    plan : a :func:`pair_plan` built on the (concrete) positions with ``r_max`` at least
        ``edges[-1] + 10 * width`` plus the largest displacement expected; without one, traced
        positions are handled by evaluating every pair (O(N^2) time, bounded memory).
    Others as for :func:`pair_counts`.

    Returns
    -------
    PairCounts with float ``counts`` (soft numbers of pairs) and ``weighted``, shape (n_r,).

    Notes
    -----
    Pairs further apart than ``edges[-1] + 10 width`` are left out when a cell plan is used
    (their contribution is below 5e-5 per pair). jit-safe; grad-safe with respect to positions
    and weights.
    """
    e = edges_arg("edges", edges)
    h = check_width("width", width)
    reach = float(e[-1] + 10.0 * h)
    if box_size is not None:
        reach = min(reach, 0.5 * min(np.broadcast_to(np.asarray(box_size, float), (3,))))
    return _run("smooth", pos1, pos2, weights1, weights2, box_size, max(reach, e[-1]), {"e": e, "width": h},
                (len(e) - 1,), (e,), None, chunk_size, block_size, devices, plan)

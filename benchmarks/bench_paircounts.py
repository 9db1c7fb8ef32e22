"""Benchmark: pair and triplet counting against Corrfunc and TreeCorr.

Counts DD pairs of a uniform periodic catalogue in linear r bins up to ``r_max`` with
``cosmojax.stats.pair_counts`` and, on the same input and bins in the same process,
Corrfunc's ``theory.DD`` (all CPU threads) and TreeCorr's ``NNCorrelation`` (exact,
``bin_slop=0``) when installed; then triangles with ``cosmojax.stats.triplet_counts``
against TreeCorr's ``NNNCorrelation``; then the pair count on 1..n local devices.

    python benchmarks/bench_paircounts.py [--quick] [--sizes 10000 100000] [--rmax-frac 0.1]

Prints one JSON line per measurement: the machine, backend, sizes, seconds, pairs per
second (pairs closer than r_max counted per second, compilation excluded), peak memory,
and the ratio to each peer (peer seconds / cosmojax seconds; > 1 means cosmojax is faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import best_time, emit, machine, peak_memory_bytes  # noqa: E402

from cosmojax.stats import pair_counts, pair_plan, triplet_counts  # noqa: E402


def _catalogue(n: int, box: float, seed: int = 0) -> np.ndarray:
    dtype = np.float64 if jax.config.jax_enable_x64 else np.float32
    return np.random.default_rng(seed).uniform(0, box, (n, 3)).astype(dtype)


def _corrfunc_dd(pos, edges, box, threads):
    try:
        from Corrfunc.theory.DD import DD
    except ImportError:
        return None, "not installed"
    x, y, z = (np.ascontiguousarray(pos[:, k]) for k in range(3))

    def run():
        return DD(1, threads, edges, x, y, z, periodic=True, boxsize=box, verbose=False)

    res = run()
    seconds = best_time(run, repeat=2, warmup=0)
    return seconds, np.asarray(res["npairs"], np.int64) // 2  # Corrfunc counts ordered pairs


def _treecorr_nn(pos, edges, box, threads):
    try:
        import treecorr
    except ImportError:
        return None, "not installed"
    cat = treecorr.Catalog(x=pos[:, 0], y=pos[:, 1], z=pos[:, 2])
    nn = treecorr.NNCorrelation(min_sep=edges[0], max_sep=edges[-1], nbins=len(edges) - 1, bin_type="Linear",
                                bin_slop=0, metric="Periodic", xperiod=box, yperiod=box, zperiod=box,
                                num_threads=threads, verbose=0)

    def run():
        nn.clear()
        nn.process(cat, num_threads=threads)

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    return seconds, np.asarray(nn.npairs, np.int64)


def bench_pairs(n: int, box: float, r_max: float, n_bins: int, threads: int, repeat: int) -> None:
    pos = _catalogue(n, box)
    edges = np.linspace(r_max / n_bins, r_max, n_bins + 1)
    t0 = time.perf_counter()
    plan = pair_plan(pos, r_max=r_max, box_size=box)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = pair_counts(pos, edges=edges, box_size=box, plan=plan)
    t_first = time.perf_counter() - t0
    t_run = best_time(lambda: pair_counts(pos, edges=edges, box_size=box, plan=plan), repeat=repeat, warmup=0)
    n_pairs = int(ours.counts.sum())
    size = plan.blocks[0].idx.shape[1]
    record = {"bench": "pair_counts", "n": n, "box_mpc_h": box, "r_max_mpc_h": r_max, "n_bins": n_bins,
              "dtype": str(pos.dtype), "block_size": size, "pairs": n_pairs,
              "pairs_evaluated": int(len(plan.items)) * size * size, "plan_seconds": t_plan,
              "first_call_seconds": t_first, "seconds": t_run, "seconds_with_plan": t_run + t_plan,
              "pairs_per_second": n_pairs / t_run, "peak_memory_bytes": peak_memory_bytes()}
    seconds, counts = _corrfunc_dd(pos, edges, box, threads)
    if seconds is None:
        record["corrfunc"] = counts
    else:
        record.update({"corrfunc_seconds": seconds, "corrfunc_threads": threads,
                       "ratio_corrfunc": seconds / (t_run + t_plan),
                       "corrfunc_counts_equal": bool(np.array_equal(counts, ours.counts)),
                       "corrfunc_max_count_difference": int(np.max(np.abs(counts - ours.counts)))})
    seconds, counts = _treecorr_nn(pos, edges, box, threads)
    if seconds is None:
        record["treecorr"] = counts
    else:
        record.update({"treecorr_seconds": seconds, "ratio_treecorr": seconds / (t_run + t_plan),
                       "treecorr_max_count_difference": int(np.max(np.abs(counts - ours.counts)))})
    emit(record)


def bench_triplets(n: int, box: float, r_max: float, threads: int) -> None:
    pos = _catalogue(n, box, seed=1)
    edges = np.geomspace(r_max / 4, r_max, 4)
    ours = triplet_counts(pos, edges=edges, box_size=box)
    t_run = best_time(lambda: triplet_counts(pos, edges=edges, box_size=box), repeat=1, warmup=0)
    n_tri = int(ours.counts.sum())
    record = {"bench": "triplet_counts", "n": n, "box_mpc_h": box, "r_min_mpc_h": float(edges[0]),
              "r_max_mpc_h": r_max, "n_bins": 3, "triangles": n_tri, "seconds": t_run,
              "triangles_per_second": n_tri / t_run, "peak_memory_bytes": peak_memory_bytes()}
    try:
        import treecorr
    except ImportError:
        record["treecorr"] = "not installed"
    else:
        cat = treecorr.Catalog(x=pos[:, 0], y=pos[:, 1], z=pos[:, 2])
        nnn = treecorr.NNNCorrelation(min_sep=edges[0], max_sep=edges[-1], nbins=3, bin_type="LogSAS",
                                      nphi_bins=8, bin_slop=0, metric="Periodic", xperiod=box, yperiod=box,
                                      zperiod=box, num_threads=threads, verbose=0)
        start = time.perf_counter()
        nnn.process(cat, num_threads=threads)
        seconds = time.perf_counter() - start
        record.update({"treecorr_nnn_seconds": seconds, "ratio_treecorr_nnn": seconds / t_run,
                       "treecorr_nnn_note": "LogSAS binning (two sides and the angle), bin_slop=0: same "
                                            "catalogue and side range, different cells"})
    emit(record)


def bench_devices(n: int, box: float, r_max: float, n_bins: int, repeat: int) -> None:
    pos = _catalogue(n, box, seed=2)
    edges = np.linspace(r_max / n_bins, r_max, n_bins + 1)
    plan = pair_plan(pos, r_max=r_max, box_size=box)
    base = None
    for n_dev in range(1, len(jax.local_devices()) + 1):
        if n_dev & (n_dev - 1):
            continue
        res = pair_counts(pos, edges=edges, box_size=box, plan=plan, devices=n_dev)
        t = best_time(lambda: pair_counts(pos, edges=edges, box_size=box, plan=plan, devices=n_dev),
                      repeat=repeat, warmup=0)
        base = base if base is not None else (t, res.counts)
        emit({"bench": "pair_counts_devices", "n": n, "devices": n_dev, "seconds": t, "speedup": base[0] / t,
              "counts_equal_to_one_device": bool(np.array_equal(res.counts, base[1]))})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument("--sizes", type=int, nargs="+", help="catalogue sizes for the pair benchmark")
    p.add_argument("--box", type=float, default=1000.0, help="box side, Mpc/h")
    p.add_argument("--rmax-frac", type=float, default=0.1, help="r_max as a fraction of the box")
    p.add_argument("--bins", type=int, default=20)
    p.add_argument("--triplets", type=int, nargs="+", help="catalogue sizes for the triplet benchmark")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for Corrfunc / TreeCorr")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    if args.quick:
        sizes, triplets, box, frac, repeat = args.sizes or [2000, 5000], args.triplets or [400], 250.0, 0.1, 1
    else:
        sizes = args.sizes or [10_000, 100_000, 1_000_000]
        triplets = args.triplets or [2000, 5000]
        box, frac, repeat = args.box, args.rmax_frac, args.repeat
    emit({"bench": "machine", **machine(), "x64": bool(jax.config.jax_enable_x64), "threads": args.threads})
    for n in sizes:
        bench_pairs(n, box, frac * box, args.bins, args.threads, repeat)
    for n in triplets:
        bench_triplets(n, box, 0.05 * box if not args.quick else 0.1 * box, args.threads)
    bench_devices(sizes[0], box, frac * box, args.bins, repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: spherical-harmonic synthesis and analysis, cosmojax against healpy.

Prints one JSON line per (nside, spin): machine, JAX backend, sizes, the best wall time
of synthesis (alm2map) and analysis (map2alm, iter=0) for cosmojax (jitted, after a
warm-up call that compiles) and healpy, and their ratios (cosmojax / healpy).

    python benchmarks/bench_sphere.py            # nside 16 .. 256
    python benchmarks/bench_sphere.py --quick    # nside 8 and 16, a few repeats
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import healpy as hp  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import best_time, emit, machine  # noqa: E402

from cosmojax.sphere import alm2map, alm_size, map2alm  # noqa: E402


def _random_alm(rng, lmax, ncomp):
    n = alm_size(lmax)
    alm = rng.normal(size=(ncomp, n)) + 1j * rng.normal(size=(ncomp, n))
    ls, ms = hp.Alm.getlm(lmax)
    alm[:, ms == 0] = alm[:, ms == 0].real
    if ncomp == 3:
        alm[1:, ls < 2] = 0.0
    return alm


def bench(nside: int, pol: bool, repeats: int) -> dict:
    lmax = 3 * nside - 1
    rng = np.random.default_rng(nside)
    ncomp = 3 if pol else 1
    alm_np = _random_alm(rng, lmax, ncomp)
    alm_np = alm_np if pol else alm_np[0]
    map_np = np.asarray(hp.alm2map(alm_np, nside, lmax=lmax, pol=pol))

    synth = jax.jit(lambda a: alm2map(a, nside, lmax=lmax, pol=pol))
    analyse = jax.jit(lambda m: map2alm(m, lmax=lmax, iter=0, pol=pol))
    alm_j = jnp.asarray(alm_np)
    map_j = jnp.asarray(map_np)
    start = time.perf_counter()
    synth(alm_j).block_until_ready()
    analyse(map_j).block_until_ready()
    compile_s = time.perf_counter() - start

    t_synth = best_time(lambda: synth(alm_j).block_until_ready(), repeat=repeats, warmup=0)
    t_anal = best_time(lambda: analyse(map_j).block_until_ready(), repeat=repeats, warmup=0)
    h_synth = best_time(lambda: hp.alm2map(alm_np, nside, lmax=lmax, pol=pol), repeat=repeats, warmup=0)
    h_anal = best_time(lambda: hp.map2alm(map_np, lmax=lmax, iter=0, pol=pol), repeat=repeats, warmup=0)
    err = float(np.max(np.abs(np.asarray(synth(alm_j)) - map_np)) / np.max(np.abs(map_np)))
    return {
        "benchmark": "sphere",
        "machine": machine(),
        "backend": jax.default_backend(),
        "dtype": str(jnp.result_type(float)),
        "nside": nside,
        "lmax": lmax,
        "pol": pol,
        "compile_s": compile_s,
        "cosmojax_synthesis_s": t_synth,
        "cosmojax_analysis_s": t_anal,
        "healpy_synthesis_s": h_synth,
        "healpy_analysis_s": h_anal,
        "synthesis_ratio": t_synth / h_synth,
        "analysis_ratio": t_anal / h_anal,
        "synthesis_max_rel_diff": err,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--nside", type=int, nargs="*", help="override the list of nside values")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--x64", action="store_true", help="run in float64 (default float32)")
    args = parser.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    nsides = args.nside or ([8, 16] if args.quick else [16, 32, 64, 128, 256])
    repeats = args.repeats or (2 if args.quick else 5)
    for nside in nsides:
        for pol in (False, True):
            emit(bench(nside, pol, repeats))


if __name__ == "__main__":
    main()

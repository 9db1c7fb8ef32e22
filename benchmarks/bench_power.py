"""Benchmark: power-spectrum measurement and the linear power spectrum.

Times ``cosmojax.stats.power_spectrum`` (jit-compiled, the FFT plus binning) on N^3
meshes, the Gaussian-field generator, and ``cosmojax.cosmology.linear_power`` against
jax-cosmo's Eisenstein-Hu spectrum on the same k when jax-cosmo is installed.

    python benchmarks/bench_power.py [--quick]

Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import best_time, emit, machine  # noqa: E402

from cosmojax.cosmology import linear_power, planck2018  # noqa: E402
from cosmojax.sims import gaussian_field  # noqa: E402
from cosmojax.stats import default_kedges, power_spectrum  # noqa: E402


def bench_mesh(n: int, box: float, repeat: int) -> None:
    shape = (n, n, n)
    cosmo = planck2018()
    kedges = default_kedges(shape, box)
    field = jax.jit(lambda key: gaussian_field(key, shape, box, lambda k: linear_power(cosmo, k)))
    measure = jax.jit(lambda f: power_spectrum(f, box, kedges=kedges).power)
    delta = field(jax.random.key(0)).block_until_ready()
    t_field = best_time(lambda: field(jax.random.key(1)).block_until_ready(), repeat=repeat)
    t_power = best_time(lambda: measure(delta).block_until_ready(), repeat=repeat)
    emit({"bench": "power_spectrum", "mesh": n, "box_mpc_h": box, "n_bins": kedges.size - 1,
          "seconds": t_power, "cells_per_second": n**3 / t_power})
    emit({"bench": "gaussian_field", "mesh": n, "box_mpc_h": box, "seconds": t_field,
          "cells_per_second": n**3 / t_field})


def bench_linear_power(n_k: int, repeat: int) -> None:
    cosmo = planck2018()
    k = jnp.logspace(-4, 1, n_k)
    ours = jax.jit(lambda c: linear_power(c, k))
    ours(cosmo).block_until_ready()
    t_ours = best_time(lambda: ours(cosmo).block_until_ready(), repeat=repeat)
    record = {"bench": "linear_power", "n_k": n_k, "seconds": t_ours}
    try:
        import jax_cosmo
    except ImportError:
        record["jax_cosmo"] = "not installed"
    else:
        jc = jax_cosmo.Cosmology(
            Omega_c=cosmo.Omega_c, Omega_b=cosmo.Omega_b, h=cosmo.h, n_s=cosmo.n_s, sigma8=cosmo.sigma8,
            Omega_k=0.0, w0=-1.0, wa=0.0,
        )
        theirs = jax.jit(lambda c: jax_cosmo.power.linear_matter_power(c, k))
        p_theirs = theirs(jc).block_until_ready()
        t_theirs = best_time(lambda: theirs(jc).block_until_ready(), repeat=repeat)
        ratio = np.asarray(ours(cosmo)) / np.asarray(p_theirs)
        record.update({"jax_cosmo_seconds": t_theirs, "speedup": t_theirs / t_ours,
                       "max_rel_diff_vs_jax_cosmo": float(np.abs(ratio - 1).max())})
    emit(record)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmark runs")
    parser.add_argument("--meshes", type=int, nargs="*", help="mesh sizes (default 128 256; quick 32)")
    args = parser.parse_args(argv)
    meshes = args.meshes or ([32] if args.quick else [128, 256])
    repeat = 2 if args.quick else 5
    emit({"bench": "machine", **machine(), "quick": args.quick})
    for n in meshes:
        bench_mesh(n, 1000.0, repeat)
    bench_linear_power(256 if args.quick else 4096, repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

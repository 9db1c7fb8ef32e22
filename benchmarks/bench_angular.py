"""Benchmark: a 3x2pt data vector of Limber angular spectra and its Jacobian.

The survey of DES-Y1-like forecasts: 5 source bins (photo-z bins of a Smail
distribution, NLA alignments, a shear bias each) and 5 lens bins (Gaussian, linear bias),
all 55 auto and cross spectra (shear-shear, galaxy-shear, galaxy-galaxy) at ``--ells``
log-spaced multipoles from 20 to 2000, halofit on Eisenstein-Hu. Times, on the same
machine in one process:

- cosmojax: the data vector (``angular_cl``) and its Jacobian in 6 cosmological
  parameters (``jax.jacfwd``), both compiled; compile times reported apart;
- jax-cosmo 0.1.0 (when installed): the same, on the same n(z) (given as tabulated
  kernel-density distributions) and the same parameters;
- CCL (when installed): the data vector from its C library (no Jacobian: a central
  finite-difference Jacobian costs 12 data vectors, reported as such).

Also the largest relative difference of each peer's spectra from cosmojax's (same
cosmology, each code's own halofit; jax-cosmo's n(z) are KDE-smoothed), and the process's
peak memory after each stage (peak RSS on a CPU).

    python benchmarks/bench_angular.py [--quick] [--ells 20] [--x64]

Prints JSON lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import best_time, emit, machine, peak_memory_bytes  # noqa: E402

from cosmojax.cosmology import planck2018  # noqa: E402
from cosmojax.projected import (  # noqa: E402
    GaussianNZ,
    NumberCounts,
    SmailNZ,
    WeakLensing,
    angular_cl,
    data_vector,
    pair_indices,
    photoz_bins,
    redshift_density,
)

PARAMS = ("Omega_c", "Omega_b", "h", "n_s", "sigma8", "w0")
Z_MAX = 3.5


def survey(n_bins: int):
    parent = SmailNZ(0.5, 2.0, 1.5, z_max=Z_MAX)
    edges = np.linspace(0.2, 2.0, n_bins + 1)
    sources = [WeakLensing(nz, ia_amplitude=0.5, multiplicative_bias=0.01) for nz in photoz_bins(parent, edges, 0.05)]
    lenses = [NumberCounts(GaussianNZ(0.25 + 0.15 * i, 0.05, z_max=Z_MAX), bias=1.3 + 0.1 * i) for i in range(n_bins)]
    return sources + lenses


def _cosmo_from(theta):
    return planck2018().replace(**dict(zip(PARAMS, theta)))


def bench_cosmojax(tracers, ell, repeat):
    theta0 = jnp.asarray([getattr(planck2018().replace(w0=-1.0), p) for p in PARAMS])

    def model(theta):
        return data_vector(angular_cl(_cosmo_from(theta), tracers, ell))

    vector, timings = time_model(model, theta0, repeat)
    return vector, {**timings, "peak_memory_bytes": peak_memory_bytes()}


def time_model(model, theta0, repeat):
    """(data vector, {seconds, jacobian_seconds, compile_seconds, jacobian_compile_seconds})
    of a model theta -> data vector and its forward-mode Jacobian, both compiled."""
    forward, jacobian = jax.jit(model), jax.jit(jax.jacfwd(model))
    start = time.perf_counter()
    vector = forward(theta0).block_until_ready()
    compile_forward = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(jacobian(theta0))
    compile_jacobian = time.perf_counter() - start
    return np.asarray(vector), {
        "seconds": best_time(lambda: forward(theta0).block_until_ready(), repeat=repeat),
        "jacobian_seconds": best_time(lambda: jax.block_until_ready(jacobian(theta0)), repeat=max(2, repeat // 2)),
        "compile_seconds": compile_forward, "jacobian_compile_seconds": compile_jacobian,
    }


def bench_jax_cosmo(tracers, ell, repeat, reference):
    try:
        import jax_cosmo as jc
    except ImportError:
        return {"jax_cosmo": "not installed"}
    z = np.linspace(0.0, Z_MAX, 701)
    n_bins = len(tracers) // 2

    def nzs(group):
        return [jc.redshift.kde_nz(jnp.asarray(z), redshift_density(t.nz, jnp.asarray(z)), bw=z[1] - z[0], zmax=Z_MAX)
                for t in group]

    source_nz, lens_nz = nzs(tracers[:n_bins]), nzs(tracers[n_bins:])

    def model(theta):
        params = dict(zip(PARAMS, theta))
        cosmo = jc.Cosmology(Omega_c=params["Omega_c"], Omega_b=params["Omega_b"], h=params["h"], n_s=params["n_s"],
                             sigma8=params["sigma8"], Omega_k=0.0, w0=params["w0"], wa=0.0)
        probes = [jc.probes.WeakLensing(source_nz, ia_bias=jc.bias.constant_linear_bias(0.5), multiplicative_bias=0.01),
                  jc.probes.NumberCounts(lens_nz, jc.bias.constant_linear_bias(1.5))]
        return jc.angular_cl.angular_cl(cosmo, ell, probes).reshape(-1)

    theta0 = jnp.asarray([getattr(planck2018().replace(w0=-1.0), p) for p in PARAMS])
    vector, timings = time_model(model, theta0, repeat)
    # shear-shear spectra: jax-cosmo's first pairs, the same order as cosmojax's data vector
    ours = reference.reshape(-1, ell.size)[0]
    theirs = vector.reshape(-1, ell.size)[0] / 1.01**2
    return {
        **{f"jax_cosmo_{name}": value for name, value in timings.items()},
        "jax_cosmo_peak_memory_bytes": peak_memory_bytes(),
        "jax_cosmo_max_rel_diff_shear_bin0": float(np.max(np.abs(theirs / (ours / 1.01**2) - 1.0))),
    }


def bench_ccl(tracers, ell, repeat, reference):
    try:
        import pyccl as ccl
    except ImportError:
        return {"ccl": "not installed"}
    cosmo = planck2018()
    z = np.linspace(0.0, Z_MAX, 3501)
    densities = [np.asarray(redshift_density(t.nz, jnp.asarray(z))) for t in tracers]  # inputs, not timed

    def vector():
        c = ccl.Cosmology(Omega_c=cosmo.Omega_c, Omega_b=cosmo.Omega_b, h=cosmo.h, n_s=cosmo.n_s,
                          sigma8=cosmo.sigma8, Neff=0, Omega_g=0, T_CMB=cosmo.T_cmb,
                          transfer_function="eisenstein_hu", matter_power_spectrum="halofit")
        made = []
        for t, n in zip(tracers, densities):
            if isinstance(t, WeakLensing):
                made.append(ccl.WeakLensingTracer(c, dndz=(z, n), ia_bias=(z, np.full_like(z, 0.5))))
            else:
                made.append(ccl.NumberCountsTracer(c, has_rsd=False, dndz=(z, n), bias=(z, np.full_like(z, t.bias))))
        return np.stack([ccl.angular_cl(c, made[a], made[b], ell) for a, b in pair_indices(len(made))])

    theirs = vector()
    seconds = best_time(vector, repeat=max(2, repeat // 2), warmup=0)
    n_bins = len(tracers) // 2
    ours = reference.reshape(-1, ell.size)
    # cosmojax's shear spectra carry (1 + m) per shear tracer; CCL's have no shear bias
    autos = [np.max(np.abs(theirs[p] * (1.01**2 if a < n_bins else 1.0) / ours[p] - 1.0))
             for p, (a, b) in enumerate(pair_indices(len(tracers))) if a == b]
    return {
        "ccl_seconds": seconds, "ccl_fd_jacobian_seconds": 2 * len(PARAMS) * seconds,
        "ccl_max_rel_diff_autos": float(max(autos)),
        "ccl_peak_memory_bytes": peak_memory_bytes(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 + 2 bins and 4 multipoles, to check the script runs")
    parser.add_argument("--ells", type=int, default=20, help="log-spaced multipoles from 20 to 2000")
    parser.add_argument("--bins", type=int, default=5, help="source bins (and as many lens bins)")
    parser.add_argument("--x64", action="store_true", help="run in float64")
    parser.add_argument("--no-peers", action="store_true", help="time cosmojax alone")
    args = parser.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    n_bins, n_ell, repeat = (2, 4, 2) if args.quick else (args.bins, args.ells, 5)
    emit({"record": "machine", **machine()})
    tracers = survey(n_bins)
    ell = jnp.asarray(np.geomspace(20.0, 2000.0, n_ell))
    vector, record = bench_cosmojax(tracers, ell, repeat)
    record = {"record": "angular_3x2pt", "source_bins": n_bins, "lens_bins": n_bins, "n_ell": n_ell,
              "data_vector": int(vector.size), "parameters": len(PARAMS), "dtype": str(jnp.result_type(float)),
              **record}
    if not args.no_peers:
        record.update(bench_jax_cosmo(tracers, ell, repeat, vector))
        record.update(bench_ccl(tracers, ell, repeat, vector))
        for peer in ("jax_cosmo", "ccl"):
            if f"{peer}_seconds" in record:
                record[f"{peer}_over_cosmojax"] = record[f"{peer}_seconds"] / record["seconds"]
        if "jax_cosmo_jacobian_seconds" in record:
            record["jax_cosmo_jacobian_over_cosmojax"] = record["jax_cosmo_jacobian_seconds"] / record["jacobian_seconds"]
        if "ccl_fd_jacobian_seconds" in record:
            record["ccl_fd_jacobian_over_cosmojax"] = record["ccl_fd_jacobian_seconds"] / record["jacobian_seconds"]
    emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())

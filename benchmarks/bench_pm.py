"""Particle-mesh N-body benchmark: cosmojax against JaxPM on the same mesh, steps and ICs.

Prints one JSON line per (code, mesh): machine, backend, mesh, steps, seconds per step and
peak memory of the forward run and of the gradient (with respect to the white noise), and,
for JaxPM, the ratio of its final P(k) to cosmojax's.

    python benchmarks/bench_pm.py --quick     # 32^3
    python benchmarks/bench_pm.py             # 64^3 and 128^3
    python benchmarks/bench_pm.py --full      # 64^3, 128^3 and 256^3

With ``--fidelity`` it measures large-scale fidelity instead of speed: a clustered run of n^3 particles in a 2n Mpc/h box
(``--spacing`` sets the Mpc/h per particle) from a = 0.02 (paired-fixed initial
noise: noise and -noise with fixed amplitudes) whose z = 0 power, painted on a 2n mesh with
CIC and deconvolved, is divided mode by mode by the linear power and by halofit's
P_NL / P_lin in bins centred on k = 0.05, 0.1, 0.2, 0.3, 0.5, 0.8 h/Mpc (those below half
the particle Nyquist), averaged over ``--realisations`` pairs, for cosmojax with its
force options and for PM++ (``pmpp``, the pmwd-style PM on PyPI) evolving the same
initial particles with its own force and growth tables:

    python benchmarks/bench_pm.py --fidelity --mesh 64 --steps 10 --realisations 3   # 64^3
    python benchmarks/bench_pm.py --fidelity --mesh 256 --steps 30    # the GPU size

Peak memory is XLA's compile-time estimate (arguments + outputs + temporaries) of the jitted
program; on GPU the device allocator's peak is also reported. JaxPM runs with the same
kick-drift-kick step count (its pm_forces, standard leapfrog factors, no FastPM correction).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology import halofit_power, hubble, linear_power, planck2018
from cosmojax.sims import SimConfig, linear_density, lpt, nbody, white_noise
from cosmojax.sims import particle_density as density
from cosmojax.stats import power_spectrum

from _one_loop import box_over_continuum


def _timed(fn, *args, repeats=2):
    """Best wall time of the compiled ``fn``, its peak-memory estimate and its output."""
    compiled = jax.jit(fn).lower(*args).compile()
    out = jax.block_until_ready(compiled(*args))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - start)
    mem = compiled.memory_analysis()
    peak = None
    if mem is not None:
        peak = int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)
    return best, peak, out


def _device_peak():
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def _record(**fields):
    base = {
        "machine": platform.node(),
        "processor": platform.processor() or platform.machine(),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
    }
    base.update(fields)
    print(json.dumps(base), flush=True)


def _forward_and_gradient(forward, noise):
    """Timings and peaks of ``forward`` and of the gradient of sum(forward^2) in the noise.

    The gradient's time and peak are None when it does not fit in device memory (plain
    reverse mode keeps every step's particles: JaxPM at 256^3 asks an 80 GB GPU for 74 GiB).
    """
    t_fwd, m_fwd, final = _timed(forward, noise)
    try:
        t_grad, m_grad, _ = _timed(jax.grad(lambda n: jnp.sum(forward(n) ** 2)), noise)
    except jax.errors.JaxRuntimeError as err:
        if "RESOURCE_EXHAUSTED" not in str(err):
            raise
        t_grad, m_grad = None, None
    return t_fwd, m_fwd, t_grad, m_grad, final


def _timing_fields(t_fwd, m_fwd, t_grad, m_grad, steps):
    fields = dict(forward_s_per_step=t_fwd / steps, forward_peak_bytes=m_fwd,
                  gradient_s_per_step=None if t_grad is None else t_grad / steps, gradient_peak_bytes=m_grad)
    if t_grad is None:
        fields["gradient_error"] = "out of device memory"
    return fields


def bench_cosmojax(config, cosmo, noise):
    return _forward_and_gradient(lambda n: nbody(n, cosmo, config).density[-1], noise)


def _jaxpm_run(config, cosmo, noise, fixed_amplitude=False):
    """KDK with JaxPM's pm_forces from our LPT initial conditions (cell units)."""
    from jaxpm.pm import pm_forces

    cell = config.spacing
    edges = jnp.asarray(config.a_steps)
    init = lpt(noise, cosmo, config, fixed_amplitude=fixed_amplitude)
    disp, mom = init.disp / cell, init.mom / cell
    shape = config.mesh_shape
    omega_m = cosmo.Omega_m

    def acc(d):
        return 1.5 * omega_m * pm_forces(d.reshape(shape + (3,)), mesh_shape=shape, paint_absolute_pos=False).reshape(-1, 3)

    def step(carry, a_pair):
        d, p, f = carry
        a0, a1 = a_pair
        ac = 0.5 * (a0 + a1)
        p = p + f * 0.5 * (a1 - a0) / (a0**2 * hubble(cosmo, a0))
        d = d + p * (a1 - a0) / (ac**3 * hubble(cosmo, ac))
        f = acc(d)
        p = p + f * 0.5 * (a1 - a0) / (a1**2 * hubble(cosmo, a1))
        return (d, p, f), None

    (d, _, _), _ = jax.lax.scan(step, (disp, mom, acc(disp)), (edges[:-1], edges[1:]))
    return d * cell


def bench_jaxpm(config, cosmo, noise):
    return _forward_and_gradient(lambda n: density(_jaxpm_run(config, cosmo, n), config), noise)


FIDELITY_K = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)


def _fidelity_edges(n, box_size):
    """Bins k (1 -+ 0.15) around ``FIDELITY_K``, at least one fundamental wide, for the k
    from 0.75 k_f to half the particle Nyquist."""
    kf = 2 * np.pi / box_size
    centres = [k for k in FIDELITY_K if 0.75 * kf <= k < 0.5 * np.pi * n / box_size]
    return [(k - max(0.15 * k, 0.5 * kf), k + max(0.15 * k, 0.5 * kf)) for k in centres]


def _ratio_to_halofit(final_density, lin_density, cosmo, box_size, n):
    """P_sim / (P_lin x halofit ratio) per fidelity bin, mode-weighted, for a list of paired
    final densities (their powers are averaged) against the linear density of the ICs."""
    rows = []
    for lo, hi in _fidelity_edges(n, box_size):
        edges = np.array([lo, hi])
        p_lin = power_spectrum(lin_density, box_size, kedges=edges)
        p_sim = np.mean([float(power_spectrum(d, box_size, kedges=edges, compensate="cic").power[0]) for d in final_density])
        k = jnp.asarray(p_lin.k)
        theory = float((halofit_power(cosmo, k, 1.0) / linear_power(cosmo, k, 1.0))[0])
        rows.append((float(p_lin.k[0]), p_sim / float(p_lin.power[0]) / theory, int(p_lin.n_modes[0])))
    return rows


#: Bins whose upper edge is below this (h/Mpc) also get the one-loop finite-box factor
BOX_THEORY_K_MAX = 0.13


def _box_factors(cosmo, box_size, n):
    """One-loop SPT's (P_lin + P22 + P13) summed over the n^3 box's modes over the same in
    infinite volume, mode-weighted per fidelity bin (``_one_loop.box_over_continuum``): how
    far halofit's infinite-volume ratio is from what the box can hold. None above
    ``BOX_THEORY_K_MAX``, where one loop no longer describes z = 0."""
    k_table = np.logspace(-5, 2, 4000)
    p_table = np.asarray(linear_power(cosmo, jnp.asarray(k_table), 1.0), dtype=float)

    def power(k):
        return np.exp(np.interp(np.log(np.maximum(k, 1e-5)), np.log(k_table), np.log(p_table)))

    return [box_over_continuum(power, lo, hi, n, box_size) if hi < BOX_THEORY_K_MAX else None
            for lo, hi in _fidelity_edges(n, box_size)]


def _pmpp_run(config, cosmo, noise, fixed_amplitude=True):
    """Displacements at a = 1 of PM++ (``pmpp``, the pmwd-style PM on PyPI) evolving our 2LPT
    particles with its own force (CIC, spectral gradient, no compensation, modes above the
    particle Nyquist removed) and growth tables, on our step edges."""
    from pmpp import Configuration
    from pmpp.cosmology import Cosmology, boltzmann
    from pmpp.nbody import Particles
    from pmpp.nbody import nbody as pmpp_nbody

    edges = tuple(float(a) for a in config.a_steps)
    growth_a = np.union1d(np.linspace(0.0, edges[0], 65), np.union1d(np.linspace(edges[0], edges[-1], 2001), edges))
    conf = Configuration(ptcl_spacing=config.spacing, ptcl_grid_shape=config.mesh_shape, mesh_shape=config.force_factor,
                         a_start=edges[0], a_stop=edges[-1], a_custom=edges, growth_a_custom=tuple(growth_a.tolist()),
                         pallas_cic=jax.default_backend() == "gpu")
    theirs = boltzmann(Cosmology(conf, A_s_1e9=2.1, n_s=float(cosmo.n_s), Omega_m=float(cosmo.Omega_m),
                                 Omega_b=float(cosmo.Omega_b), h=float(cosmo.h)), conf)
    init = lpt(noise, cosmo, config, fixed_amplitude=fixed_amplitude)
    grid = Particles.gen_grid(conf)
    out = pmpp_nbody(Particles(conf, grid.pmid, grid.disp + init.disp, vel=init.mom), theirs, conf)
    # PM++ labels particles by their mesh cell; our lattice point of particle i is pmid_i * cell
    return jnp.asarray(out.disp) + (out.pmid - grid.pmid) * conf.cell_size


# (label, SimConfig options): the default, the options it replaced and TSC
FIDELITY_RUNS = (
    ("lattice, particle band (default)", dict(force_factor=2)),
    ("lattice (default)", dict(force_factor=1)),
    ("lattice, particle band, TSC", dict(force_factor=2, scheme="tsc")),
    ("window, particle band", dict(force_factor=2, compensate="window")),
    ("window", dict(force_factor=1, compensate="window")),
    ("window, mesh band", dict(force_factor=2, force_band="mesh")),
    ("lattice, mesh band (old default)", dict(force_factor=2, compensate="lattice", force_band="mesh")),
    ("none, mesh band", dict(force_factor=2, compensate=False, force_band="mesh")),
)
#: The default force and the one it replaced: the before and after of the fidelity table.
QUICK_FIDELITY_RUNS = (FIDELITY_RUNS[0], FIDELITY_RUNS[6])


def bench_fidelity(n, steps, cosmo, peer=True, realisations=1, runs=FIDELITY_RUNS, peer_factors=(2, 1), spacing=2.0):
    """Large-scale fidelity of clustered runs: one JSON line per code and force option
    (``runs``, and PM++ at each of ``peer_factors``), the ratio averaged over
    ``realisations`` paired-fixed pairs (seeds 0, 1, ...), ``spacing`` Mpc/h between particles."""
    box = spacing * n
    if peer:
        try:
            # importing PM++ turns on jax_enable_x64 for the whole process: do it before any
            # run, so that every code sees the same settings
            import pmpp.nbody  # noqa: F401
        except ImportError:
            pass
    # float32 draws whatever x64 says, so a realisation is the same noise in every run
    noises = [white_noise(jax.random.key(seed), (n, n, n), dtype=jnp.float32) for seed in range(realisations)]
    paint_shape = (2 * n,) * 3
    box_factors = _box_factors(cosmo, box, n)
    runs = [("cosmojax",) + run for run in runs]
    if peer:
        runs += [("pmpp", "PM++, its defaults", dict(force_factor=f)) for f in peer_factors]
    for code, label, options in runs:
        config = SimConfig(mesh_shape=n, box_size=box, a_init=0.02, steps=steps, **options)
        if code == "pmpp":
            try:
                import pmpp  # noqa: F401
            except ImportError:
                _record(code="pmpp", test="fidelity", mesh=n, skipped="pmpp is not installed")
                continue

            def final(nz, config=config):
                return _pmpp_run(config, cosmo, nz)
        else:
            final = jax.jit(lambda nz, config=config: nbody(nz, cosmo, config, fixed_amplitude=True).disp[-1])
        paint = config.replace(scheme="cic")
        start = time.perf_counter()
        ratios = []
        for noise in noises:
            lin = linear_density(noise, cosmo, config, 1.0, fixed_amplitude=True)
            dens = [density(final(s * noise), paint, shape=paint_shape) for s in (1, -1)]
            rows = _ratio_to_halofit(dens, lin, cosmo, box, n)
            ratios.append([r[1] for r in rows])
        seconds = time.perf_counter() - start
        mean = np.mean(ratios, axis=0)
        spread = np.std(ratios, axis=0, ddof=1) / np.sqrt(len(ratios)) if len(ratios) > 1 else np.full(len(mean), np.nan)
        _record(code=code, test="fidelity", label=label, mesh=n, box_size=box, steps=steps, a_init=0.02,
                paired_fixed=True, realisations=realisations, seconds=round(seconds, 1),
                x64=bool(jax.config.jax_enable_x64),
                **{k: v for k, v in options.items()},
                k=[round(r[0], 4) for r in rows], ratio_to_halofit=[round(float(r), 4) for r in mean],
                standard_error=[None if np.isnan(e) else round(float(e), 4) for e in spread],
                n_modes=[r[2] for r in rows],
                box_one_loop=[None if f is None else round(f, 4) for f in box_factors],
                ratio_to_halofit_in_box=[None if f is None else round(float(r) / f, 4) for r, f in zip(mean, box_factors)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="32^3 only; with --fidelity 16^3 and two forces (the default and the old one)")
    size.add_argument("--full", action="store_true", help="also 256^3")
    parser.add_argument("--steps", type=int, default=10, help="time steps (default 10)")
    parser.add_argument("--mesh", type=int, nargs="+", help="particle meshes to run (overrides the size flags)")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (JaxPM for timings, PM++ for fidelity)")
    parser.add_argument("--fidelity", action="store_true",
                        help="the large-scale fidelity table (P / linear x halofit) of clustered runs instead of timings")
    parser.add_argument("--spacing", type=float, default=2.0,
                        help="--fidelity: Mpc/h between particles, the box is spacing x mesh (default 2)")
    parser.add_argument("--default-force-only", action="store_true",
                        help="--fidelity: run only the default force (for many realisations)")
    parser.add_argument("--realisations", type=int, default=1,
                        help="paired-fixed pairs averaged in the fidelity table (default 1)")
    args = parser.parse_args(argv)
    meshes = [32] if args.quick else [64, 128, 256] if args.full else [64, 128]
    if args.mesh:
        meshes = args.mesh
    cosmo = planck2018()
    if args.fidelity:
        runs = FIDELITY_RUNS[:1] if args.default_force_only else QUICK_FIDELITY_RUNS if args.quick else FIDELITY_RUNS
        for n in args.mesh or ([16] if args.quick else meshes):
            bench_fidelity(n, args.steps, cosmo, peer=not args.no_peer, realisations=args.realisations, runs=runs,
                           spacing=args.spacing)
        return 0
    for n in meshes:
        config = SimConfig(mesh_shape=n, box_size=4.0 * n, a_init=0.1, steps=args.steps)
        noise = white_noise(jax.random.key(0), config.mesh_shape)
        steps = len(config.a_steps) - 1
        t_fwd, m_fwd, t_grad, m_grad, ours = bench_cosmojax(config, cosmo, noise)
        _record(
            code="cosmojax", mesh=n, box_size=config.box_size, steps=steps, gradient=config.gradient,
            **_timing_fields(t_fwd, m_fwd, t_grad, m_grad, steps), device_peak_bytes=_device_peak(),
        )
        if args.no_peer:
            continue
        try:
            import jaxpm  # noqa: F401
        except ImportError:
            _record(code="jaxpm", mesh=n, steps=steps, skipped="jaxpm is not installed")
            continue
        t_fwd, m_fwd, t_grad, m_grad, theirs = bench_jaxpm(config, cosmo, noise)
        kedges = 2 * np.pi / config.box_size * (np.arange(1, n // 4) + 0.5)
        p_ours = power_spectrum(ours, config.box_size, kedges=kedges, compensate="cic").power
        p_theirs = power_spectrum(theirs, config.box_size, kedges=kedges, compensate="cic").power
        ratio = np.asarray(p_theirs / p_ours)
        _record(
            code="jaxpm", mesh=n, box_size=config.box_size, steps=steps,
            **_timing_fields(t_fwd, m_fwd, t_grad, m_grad, steps), device_peak_bytes=_device_peak(),
            pk_ratio_k=np.asarray((kedges[:-1] + kedges[1:]) / 2).round(5).tolist(),
            pk_ratio_to_cosmojax=ratio.round(5).tolist(),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Particle-mesh N-body benchmark: cosmojax against JaxPM on the same mesh, steps and ICs.

Prints one JSON line per (code, mesh): machine, backend, mesh, steps, seconds per step and
peak memory of the forward run and of the gradient (with respect to the white noise), and,
for JaxPM, the ratio of its final P(k) to cosmojax's.

    python benchmarks/bench_pm.py --quick     # 32^3
    python benchmarks/bench_pm.py             # 64^3 and 128^3
    python benchmarks/bench_pm.py --full      # 64^3, 128^3 and 256^3

With ``--fidelity`` it measures large-scale fidelity instead of speed: a clustered run of n^3 particles in a 2n Mpc/h box from a = 0.02 (paired-fixed initial
noise: noise and -noise with fixed amplitudes) whose z = 0 power, painted on a 2n mesh with
CIC and deconvolved, is divided mode by mode by the linear power and by halofit's
P_NL / P_lin in bins centred on k = 0.05, 0.1, 0.2, 0.3, 0.5, 0.8 h/Mpc (those below half
the particle Nyquist), for cosmojax with its "blend", "window" and "lattice" (default)
force compensations and for JaxPM from the same initial particles:

    python benchmarks/bench_pm.py --fidelity --mesh 64 --steps 30     # 64^3 and its table
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
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import white_noise
from cosmojax.sims.lpt import linear_density, lpt
from cosmojax.sims.nbody import density, nbody
from cosmojax.stats import power_spectrum


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


def bench_fidelity(n, steps, cosmo, peer=True):
    """Large-scale fidelity of a clustered run; one JSON line per code and compensation."""
    box = 2.0 * n
    noise = white_noise(jax.random.key(0), (n, n, n))
    paint_shape = (2 * n,) * 3
    runs = [("cosmojax", dict(force_factor=2, compensate="blend")), ("cosmojax", dict(force_factor=2, compensate="window")),
            ("cosmojax", dict(force_factor=2, compensate="lattice")), ("cosmojax", dict(force_factor=1, compensate="blend"))]
    if peer:
        runs.append(("jaxpm", dict(force_factor=1)))
    for code, options in runs:
        config = SimConfig(mesh_shape=n, box_size=box, a_init=0.02, steps=steps, **options)
        lin = linear_density(noise, cosmo, config, 1.0, fixed_amplitude=True)
        if code == "jaxpm":
            try:
                import jaxpm  # noqa: F401
            except ImportError:
                _record(code="jaxpm", test="fidelity", mesh=n, skipped="jaxpm is not installed")
                continue
            final = jax.jit(lambda nz: _jaxpm_run(config, cosmo, nz, fixed_amplitude=True))
        else:
            final = jax.jit(lambda nz: nbody(nz, cosmo, config, fixed_amplitude=True).disp[-1])
        paint = config.replace(scheme="cic")
        start = time.perf_counter()
        dens = [density(final(s * noise), paint, shape=paint_shape) for s in (1, -1)]
        seconds = time.perf_counter() - start
        rows = _ratio_to_halofit(dens, lin, cosmo, box, n)
        _record(code=code, test="fidelity", mesh=n, box_size=box, steps=steps, a_init=0.02, paired_fixed=True,
                seconds=round(seconds, 1), **{k: v for k, v in options.items()},
                k=[round(r[0], 4) for r in rows], ratio_to_halofit=[round(r[1], 4) for r in rows],
                n_modes=[r[2] for r in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="32^3 only")
    size.add_argument("--full", action="store_true", help="also 256^3")
    parser.add_argument("--steps", type=int, default=10, help="time steps (default 10)")
    parser.add_argument("--mesh", type=int, nargs="+", help="particle meshes to run (overrides the size flags)")
    parser.add_argument("--no-peer", action="store_true", help="skip JaxPM even if installed")
    parser.add_argument("--fidelity", action="store_true",
                        help="also the large-scale fidelity table (P / linear x halofit) of clustered runs")
    args = parser.parse_args(argv)
    meshes = [32] if args.quick else [64, 128, 256] if args.full else [64, 128]
    if args.mesh:
        meshes = args.mesh
    cosmo = planck2018()
    if args.fidelity:
        for n in meshes:
            bench_fidelity(n, args.steps, cosmo, peer=not args.no_peer)
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

"""``cosmojax simulate``: LPT initial conditions and a particle-mesh run, with snapshots
(npz) and a plot of the measured P(k) against linear theory."""

from __future__ import annotations

import json
import os
import time

from cosmojax.commands._nbins import check_box
from cosmojax.commands._runs import add_mesh_arguments, add_output_arguments, check_out_dir


def register(subparsers) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate",
        help="run a particle-mesh N-body simulation and write snapshots and a P(k) plot",
        description=(
            "Generate white noise, 2LPT initial conditions and run a FastPM-style "
            "kick-drift-kick particle-mesh simulation for Planck 2018. Writes one .npz per "
            "snapshot (positions, velocities, density mesh), pk.json and pk.png."
        ),
    )
    add_mesh_arguments(p, mesh=64, box=256.0, mesh_help="particles per side")
    p.add_argument("--steps", type=int, default=10, help="time steps (default 10; 0: LPT snapshots only)")
    p.add_argument("--a-init", type=float, default=0.1, help="initial scale factor, 0 < a < 1 (default 0.1, z = 9)")
    p.add_argument(
        "--snapshots", type=float, nargs="+", default=[1.0],
        help="output scale factors, each in (--a-init, 1]; 1 is today, z = 0 (default 1.0)",
    )
    p.add_argument("--force-factor", type=int, default=1, help="force mesh / particle grid (default 1)")
    p.add_argument("--lpt-order", type=int, choices=(1, 2), default=2, help="LPT order of the ICs (default 2)")
    p.add_argument("--scheme", choices=("ngp", "cic", "tsc"), default="cic", help="mass assignment (default cic)")
    p.add_argument("--fixed-amplitude", action="store_true", help="set every |delta_k| to its rms")
    add_output_arguments(p, out="run")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the simulation, write the snapshots, pk.json and pk.png; returns the exit status."""
    _check_arguments(args)
    check_out_dir(args.out)

    import jax
    import numpy as np

    from cosmojax.cosmology import halofit_power, linear_power, planck2018
    from cosmojax.io import write_atomic, write_snapshot
    from cosmojax.sims import SimConfig, peculiar_velocity, prime, simulate, white_noise
    from cosmojax.stats import default_kedges, power_spectrum

    config = SimConfig(
        mesh_shape=args.mesh,
        box_size=args.box,
        a_init=args.a_init,
        steps=args.steps,
        a_snapshots=tuple(sorted(args.snapshots)),
        force_factor=args.force_factor,
        lpt_order=args.lpt_order,
        scheme=args.scheme,
    )
    cosmo = planck2018()
    start = time.perf_counter()

    noise = white_noise(jax.random.key(args.seed), config.mesh_shape)
    kedges = default_kedges(config.mesh_shape, config.box_size)
    spectra = {}

    def write(snap):
        """Write one snapshot as the forward model reaches it; returns its path."""
        a = min(config.a_snapshots, key=lambda x: abs(x - float(snap.a)))  # the exact requested value
        path = write_snapshot(
            os.path.join(args.out, f"snapshot_a{a:.4f}.npz"),
            meta={"a": a, "box_size": config.box_size, "mesh": args.mesh, "seed": args.seed,
                  "units": {"pos": "Mpc/h, in [0, box_size)", "vel": "km/s, peculiar velocity",
                            "density": f"overdensity delta, {config.scheme.upper()} on the {args.mesh}^3 mesh"}},
            a=np.asarray(a),
            pos=snap.pos,
            vel=peculiar_velocity(snap.mom, a),
            density=snap.density,
        )
        ps = power_spectrum(snap.density, config.box_size, kedges=kedges, compensate=config.scheme)
        spectra[a] = (np.asarray(ps.k), np.asarray(ps.power))
        return path

    print(f"cosmojax simulate: {args.mesh}^3 particles, {args.steps} steps; compiling the particle mesh "
          "first (a minute on a CPU for a new size), then the steps", flush=True)
    paths = simulate(
        noise, prime(cosmo, config), config, fixed_amplitude=args.fixed_amplitude, on_snapshot=write,
        progress=not args.no_progress,
    )
    seconds = time.perf_counter() - start

    summary = {
        "mesh": args.mesh,
        "box_size": config.box_size,
        "steps": len(config.a_steps) - 1 if config.steps else 0,
        "seconds": seconds,
        "snapshots": paths,
        "power": {
            f"{a:.4f}": {
                "k": k.tolist(),
                "power": p.tolist(),
                "linear": np.asarray(linear_power(cosmo, k, a)).tolist(),
                "halofit": np.asarray(halofit_power(cosmo, k, a)).tolist(),
            }
            for a, (k, p) in spectra.items()
        },
    }
    write_atomic(os.path.join(args.out, "pk.json"), json.dumps(summary, indent=1) + "\n")
    _plot(summary, config, os.path.join(args.out, "pk.png"))
    print(f"wrote {len(paths)} snapshot(s), pk.json and pk.png to {args.out} in {seconds:.1f} s")
    return 0


def _check_arguments(args) -> None:
    """Refuse bad flags before any work, in the command line's own words."""
    for flag, value, low in (("--mesh", args.mesh, 4), ("--steps", args.steps, 0)):
        if value < low:
            raise ValueError(f"{flag} must be a whole number >= {low}; got {value}.")
    if not 0 < args.a_init < 1:
        raise ValueError(f"--a-init must be a scale factor between 0 and 1 (z > 0); got {args.a_init:g}.")
    bad = [a for a in args.snapshots if not args.a_init < a <= 1]
    if bad:
        raise ValueError(f"--snapshots must be scale factors in (--a-init {args.a_init:g}, 1] (1 is today); "
                         f"got {' '.join(f'{a:g}' for a in bad)}.")
    if len(set(args.snapshots)) != len(args.snapshots):
        raise ValueError(f"--snapshots lists a scale factor twice: {' '.join(f'{a:g}' for a in args.snapshots)}.")
    check_box(args.box)
    if args.force_factor < 1:
        raise ValueError(f"--force-factor must be a whole number >= 1; got {args.force_factor}.")


def _plot(summary, config, path) -> None:
    """P(k) of every snapshot over halofit (Takahashi 2012) at its redshift, with the shot noise
    and the Nyquist frequency; pk.json holds linear theory as well."""
    import numpy as np

    from cosmojax.plotting import power_spectrum_figure, save_figure

    spectra = summary["power"]
    n, box = summary["mesh"], summary["box_size"]
    fig = power_spectrum_figure(
        spectra[next(iter(spectra))]["k"],
        [entry["power"] for entry in spectra.values()],
        reference=[entry["halofit"] for entry in spectra.values()],
        reference_label="halofit",
        label=[f"particle mesh, a = {float(a):g} (z = {1 / float(a) - 1:.2g})" for a in spectra],
        shot_noise=box**3 / n**3,
        k_nyquist=np.pi * n / box,
        title=f"{n}$^3$ particles, {box:g} Mpc/h, {summary['steps']} steps; {config.scheme.upper()} "
              "painting, deconvolved",
    )
    save_figure(fig, path)

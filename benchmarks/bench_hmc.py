"""HMC over the weights of a neural bias model and sigma8: numpyro against blackjax.

The neural bias model of Charnock et al. (2020) with known, fixed initial conditions: 2LPT matter
density at sigma8 (Planck 2018), haloes drawn as Poisson counts from a known one-filter
``NeuralBias`` (7 weights). Both backends sample the same posterior (the same log density)
with NUTS and a dense mass matrix, starting every chain at the MAP. Prints JSON lines:

- ``{"record": "machine", ...}``;
- ``{"record": "hmc", "n": ..., "backend": ..., ...}`` per mesh size and backend: wall
  seconds of warm-up plus sampling (compilation included), the smallest effective sample
  size over all 8 parameters, per second and per 1000 gradient evaluations (leapfrog
  steps after warm-up, all chains: a cost that does not depend on the hardware, while
  vmapped chains each wait for the longest trajectory), the largest split R-hat, divergences,
  acceptance, whether the true sigma8 lies in the 95% interval, and the fraction of voxels
  whose true expected count lies in its 95% interval.

``--quick`` runs 16^3 with one short chain per backend and trajectories of at most 31 leapfrog steps
(only to show the script works); the default runs
32^3 and 64^3 with 4 chains of 500 warm-up and 1000 draws. ``--dynamics pm`` runs a
particle mesh inside every log-density evaluation (``--steps``, ``--scheme tsc`` for a
likelihood that is smooth in sigma8; with CIC it is jagged), ``--backends`` picks samplers,
``--chain-method sequential`` runs the chains one after another (cheaper on a CPU).
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
from _common import emit, machine  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

from cosmojax.cosmology import planck2018  # noqa: E402
from cosmojax.infer import (  # noqa: E402
    find_map,
    make_posterior,
    matter_density,
    rate_interval,
    sample_posterior,
    sigma8_family,
    simulate_haloes,
)
from cosmojax.infer import CHAIN_METHODS  # noqa: E402
from cosmojax.nn import NeuralBias  # noqa: E402
from cosmojax.sims import SimConfig, white_noise  # noqa: E402

COSMO = planck2018()
TRUE_WEIGHTS = {"shells": [[[1.0]], [[0.2]], [[0.05]], [[0.0]]], "kernel": [[1.5]], "bias": [-1.0]}


def problem(n: int, dynamics: str = "lpt", scheme: str = "cic", steps: int = 4):
    """Posterior, true rate and MAP for haloes on an n^3 mesh of 8 Mpc/h cells.

    dynamics "lpt": the 2LPT density at a = 1; "pm": a particle-mesh run of ``steps`` steps
    from 2LPT at a = 0.1 inside every log-density evaluation. scheme: mass assignment.
    """
    config = SimConfig(mesh_shape=n, box_size=8.0 * n, scheme=scheme, steps=steps)
    family = sigma8_family(white_noise(jax.random.key(0), config.mesh_shape), COSMO, config, dynamics=dynamics)
    network = NeuralBias(features=1, act="softplus")
    params = network.init(jax.random.key(1), matter_density(family, COSMO.sigma8, config))
    params["params"]["IsotropicConv3D_0"]["shells"] = jnp.asarray(TRUE_WEIGHTS["shells"])
    params["params"]["Dense_0"]["kernel"] = jnp.asarray(TRUE_WEIGHTS["kernel"])
    params["params"]["Dense_0"]["bias"] = jnp.asarray(TRUE_WEIGHTS["bias"])
    counts, rate = simulate_haloes(jax.random.key(2), family, network, params, COSMO.sigma8, config)
    posterior = make_posterior(counts, family, network, params, config)
    start = {"weights": ravel_pytree(network.init(jax.random.key(3), rate))[0], "sigma8": jnp.asarray(0.7)}
    t0 = time.perf_counter()
    best, _ = find_map(posterior, start, steps=800)
    jax.block_until_ready(best)
    return posterior, rate, best, time.perf_counter() - t0, float(counts.sum())


def run(
    n: int, backend: str, num_warmup: int, num_samples: int, num_chains: int, max_tree_depth: int = 10,
    dynamics: str = "lpt", scheme: str = "cic", steps: int = 4, prepared=None, chain_method: str = "vectorized",
) -> dict:
    """One backend's record; ``prepared`` is ``problem(n, dynamics, scheme, steps)`` when
    already built (the backends share the posterior and its MAP)."""
    prepared = problem(n, dynamics, scheme, steps) if prepared is None else prepared
    posterior, true_rate, best, map_seconds, n_haloes = prepared
    result = sample_posterior(
        jax.random.key(4), posterior, best, backend=backend,
        num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains, max_tree_depth=max_tree_depth,
        chain_method=chain_method,
    )
    lo8, hi8 = np.percentile(result.flat("sigma8"), [2.5, 97.5])
    lo, hi = rate_interval(posterior, result)
    truth = np.asarray(true_rate)
    return {
        "record": "hmc", "n": n, "backend": backend, "n_haloes": n_haloes,
        "dynamics": dynamics, "scheme": scheme, "pm_steps": steps if dynamics == "pm" else 0,
        "chains": num_chains, "chain_method": chain_method, "warmup": num_warmup, "draws": num_samples, "max_tree_depth": max_tree_depth,
        "map_seconds": map_seconds, "seconds": result.seconds,
        "min_ess": result.min_ess, "ess_per_second": result.min_ess / result.seconds,
        "gradient_evaluations": result.gradient_evaluations, "mean_leapfrog_steps": float(result.num_steps.mean()),
        "ess_per_1000_gradients": 1000.0 * result.ess_per_gradient,
        "max_rhat": result.max_rhat, "divergences": result.divergences, "acceptance": result.acceptance,
        "sigma8_mean": float(result.flat("sigma8").mean()), "sigma8_95": [float(lo8), float(hi8)],
        "sigma8_in_95": bool(lo8 <= COSMO.sigma8 <= hi8),
        "rate_coverage_95": float(np.mean((truth >= lo) & (truth <= hi))),
        "rate_median_relative_width": float(np.median((hi - lo) / truth)),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16^3 only, short chains")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="mesh sizes (full run)")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up transitions per chain (full run)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (full run)")
    parser.add_argument("--chains", type=int, default=4, help="chains (full run)")
    parser.add_argument("--chain-method", choices=CHAIN_METHODS, default="vectorized",
                        help="chains under vmap (best on a GPU) or one after another (cheaper on a CPU)")
    parser.add_argument("--dynamics", choices=("lpt", "pm"), default="lpt", help="2LPT or particle mesh")
    parser.add_argument("--scheme", choices=("cic", "tsc"), default="cic", help="mass assignment")
    parser.add_argument("--steps", type=int, default=4, help="particle-mesh steps from a = 0.1 (--dynamics pm)")
    parser.add_argument("--backends", nargs="+", choices=("blackjax", "numpyro"), default=["blackjax", "numpyro"],
                        help="samplers to run")
    args = parser.parse_args(argv)
    emit({"record": "machine", **machine()})
    if args.quick:
        sizes, warmup, draws, chains, depth = (16,), 50, 50, 1, 5
    else:
        sizes, warmup, draws, chains, depth = args.sizes, args.warmup, args.draws, args.chains, 10
    for n in sizes:
        prepared = problem(n, args.dynamics, args.scheme, args.steps)
        for backend in args.backends:
            emit(run(
                n, backend, warmup, draws, chains, depth, args.dynamics, args.scheme, args.steps, prepared,
                args.chain_method,
            ))


if __name__ == "__main__":
    main()

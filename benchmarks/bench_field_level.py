"""Field-level HMC of the initial white noise: how the mass-assignment scheme sets mixing.

The problem of notebooks/field_level_inference.ipynb: the 2LPT density (a = 1, Planck 2018)
of an n^3 particle grid in a box of 16 n Mpc/h, painted on the n^3 mesh, plus Gaussian
pixel noise of 0.3 times the clean density's rms. ``sample_initial_conditions`` draws the
n^3 white-noise numbers with HMC from the MAP. The same data are modelled with CIC and
with TSC painting: CIC's kernel has kinks, so the log posterior's gradient jumps whenever a
particle crosses a mesh plane, and leapfrog needs a smaller step. Prints JSON lines:

- ``{"record": "machine", ...}``;
- ``{"record": "field_hmc", "n": ..., "scheme": ..., ...}`` per size and scheme: seconds to
  the MAP and of warm-up plus sampling (compilation included), the adapted leapfrog step
  (whitened units), acceptance, divergences; the largest split R-hat and the smallest and
  median effective sample size over the cells and over the large-scale modes
  (0 < k < 0.1 h/Mpc, ``large_scale_modes``); the large-scale ESS per second; the smallest
  cross-correlation r(k < 0.1 h/Mpc) of the posterior mean and of the last draw with the
  truth; the sampled over the linear Wiener variance of the large-scale modes.

``--quick`` runs 16^3 with one chain of 20 + 20 transitions per scheme (only to show the
script works); the default runs 16^3 and 32^3 with 2 chains of 100 warm-up and 200 draws of
24 leapfrog steps.
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

from cosmojax.cosmology import planck2018  # noqa: E402
from cosmojax.infer import chain_diagnostics  # noqa: E402
from cosmojax.infer import (  # noqa: E402
    large_scale_modes,
    linear_mode_variance,
    make_field_posterior,
    mode_variance,
    noisy_observation,
    reconstruct_initial_conditions,
    sample_initial_conditions,
)
from cosmojax.mesh import rfftn_kmag  # noqa: E402
from cosmojax.sims import SimConfig, white_noise  # noqa: E402
from cosmojax.stats import cross_correlation  # noqa: E402

COSMO = planck2018()
KMAX = 0.1  # h/Mpc: the scales the data constrain


def problem(n: int, scheme: str, noise_level: float = 0.3):
    """The posterior, the true white noise and the MAP (with its seconds) for an n^3 grid."""
    config = SimConfig(mesh_shape=n, box_size=16.0 * n, scheme=scheme)
    truth = white_noise(jax.random.key(0), config.mesh_shape)
    data, sigma = noisy_observation(jax.random.key(1), truth, COSMO, config, noise_level)
    posterior = make_field_posterior(data, sigma, COSMO, config)
    t0 = time.perf_counter()
    w_map, _ = reconstruct_initial_conditions(posterior, jnp.zeros_like(truth), steps=300)
    w_map.block_until_ready()
    return posterior, truth, w_map, time.perf_counter() - t0


def run(n: int, scheme: str, num_warmup: int, num_samples: int, num_chains: int, steps: int) -> dict:
    posterior, truth, w_map, map_seconds = problem(n, scheme)
    box = posterior.config.box_size
    res = sample_initial_conditions(
        jax.random.key(2), posterior, w_map, num_warmup=num_warmup, num_samples=num_samples,
        num_chains=num_chains, num_integration_steps=steps,
    )
    rhat, ess = chain_diagnostics({"modes": np.asarray(large_scale_modes(res.samples["noise"], box, KMAX))})
    draws = res.flat()

    def r_min(field):
        r = cross_correlation(field, truth, box)
        return float(np.min(np.asarray(r.power)[np.asarray(r.k) < KMAX]))

    kmag = np.asarray(rfftn_kmag(posterior.config.mesh_shape, box))
    low = (kmag > 0) & (kmag < KMAX)
    sampled = np.asarray(mode_variance(res.samples["noise"]))[low].mean()
    cell_ess = res.ess["noise"]
    return {
        "record": "field_hmc",
        "n": n,
        "box_size": box,
        "scheme": scheme,
        "num_chains": num_chains,
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "leapfrog_steps": steps,
        "map_seconds": round(map_seconds, 2),
        "seconds": round(res.seconds, 2),
        "step_size": round(float(np.mean(res.step_size)), 4),
        "acceptance": round(res.acceptance, 3),
        "divergences": res.divergences,
        "max_rhat_cells": round(res.max_rhat, 4),
        "min_ess_cells": round(float(np.min(cell_ess)), 1),
        "median_ess_cells": round(float(np.median(cell_ess)), 1),
        "max_rhat_modes": round(float(np.max(rhat["modes"])), 4),
        "min_ess_modes": round(float(np.min(ess["modes"])), 1),
        "median_ess_modes": round(float(np.median(ess["modes"])), 1),
        "min_ess_modes_per_s": round(float(np.min(ess["modes"])) / res.seconds, 3),
        "r_mean_min": round(r_min(draws.mean(0)), 4),
        "r_draw_min": round(r_min(draws[-1]), 4),
        "variance_over_wiener": round(float(sampled / np.asarray(linear_mode_variance(posterior))[low].mean()), 3),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16^3, one short chain per scheme")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32], help="particles per side")
    parser.add_argument("--schemes", nargs="+", default=["cic", "tsc"], choices=["cic", "tsc"])
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=24, help="leapfrog steps per HMC transition")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.chains, args.warmup, args.samples = [16], 1, 20, 20
    emit({"record": "machine", **machine()})
    for n in args.sizes:
        for scheme in args.schemes:
            emit(run(n, scheme, args.warmup, args.samples, args.chains, args.steps))


if __name__ == "__main__":
    main()

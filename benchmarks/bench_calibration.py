"""Simulation-based calibration of the neural-bias posterior over repeated synthetic trials.

Each trial draws the weights of a ``NeuralBias`` (one filter, 7 weights, or
``--features``) and sigma8 from the posterior's own priors (N(0, 1) and N(0.8, 0.2)),
Poisson haloes from them on an n^3 mesh of fixed 2LPT initial conditions (8 Mpc/h
voxels), then samples the posterior in one of two ways:

- ``--starts 1``: Adam from one random network initialisation to the MAP, and one NUTS
  chain from there (blackjax, dense mass matrix);
- ``--starts K`` (K > 1): ``sample_modes``: Adam from K random initialisations, NUTS
  chains from the ``--modes`` distinct optima of largest Laplace evidence, each chain
  weighted by its mode's evidence.

All trials run as one vmapped, compiled program. For a calibrated posterior, the truth
falls inside the central intervals at their nominal rates and its rank among the draws is
uniform (Talts et al. 2018). Prints JSON lines:

- ``{"record": "machine", ...}``;
- ``{"record": "calibration", "parameter": ..., ...}`` per quantity (sigma8; the mean
  expected count per voxel and the expected count in voxel 0, functions of the weights
  that do not change when hidden units are permuted; the weights by index): coverage at
  50/68/90/95% with its binomial standard error, and the chi-square of the rank
  histogram (8 bins, 7 degrees of freedom: 99% below 18.5);
- with ``--per-trial``, ``{"record": "trial", ...}`` per trial: the true sigma8 and
  weights, divergences, modes above 1% of the evidence, the truth's quantile in the
  weighted posterior of each quantity and the weights' posterior sd;
- ``{"record": "calibration_run", ...}``: sizes, seconds, divergences, acceptance, and for
  K > 1 how many trials had more than one distinct mode with at least 1% of the evidence.

``--target-accept`` sets NUTS's target acceptance (smaller steps on curved ridges).
``--quick`` runs 2 trials on an 8^3 mesh with short chains, 4 starts and 2 modes (only to
show the script works); the default runs 100 trials on 16^3, 300 warm-up and 400 draws,
8 starts and 3 modes.
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
    adam_ascent,
    interval_coverage,
    make_posterior,
    matter_density,
    nuts_chain,
    random_starts,
    sample_modes,
    sbc_ranks,
    sigma8_family,
    weighted_draws,
)
from cosmojax.nn import NeuralBias  # noqa: E402
from cosmojax.sims import SimConfig, white_noise  # noqa: E402

LEVELS = (0.5, 0.68, 0.9, 0.95)
RANK_BINS = 8


def run(
    n: int, trials: int, warmup: int, draws: int, starts: int = 1, modes: int = 1, features: int = 1, thin: int = 10,
    per_trial: bool = False, target_accept: float = 0.8,
) -> list[dict]:
    config = SimConfig(mesh_shape=n, box_size=8.0 * n)
    family = sigma8_family(white_noise(jax.random.key(0), config.mesh_shape), planck2018(), config)
    network = NeuralBias(features=features)
    delta = matter_density(family, 0.8, config)
    example = network.init(jax.random.key(1), delta)
    # the prior and the rate, for drawing truths; each trial builds its posterior from its own counts
    model = make_posterior(np.zeros(config.mesh_shape), family, network, example, config)
    mu8, sd8 = model.sigma8_prior

    def trial(key):
        k_w, k_s8, k_counts, k_init, k_warm, k_draw = jax.random.split(key, 6)
        truth = {
            "weights": model.weight_scale * jax.random.normal(k_w, (model.n_weights,)),
            "sigma8": mu8 + sd8 * jax.random.normal(k_s8),
        }
        counts = jax.random.poisson(k_counts, model.rate(truth)).astype(delta.dtype)
        log_density = make_posterior(counts, family, network, example, config).log_density

        if starts == 1:
            start = {"weights": ravel_pytree(network.init(k_init, delta))[0], "sigma8": jnp.asarray(mu8)}
            best, _ = adam_ascent(log_density, start, steps=400)
            positions, divergent, accept, _ = nuts_chain(
                k_warm, k_draw, log_density, best, num_warmup=warmup, num_samples=draws, dense_mass=True,
                max_tree_depth=8, target_accept=target_accept,
            )
            weights, masses = jnp.ones(draws) / draws, jnp.ones(1)
        else:
            samples = sample_modes(
                k_warm, log_density, random_starts(k_init, network, config.mesh_shape, starts), num_modes=modes,
                num_warmup=warmup, num_samples=draws, steps=400, max_tree_depth=8, target_accept=target_accept,
            )
            positions, weights = weighted_draws(samples)
            divergent, accept, masses = samples.is_divergent, samples.acceptance, mode_masses(samples)
        return {
            "truth": truth, "positions": positions, "weights": weights, "divergent": divergent.sum(),
            "accept": accept.mean(), "masses": masses,
            "true_rate": rate_summary(truth), "rates": jax.lax.map(rate_summary, positions),
        }

    def rate_summary(position):
        """Permutation-invariant functions of the weights: the mean expected count and that of one voxel."""
        rate = model.rate(position)
        return jnp.stack([rate.mean(), rate[0, 0, 0]])

    t0 = time.perf_counter()
    out = jax.jit(jax.vmap(trial))(jax.random.split(jax.random.key(7), trials))
    jax.block_until_ready(out)
    seconds = time.perf_counter() - t0

    truth, positions, divergent, masses = out["truth"], out["positions"], out["divergent"], out["masses"]
    weights = np.asarray(out["weights"])
    columns = {"sigma8": (np.asarray(truth["sigma8"]), np.asarray(positions["sigma8"]))}
    columns["mean_rate"] = (np.asarray(out["true_rate"][:, 0]), np.asarray(out["rates"][..., 0]))
    columns["rate_voxel_0"] = (np.asarray(out["true_rate"][:, 1]), np.asarray(out["rates"][..., 1]))
    for i in range(model.n_weights):
        columns[f"weight_{i}"] = (np.asarray(truth["weights"][:, i]), np.asarray(positions["weights"][..., i]))
    records = []
    for name, (true, post) in columns.items():
        cover = interval_coverage(true, post, LEVELS, weights=weights)
        thinned = post[:, ::thin]
        ranks = sbc_ranks(true, thinned, weights=weights[:, ::thin])
        hist = np.bincount(ranks * RANK_BINS // (thinned.shape[1] + 1), minlength=RANK_BINS)
        expected = trials / RANK_BINS
        records.append({
            "record": "calibration", "parameter": name, "n": n, "trials": trials,
            "coverage": {str(level): rate for level, (rate, _) in cover.items()},
            "coverage_error": {str(level): err for level, (_, err) in cover.items()},
            "rank_histogram": hist.tolist(),
            "rank_chi2": float(np.sum((hist - expected) ** 2 / expected)),
        })
    masses = np.asarray(masses)
    if per_trial:
        records.extend(trial_records(out, weights))
    records.append({
        "record": "calibration_run", "n": n, "trials": trials, "warmup": warmup, "draws": draws,
        "starts": starts, "modes": modes, "features": features, "target_accept": target_accept, "seconds": seconds,
        "divergences": int(np.sum(divergent)), "trials_with_divergences": int(np.sum(np.asarray(divergent) > 0)),
        "acceptance": float(np.mean(out["accept"])),
        "trials_with_several_modes": int(np.sum(np.sum(masses > 0.01, axis=1) > 1)),
    })
    return records


def trial_records(out, weights) -> list[dict]:
    """One record per trial: the truth, its divergences and modes, and where the truth lies in
    the weighted posterior (its quantile per quantity), to tell which trials miss and why."""
    true_w, post_w = np.asarray(out["truth"]["weights"]), np.asarray(out["positions"]["weights"])
    true_s8, post_s8 = np.asarray(out["truth"]["sigma8"]), np.asarray(out["positions"]["sigma8"])
    masses = np.asarray(out["masses"])
    w = np.asarray(weights, dtype=float)
    w = w / w.sum(axis=1, keepdims=True)  # (trials, draws)
    # weight of the draws below the truth; the clip removes round-off past 1 only
    quantile_s8 = np.clip(np.sum(w * (post_s8 < true_s8[:, None]), axis=1), 0.0, 1.0)
    quantile_w = np.clip(np.sum(w[..., None] * (post_w < true_w[:, None, :]), axis=1), 0.0, 1.0)  # (trials, n_weights)
    records = []
    for t in range(w.shape[0]):
        records.append({
            "record": "trial", "index": t, "divergences": int(out["divergent"][t]),
            "modes_above_1pc": int(np.sum(masses[t] > 0.01)),
            "true_sigma8": float(true_s8[t]), "true_weights": true_w[t].tolist(),
            "quantile_sigma8": float(quantile_s8[t]), "quantile_weights": quantile_w[t].tolist(),
            "posterior_sd_weights": np.sqrt(np.cov(post_w[t].T, aweights=w[t]).diagonal()).tolist(),
        })
    return records


def mode_masses(samples):
    """(num_modes,) evidence share of each sampled distinct mode, by rank (0 if unused)."""
    return jnp.zeros(samples.mode_rank.size).at[samples.mode_rank].add(jnp.exp(samples.log_weights))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials on 8^3, short chains")
    parser.add_argument("--n", type=int, default=16, help="mesh cells per side (full run)")
    parser.add_argument("--trials", type=int, default=100, help="synthetic trials (full run)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up transitions per chain (full run)")
    parser.add_argument("--draws", type=int, default=400, help="draws per chain (full run)")
    parser.add_argument("--starts", type=int, default=8, help="Adam starts per trial; 1: one chain from one MAP")
    parser.add_argument("--modes", type=int, default=3, help="chains per trial, from the best distinct modes")
    parser.add_argument("--features", type=int, default=1, help="filters of the NeuralBias (1: 7 weights, 3: 19)")
    parser.add_argument("--target-accept", type=float, default=0.8, help="NUTS target acceptance (full run)")
    parser.add_argument("--per-trial", action="store_true", help="also print one record per trial")
    args = parser.parse_args(argv)
    emit({"record": "machine", **machine()})
    if args.quick:
        records = run(8, 2, 20, 20, starts=4, modes=2, per_trial=args.per_trial)
    else:
        records = run(
            args.n, args.trials, args.warmup, args.draws, args.starts, args.modes, args.features,
            per_trial=args.per_trial, target_accept=args.target_accept,
        )
    for record in records:
        emit(record)


if __name__ == "__main__":
    main()

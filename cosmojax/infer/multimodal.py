"""NUTS on multimodal posteriors: chains from several optima, weighted by Laplace evidence.

A NUTS chain explores the mode it starts in. The weight posterior of a neural network
has many optima: Adam from one random initialisation of a one-filter ``NeuralBias``,
with weights drawn from their prior, ends more than 3 nats below the best optimum in
about 30% of starts (16 trials of 8 starts on an 8^3 mesh), and distinct optima with
nearly equal density can differ in sigma8 by 0.3. ``sample_modes`` therefore

1. runs ``adam_ascent`` from each of K starting points, then ``newton_ascent`` to
   converge where Adam creeps along ill-conditioned ridges;
2. takes the Laplace approximation (``laplace_approximation``) at every optimum (a
   point that is not a maximum, where minus the Hessian is not positive definite, is
   not a mode; if no end point is one, the chains start at the highest);
3. merges optima that lie within ``merge_distance`` (in units of the posterior width,
   the Mahalanobis distance under the mean of their two precision matrices) of a better
   one: they are the same mode;
4. runs one NUTS chain from each of the ``num_modes`` distinct modes of largest Laplace
   evidence, its mass-matrix adaptation started at that mode's Laplace covariance, or at
   the identity where that covariance is too ill-conditioned to factorise (and in the
   fallback); slots left over when fewer modes exist go to the best modes again, in turn;
5. weights each chain by the Laplace evidence of its mode, shared among the chains
   started there.

The weights are exact for Gaussian modes and approximate otherwise; a chain that leaves
its mode for another keeps its mode's weight, so modes should be well separated (as
they are when they differ by many nats). ``unsampled_mass`` reports the evidence of the
distinct optima that got no chain.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from cosmojax._validate import check_int
from cosmojax.infer.laplace import laplace_approximation
from cosmojax.infer.mcmc import nuts_chain
from cosmojax.infer.optimise import adam_ascent, newton_ascent


class ModeSamples(NamedTuple):
    """Chains started at distinct posterior modes, with the weight of each.

    positions : pytree like a position, leaves (num_modes, num_samples, ...): the draws
    log_weights : (num_modes,) ln weight of each chain, normalised (logsumexp = 0); every
        draw of chain i has weight exp(log_weights[i]) / num_samples
    modes : pytree, leaves (num_modes, ...): the optimum each chain started from
    mode_rank : (num_modes,) int, which distinct mode each chain started in (0: the one
        of largest evidence); chains with the same rank share their mode's weight
    log_evidence : (num_modes,) Laplace ln evidence of each chain's mode
    n_distinct : () int, distinct modes found among the K optima
    fallback : () bool, True when no optimum was a maximum with a nonsingular Hessian;
        then every chain starts at the end point of highest density (n_distinct is 1),
        its mass-matrix adaptation at the identity
    unsampled_mass : () fraction of the Laplace evidence of all distinct modes that lies
        in modes no chain was started in
    is_divergent, acceptance : (num_modes, num_samples) NUTS diagnostics after warm-up
    """

    positions: Any
    log_weights: jax.Array
    modes: Any
    mode_rank: jax.Array
    log_evidence: jax.Array
    n_distinct: jax.Array
    fallback: jax.Array
    unsampled_mass: jax.Array
    is_divergent: jax.Array
    acceptance: jax.Array


def distinct_modes(flat_optima, precisions, log_evidence, merge_distance: float = 3.0):
    """Which optima are distinct modes: (K,) bool.

    flat_optima : (K, d) raveled optima; precisions : (K, d, d) their Laplace precisions;
    log_evidence : (K,). Optimum k is kept unless another j of larger evidence (or equal
    evidence and smaller index) lies within ``merge_distance``: the squared Mahalanobis
    distance under (P_k + P_j) / 2 below merge_distance^2. Non-finite evidence is never
    kept. jit and vmap safe.
    """
    diff = flat_optima[:, None, :] - flat_optima[None, :, :]
    mean_precision = 0.5 * (precisions[:, None] + precisions[None, :])
    distance2 = jnp.einsum("kja,kjab,kjb->kj", diff, mean_precision, diff, precision=jax.lax.Precision.HIGHEST)
    finite = jnp.isfinite(log_evidence)
    score = jnp.where(finite, log_evidence, -jnp.inf)
    index = jnp.arange(score.size)
    tie = (score[None, :] == score[:, None]) & (index[None, :] < index[:, None])
    better = (score[None, :] > score[:, None]) | tie
    shadowed = jnp.any((distance2 < merge_distance**2) & better & finite[None, :], axis=1)
    return finite & ~shadowed


def sample_modes(
    key,
    log_density: Callable[[Any], jax.Array],
    starts,
    *,
    num_modes: int,
    num_warmup: int,
    num_samples: int,
    steps: int = 500,
    learning_rate: float = 0.02,
    newton_steps: int = 5,
    merge_distance: float = 3.0,
    dense_mass: bool = True,
    max_tree_depth: int = 10,
    target_accept: float = 0.8,
) -> ModeSamples:
    """Optimise from every start, then run NUTS chains from the distinct modes (module docstring).

    Parameters
    ----------
    key : jax.random key
    log_density : callable position -> scalar, differentiable
    starts : pytree like a position with a leading (K,) axis on every leaf: the Adam
        starting points (for a network, K random ``init``s)
    num_modes : chains to run (static), at most K
    num_warmup, num_samples : NUTS warm-up transitions and draws per chain
    steps, learning_rate : Adam per start (``adam_ascent``); newton_steps : then
        ``newton_ascent`` steps
    merge_distance : optima closer than this many posterior widths are one mode
    dense_mass, max_tree_depth, target_accept : as in ``nuts_chain``

    Returns a ``ModeSamples``. jit and vmap safe (vmap over keys, or over data sets that
    ``log_density`` takes from vmapped arguments); sizes are static.
    """
    leaves = jax.tree_util.tree_leaves(starts)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves) or len({jnp.shape(x)[0] for x in leaves}) != 1:
        raise ValueError("starts must be a pytree whose leaves share a leading (K,) axis of starting points.")
    n_starts = jnp.shape(leaves[0])[0]
    num_modes = check_int("num_modes", num_modes)
    if num_modes > n_starts:
        raise ValueError(f"num_modes must be at most the number of starts ({n_starts}); got {num_modes}.")
    if not merge_distance > 0:
        raise ValueError(f"merge_distance must be > 0; got {merge_distance}.")

    def optimum(start):
        position, _ = adam_ascent(log_density, start, steps=steps, learning_rate=learning_rate)
        return newton_ascent(log_density, position, steps=newton_steps)

    optima = jax.vmap(optimum)(starts)
    laplace = jax.vmap(lambda m: laplace_approximation(log_density, m))(optima)
    flat = jax.vmap(lambda m: ravel_pytree(m)[0])(optima)
    is_mode = laplace.is_maximum & jnp.isfinite(laplace.log_evidence)
    evidence = jnp.where(is_mode, laplace.log_evidence, -jnp.inf)
    # no end point is a clean maximum (e.g. a singular Hessian): start at the highest one
    fallback = ~jnp.any(is_mode)
    highest = jnp.argmax(jnp.where(jnp.isfinite(laplace.log_peak), laplace.log_peak, -jnp.inf))
    evidence = jnp.where(fallback & (jnp.arange(evidence.size) == highest), 0.0, evidence)
    keep = distinct_modes(flat, laplace.precision, evidence, merge_distance)
    score = jnp.where(keep, evidence, -jnp.inf)
    order = jnp.argsort(-score)
    n_distinct = jnp.sum(keep)
    slot_rank = jnp.arange(num_modes) % jnp.maximum(n_distinct, 1)
    slot = order[slot_rank]
    sharing = jnp.sum(slot_rank[None, :] == slot_rank[:, None], axis=1)
    log_weights = score[slot] - jnp.log(sharing)
    log_weights = log_weights - jax.nn.logsumexp(log_weights)
    sampled = jnp.arange(score.size) < jnp.minimum(n_distinct, num_modes)
    unsampled = 1.0 - jnp.exp(jax.nn.logsumexp(jnp.where(sampled, score[order], -jnp.inf)) - jax.nn.logsumexp(score))

    modes = jax.tree_util.tree_map(lambda x: x[slot], optima)
    # a covariance whose Cholesky factor is not finite (condition numbers of 1e9 and more, as
    # at a floored non-maximum, in float32) would freeze its chain: start those at the identity
    covariance = laplace.covariance[slot]
    factorisable = jnp.all(jnp.isfinite(jnp.linalg.cholesky(covariance)), axis=(-2, -1))
    usable = factorisable & ~fallback
    covariance = jnp.where(usable[:, None, None], covariance, jnp.eye(flat.shape[1], dtype=flat.dtype))
    if not dense_mass:
        covariance = jax.vmap(jnp.diag)(covariance)
    k_warm, k_draw = jax.random.split(key)

    def chain(kw, kd, start, mass):
        return nuts_chain(
            kw, kd, log_density, start, num_warmup=num_warmup, num_samples=num_samples, dense_mass=dense_mass,
            max_tree_depth=max_tree_depth, target_accept=target_accept, inverse_mass_matrix=mass,
        )

    positions, divergent, acceptance, _ = jax.vmap(chain)(
        jax.random.split(k_warm, num_modes), jax.random.split(k_draw, num_modes), modes, covariance
    )
    return ModeSamples(
        positions, log_weights, modes, slot_rank, laplace.log_evidence[slot], n_distinct, fallback, unsampled,
        divergent, acceptance,
    )


def weighted_draws(samples: ModeSamples):
    """All draws with their weights: (positions, weights).

    positions : pytree, leaves (num_modes * num_samples, ...) with chains concatenated;
    weights : (num_modes * num_samples,) summing to 1. Feed them to ``interval_coverage``
    and ``sbc_ranks`` (``weights=``). jit and vmap safe.
    """
    n_modes, n_samples = samples.is_divergent.shape
    positions = jax.tree_util.tree_map(lambda x: x.reshape((n_modes * n_samples,) + x.shape[2:]), samples.positions)
    weights = jnp.repeat(jnp.exp(samples.log_weights) / n_samples, n_samples)
    return positions, weights

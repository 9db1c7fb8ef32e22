"""Approximate Bayesian computation on compressed summaries.

``rejection_abc`` draws parameters from the prior, simulates, and keeps the fraction
``quantile`` closest to the observation. ``pmc_abc`` is population Monte Carlo ABC
(Beaumont et al. 2009) with the tolerance set each round to a quantile of the current
particles' distances (Del Moral et al. 2012); it is an (init, step) pair of pure,
jit-compiled functions, and every round's proposals are simulated in fixed-size batches
with ``vmap`` inside a ``lax.while_loop``.

Conventions: ``simulator(key, theta) -> summary`` for one (d,) parameter vector, returning
a (p,) summary (e.g. IMNN or score-compressed); ``prior_sample(key, n) -> (n, d)``;
``prior_log_prob(theta) -> scalar`` (-inf outside the support).
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._loop import run_blocks, start_or_resume
from cosmojax._validate import check_finite, check_int, check_symmetric_positive_definite
from cosmojax.io import check_output_path

_HI = jax.lax.Precision.HIGHEST


class ABCResult(NamedTuple):
    """Weighted ABC posterior samples.

    samples : (n, d) parameters; weights : (n,) normalised importance weights;
    distances : (n,) distance of each sample's summary to the observation;
    epsilon : the tolerance; ess : importance sample size (sum w)^2 / sum w^2 of the
    weights (``importance_sample_size``; not the autocorrelation ESS of MCMC chains);
    n_simulations : simulations spent.
    """

    samples: jax.Array
    weights: jax.Array
    distances: jax.Array
    epsilon: jax.Array
    ess: jax.Array
    n_simulations: jax.Array


class PMCState(NamedTuple):
    """State of population Monte Carlo ABC: the current weighted particle population."""

    particles: jax.Array
    weights: jax.Array
    distances: jax.Array
    epsilon: jax.Array
    n_simulations: jax.Array


class PMCInfo(NamedTuple):
    """Diagnostics of one PMC round: tolerance, acceptance rate, importance sample size of the
    new weights (``ess``), simulations, filled."""

    epsilon: jax.Array
    acceptance_rate: jax.Array
    ess: jax.Array
    n_simulations: jax.Array
    filled: jax.Array


class PMCAlgorithm(NamedTuple):
    """``init(key) -> PMCState`` and ``step(key, state) -> (PMCState, PMCInfo)``."""

    init: Callable
    step: Callable


def importance_sample_size(weights):
    """Kish's effective sample size of importance weights, (sum w)^2 / sum w^2.

    weights : (n,) non-negative weights (normalised or not); returns a scalar between 1 and
    n (n for equal weights). Not the effective sample size of correlated MCMC draws (that is
    ``infer.chain_diagnostics``). jit, vmap and grad safe.
    """
    w = jnp.asarray(weights)
    return jnp.sum(w) ** 2 / jnp.sum(w**2)


def effective_sample_size(weights):
    """Deprecated alias of :func:`importance_sample_size` (same argument and result)."""
    warnings.warn(
        "cosmojax.infer.effective_sample_size is deprecated; use importance_sample_size (it measures importance "
        "weights, not MCMC chains).", DeprecationWarning, stacklevel=2,
    )
    return importance_sample_size(weights)


def make_distance(observed, metric=None) -> Callable:
    """Distance of a summary to ``observed``: Euclidean, or sqrt(r^T M r) for a metric M.

    ``observed``: (p,); ``metric``: (p, p) positive definite (e.g. the Fisher matrix of
    IMNN summaries) or None. Returns a function (p,) -> scalar.
    """
    check_finite("observed", observed)
    obs = jnp.asarray(observed)
    if metric is None:
        return lambda s: jnp.sqrt(jnp.sum((s - obs) ** 2))
    m = jnp.asarray(metric)
    if m.shape != (obs.size, obs.size):
        raise ValueError(f"metric must have shape ({obs.size}, {obs.size}); got {m.shape}.")
    check_symmetric_positive_definite("metric", m, " (e.g. a Fisher matrix)")
    return lambda s: jnp.sqrt(jnp.maximum(jnp.linalg.multi_dot([s - obs, m, s - obs], precision=_HI), 0.0))


def _simulate(simulator, distance, key, thetas):
    keys = jax.random.split(key, thetas.shape[0])
    summaries = jax.vmap(simulator)(keys, thetas)
    return jax.vmap(distance)(summaries)


def _prior_batches(key, simulator, prior_sample, distance, n_simulations, batch_size):
    """Prior draws and their distances, simulated in ceil(n_simulations / batch_size)
    vmapped batches of equal size: at least n_simulations, at most one more per batch."""
    n_batches = math.ceil(n_simulations / batch_size)
    per_batch = math.ceil(n_simulations / n_batches)

    def one(k):
        k_prior, k_sim = jax.random.split(k)
        thetas = prior_sample(k_prior, per_batch)
        return thetas, _simulate(simulator, distance, k_sim, thetas)

    thetas, dists = jax.lax.map(one, jax.random.split(key, n_batches))
    thetas, dists = thetas.reshape((-1, thetas.shape[-1])), dists.reshape(-1)
    return thetas, jnp.where(jnp.isnan(dists), jnp.inf, dists)


def _check_summaries(simulator, prior_sample, observed):
    """ValueError unless ``simulator`` returns summaries of ``observed``'s shape (p,),
    checked by shape evaluation only (nothing is simulated)."""
    thetas = jax.eval_shape(lambda k: prior_sample(k, 1), jax.random.key(0))
    if len(thetas.shape) != 2 or thetas.shape[0] != 1:
        raise ValueError(f"prior_sample(key, n) must return (n, d) parameters; got shape {thetas.shape} for n = 1.")
    theta = jax.ShapeDtypeStruct(thetas.shape[1:], thetas.dtype)
    summary = jax.eval_shape(simulator, jax.random.key(0), theta)
    if summary.shape != np.shape(observed) or len(summary.shape) != 1:
        raise ValueError(f"observed must be a (p,) summary of the simulator's shape {summary.shape}; "
                         f"got shape {np.shape(observed)}.")


def rejection_abc(
    key,
    simulator: Callable,
    prior_sample: Callable,
    observed,
    *,
    n_simulations: int,
    quantile: float = 0.01,
    metric=None,
    batch_size: int = 1024,
) -> ABCResult:
    """Rejection ABC: keep the ``quantile`` fraction of prior draws closest to ``observed``.

    Parameters
    ----------
    key : jax.random key
    simulator, prior_sample : see the module docstring
    observed : (p,) summary of the data
    n_simulations : prior draws to simulate, in ceil(n_simulations / batch_size) vmapped
        batches of equal size (so up to one more per batch; ``n_simulations`` of the result
        is the number simulated, and ``quantile`` applies to it)
    quantile : fraction kept, in (0, 1]; the tolerance is the largest kept distance
    metric : optional (p, p) matrix for the distance (see ``make_distance``)

    Returns
    -------
    ABCResult with equal weights. Sizes are static; jit-safe inside with a closure.
    """
    n_simulations, batch_size = check_int("n_simulations", n_simulations), check_int("batch_size", batch_size)
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1]; got {quantile}.")
    _check_summaries(simulator, prior_sample, observed)
    distance = make_distance(observed, metric)
    thetas, dists = _prior_batches(key, simulator, prior_sample, distance, n_simulations, batch_size)
    n_keep = max(1, int(round(quantile * thetas.shape[0])))
    order = jnp.argsort(dists)[:n_keep]
    weights = jnp.full(n_keep, 1.0 / n_keep, dtype=thetas.dtype)
    return ABCResult(
        thetas[order], weights, dists[order], dists[order[-1]], importance_sample_size(weights), jnp.asarray(thetas.shape[0])
    )


def _weighted_covariance(x, w):
    mean = jnp.sum(w[:, None] * x, axis=0)
    r = x - mean
    return jnp.matmul((w[:, None] * r).T, r, precision=_HI) / (1.0 - jnp.sum(w**2))


def pmc_abc(
    simulator: Callable,
    prior_sample: Callable,
    prior_log_prob: Callable,
    observed,
    *,
    n_particles: int = 1000,
    quantile: float = 0.5,
    initial_simulations: int | None = None,
    batch_size: int = 256,
    max_batches: int = 200,
    metric=None,
) -> PMCAlgorithm:
    """Population Monte Carlo ABC as an (init, step) pair.

    Parameters
    ----------
    simulator, prior_sample, prior_log_prob : see the module docstring
    observed : (p,) observed summary
    n_particles : population size
    quantile : each round's tolerance is this quantile of the current distances
    initial_simulations : prior draws of the first population, >= n_particles (default
        4 n_particles; rounded up to equal batches as in ``rejection_abc``)
    batch_size : proposals simulated together (vmap)
    max_batches : per round; a round that runs out keeps the particles it has, zero-weights
        the empty slots and reports ``filled=False``
    metric : optional (p, p) distance metric

    Returns
    -------
    PMCAlgorithm(init, step). ``init(key)`` runs rejection ABC; ``step(key, state)`` runs
    one round: parents drawn by weight, moved by a Gaussian kernel with twice the weighted
    particle covariance (Beaumont et al. 2009), accepted below the new tolerance, and
    re-weighted by prior / mixture-of-kernels density. Both are jit-compiled.
    """
    n_particles, batch_size, max_batches = (
        check_int("n_particles", n_particles), check_int("batch_size", batch_size), check_int("max_batches", max_batches)
    )
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1); got {quantile}.")
    n_init = check_int("initial_simulations", initial_simulations, n_particles, allow_none=True) or 4 * n_particles
    _check_summaries(simulator, prior_sample, observed)
    distance = make_distance(observed, metric)

    @jax.jit
    def init(key) -> PMCState:
        thetas, dists = _prior_batches(key, simulator, prior_sample, distance, n_init, batch_size)
        order = jnp.argsort(dists)[:n_particles]
        weights = jnp.full(n_particles, 1.0 / n_particles, dtype=thetas.dtype)
        return PMCState(thetas[order], weights, dists[order], dists[order[-1]], jnp.asarray(thetas.shape[0]))

    @jax.jit
    def step(key, state: PMCState):
        x, w = state.particles, state.weights
        n, d = x.shape
        eps = _weighted_quantile(state.distances, w, quantile)
        cov = 2.0 * _weighted_covariance(x, w) + 1e-12 * jnp.eye(d, dtype=x.dtype)
        chol = jnp.linalg.cholesky(cov)
        log_w = jnp.log(w)

        def propose(carry):
            k, buf_x, buf_d, count, batches = carry
            k, k_parent, k_move, k_sim = jax.random.split(k, 4)
            parents = jax.random.categorical(k_parent, log_w, shape=(batch_size,))
            move = jax.random.normal(k_move, (batch_size, d), x.dtype)
            theta = x[parents] + jnp.matmul(move, chol.T, precision=_HI)
            valid = jnp.isfinite(jax.vmap(prior_log_prob)(theta))
            dist = _simulate(simulator, distance, k_sim, theta)
            accept = valid & (dist <= eps)
            slot = count + jnp.cumsum(accept) - 1
            slot = jnp.where(accept & (slot < n), slot, n)
            buf_x = buf_x.at[slot].set(theta, mode="drop")
            buf_d = buf_d.at[slot].set(dist, mode="drop")
            return k, buf_x, buf_d, count + jnp.sum(accept), batches + 1

        def not_done(carry):
            return (carry[3] < n) & (carry[4] < max_batches)

        carry = (key, x, jnp.full((n,), jnp.inf, x.dtype), jnp.asarray(0), jnp.asarray(0))
        _, new_x, new_d, count, batches = jax.lax.while_loop(not_done, propose, carry)
        filled_slots = jnp.arange(n) < count

        # importance weights: prior / mixture of the perturbation kernels around the parents
        diff = new_x[:, None, :] - x[None, :, :]
        sol = jax.scipy.linalg.solve_triangular(chol, diff.reshape(-1, d).T, lower=True).T.reshape(n, n, d)
        log_kernel = -0.5 * jnp.sum(sol**2, axis=-1)
        log_mix = jax.scipy.special.logsumexp(log_kernel + log_w[None, :], axis=1)
        log_new = jax.vmap(prior_log_prob)(new_x) - log_mix
        log_new = jnp.where(filled_slots, log_new, -jnp.inf)
        new_w = jnp.exp(log_new - jax.scipy.special.logsumexp(log_new))
        sims = batches * batch_size
        new_state = PMCState(new_x, new_w, jnp.where(filled_slots, new_d, jnp.inf), eps, state.n_simulations + sims)
        info = PMCInfo(eps, jnp.minimum(count, n) / sims, importance_sample_size(new_w), sims, count >= n)
        return new_state, info

    return PMCAlgorithm(init, step)


def _weighted_quantile(values, weights, q):
    order = jnp.argsort(values)
    cdf = jnp.cumsum(weights[order])
    i = jnp.clip(jnp.searchsorted(cdf, q * cdf[-1]), 0, values.shape[0] - 1)
    return values[order][i]


def run_pmc_abc(
    key,
    algorithm: PMCAlgorithm,
    n_rounds: int,
    *,
    progress: bool = True,
    checkpoint_path: str | None = None,
    checkpoint_every: int = 1,
    resume: bool = True,
) -> tuple[ABCResult, list]:
    """Drive ``algorithm`` for ``n_rounds`` rounds after ``init``.

    Parameters
    ----------
    key : jax.random key; ``init`` uses one half, round i ``fold_in(other half, i)``
    algorithm : PMCAlgorithm from ``pmc_abc``
    n_rounds : total rounds (counting those in a resumed checkpoint), >= 1
    progress : show a tqdm bar with the tolerance and acceptance rate
    checkpoint_path : file written every ``checkpoint_every`` rounds and at the end (format
        of ``cosmojax.io.save_checkpoint``); its folder must exist
    resume : continue from ``checkpoint_path`` if it exists: the same key gives the same
        population as an uninterrupted run (ValueError if the file is corrupted or from
        another problem: delete it or pass ``resume=False``)

    Returns
    -------
    The final population as an ``ABCResult`` and the list of per-round ``PMCInfo`` (scalar
    numpy values). A host-side driver of the jit-compiled rounds: not jit safe itself.
    """
    n_rounds = check_int("n_rounds", n_rounds)
    if checkpoint_path is not None:
        checkpoint_path = check_output_path("checkpoint_path", checkpoint_path)
    k_init, k_steps = jax.random.split(key)
    resuming = checkpoint_path is not None and resume and os.path.exists(checkpoint_path)
    # a resumed run reads its population from the file: only its shapes are needed here
    state = jax.eval_shape(algorithm.init, k_init) if resuming else algorithm.init(k_init)
    history = PMCInfo(*(np.zeros(0, dtype) for dtype in (float, float, float, int, bool)))
    loop = start_or_resume(checkpoint_path, state, history, resume)

    def one_round(state, i):
        return algorithm.step(jax.random.fold_in(k_steps, i), state)

    def record(i, state, info, history):
        history = PMCInfo(*(np.append(h, np.asarray(v)) for h, v in zip(history, info)))
        return history, False, {"epsilon": f"{float(info.epsilon):.4g}", "accept": f"{float(info.acceptance_rate):.3g}"}

    loop = run_blocks(one_round, loop, n_rounds, callback=record, progress=progress, desc="PMC-ABC",
                      checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every)
    state = loop.state
    infos = [PMCInfo(*(h[i] for h in loop.aux)) for i in range(loop.blocks)]
    result = ABCResult(
        state.particles, state.weights, state.distances, state.epsilon, importance_sample_size(state.weights),
        state.n_simulations,
    )
    return result, infos

"""NUTS on cosmojax forward models with numpyro or blackjax.

Two thin wrappers with one result type: ``nuts_numpyro`` runs a numpyro model,
``nuts_blackjax`` a log-density function of a pytree position. Both do window warm-up
adaptation of the step size and of a diagonal (default) or dense mass matrix, run several
chains (vectorised under ``vmap``, or one after another), and report split R-hat,
effective sample sizes per site and the leapfrog steps (gradient evaluations) of every
transition. A dense mass matrix costs O(d^2) per step and pays off on posteriors with
strong linear correlations (network weights, degenerate cosmological parameters) of up to
a few hundred dimensions.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._loop import LoopState, run_blocks
from cosmojax._validate import check_finite, check_int, check_symmetric_positive_definite
from cosmojax.infer.diagnostics import chain_diagnostics, max_rhat, min_ess
from cosmojax.infer.laplace import laplace_approximation


class MCMCResult(NamedTuple):
    """Samples and diagnostics of a multi-chain run.

    samples : dict name -> (n_chains, n_draws, *site_shape) numpy array
    rhat, ess : dicts name -> site_shape arrays (split R-hat, effective sample size)
    divergences : int, divergent transitions after warm-up, all chains
    acceptance : float, mean acceptance probability after warm-up
    seconds : float, wall time of warm-up and sampling
    num_steps : (n_chains, n_draws) int numpy array, leapfrog steps (gradient evaluations)
        of each transition after warm-up
    checkpoint : where the chains stopped (``NUTSCheckpoint`` from ``nuts_blackjax``), to
        continue them with ``resume_nuts_blackjax``; None from ``nuts_numpyro``
    """

    samples: dict
    rhat: dict
    ess: dict
    divergences: int
    acceptance: float
    seconds: float
    num_steps: np.ndarray
    checkpoint: Any = None

    @property
    def gradient_evaluations(self) -> int:
        """Leapfrog steps after warm-up, summed over every chain: the sampling cost in
        gradients of the log density, whatever the hardware."""
        return int(np.sum(self.num_steps))

    @property
    def ess_per_gradient(self) -> float:
        """``min_ess`` per gradient evaluation after warm-up (multiply by 1000 for a
        per-thousand figure); comparable across machines and backends."""
        return self.min_ess / max(self.gradient_evaluations, 1)

    @property
    def max_rhat(self) -> float:
        """Largest R-hat over every site and component."""
        return max_rhat(self.rhat)

    @property
    def min_ess(self) -> float:
        """Smallest effective sample size over every site and component."""
        return min_ess(self.ess)

    def flat(self, name: str) -> np.ndarray:
        """The draws of site ``name`` with chains merged: (n_chains * n_draws, *site_shape)."""
        x = self.samples[name]
        return x.reshape((-1,) + x.shape[2:])


CHAIN_METHODS = ("vectorized", "sequential")


def _check_chain_method(chain_method: str) -> str:
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {CHAIN_METHODS}; got {chain_method!r}.")
    return chain_method


def check_sampler_settings(num_warmup, num_samples, num_chains=1, target_accept=0.8, jitter=0.0):
    """Validate a sampler's run lengths and tuning; returns (num_warmup, num_samples,
    num_chains) as Python ints.

    ValueError, naming the argument, unless num_warmup >= 1, num_samples >= 4 (split R-hat
    needs two halves of two draws), num_chains >= 1 are whole numbers, target_accept lies
    in (0, 1) and jitter is finite and >= 0. Host-side, on static values.
    """
    counts = (check_int("num_warmup", num_warmup), check_int("num_samples", num_samples, 4),
              check_int("num_chains", num_chains))
    if not 0.0 < float(target_accept) < 1.0:
        raise ValueError(f"target_accept must be in (0, 1); got {target_accept!r}.")
    if not (np.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter must be finite and >= 0; got {jitter!r}.")
    return counts


def chain_starts(key, position, num_chains: int, jitter: float):
    """``num_chains`` starting points: ``position`` plus independent N(0, jitter^2) noise
    on every component, a fresh key per leaf.

    position : pytree of arrays; returns the same pytree with a leading (num_chains,) axis
    on every leaf, in the position's units. jit and vmap safe (static num_chains).
    """
    leaves, treedef = jax.tree_util.tree_flatten(position)
    starts = [
        jnp.asarray(x) + jitter * jax.random.normal(k, (num_chains,) + jnp.shape(x), jnp.result_type(float))
        for x, k in zip(leaves, jax.random.split(key, len(leaves)))
    ]
    return jax.tree_util.tree_unflatten(treedef, starts)


def _check_inverse_mass(matrix, dense_mass: bool) -> jax.Array:
    """The starting inverse mass matrix as a jax array; ValueError unless it is (d, d)
    symmetric positive definite with ``dense_mass`` or (d,) positive without."""
    m = np.asarray(matrix, dtype=float)
    if dense_mass:
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"inverse_mass_matrix must be a symmetric (d, d) array with dense_mass; got shape {m.shape}.")
        check_symmetric_positive_definite("inverse_mass_matrix", m, " with dense_mass")
    elif m.ndim != 1 or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"inverse_mass_matrix must be a positive (d,) array without dense_mass; got shape {m.shape}.")
    return jnp.asarray(m)


def laplace_inverse_mass(log_density: Callable[[Any], jax.Array], position, floor: float = 1e-10) -> np.ndarray:
    """Inverse of minus the Hessian of ``log_density`` at ``position`` (best: the MAP).

    The covariance of the Laplace approximation, (d, d) over ``position`` raveled by
    ``jax.flatten_util.ravel_pytree`` (sorted keys for a dict): a starting
    ``inverse_mass_matrix`` for ``nuts_blackjax`` and ``nuts_numpyro``. Curvatures below
    ``floor`` times the largest (flat or convex directions, away from a maximum) are
    raised to it, so the result is always positive definite (``laplace_approximation``, the
    jit-safe form, also gives the evidence). Not jit safe (host numpy).
    """
    covariance = np.asarray(laplace_approximation(log_density, position, floor).covariance, dtype=float)
    if not np.all(np.isfinite(covariance)):
        raise ValueError("log_density has a non-finite Hessian at position.")
    return covariance


def nuts_numpyro(
    key,
    model: Callable,
    *model_args,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 4,
    target_accept: float = 0.8,
    dense_mass: bool = False,
    max_tree_depth: int = 10,
    inverse_mass_matrix=None,
    init_params: dict | None = None,
    chain_method: str = "vectorized",
    progress: bool = False,
    jit_model_args: bool = False,
    progress_bar: bool | None = None,
    **model_kwargs,
) -> MCMCResult:
    """Run NUTS (numpyro) on a numpyro model.

    Parameters
    ----------
    key : jax.random key
    model : a numpyro model function; ``model_args`` / ``model_kwargs`` are passed to it
    num_warmup, num_samples : per chain
    num_chains : chains, on one device
    chain_method : "vectorized" (the default: the chains advance together under ``vmap``,
        each transition lasting as long as the longest of their trajectories; best on a
        GPU) or "sequential" (one chain after another, each paying only its own
        trajectories; on a CPU, where a batched gradient costs about the sum of the
        single ones, this is the cheaper)
    target_accept : target acceptance probability of the step-size adaptation
    dense_mass : adapt a dense (instead of diagonal) mass matrix during warm-up
    max_tree_depth : at most 2^max_tree_depth - 1 leapfrog steps per transition (caps the
        cost of the early warm-up, before the step size and mass matrix are adapted)
    inverse_mass_matrix : optional starting inverse mass matrix, (d, d) dense or (d,)
        diagonal over the latent sites raveled in sorted-name order (as
        ``jax.flatten_util.ravel_pytree`` of a dict of them); warm-up adapts from it.
        A Laplace approximation (``laplace_inverse_mass``) spares strongly correlated
        posteriors the early warm-up's thousand-step trajectories.
    init_params : optional dict of unconstrained initial values, each (num_chains, ...)
    progress : show numpyro's progress bar
    jit_model_args : compile once for all data of the same shape (for repeated runs)
    progress_bar : deprecated name of ``progress`` (a DeprecationWarning); None to leave it

    Returns
    -------
    MCMCResult with every latent site. Not jit-safe (it drives jit-compiled sampling).
    """
    from numpyro.infer import MCMC, NUTS

    if progress_bar is not None:
        warnings.warn("nuts_numpyro(progress_bar=...) is deprecated; pass progress=... instead.", DeprecationWarning,
                      stacklevel=2)
        progress = progress_bar
    num_warmup, num_samples, num_chains = check_sampler_settings(num_warmup, num_samples, num_chains, target_accept)
    max_tree_depth = check_int("max_tree_depth", max_tree_depth)
    _check_chain_method(chain_method)
    if init_params is not None:
        check_finite("init_params", init_params)
        for name, x in init_params.items():
            if jnp.ndim(x) < 1 or jnp.shape(x)[0] != num_chains:
                raise ValueError(f"init_params[{name!r}] must have a leading axis of num_chains = {num_chains}; "
                                 f"got shape {jnp.shape(x)}.")
    if init_params is not None and num_chains == 1:  # numpyro wants one chain's start without the chain axis
        init_params = jax.tree_util.tree_map(lambda x: x[0], init_params)
    if inverse_mass_matrix is not None:  # numpyro reads an array over all sites in sorted order
        inverse_mass_matrix = _check_inverse_mass(inverse_mass_matrix, dense_mass)
    kernel = NUTS(
        model, target_accept_prob=target_accept, dense_mass=dense_mass, max_tree_depth=max_tree_depth,
        inverse_mass_matrix=inverse_mass_matrix,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=bool(progress),
        jit_model_args=jit_model_args,
    )
    start = time.perf_counter()
    mcmc.run(
        key, *model_args, init_params=init_params, extra_fields=("diverging", "accept_prob", "num_steps"), **model_kwargs
    )
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    seconds = time.perf_counter() - start
    extra = mcmc.get_extra_fields(group_by_chain=True)
    rhat, ess = chain_diagnostics(samples)
    return MCMCResult(
        samples, rhat, ess, int(np.sum(extra["diverging"])), float(np.mean(extra["accept_prob"])), seconds,
        np.asarray(extra["num_steps"]).reshape(num_chains, num_samples),
    )


class ChainDraws(NamedTuple):
    """The draws of one ``nuts_chain`` and their per-transition diagnostics.

    positions : pytree like the initial position, leaves (num_samples, ...)
    is_divergent : (num_samples,) bool; acceptance_rate : (num_samples,) float
    num_steps : (num_samples,) int, leapfrog steps (gradient evaluations) per transition
    """

    positions: Any
    is_divergent: jax.Array
    acceptance_rate: jax.Array
    num_steps: jax.Array


def _nuts_warmup(warmup_key, log_density, position, *, num_warmup, target_accept, dense_mass, max_tree_depth,
                 inverse_mass_matrix):
    """blackjax window adaptation from ``position``: (NUTS state, tuned parameters)."""
    import blackjax

    warmup = blackjax.window_adaptation(
        blackjax.nuts, log_density, is_mass_matrix_diagonal=not dense_mass,
        target_acceptance_rate=target_accept, max_num_doublings=max_tree_depth,
        initial_inverse_mass_matrix=inverse_mass_matrix,
    )
    (state, params), _ = warmup.run(warmup_key, position, num_steps=num_warmup)
    # the tree depth is static: it stays out of the tuned (traced) parameters
    return state, {k: v for k, v in params.items() if k != "max_num_doublings"}


def _nuts_draws(log_density, state, params, keys, max_tree_depth):
    """One NUTS transition per key from ``state`` with fixed ``params`` (step_size,
    inverse_mass_matrix): (last state, ChainDraws)."""
    import blackjax

    step = blackjax.nuts(log_density, **params, max_num_doublings=max_tree_depth).step

    def one(state, k):
        state, info = step(k, state)
        return state, ChainDraws(state.position, info.is_divergent, info.acceptance_rate, info.num_integration_steps)

    return jax.lax.scan(one, state, keys)


def _draw_keys(key, first, length: int):
    """Keys of transitions first, ..., first + length - 1 after warm-up: ``fold_in(key, i)``."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(first + jnp.arange(length))


def nuts_chain(
    warmup_key,
    sample_key,
    log_density: Callable[[Any], jax.Array],
    initial_position,
    *,
    num_warmup: int,
    num_samples: int,
    target_accept: float = 0.8,
    dense_mass: bool = False,
    max_tree_depth: int = 10,
    inverse_mass_matrix=None,
):
    """One NUTS chain with blackjax window adaptation, as a pure function.

    ``dense_mass`` adapts a dense instead of a diagonal mass matrix; ``max_tree_depth``
    caps the trajectory at 2^max_tree_depth - 1 leapfrog steps; ``inverse_mass_matrix``
    ((d, d) or (d,) over the raveled position, or None: the identity) is where the
    mass-matrix adaptation starts. Returns ``ChainDraws`` (positions, is_divergent,
    acceptance_rate, num_steps), each with a leading (num_samples,) axis. jit and vmap
    safe: vmap it over keys, starting points, or data that ``log_density`` closes over
    (e.g. many synthetic data sets at once).
    """
    state, params = _nuts_warmup(
        warmup_key, log_density, initial_position, num_warmup=num_warmup, target_accept=target_accept,
        dense_mass=dense_mass, max_tree_depth=max_tree_depth, inverse_mass_matrix=inverse_mass_matrix,
    )
    return _nuts_draws(log_density, state, params, _draw_keys(sample_key, 0, num_samples), max_tree_depth)[1]


class NUTSCheckpoint(NamedTuple):
    """Where blackjax NUTS chains stopped: enough to continue them without a new warm-up.

    state : blackjax NUTS state (position, log density and its gradient), leaves with a
        leading (num_chains,) axis; ``state.position`` is each chain's last draw
    params : the warm-up's tuning, leaves (num_chains, ...): "step_size" (num_chains,),
        "inverse_mass_matrix" (num_chains, d, d) or (num_chains, d) over the raveled position
    key : (num_chains,) keys; transition i of a chain draws from ``fold_in(key, i)``
    draws : transitions after warm-up so far (the i of the next one)
    max_tree_depth : the run's cap of 2^max_tree_depth - 1 leapfrog steps per transition

    A pytree of arrays, keys and ints: write it with ``cosmojax.io.save_checkpoint`` (atomic,
    checksummed), read it back with ``cosmojax.io.load_checkpoint(path, target)`` where
    ``target`` is a checkpoint of the same structure (same position pytree, chains and
    mass-matrix kind), and pass it to ``resume_nuts_blackjax``.
    """

    state: Any
    params: Any
    key: jax.Array
    draws: int = 0
    max_tree_depth: int = 10


def _batched(fn, chain_method):
    """``fn`` over a leading chain axis of every argument: vmap, or one chain at a time."""
    if chain_method == "vectorized":
        return jax.vmap(fn)
    return lambda *per_chain: jax.lax.map(lambda args: fn(*args), per_chain)


def _sample_blocks(log_density, checkpoint: NUTSCheckpoint, num_samples, chain_method, progress, block):
    """Draw ``num_samples`` transitions per chain from ``checkpoint`` in compiled blocks.

    With ``progress``, the block length is the largest divisor of num_samples up to
    ``block`` (one compiled scan for every block) and a tqdm bar advances block by block;
    without, all draws are one block. The blocks run on the loop driver of
    ``cosmojax._loop``. Returns (ChainDraws with leaves (chains, num_samples, ...), the
    checkpoint after the last draw).
    """
    block = block if progress else num_samples
    length = max(b for b in range(1, min(block, num_samples) + 1) if num_samples % b == 0)

    def chain_block(key, state, params, first):
        return _nuts_draws(log_density, state, params, _draw_keys(key, first, length), checkpoint.max_tree_depth)

    run = jax.jit(_batched(chain_block, chain_method))
    done, chains = int(checkpoint.draws), checkpoint.key.shape[0]
    parts = []

    def draws_of_block(state, i):
        return run(checkpoint.key, state, checkpoint.params, jnp.full((chains,), done + i * length))

    def keep(i, state, draws, aux):
        parts.append(draws)
        return aux, False, None

    loop = run_blocks(draws_of_block, LoopState(checkpoint.state, None), num_samples // length, callback=keep,
                      progress=progress, desc="NUTS", steps_per_block=length)
    draws = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, axis=1), *parts)
    return draws, checkpoint._replace(state=loop.state, draws=done + num_samples)


def _result(draws: ChainDraws, checkpoint: NUTSCheckpoint, seconds: float) -> MCMCResult:
    positions = draws.positions
    if isinstance(positions, dict):
        samples = {k: np.asarray(v) for k, v in positions.items()}
    else:
        leaves = jax.tree_util.tree_leaves(positions)
        samples = {"x": np.asarray(leaves[0])} if len(leaves) == 1 else {f"x{i}": np.asarray(v) for i, v in enumerate(leaves)}
    rhat, ess = chain_diagnostics(samples)
    return MCMCResult(
        samples, rhat, ess, int(np.sum(draws.is_divergent)), float(np.mean(draws.acceptance_rate)), seconds,
        np.asarray(draws.num_steps), checkpoint,
    )


def nuts_blackjax(
    key,
    log_density: Callable[[Any], jax.Array],
    initial_position,
    *,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 4,
    target_accept: float = 0.8,
    dense_mass: bool = False,
    max_tree_depth: int = 10,
    inverse_mass_matrix=None,
    jitter: float = 0.1,
    chain_method: str = "vectorized",
    progress: bool = False,
    block: int = 100,
) -> MCMCResult:
    """Run NUTS (blackjax) on a log-density function of a pytree.

    Parameters
    ----------
    key : jax.random key
    log_density : callable position -> scalar log density (unnormalised), differentiable
    initial_position : a pytree (a dict of arrays gives named sites in the result); each
        chain starts from it plus Gaussian ``jitter`` (a scale in the position's units)
    num_warmup, num_samples, num_chains, target_accept, dense_mass, max_tree_depth,
    chain_method : as in ``nuts_numpyro`` ("sequential" runs the chains in a ``lax.map``
        inside each compiled call)
    inverse_mass_matrix : optional starting inverse mass matrix over the position raveled
        by ``jax.flatten_util.ravel_pytree``, (d, d) with ``dense_mass`` or (d,)
    progress : show a tqdm bar over the draws (warm-up is one compiled call before it)
    block : with ``progress``, draws per compiled call (the largest divisor of
        num_samples up to it); without, all draws are one call

    Returns
    -------
    MCMCResult; ``samples`` is a dict (the position's keys, or "x" for a non-dict
    position); ``checkpoint`` continues the chains (``resume_nuts_blackjax``). Warm-up is
    blackjax's window adaptation, per chain. Not jit-safe (it drives jit-compiled
    sampling).
    """
    num_warmup, num_samples, num_chains = check_sampler_settings(
        num_warmup, num_samples, num_chains, target_accept, jitter
    )
    max_tree_depth = check_int("max_tree_depth", max_tree_depth)
    block = check_int("block", block)
    _check_chain_method(chain_method)
    if inverse_mass_matrix is not None:
        inverse_mass_matrix = _check_inverse_mass(inverse_mass_matrix, dense_mass)
    check_finite("initial_position", initial_position)
    k_init, k_warm, k_sample = jax.random.split(key, 3)
    starts = chain_starts(k_init, initial_position, num_chains, jitter)

    def warm(k_w, position):
        return _nuts_warmup(
            k_w, log_density, position, num_warmup=num_warmup, target_accept=target_accept, dense_mass=dense_mass,
            max_tree_depth=max_tree_depth, inverse_mass_matrix=inverse_mass_matrix,
        )

    start = time.perf_counter()
    state, params = jax.jit(_batched(warm, chain_method))(jax.random.split(k_warm, num_chains), starts)
    checkpoint = NUTSCheckpoint(state, params, jax.random.split(k_sample, num_chains), 0, max_tree_depth)
    draws, checkpoint = _sample_blocks(log_density, checkpoint, num_samples, chain_method, progress, block)
    jax.block_until_ready(draws)
    return _result(draws, checkpoint, time.perf_counter() - start)


def resume_nuts_blackjax(
    log_density: Callable[[Any], jax.Array],
    checkpoint: NUTSCheckpoint,
    *,
    num_samples: int = 500,
    chain_method: str = "vectorized",
    progress: bool = False,
    block: int = 100,
) -> MCMCResult:
    """Continue the chains of a ``nuts_blackjax`` run for ``num_samples`` more draws.

    log_density : the same log density; checkpoint : ``MCMCResult.checkpoint`` of the
    run (or of an earlier resumption). No warm-up: the chains go on from their last
    states with their adapted step sizes and mass matrices, and their random streams go
    on where they stopped (transition i draws from ``fold_in(key, i)``), so a run resumed
    in pieces gives the same draws as one run of the total length (to round-off in
    float32; so does any ``block``). ``concatenate_draws`` joins the
    results. chain_method, progress, block : as in ``nuts_blackjax``. Not jit-safe.
    """
    num_samples = check_sampler_settings(1, num_samples)[1]
    block = check_int("block", block)
    _check_chain_method(chain_method)
    if not isinstance(checkpoint, NUTSCheckpoint):
        raise ValueError(f"checkpoint must be the NUTSCheckpoint of a nuts_blackjax result; got {type(checkpoint).__name__}.")
    start = time.perf_counter()
    draws, checkpoint = _sample_blocks(log_density, checkpoint, num_samples, chain_method, progress, block)
    jax.block_until_ready(draws)
    return _result(draws, checkpoint, time.perf_counter() - start)


def concatenate_draws(first: MCMCResult, second: MCMCResult) -> MCMCResult:
    """One result from two runs of the same chains, ``second`` continuing ``first``.

    Draws and leapfrog steps are joined along the draw axis and the diagnostics computed
    afresh; divergences and seconds add, acceptance is the draw-weighted mean, and the
    checkpoint is ``second``'s. ValueError unless both have the same sites and chains.
    Host-side (numpy).
    """
    if first.samples.keys() != second.samples.keys():
        raise ValueError(f"second must have first's sites {sorted(first.samples)}; got {sorted(second.samples)}.")
    for name, x in first.samples.items():
        y = second.samples[name]
        if x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
            raise ValueError(f"second's site {name!r} must have first's chains and shape; got {y.shape} and {x.shape}.")
    samples = {name: np.concatenate([x, second.samples[name]], axis=1) for name, x in first.samples.items()}
    rhat, ess = chain_diagnostics(samples)
    n1, n2 = first.num_steps.size, second.num_steps.size
    return MCMCResult(
        samples, rhat, ess, first.divergences + second.divergences,
        (n1 * first.acceptance + n2 * second.acceptance) / (n1 + n2), first.seconds + second.seconds,
        np.concatenate([first.num_steps, second.num_steps], axis=1), second.checkpoint,
    )

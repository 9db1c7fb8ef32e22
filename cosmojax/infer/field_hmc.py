"""Whitened HMC and NUTS over the initial white noise of a field-level posterior.

Sampling n^3 = 32768 correlated numbers is practical because the posterior is close to
Gaussian and close to diagonal in Fourier space. The sampler runs in whitened
coordinates z, with w = F^{-1}[V_k^{1/2} F[z]] and V_k the linear-theory Wiener variance
(``cosmojax.infer.field_modes.linear_mode_variance``), where the posterior of z is close to
N(0, I): a unit mass matrix then suits every mode, well measured (V_k << 1) or not
(V_k ~ 1). Nonlinear displacements leave the small scales less constrained than linear
theory says, so the warm-up rescales V_k, shell by shell in |k|, to the spread of the
first draws. The step size is adapted by blackjax's dual averaging
(``blackjax.adaptation.step_size.dual_averaging_adaptation``).

Paint with TSC (``SimConfig(scheme="tsc")``) when the chains must mix. The CIC kernel has
kinks at mesh planes, so the gradient of the log posterior jumps each time a particle
crosses one, and leapfrog trajectories lose energy at every jump: the adapted leapfrog step
with CIC is several times smaller than with TSC, while the preconditioned Hessian at the MAP
is much the same, so the kinks, not the curvature, set CIC's step
(``benchmarks/bench_field_level.py`` measures both; the figures are in
benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._loop import LoopState, run_blocks
from cosmojax._validate import check_int
from cosmojax.infer.diagnostics import chain_diagnostics
from cosmojax.infer.field_modes import _shell_rescale, _whitening, linear_mode_variance, mode_variance
from cosmojax.infer.field_posterior import FieldPosterior, _check_posterior
from cosmojax.infer.mcmc import MCMCResult, check_sampler_settings
from cosmojax.mesh import rfftn_shape


class FieldSamples(NamedTuple):
    """Draws of the white noise from ``sample_initial_conditions``.

    samples : {"noise": (n_chains, n_draws, n, n, n) numpy array}, white noise
    log_density : (n_chains, n_draws) numpy array, log posterior of each draw (a trace to
        check stationarity)
    rhat, ess : dicts "noise" -> (n, n, n) split R-hat and effective sample size per cell
    divergences : int, divergent transitions after warm-up, all chains
    acceptance : float, mean acceptance probability after warm-up
    step_size : (n_chains,) numpy array, adapted leapfrog step in whitened units
    mode_variance : (n, n, n // 2 + 1) array, the Fourier-space preconditioner V_k
    seconds : float, wall time of warm-up and sampling (compilation included)
    """

    samples: dict
    log_density: np.ndarray
    rhat: dict
    ess: dict
    divergences: int
    acceptance: float
    step_size: np.ndarray
    mode_variance: np.ndarray
    seconds: float

    max_rhat = MCMCResult.max_rhat
    min_ess = MCMCResult.min_ess

    def flat(self, name: str = "noise") -> np.ndarray:
        """The draws with chains merged: (n_chains * n_draws, n, n, n)."""
        return MCMCResult.flat(self, name)


ALGORITHMS = ("hmc", "nuts")


def _check_sampler_args(num_warmup, num_samples, num_chains, num_integration_steps, thin, block, algorithm,
                        target_accept, jitter, step_size):
    """The run's sizes as ints (num_warmup, num_samples, num_chains, num_integration_steps,
    thin, block); ValueError naming any bad argument."""
    counts = check_sampler_settings(num_warmup, num_samples, num_chains, target_accept, jitter)
    sizes = tuple(check_int(name, value) for name, value in
                  (("num_integration_steps", num_integration_steps), ("thin", thin), ("block", block)))
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}.")
    if not (np.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size must be > 0 (whitened units); got {step_size!r}.")
    return counts + sizes


def sample_initial_conditions(
    key,
    posterior: FieldPosterior,
    init,
    *,
    num_warmup: int = 100,
    num_samples: int = 200,
    num_chains: int = 1,
    algorithm: str = "hmc",
    num_integration_steps: int = 32,
    step_size: float = 0.1,
    target_accept: float = 0.8,
    variance=None,
    adapt_variance: bool = True,
    jitter: float = 1.0,
    thin: int = 1,
    block: int = 25,
    progress: bool = False,
):
    """Draw the initial white noise from the field-level posterior with HMC or NUTS.

    The chains run in whitened coordinates z (module docstring): w = F^-1[V_k^1/2 F[z]],
    with a unit mass matrix, so the Fourier-diagonal V_k is the inverse mass matrix in w.
    Warm-up adapts the step size by dual averaging (Hoffman & Gelman 2014) towards
    ``target_accept``. With ``adapt_variance`` its first half also measures the variance
    of the draws' Fourier modes and rescales V_k, shell by shell of integer |k| / k_f, to
    match (shells are pooled outward until each holds at least 32 modes, so a few dozen
    draws suffice; the spread is measured about ``init``, which should then be the MAP;
    the ratio is held within [1/100, 100]); the second half re-tunes the step. Sampling
    keeps the step fixed, jittered by +-20% per transition so that HMC trajectories do not
    lock onto a period of the modes. A posterior painted with CIC mixes far more slowly
    than one painted with TSC (module docstring). Judge convergence on the large scales the data constrain:
    ``chain_diagnostics({"modes": large_scale_modes(result.samples["noise"], box, kmax)})``.

    Parameters
    ----------
    key : jax.random key
    posterior : FieldPosterior from ``make_field_posterior``
    init : (n, n, n) starting white noise, best the MAP of ``reconstruct_initial_conditions``
    num_warmup : int >= 1, adaptation transitions per chain (discarded); variance
        adaptation needs >= 20
    num_samples : int >= 4, transitions kept per chain (before thinning)
    num_chains : int >= 1, chains run together with ``vmap``
    algorithm : "hmc" (blackjax HMC, fixed ``num_integration_steps``) or "nuts"
        (blackjax NUTS, trajectory length chosen per transition)
    num_integration_steps : int, leapfrog steps per HMC transition (HMC only). A
        trajectory of about 3 whitened units (steps times the adapted step) crosses a
        unit-variance mode: at 32^3, where the step adapts to about 0.07, 48 steps gave
        the slowest large-scale mode 6 times the effective samples per second of 24.
    step_size : float > 0, first leapfrog step of the adaptation, whitened units
    target_accept : float in (0, 1), acceptance the step size is tuned to
    variance : (n, n, n // 2 + 1) array of per-mode variances V_k, default
        ``linear_mode_variance(posterior)``, the linear-theory Wiener variance
    adapt_variance : rescale V_k per |k| shell during warm-up (above)
    jitter : float >= 0, each chain starts at ``init`` plus ``jitter`` times a draw of
        N(0, V_k) (whitened units: 1 is one linear posterior standard deviation per mode)
    thin : int, keep every ``thin``-th draw; block : at most this many transitions per
        compiled call (the progress bar advances by blocks; the length used is the largest
        that divides the warm-up halves and ``num_samples``, so the scan compiles once)
    progress : show a tqdm progress bar

    Returns
    -------
    FieldSamples with num_samples // thin draws per chain; its ``mode_variance`` is the
    V_k the chains ended with. The transitions are jit-compiled (a ``lax.scan`` per block,
    chains vmapped); the driver itself is not jit-safe. Memory: the draws, 4 n^3 bytes
    each in float32.
    """
    import blackjax

    shape = _check_posterior(posterior)
    num_warmup, num_samples, num_chains, num_integration_steps, thin, block = _check_sampler_args(
        num_warmup, num_samples, num_chains, num_integration_steps, thin, block, algorithm, target_accept, jitter,
        step_size,
    )
    if num_samples // thin < 4:
        raise ValueError(f"num_samples // thin must be >= 4 draws; got {num_samples} // {thin}.")
    if adapt_variance and num_warmup < 20:
        raise ValueError(f"num_warmup must be >= 20 with adapt_variance; got {num_warmup}.")
    if np.shape(init) != shape:
        raise ValueError(f"init must have the particle-grid shape {shape}; got {np.shape(init)}.")
    if not np.all(np.isfinite(np.asarray(init))):
        raise ValueError("init must be finite; start from zeros or the MAP.")
    dtype = posterior.config.float_dtype
    if variance is None:
        variance = linear_mode_variance(posterior)
    elif np.shape(variance) != rfftn_shape(shape):
        raise ValueError(f"variance must have the rfftn shape {rfftn_shape(shape)}; got {np.shape(variance)}.")
    elif not np.all(np.asarray(variance) > 0):
        raise ValueError("variance must be > 0 for every mode.")
    variance = jnp.asarray(variance, dtype)
    dim = int(np.prod(shape))
    ones = jnp.ones(dim, dtype)

    def kernel(eps, var):
        to_noise = _whitening(var, shape)[0]

        def logdensity(z):
            return posterior.log_density(to_noise(z))

        if algorithm == "hmc":
            return blackjax.hmc(logdensity, eps, ones, num_integration_steps)
        return blackjax.nuts(logdensity, eps, ones)

    da_init, da_update, da_final = blackjax.adaptation.step_size.dual_averaging_adaptation(target_accept)

    def run_block(carry, keys, adapt, var):
        """One compiled block for warm-up and sampling alike: ``adapt`` (per transition)
        switches dual averaging on, and off to the fixed, jittered step."""
        to_noise = _whitening(var, shape)[0]

        def one(carry, inputs):
            state, da, eps = carry
            k, adapting = inputs
            k_eps, k_step = jax.random.split(k)
            jittered = eps * jax.random.uniform(k_eps, (), dtype, 0.8, 1.2)
            step = jnp.where(adapting, jnp.exp(da.log_step_size), jittered)
            state, info = kernel(step, var).step(k_step, state)
            da_new = da_update(da, info.acceptance_rate)
            da = jax.tree_util.tree_map(lambda x, y: jnp.where(adapting, x, y), da_new, da)
            eps = jnp.where(adapting, da_final(da), eps).astype(dtype)
            out = (to_noise(state.position), state.logdensity, info.acceptance_rate, info.is_divergent)
            return (state, da, eps), out

        return jax.lax.scan(one, carry, (keys, adapt))

    block_jit = jax.jit(jax.vmap(run_block, in_axes=(0, 0, None, None)))

    @jax.jit
    def restart(w, var, eps):
        """States at the draws ``w`` (chains, n, n, n) in the coordinates of ``var``."""
        z = jax.vmap(_whitening(var, shape)[1])(w)
        return jax.vmap(kernel(step_size, var).init)(z), jax.vmap(da_init)(eps), eps

    k_start, k_run = jax.random.split(key)
    w0 = jnp.asarray(init, dtype)
    noise0 = jax.vmap(_whitening(variance, shape)[0])(jax.random.normal(k_start, (num_chains, dim), dtype))
    start_time = time.perf_counter()
    carry = restart(w0 + jitter * noise0, variance, jnp.full((num_chains,), step_size, dtype))
    total = num_warmup + num_samples
    keys = jax.vmap(lambda k: jax.random.split(k, total))(jax.random.split(k_run, num_chains))
    adapt = np.arange(total) < num_warmup
    switch = num_warmup // 2 if adapt_variance else 0
    segments = ([(0, switch)] if switch else []) + [(switch, num_warmup), (num_warmup, total)]
    # one block length that divides every segment, so the scan compiles once
    common = math.gcd(*(hi - lo for lo, hi in segments))
    block = max(b for b in range(1, min(block, common) + 1) if common % b == 0)
    draws, logps, accepts, divergent, early = [], [], [], [], []

    def transitions(state, i):
        carry, var = state
        lo = i * block
        carry, out = block_jit(carry, keys[:, lo : lo + block], jnp.asarray(adapt[lo : lo + block]), var)
        return (carry, var), out

    def keep(i, state, out, aux):
        """Store block i's draws; where the first warm-up half ends, rescale V_k to the
        spread of its second quarter and restart the chains in the new coordinates."""
        w, logp, acc, div = (np.asarray(x) for x in out)
        steps = np.arange(i * block, (i + 1) * block)
        early.append(w[:, (steps >= switch // 2) & (steps < switch)])
        kept_now = ~adapt[steps]
        kept = kept_now & ((steps - num_warmup + 1) % thin == 0)
        draws.append(w[:, kept])
        logps.append(logp[:, kept])
        accepts.append(acc[:, kept_now])
        divergent.append(div[:, kept_now])
        postfix = {"accept": f"{float(np.mean(acc)):.2f}", "phase": "warm-up" if adapt[steps[-1]] else "sampling"}
        if steps[-1] + 1 != switch:
            return aux, False, postfix
        # about the start (the MAP): unbiased for short, correlated runs, unlike the draws' own mean
        measured = mode_variance(np.concatenate(early, axis=1), mean=w0)
        var = _shell_rescale(state[1], measured, shape)
        return aux, False, postfix, (restart(w[:, -1], var, state[0][2]), var)

    loop = run_blocks(transitions, LoopState((carry, variance), None), total // block, callback=keep,
                      progress=progress, desc=f"field {algorithm}", steps_per_block=block)
    carry, variance = loop.state
    eps = carry[2]
    seconds = time.perf_counter() - start_time
    samples = {"noise": np.concatenate(draws, axis=1)}
    rhat, ess = chain_diagnostics(samples)
    return FieldSamples(
        samples,
        np.concatenate(logps, axis=1),
        rhat,
        ess,
        int(np.sum(np.concatenate(divergent, axis=1))),
        float(np.mean(np.concatenate(accepts, axis=1))),
        np.asarray(eps),
        np.asarray(variance),
        seconds,
    )

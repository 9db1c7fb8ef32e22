"""Field-level inference of the initial conditions from a noisy final density.

Model: the observed overdensity is the 2LPT density of the initial white noise plus
Gaussian pixel noise,

.. math:: \\delta_{obs} = \\delta_{LPT}[w](x) + n(x), \\quad n \\sim N(0, \\sigma^2), \\quad w \\sim N(0, 1),

so the log posterior of the white noise w (one number per particle, n^3 of them) is
-1/2 |delta_obs - delta_LPT[w]|^2 / sigma^2 - 1/2 |w|^2. Its gradient comes from
reverse-mode autodiff through LPT and mass assignment; ``reconstruct_initial_conditions``
maximises it with Adam, and ``sample_initial_conditions`` draws from it with HMC or NUTS.

Sampling n^3 = 32768 correlated numbers is practical because the posterior is close to
Gaussian and close to diagonal in Fourier space. Linearising the forward model about
w = 0 (the density responds to each white-noise mode through a transfer T_k that holds
the growth, sqrt(P(k)) and the mass-assignment window) gives the Wiener-filter posterior
variance of each orthonormal Fourier mode of w,

.. math:: V_k = \\left(1 + |T_k|^2 / \\sigma^2\\right)^{-1}

(``linear_mode_variance``). The sampler runs in whitened coordinates z, with
w = F^{-1}[V_k^{1/2} F[z]], where the posterior of z is close to N(0, I): a unit mass
matrix then suits every mode, well measured (V_k << 1) or not (V_k ~ 1). Nonlinear
displacements leave the small scales less constrained than linear theory says, so the
warm-up rescales V_k, shell by shell in |k|, to the spread of the first draws.

Paint with TSC (``SimConfig(scheme="tsc")``) when the chains must mix. The CIC kernel has
kinks at mesh planes, so the gradient of the log posterior jumps each time a particle
crosses one, and leapfrog trajectories lose energy at every jump. On the 16^3 problem of
``benchmarks/bench_field_level.py`` the adapted leapfrog step with CIC was a third of the
step with TSC (0.036 against 0.124 in whitened units), and the slowest large-scale mode's
effective sample size per second was 39 times lower (6 times at 32^3). The preconditioned
Hessian at the MAP has much the same largest eigenvalue with either kernel (9.7 and 9.0),
so the kinks, not the curvature, set CIC's step.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_int
from cosmojax.cosmology import growth_table
from cosmojax.infer.diagnostics import chain_diagnostics
from cosmojax.infer.mcmc import MCMCResult, check_sampler_settings
from cosmojax.infer.optimise import adam_ascent
from cosmojax.mesh import frequencies, hermitian_weights_numpy, kvec_numpy, rfftn_shape
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import linear_power_on_mesh, lpt
from cosmojax.sims.nbody import density


class FieldPosterior(NamedTuple):
    """The field-level model of ``make_field_posterior``.

    log_density : callable (n, n, n) white noise -> scalar unnormalised log posterior
    forward : callable (n, n, n) white noise -> (n, n, n) model overdensity
    noise_sigma : float, rms of the Gaussian pixel noise (dimensionless overdensity)
    config : SimConfig of the particle grid (mesh shape and box size, Mpc/h)
    """

    log_density: Callable
    forward: Callable
    noise_sigma: float | None = None
    config: Any = None


def make_field_posterior(data, noise_sigma: float, cosmo, config: SimConfig, *, a: float = 1.0, order: int = 2) -> FieldPosterior:
    """Log posterior of the initial white noise given an observed final overdensity.

    Parameters
    ----------
    data : (n, n, n) observed overdensity on the particle grid's mesh (dimensionless)
    noise_sigma : float > 0, the rms of the Gaussian pixel noise (dimensionless)
    cosmo : Cosmology (held fixed)
    config : SimConfig of the particle grid (n per side, box size in Mpc/h)
    a : scale factor of the observation; order : 1 or 2 (LPT order)

    The density is painted with ``config.scheme``; choose "tsc" for sampling (module
    docstring: CIC's kinks make HMC take steps three times smaller).

    Returns
    -------
    FieldPosterior; ``log_density`` maps (n, n, n) noise to a scalar and is jit, vmap and
    grad safe (differentiable in the noise); ``forward`` maps (n, n, n) noise to the
    (n, n, n) overdensity painted with ``config.scheme``, jit, vmap and grad safe. The
    growth ODE and P(k) on the mesh are evaluated once, here, not in every gradient.
    """
    data = jnp.asarray(data)
    if data.shape != tuple(config.mesh_shape):
        raise ValueError(f"data must have shape {tuple(config.mesh_shape)}; got {data.shape}.")
    check_finite("data", data)
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"a must be a scale factor > 0; got {a!r}.")
    if not np.isfinite(noise_sigma) or noise_sigma <= 0:
        raise ValueError(f"noise_sigma must be > 0; got {noise_sigma}.")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    # cosmo is fixed: solve the growth ODE and evaluate P(k) on the mesh once, here. Left
    # inside forward, the ODE's sequential scan would run in every gradient (on a GPU,
    # hundreds of tiny kernels that cost more than the LPT and painting themselves).
    table, power = growth_table(cosmo), linear_power_on_mesh(cosmo, config)

    def forward(noise):
        return density(lpt(noise, cosmo, config, a=a, order=order, table=table, power=power).disp, config)

    def log_density(noise):
        r = (data - forward(noise)) / noise_sigma
        return -0.5 * jnp.sum(r**2) - 0.5 * jnp.sum(noise**2)

    return FieldPosterior(log_density, forward, float(noise_sigma), config)


def noisy_observation(key, noise, cosmo, config: SimConfig, noise_level: float, *, a: float = 1.0,
                      order: int = 2) -> tuple[Any, float]:
    """Synthetic data for field-level inference: the LPT density of a known white noise plus pixel noise.

    The clean overdensity is the forward model of ``make_field_posterior`` (LPT of order
    ``order`` at scale factor ``a``, painted with ``config.scheme``) applied to the true
    white noise w; the pixel noise is Gaussian, white, with an rms set relative to the
    clean field's,

    .. math:: \\delta_{obs} = \\delta_{LPT}[w] + \\sigma\\, n, \\quad n \\sim N(0, 1), \\quad
              \\sigma = \\ell \\, \\mathrm{std}(\\delta_{LPT}[w]),

    with the std taken over the n^3 cells and l = ``noise_level``.

    Parameters
    ----------
    key : jax.random key, draws the pixel noise n (one N(0, 1) number per cell)
    noise : (n, n, n) float array, the true initial white noise w on the particle grid
        (unit variance per cell), e.g. ``white_noise(key, config.mesh_shape)``
    cosmo : Cosmology
    config : SimConfig of the particle grid (n per side, box size in Mpc/h, paint scheme)
    noise_level : float > 0, the pixel-noise rms in units of the clean overdensity's rms
    a : scale factor of the observation; order : 1 or 2 (LPT order)

    Returns
    -------
    (data, noise_sigma): data, the (n, n, n) observed overdensity (dimensionless, the dtype
    of the forward model's output), and noise_sigma, the pixel-noise rms sigma as a Python
    float (dimensionless): pass both to ``make_field_posterior``. The forward model is
    jit-compiled once per call; the function itself is a driver, not meant to be traced
    (it calls ``float``), vmapped or differentiated. Same key and noise, same data.
    """
    shape = tuple(config.mesh_shape)
    if np.shape(noise) != shape:
        raise ValueError(f"noise must have shape config.mesh_shape = {shape}; got {np.shape(noise)}.")
    if not np.all(np.isfinite(np.asarray(noise))):
        raise ValueError("noise must be finite (unit white noise, e.g. white_noise(key, config.mesh_shape)).")
    if np.ndim(noise_level) != 0 or not np.isfinite(noise_level) or noise_level <= 0:
        raise ValueError(f"noise_level must be a finite float > 0 (pixel rms over clean rms); got {noise_level!r}.")
    noise = jnp.asarray(noise)
    forward = make_field_posterior(jnp.zeros(shape, noise.dtype), 1.0, cosmo, config, a=a, order=order).forward
    clean = jax.jit(forward)(noise)
    sigma = noise_level * float(clean.std())
    return clean + sigma * jax.random.normal(key, clean.shape, clean.dtype), sigma


def reconstruct_initial_conditions(
    posterior: FieldPosterior, init, *, steps: int = 300, learning_rate: float = 0.1
):
    """Maximum a posteriori white noise by Adam.

    Parameters
    ----------
    posterior : FieldPosterior
    init : (n, n, n) starting white noise (zeros is a fine start)
    steps : int >= 1, Adam steps; learning_rate : float, Adam's step (white-noise units)

    Returns
    -------
    (noise, history): the (n, n, n) MAP estimate and the (steps,) log density before each
    step (``adam_ascent``, jit-compiled here); not itself meant to be traced.
    """
    run = jax.jit(lambda w: adam_ascent(posterior.log_density, w, steps=steps, learning_rate=learning_rate))
    return run(jnp.asarray(init))


def _check_posterior(posterior) -> tuple[int, ...]:
    if not isinstance(posterior, FieldPosterior) or posterior.noise_sigma is None or posterior.config is None:
        raise ValueError("posterior must be a FieldPosterior from make_field_posterior (with noise_sigma and config).")
    return tuple(posterior.config.mesh_shape)


def linear_transfer(posterior: FieldPosterior):
    """Linear response of the model density to each Fourier mode of the white noise.

    The forward model linearised about w = 0 is translation invariant on the lattice, so
    it is diagonal in Fourier space: ``rfftn(J t) = T_k rfftn(t)``. T_k is read off as
    the rfftn of the response to a unit impulse (one forward-mode product, ``jax.jvp``).

    Returns
    -------
    complex (n, n, n // 2 + 1) array, dimensionless (overdensity per unit white noise).
    jit safe; not meant to be differentiated.
    """
    _check_posterior(posterior)
    return _impulse_response(posterior)


@partial(jax.jit, static_argnums=0)
def _impulse_response(posterior):
    shape = tuple(posterior.config.mesh_shape)
    zeros = jnp.zeros(shape, posterior.config.float_dtype)
    impulse = zeros.at[(0,) * len(shape)].set(1.0)
    return jnp.fft.rfftn(jax.jvp(posterior.forward, (zeros,), (impulse,))[1])


def linear_mode_variance(posterior: FieldPosterior):
    """Wiener-filter posterior variance of each orthonormal Fourier mode of the white noise.

    .. math:: V_k = \\left(1 + |T_k|^2 / \\sigma^2\\right)^{-1},

    with T_k from ``linear_transfer`` and sigma the pixel noise: the exact posterior variance
    of the linearised (Zel'dovich-order) model painted with ``config.scheme``, where the prior gives 1. A mode
    measured with signal-to-noise |T_k|^2 / sigma^2 >> 1 has V_k << 1.

    Returns
    -------
    (n, n, n // 2 + 1) float array in (0, 1], dimensionless; the k = 0 mode, which the
    model does not see, has V = 1. jit safe.
    """
    t2 = jnp.abs(linear_transfer(posterior)) ** 2
    return 1.0 / (1.0 + t2 / posterior.noise_sigma**2)


def mode_variance(samples, mean=None):
    """Sample variance of each orthonormal Fourier mode of white-noise draws.

    Parameters
    ----------
    samples : (..., m, n, n, n) draws of the white noise (leading axes, e.g. chains, are
        merged with the m draws)
    mean : optional (n, n, n) field to subtract instead of the draws' own mean

    Returns
    -------
    (n, n, n // 2 + 1) array: the mean of |w_k - <w_k>|^2 over the draws with
    w_k = rfftn(w) / sqrt(n^3), so that unit white noise gives 1 per mode. To compare with
    ``linear_mode_variance``. jit and vmap safe.
    """
    x = jnp.asarray(samples)
    if x.ndim < 4:
        raise ValueError(f"samples must have shape (..., m, n, n, n); got {x.shape}.")
    shape = x.shape[-3:]
    x = x.reshape((-1,) + shape)
    centre = x.mean(0) if mean is None else jnp.asarray(mean)
    modes = jnp.fft.rfftn(x - centre, axes=(-3, -2, -1)) / np.sqrt(np.prod(shape))
    return jnp.mean(jnp.abs(modes) ** 2, axis=0)


def large_scale_modes(samples, box_size, kmax: float = 0.1):
    """Real and imaginary parts of the large-scale Fourier modes of white-noise draws.

    The convergence of a field-level chain is best judged where the data constrain it:
    pass the result to ``chain_diagnostics`` for the split R-hat and effective sample size
    of every mode with 0 < |k| < kmax (the per-cell ones mix all scales).

    Parameters
    ----------
    samples : (..., n, n, n) draws of the white noise, e.g. (n_chains, n_draws, n, n, n)
    box_size : float, Mpc/h, the side of the cubic box
    kmax : float > 0, h/Mpc

    Returns
    -------
    (..., m) array: the real parts of the orthonormal modes w_k = rfftn(w) / sqrt(n^3) with
    0 < |k| < kmax, then their imaginary parts (those that are not identically zero: a
    self-conjugate mode is real). Unit white noise gives variance 1/2 per component.
    jit safe with ``box_size`` and ``kmax`` static (they fix the mode set), vmap safe;
    linear in ``samples``, so grad safe.
    """
    x = jnp.asarray(samples)
    if x.ndim < 3 or len(set(x.shape[-3:])) != 1:
        raise ValueError(f"samples must have shape (..., n, n, n); got {x.shape}.")
    shape = x.shape[-3:]
    kmag = np.sqrt(sum(k**2 for k in kvec_numpy(shape, box_size)))
    inside = (kmag > 0) & (kmag < kmax)
    if not inside.any():
        fundamental = 2 * np.pi / box_size
        raise ValueError(f"kmax must exceed the fundamental 2 pi / box_size = {fundamental:.4g} h/Mpc; got {kmax!r}.")
    # a mode is its own conjugate when every index is 0 or n/2
    index = np.indices(rfftn_shape(shape))
    real_mode = np.all([(2 * i) % n == 0 for i, n in zip(index, shape)], axis=0)
    modes = jnp.fft.rfftn(x, axes=(-3, -2, -1)) / np.sqrt(np.prod(shape))
    return jnp.concatenate([modes.real[..., inside], modes.imag[..., inside & ~real_mode]], axis=-1)


def _shell_index(shape):
    """Integer shell round(|m|) of every rfftn cell (|m| in units of the fundamental)."""
    m2 = sum(np.asarray(m, dtype=float) ** 2 for m in frequencies(shape))
    return np.rint(np.sqrt(m2)).astype(int)


def _whitening(variance, shape):
    """w = A z and z = A^-1 w with A = F^-1 diag(sqrt(V_k)) F (real, symmetric)."""
    scale = jnp.sqrt(variance)

    def to_noise(z):
        return jnp.fft.irfftn(jnp.fft.rfftn(z.reshape(shape)) * scale, s=shape)

    def to_white(w):
        return jnp.fft.irfftn(jnp.fft.rfftn(w) / scale, s=shape).reshape(-1)

    return to_noise, to_white


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


def _shell_groups(shape, min_modes: int = 32):
    """Group index of every rfftn cell: integer |k| shells, merged outward from |k| = k_f
    until each group holds at least ``min_modes`` full-grid modes (the innermost shells hold
    a handful, too few to measure a variance from); the k = 0 mode is a group of its own."""
    index = _shell_index(shape)
    counts = np.bincount(index.ravel(), weights=hermitian_weights_numpy(shape).ravel())
    group = np.zeros(counts.size, dtype=int)
    current, filled = 1, 0.0
    for shell in range(1, counts.size):
        if filled >= min_modes:
            current, filled = current + 1, 0.0
        group[shell], filled = current, filled + counts[shell]
    if filled < min_modes and current > 1:  # a short outermost group joins the one inside it
        group[group == current] = current - 1
    return group[index]


def _shell_rescale(variance, measured, shape):
    """V_k times the mean, over each group of |k| shells (``_shell_groups``), of the measured
    over the assumed variance of its modes (held within [1/100, 100], so a shell a stuck
    chain never moved keeps V > 0)."""
    group = _shell_groups(shape)
    weights = hermitian_weights_numpy(shape).ravel()
    n_groups = int(group.max()) + 1
    flat = jnp.asarray(group.ravel())
    num = jax.ops.segment_sum(weights * (measured / variance).ravel(), flat, n_groups)
    den = jax.ops.segment_sum(jnp.asarray(weights, variance.dtype), flat, n_groups)
    return variance * jnp.clip(num / den, 0.01, 100.0)[group]


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
    from tqdm.auto import tqdm

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
    bar = tqdm(total=total, desc=f"field {algorithm}", disable=not progress)
    draws, logps, accepts, divergent, early = [], [], [], [], []
    for seg_lo, seg_hi in segments:
        for lo in range(seg_lo, seg_hi, block):
            hi = min(lo + block, seg_hi)
            carry, (w, logp, acc, div) = block_jit(carry, keys[:, lo:hi], jnp.asarray(adapt[lo:hi]), variance)
            steps = np.arange(lo, hi)
            early.append(np.asarray(w)[:, (steps >= switch // 2) & (steps < switch)])
            keep = ~adapt[lo:hi]
            kept = keep & ((steps - num_warmup + 1) % thin == 0)
            draws.append(np.asarray(w)[:, kept])
            logps.append(np.asarray(logp)[:, kept])
            accepts.append(np.asarray(acc)[:, keep])
            divergent.append(np.asarray(div)[:, keep])
            bar.update(hi - lo)
            bar.set_postfix(accept=f"{float(np.mean(acc)):.2f}", phase="warm-up" if adapt[hi - 1] else "sampling")
        if seg_hi == switch:
            # about the start (the MAP): unbiased for short, correlated runs, unlike the draws' own mean
            measured = mode_variance(np.concatenate(early, axis=1), mean=w0)
            variance = _shell_rescale(variance, measured, shape)
            carry = restart(np.asarray(w)[:, -1], variance, carry[2])
    bar.close()
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

"""Posterior of a neural bias model and sigma8, given halo counts on a mesh.

The forward model (Charnock et al. 2020, arXiv:1909.06379, with sigma8 added):

    white noise -> 2LPT at a (sigma8) -> CIC matter density delta
                -> NeuralBias(weights) -> mean count lambda per voxel
                -> observed counts N ~ Poisson(lambda)

with a Gaussian prior on the network weights and on sigma8. The initial conditions are
known (as in the paper, where the simulation is given). For fixed initial white noise
and fixed other parameters, the linear modes scale as sigma8 and the 2LPT fields as
sigma8 and sigma8^2, so the displacements are exactly

    disp(sigma8) = s D1 psi1 + s^2 D2 psi2,    s = sigma8 / sigma8_ref,

and each log-density evaluation costs one mass assignment and one network pass. NUTS
runs with blackjax (``log_density``) or numpyro (``numpyro_model``) on the same posterior.

Sampling network weights: hidden units of the same layer are interchangeable, so a
network with several filters has as many equivalent posterior modes as permutations of
them, joined by funnels where a unit switches off. Start ``find_map`` from a random
``network.init`` (a symmetric start such as equal weights is a saddle point that
gradient ascent never leaves), start every chain at the MAP, and use the dense mass
matrix (the default here): the weights are strongly correlated with one another and
with sigma8. A one-filter network (``NeuralBias(features=1)``, 7 weights) has a single
mode and mixes well; with three filters the rate field is still recovered but the
weights themselves mix slowly.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import gammaln

from cosmojax.cosmology import growth_factor, growth_factor_second
from cosmojax.infer.mcmc import MCMCResult, nuts_blackjax, nuts_numpyro
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import linear_modes, lpt_potentials
from cosmojax.sims.nbody import density


class Sigma8Family(NamedTuple):
    """2LPT displacement fields of fixed initial conditions, for any sigma8.

    psi1, psi2 : (N, 3) displacements at unit growth for ``sigma8_ref``, Mpc/h
    d1, d2 : first- and second-order growth at the output scale factor
    sigma8_ref : the sigma8 the fields were computed with
    """

    psi1: jax.Array
    psi2: jax.Array
    d1: jax.Array
    d2: jax.Array
    sigma8_ref: jax.Array


def sigma8_family(noise, cosmo, config: SimConfig, a: float = 1.0, order: int = 2) -> Sigma8Family:
    """Precompute the 2LPT (or Zel'dovich, ``order=1``) fields of ``noise`` for ``cosmo``.

    noise : (n, n, n) unit white noise; a : output scale factor. jit safe with static
    ``config``; differentiable in ``noise`` and ``cosmo``.
    """
    modes = linear_modes(noise, cosmo, config)
    psi1, psi2 = lpt_potentials(modes, config, order)
    return Sigma8Family(psi1, psi2, growth_factor(cosmo, a), growth_factor_second(cosmo, a), jnp.asarray(cosmo.sigma8))


def matter_density(family: Sigma8Family, sigma8, config: SimConfig):
    """CIC overdensity (n, n, n) of the 2LPT particles at ``sigma8``. jit and grad safe."""
    s = sigma8 / family.sigma8_ref
    disp = s * family.d1 * family.psi1 + s**2 * family.d2 * family.psi2
    return density(disp.astype(family.psi1.dtype), config)


def poisson_log_likelihood(counts, rate):
    """ln P(counts | rate) summed over voxels, Poisson. counts, rate: same shape, rate > 0.

    jit, vmap and grad safe (in ``rate``).
    """
    counts = jnp.asarray(counts, rate.dtype)
    return jnp.sum(counts * jnp.log(rate) - rate - gammaln(counts + 1.0))


def simulate_haloes(key, family: Sigma8Family, network, params, sigma8, config: SimConfig):
    """Draw halo counts from a bias network: the forward model of ``make_posterior``.

    key : jax.random key; family : ``sigma8_family`` of the initial conditions;
    network, params : a flax bias network and its parameters; sigma8 : the amplitude.
    Returns (counts, rate), both (n, n, n): Poisson counts (float, whole numbers) and the
    expected counts per voxel. jit safe with static ``network``/``config``; ``rate`` is
    differentiable in ``params`` and ``sigma8``.
    """
    rate = network.apply(params, matter_density(family, sigma8, config))
    return jax.random.poisson(key, rate).astype(rate.dtype), rate


class NeuralBiasPosterior(NamedTuple):
    """Everything the posterior needs, with ``log_density(position)`` ready for NUTS.

    position : dict with "weights" (n_weights,) flat network parameters and "sigma8" ().
    log_likelihood : the Poisson term alone (log_density = log prior + log_likelihood).
    unravel : maps flat weights back to the network's parameter pytree.
    rate : rate(position) -> (n, n, n) expected counts.
    """

    log_density: Callable
    log_likelihood: Callable
    rate: Callable
    unravel: Callable
    n_weights: int
    family: Sigma8Family
    weight_scale: float
    sigma8_prior: tuple


def make_posterior(
    counts,
    family: Sigma8Family,
    network,
    example_params,
    config: SimConfig,
    *,
    weight_scale: float = 1.0,
    sigma8_prior: tuple = (0.8, 0.2),
) -> NeuralBiasPosterior:
    """Build the log posterior of (network weights, sigma8) given halo ``counts``.

    Parameters
    ----------
    counts : (n, n, n) non-negative integers, the observed haloes per voxel
    family : ``sigma8_family`` of the known initial conditions
    network : a flax module mapping delta (n, n, n) to a positive rate (e.g. ``NeuralBias``)
    example_params : any parameters of ``network``, to fix the pytree layout
    config : SimConfig of the particle grid (its mesh is the count mesh)
    weight_scale : sd of the zero-mean Gaussian prior on every weight
    sigma8_prior : (mean, sd) of the Gaussian prior on sigma8

    Returns a ``NeuralBiasPosterior``; its ``log_density`` is jit, vmap and grad safe.
    """
    counts = np.asarray(counts)
    if counts.shape != tuple(config.mesh_shape):
        raise ValueError(f"counts must have shape {tuple(config.mesh_shape)}; got {counts.shape}.")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and >= 0.")
    if weight_scale <= 0 or sigma8_prior[1] <= 0:
        raise ValueError("weight_scale and the sd in sigma8_prior must be > 0.")
    flat, unravel = ravel_pytree(example_params)
    counts = jnp.asarray(counts)
    mu8, sd8 = sigma8_prior

    def rate(position):
        delta = matter_density(family, position["sigma8"], config)
        return network.apply(unravel(position["weights"]), delta)

    def log_likelihood(position):
        return poisson_log_likelihood(counts, rate(position))

    def log_density(position):
        log_prior = -0.5 * jnp.sum((position["weights"] / weight_scale) ** 2)
        log_prior = log_prior - 0.5 * ((position["sigma8"] - mu8) / sd8) ** 2
        return log_prior + log_likelihood(position)

    return NeuralBiasPosterior(
        log_density, log_likelihood, rate, unravel, int(flat.size), family, weight_scale, tuple(sigma8_prior)
    )


def numpyro_model(posterior: NeuralBiasPosterior):
    """A numpyro model of the same posterior: sites "weights" and "sigma8"."""
    import numpyro
    import numpyro.distributions as dist

    mu8, sd8 = posterior.sigma8_prior

    def model():
        weights = numpyro.sample(
            "weights", dist.Normal(jnp.zeros(posterior.n_weights), posterior.weight_scale).to_event(1)
        )
        sigma8 = numpyro.sample("sigma8", dist.Normal(mu8, sd8))
        position = {"weights": weights, "sigma8": sigma8}
        # the Poisson likelihood, written as a factor so both backends share one function
        numpyro.factor("haloes", posterior.log_likelihood(position))

    return model


def find_map(posterior: NeuralBiasPosterior, init_position, *, steps: int = 500, learning_rate: float = 0.02):
    """Maximum a posteriori position by Adam (optax); returns (position, final log density).

    A good starting point for NUTS chains. jit-compiled internally.
    """
    import optax

    opt = optax.adam(learning_rate)

    def loss(p):
        return -posterior.log_density(p)

    @jax.jit
    def run(p):
        def body(carry, _):
            p, state = carry
            value, grad = jax.value_and_grad(loss)(p)
            updates, state = opt.update(grad, state, p)
            return (optax.apply_updates(p, updates), state), value

        (p, _), values = jax.lax.scan(body, (p, opt.init(p)), None, length=steps)
        return p, -values[-1]

    return run(init_position)


def sample_posterior(
    key,
    posterior: NeuralBiasPosterior,
    init_position,
    *,
    backend: str = "blackjax",
    num_warmup: int = 300,
    num_samples: int = 500,
    num_chains: int = 4,
    jitter: float = 0.01,
    dense_mass: bool = True,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
) -> MCMCResult:
    """NUTS over (weights, sigma8) with blackjax or numpyro, from ``init_position``.

    ``init_position`` is a position dict (best: the MAP from ``find_map``); each chain
    starts from it plus Gaussian ``jitter``. ``dense_mass`` adapts a dense mass matrix
    during warm-up (recommended: the weights are strongly correlated); ``max_tree_depth``
    caps each transition at 2^max_tree_depth - 1 leapfrog steps. Returns an
    ``MCMCResult`` with sites "weights" (chains, draws, n_weights) and "sigma8" (chains,
    draws). Not jit safe (it drives compiled sampling).
    """
    if backend == "blackjax":
        return nuts_blackjax(
            key, posterior.log_density, init_position,
            num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains, jitter=jitter,
            dense_mass=dense_mass, target_accept=target_accept, max_tree_depth=max_tree_depth,
        )
    if backend == "numpyro":
        k_init, k_run = jax.random.split(key)
        init = jax.tree_util.tree_map(
            lambda x: x + jitter * jax.random.normal(k_init, (num_chains,) + jnp.shape(x)), init_position
        )
        return nuts_numpyro(
            k_run, numpyro_model(posterior),
            num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains, init_params=init,
            dense_mass=dense_mass, target_accept=target_accept, max_tree_depth=max_tree_depth,
        )
    raise ValueError(f"backend must be 'blackjax' or 'numpyro'; got {backend!r}.")


def posterior_rates(posterior: NeuralBiasPosterior, result: MCMCResult, n_draws: int = 100):
    """Expected-count fields for ``n_draws`` posterior draws, (n_draws, n, n, n).

    The draws are spread evenly over all chains. Not jit safe (reads numpy samples).
    """
    weights = result.flat("weights")
    sigma8 = result.flat("sigma8")
    idx = np.linspace(0, weights.shape[0] - 1, min(n_draws, weights.shape[0])).astype(int)
    positions = {"weights": jnp.asarray(weights[idx]), "sigma8": jnp.asarray(sigma8[idx])}
    return jax.lax.map(posterior.rate, positions)


def rate_interval(posterior: NeuralBiasPosterior, result: MCMCResult, level: float = 0.95, n_draws: int = 200):
    """Per-voxel central posterior interval of the expected halo count.

    Returns (lo, hi), each (n, n, n), from ``n_draws`` draws of ``posterior_rates``; the
    fraction of voxels whose true rate lies in [lo, hi] is the coverage of the halo field.
    Not jit safe.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}.")
    rates = np.asarray(posterior_rates(posterior, result, n_draws))
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(rates, [tail, 100.0 - tail], axis=0)
    return lo, hi

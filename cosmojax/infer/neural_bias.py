"""Posterior of a neural bias model and sigma8, given halo counts on a mesh.

The forward model (Charnock et al. 2020, arXiv:1909.06379, with sigma8 added):

    white noise -> 2LPT or particle mesh at a (sigma8) -> CIC matter density delta
                -> NeuralBias(weights) -> mean count lambda per voxel
                -> observed counts N ~ Poisson(lambda)

with a Gaussian prior on the network weights and on sigma8. The initial conditions are
known and held fixed here (the paper also samples their phases, jointly with the weights,
inside the BORG field-level sampler). For fixed initial white noise
and fixed other parameters, the linear modes scale as sigma8 and the 2LPT fields as
sigma8 and sigma8^2, so the LPT particles are exactly

    disp(sigma8) = s D1 psi1 + s^2 D2 psi2,    s = sigma8 / sigma8_ref

(and their momenta likewise). ``sigma8_family`` precomputes the two parts once. With
``dynamics="lpt"`` they are the output, and each log-density evaluation costs one mass
assignment and one network pass; with ``dynamics="pm"`` they are the initial conditions
at ``config.a_init`` of a particle-mesh run of ``config.steps`` steps, which every
evaluation integrates (the exact PM density at that sigma8, gradient included). NUTS
runs with blackjax (``log_density``) or numpyro (``numpyro_model``) on the same posterior.

Sampling network weights: hidden units of the same layer are interchangeable, so a
network with several filters has as many equivalent posterior modes as permutations of
them, joined by funnels where a unit switches off; and even a one-filter network has
distinct local optima, some with nearly the same density at different sigma8. For one
chain, start ``find_map`` from a random ``network.init`` (a symmetric start such as equal
weights is a saddle point that gradient ascent never leaves), start every chain at the
MAP, and use the dense mass matrix (the default here): the weights are strongly
correlated with one another and with sigma8. That suffices when the posterior has one
dominant mode (the fixed true networks of bench_hmc). For networks drawn from the weight
prior it gives intervals that are too narrow (benchmarks/bench_calibration.py); there,
``sample_modes`` from ``random_starts`` runs chains from several optima, each weighted by
its mode's Laplace evidence. Over prior-drawn one-filter trials this brought the 95%
coverage of sigma8 to 0.94 at 8^3 (48 trials) and at 16^3 (32 trials), and that of the
weights to 0.85-0.98 and 0.78-0.91; for three filters (19 weights, 8^3, 24 trials),
that of sigma8 to 1.00 and of the expected counts to 0.96. The one-filter head weight's
intervals stay too narrow: the chains do not reach the ends of the ridge along which a
softplus unit in its linear regime trades its head weight against its filter.
Divergences mark such curved regions; with ``target_accept=0.95`` instead of 0.8 they
fell from 1051 to 201 over the same 48 trials at 8^3, for 17% more time.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import gammaln

from cosmojax._validate import check_int, is_concrete
from cosmojax.infer.mcmc import (
    MCMCResult, chain_starts, check_sampler_settings, laplace_inverse_mass, nuts_blackjax, nuts_numpyro,
)
from cosmojax.infer.optimise import adam_ascent
from cosmojax.sims import (
    Particles, SimConfig, evolve, initial_displacements, lpt_from_potentials, particle_density, prime, step_factors,
)


class Sigma8Family(NamedTuple):
    """Particles of fixed initial conditions split by their order in sigma8.

    first, second : Particles (disp, mom: (N, 3), Mpc/h) of the first- and second-order
        LPT terms for ``sigma8_ref``; the particles at sigma8 are s * first + s^2 * second,
        s = sigma8 / sigma8_ref. They sit at the output scale factor (LPT) or at
        ``config.a_init`` (particle mesh).
    factors : (n_steps, 3) particle-mesh step factors (``nbody.step_factors``), or None
        when the LPT particles are the output
    sigma8_ref : the sigma8 the parts were computed with
    """

    first: Particles
    second: Particles
    factors: Optional[jax.Array]
    sigma8_ref: jax.Array


def sigma8_family(
    noise, cosmo, config: SimConfig, a: Optional[float] = None, order: Optional[int] = None, dynamics: str = "lpt"
) -> Sigma8Family:
    """Precompute the sigma8 dependence of a simulation of ``noise`` for ``cosmo``.

    noise : (n, n, n) unit white noise on the particle grid; cosmo : Cosmology or a
    LinearTheory from ``cosmojax.sims.prime(cosmo, config)``; a : output scale factor
    (default: the last of ``config.a_snapshots``; with ``dynamics="pm"`` it must be that
    one); order : 2 (2LPT) or 1 (Zel'dovich), the output model for ``"lpt"`` and the
    initial conditions at ``config.a_init`` for ``"pm"`` (default ``config.lpt_order``);
    dynamics : "lpt" or "pm". Built from the forward model of ``cosmojax.sims``
    (``initial_displacements``, ``lpt_from_potentials``, ``step_factors``).
    jit safe with static ``config``/``order``/``dynamics``; differentiable in ``noise``
    and ``cosmo``.
    """
    if dynamics not in ("lpt", "pm"):
        raise ValueError(f"dynamics must be 'lpt' or 'pm'; got {dynamics!r}.")
    order = config.lpt_order if order is None else order
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    a_final = float(config.a_snapshots[-1])
    if a is None:
        a = a_final
    elif dynamics == "pm" and a != a_final:
        raise ValueError(
            f"a must be the last of config.a_snapshots ({a_final}) with dynamics='pm'; got {a}. "
            "Set config.a_snapshots instead."
        )
    theory = prime(cosmo, config)
    psi1, psi2 = initial_displacements(noise, theory, config, order=order)
    a_start = config.a_init if dynamics == "pm" else a
    first = lpt_from_potentials(psi1, jnp.zeros_like(psi2), theory, a_start, config)
    second = lpt_from_potentials(jnp.zeros_like(psi1), psi2, theory, a_start, config)
    factors = step_factors(theory, config) if dynamics == "pm" else None
    return Sigma8Family(first, second, factors, jnp.asarray(theory.cosmo.sigma8))


def matter_density(family: Sigma8Family, sigma8, config: SimConfig):
    """Overdensity (n, n, n) at ``sigma8``: the LPT particles, or the PM run from them.

    Painted with ``config.scheme``; ``config`` must be the one ``family`` was built with.
    The particle-mesh run is ``cosmojax.sims.evolve`` (adjoint gradient with the default
    ``config.gradient``). jit and grad safe (in ``sigma8`` and the family's arrays).
    """
    s = sigma8 / family.sigma8_ref
    dtype = family.first.disp.dtype
    disp, mom = ((s * x1 + s**2 * x2).astype(dtype) for x1, x2 in zip(family.first, family.second))
    if family.factors is not None:
        return evolve(Particles(disp, mom), family.factors, config).density[-1]
    return particle_density(disp, config)


def _check_counts(counts):
    """ValueError unless concrete ``counts`` are finite whole numbers >= 0 (tracers pass)."""
    if not is_concrete(counts):
        return
    values = np.asarray(counts)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values)):
        raise ValueError("counts must be finite whole numbers >= 0 (haloes per voxel).")


def poisson_log_likelihood(counts, rate):
    """ln P(counts | rate) summed over voxels, Poisson. counts, rate: same shape, rate > 0.

    counts : whole numbers >= 0 (checked when concrete); rate : expected counts, > 0.
    jit, vmap and grad safe (in ``rate``).
    """
    if np.shape(counts) != np.shape(rate):
        raise ValueError(f"counts and rate must have the same shape; got {np.shape(counts)} and {np.shape(rate)}.")
    _check_counts(counts)
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
    log_prior, log_likelihood : the Gaussian priors and the Poisson term
        (log_density = log_prior + log_likelihood).
    unravel : maps flat weights back to the network's parameter pytree.
    rate : rate(position) -> (n, n, n) expected counts.
    """

    log_density: Callable
    log_prior: Callable
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
    family : ``sigma8_family`` of the known initial conditions (LPT or particle mesh)
    network : a flax module mapping delta (n, n, n) to a positive rate (e.g. ``NeuralBias``)
    example_params : any parameters of ``network``, to fix the pytree layout
    config : SimConfig of the particle grid (its mesh is the count mesh)
    weight_scale : sd of the zero-mean Gaussian prior on every weight
    sigma8_prior : (mean, sd) of the Gaussian prior on sigma8

    Returns a ``NeuralBiasPosterior``; its ``log_density`` is jit, vmap and grad safe.
    ``counts`` may be traced (many synthetic data sets under ``vmap``); their values are
    then not checked.
    """
    mesh_shape = tuple(config.mesh_shape)
    if np.shape(counts) != mesh_shape:
        raise ValueError(f"counts must have shape {mesh_shape}; got {np.shape(counts)}.")
    _check_counts(counts)
    if not (np.isfinite(weight_scale) and weight_scale > 0):
        raise ValueError(f"weight_scale must be > 0; got {weight_scale!r}.")
    try:
        mu8, sd8 = (float(v) for v in sigma8_prior)
    except (TypeError, ValueError) as err:
        raise ValueError(f"sigma8_prior must be a pair (mean, sd) of numbers; got {sigma8_prior!r}.") from err
    if not (np.isfinite(mu8) and np.isfinite(sd8) and sd8 > 0):
        raise ValueError(f"sigma8_prior must be (mean, sd) with a finite mean and sd > 0; got {sigma8_prior!r}.")
    try:
        out = jax.eval_shape(network.apply, example_params, jax.ShapeDtypeStruct(mesh_shape, config.float_dtype))
    except Exception as err:  # flax raises its own errors for parameters of another network
        raise ValueError(f"example_params must be parameters of network: {err}") from err
    if np.shape(out) != mesh_shape:
        raise ValueError(f"network must map a {mesh_shape} density to a {mesh_shape} rate; it returns {np.shape(out)}.")
    flat, unravel = ravel_pytree(example_params)
    counts = jnp.asarray(counts)

    def rate(position):
        delta = matter_density(family, position["sigma8"], config)
        return network.apply(unravel(position["weights"]), delta)

    def log_likelihood(position):
        return poisson_log_likelihood(counts, rate(position))

    def log_prior(position):
        return -0.5 * jnp.sum((position["weights"] / weight_scale) ** 2) - 0.5 * ((position["sigma8"] - mu8) / sd8) ** 2

    def log_density(position):
        return log_prior(position) + log_likelihood(position)

    return NeuralBiasPosterior(
        log_density, log_prior, log_likelihood, rate, unravel, int(flat.size), family, weight_scale, tuple(sigma8_prior)
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


def random_starts(key, network, mesh_shape, n_starts: int, sigma8_range: tuple = (0.6, 1.0)):
    """Dispersed starting positions for ``sample_modes``: a pytree with leading (n_starts,) axes.

    "weights" (n_starts, n_weights) are fresh ``network.init`` draws (flat, in the layout
    of ``make_posterior``); "sigma8" (n_starts,) is uniform in ``sigma8_range``.
    mesh_shape : the count mesh (n1, n2, n3). jit safe with static ``network``, sizes.
    """
    n_starts = check_int("n_starts", n_starts)
    if not 0.0 < sigma8_range[0] < sigma8_range[1]:
        raise ValueError(f"sigma8_range must be (low, high) with 0 < low < high; got {sigma8_range}.")
    k_weights, k_sigma8 = jax.random.split(key)
    zeros = jnp.zeros(tuple(mesh_shape))
    weights = jax.vmap(lambda k: ravel_pytree(network.init(k, zeros))[0])(jax.random.split(k_weights, n_starts))
    sigma8 = jax.random.uniform(k_sigma8, (n_starts,), minval=sigma8_range[0], maxval=sigma8_range[1])
    return {"weights": weights, "sigma8": sigma8}


def find_map(posterior: NeuralBiasPosterior, init_position, *, steps: int = 500, learning_rate: float = 0.02):
    """Maximum a posteriori position by Adam (``adam_ascent``); returns (position, the
    log density before the last step). A good starting point for NUTS chains.
    jit-compiled internally.
    """
    best, history = jax.jit(lambda p: adam_ascent(posterior.log_density, p, steps=steps, learning_rate=learning_rate))(
        init_position
    )
    return best, history[-1]


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
    laplace: bool = True,
    chain_method: str = "vectorized",
    progress: bool = False,
) -> MCMCResult:
    """NUTS over (weights, sigma8) with blackjax or numpyro, from ``init_position``.

    ``init_position`` is a position dict (best: the MAP from ``find_map``); each chain
    starts from it plus Gaussian ``jitter``. ``dense_mass`` adapts a dense mass matrix
    during warm-up (recommended: the weights are strongly correlated); ``max_tree_depth``
    caps each transition at 2^max_tree_depth - 1 leapfrog steps. ``laplace`` starts the
    mass-matrix adaptation from the Laplace covariance at ``init_position``
    (``laplace_inverse_mass``; its diagonal without ``dense_mass``) instead of the
    identity, which spares the early warm-up trajectories of up to 2^max_tree_depth
    steps on this ill-conditioned posterior (Hessian condition numbers of 1e4-1e5).
    ``chain_method`` is "vectorized" (chains under ``vmap``: best on a GPU) or
    "sequential" (cheaper on a CPU; see ``nuts_numpyro``); ``progress`` shows a progress
    bar. Returns an ``MCMCResult`` with sites "weights" (chains, draws, n_weights) and
    "sigma8" (chains, draws); with blackjax, ``resume_nuts_blackjax(posterior.log_density,
    result.checkpoint)`` draws more. Not jit safe (it drives compiled sampling).
    """
    if backend not in ("blackjax", "numpyro"):
        raise ValueError(f"backend must be 'blackjax' or 'numpyro'; got {backend!r}.")
    num_warmup, num_samples, num_chains = check_sampler_settings(
        num_warmup, num_samples, num_chains, target_accept, jitter
    )
    mass = laplace_inverse_mass(posterior.log_density, init_position) if laplace else None
    if mass is not None and not dense_mass:
        mass = np.diag(mass)
    options = dict(
        num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains, dense_mass=dense_mass,
        target_accept=target_accept, max_tree_depth=max_tree_depth, inverse_mass_matrix=mass,
        chain_method=chain_method,
    )
    if backend == "blackjax":
        return nuts_blackjax(key, posterior.log_density, init_position, jitter=jitter, progress=progress, **options)
    k_init, k_run = jax.random.split(key)
    init = chain_starts(k_init, init_position, num_chains, jitter)
    return nuts_numpyro(k_run, numpyro_model(posterior), init_params=init, progress=progress, **options)


def posterior_rates(posterior: NeuralBiasPosterior, result: MCMCResult, n_draws: int = 100):
    """Expected-count fields for ``n_draws`` posterior draws, (n_draws, n, n, n).

    The draws are spread evenly over all chains. Not jit safe (reads numpy samples).
    """
    n_draws = check_int("n_draws", n_draws)
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

"""Inference: ABC, NUTS with numpyro or blackjax, likelihoods and Fisher forecasts.

Every forward model in cosmojax is a differentiable JAX function, so the same model feeds
ABC (through simulations), NUTS (through its log density and gradient) and Fisher
forecasts (through its Jacobian).
"""

from cosmojax.infer.abc import (
    ABCResult,
    PMCAlgorithm,
    PMCInfo,
    PMCState,
    effective_sample_size,
    make_distance,
    pmc_abc,
    rejection_abc,
    run_pmc_abc,
)
from cosmojax.infer.diagnostics import chain_diagnostics, interval_coverage, max_rhat, min_ess, sbc_ranks
from cosmojax.infer.field_level import (
    FieldPosterior,
    FieldSamples,
    large_scale_modes,
    linear_mode_variance,
    linear_transfer,
    make_field_posterior,
    mode_variance,
    noisy_observation,
    reconstruct_initial_conditions,
    sample_initial_conditions,
)
from cosmojax.infer.fisher import (
    correlation_function_fisher,
    fisher_matrix,
    gaussian_field_fisher,
    marginal_errors,
    power_spectrum_fisher,
    shell_kedges,
)
from cosmojax.infer.likelihoods import (
    gaussian_log_likelihood,
    hartlap_factor,
    precision_from_simulations,
    sample_covariance,
    sellentin_heavens_log_likelihood,
)
from cosmojax.infer.laplace import Laplace, laplace_approximation
from cosmojax.infer.mcmc import (
    ChainDraws, MCMCResult, chain_starts, laplace_inverse_mass, nuts_blackjax, nuts_chain, nuts_numpyro,
)
from cosmojax.infer.modes import ModeSamples, distinct_modes, sample_modes, weighted_draws
from cosmojax.infer.neural_bias import (
    NeuralBiasPosterior,
    Sigma8Family,
    find_map,
    make_posterior,
    matter_density,
    numpyro_model,
    poisson_log_likelihood,
    posterior_rates,
    random_starts,
    rate_interval,
    sample_posterior,
    sigma8_family,
    simulate_haloes,
)
from cosmojax.infer.optimise import adam_ascent, newton_ascent

__all__ = [
    "ABCResult",
    "PMCAlgorithm",
    "PMCInfo",
    "PMCState",
    "effective_sample_size",
    "make_distance",
    "rejection_abc",
    "pmc_abc",
    "run_pmc_abc",
    "chain_diagnostics",
    "interval_coverage",
    "sbc_ranks",
    "max_rhat",
    "min_ess",
    "fisher_matrix",
    "gaussian_field_fisher",
    "marginal_errors",
    "power_spectrum_fisher",
    "correlation_function_fisher",
    "shell_kedges",
    "sample_covariance",
    "hartlap_factor",
    "precision_from_simulations",
    "gaussian_log_likelihood",
    "sellentin_heavens_log_likelihood",
    "ChainDraws",
    "MCMCResult",
    "nuts_numpyro",
    "nuts_blackjax",
    "nuts_chain",
    "chain_starts",
    "laplace_inverse_mass",
    "Laplace",
    "laplace_approximation",
    "ModeSamples",
    "distinct_modes",
    "sample_modes",
    "weighted_draws",
    "Sigma8Family",
    "sigma8_family",
    "matter_density",
    "poisson_log_likelihood",
    "NeuralBiasPosterior",
    "make_posterior",
    "numpyro_model",
    "find_map",
    "adam_ascent",
    "newton_ascent",
    "sample_posterior",
    "posterior_rates",
    "random_starts",
    "rate_interval",
    "simulate_haloes",
    "FieldPosterior",
    "make_field_posterior",
    "noisy_observation",
    "reconstruct_initial_conditions",
    "FieldSamples",
    "sample_initial_conditions",
    "linear_transfer",
    "linear_mode_variance",
    "mode_variance",
    "large_scale_modes",
]

"""Field-level HMC of the initial white noise of a 16^3 2LPT field (256 Mpc/h box) from a
noisy TSC density: the chains converge on the large scales, samples correlate with the
truth there, and the per-mode posterior variance follows the linear-theory Wiener variance
where it should."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import planck2018
from cosmojax.infer import chain_diagnostics
from cosmojax.infer.field_level import (
    large_scale_modes,
    linear_mode_variance,
    linear_transfer,
    make_field_posterior,
    mode_variance,
    noisy_observation,
    reconstruct_initial_conditions,
    sample_initial_conditions,
)
from cosmojax.mesh import rfftn_kmag
from cosmojax.sims import white_noise
from cosmojax.sims.config import SimConfig
from cosmojax.stats import cross_correlation

COSMO = planck2018()
N, BOX = 16, 256.0


def observed(noise_level=0.3, scheme="tsc"):
    cfg = SimConfig(mesh_shape=N, box_size=BOX, scheme=scheme)
    truth = white_noise(jax.random.key(0), cfg.mesh_shape)
    data, sigma = noisy_observation(jax.random.key(1), truth, COSMO, cfg, noise_level)
    return cfg, truth, make_field_posterior(data, sigma, COSMO, cfg)


def shell_mean(values, kmag, lo, hi):
    inside = (kmag > lo) & (kmag <= hi)
    return float(np.mean(np.asarray(values)[inside]))


def test_hmc_converges_and_recovers_the_initial_conditions():
    cfg, truth, post = observed()
    # the linearised model is diagonal in Fourier space, with transfer T_k
    t = linear_transfer(post)
    probe = jax.random.normal(jax.random.key(3), cfg.mesh_shape)
    _, response = jax.jit(lambda t: jax.jvp(post.forward, (jnp.zeros(cfg.mesh_shape),), (t,)))(probe)
    predicted = jnp.fft.irfftn(t * jnp.fft.rfftn(probe), s=cfg.mesh_shape)
    np.testing.assert_allclose(response, predicted, atol=1e-4 * float(jnp.abs(response).max()))
    wiener = linear_mode_variance(post)
    assert wiener.shape == (N, N, N // 2 + 1) and float(wiener[0, 0, 0]) == pytest.approx(1.0)
    assert bool(jnp.all((wiener > 0) & (wiener <= 1)))

    w_map, _ = reconstruct_initial_conditions(post, jnp.zeros_like(truth), steps=200)
    res = sample_initial_conditions(jax.random.key(7), post, w_map, num_warmup=60, num_samples=120, num_chains=2,
                                    num_integration_steps=24)
    draws = res.flat()
    assert draws.shape == (240, N, N, N) and res.log_density.shape == (2, 120)
    assert 0.6 < res.acceptance < 0.97 and res.divergences == 0
    # converged where the data constrain the field: every mode below 0.1 h/Mpc, and every cell
    rhat, ess = chain_diagnostics({"modes": large_scale_modes(res.samples["noise"], BOX, 0.1)})
    assert float(rhat["modes"].max()) < 1.05 and float(ess["modes"].min()) > 50
    assert res.max_rhat < 1.1
    # large scales: the posterior mean and single draws correlate with the truth
    mean = draws.mean(0)
    large = np.asarray(cross_correlation(mean, truth, BOX).k) < 0.1
    assert large.sum() >= 3
    for field in (mean, draws[0], draws[120], draws[-1]):
        assert np.all(np.asarray(cross_correlation(field, truth, BOX).power)[large] > 0.9)
    # not stuck at the mode: a Gaussian posterior's draws sit d/2 below its peak in log
    # density, with spread sqrt(d/2); the trace has no drift beyond that spread
    d = N**3
    logp = res.log_density
    drop = float(jax.jit(post.log_density)(w_map)) - logp.mean()
    assert 0.75 * d / 2 < drop < 1.25 * d / 2, drop
    assert abs(logp[:, :60].mean() - logp[:, 60:].mean()) < np.sqrt(d / 2)
    # per-mode variance: well-measured large scales are tight and close to the Wiener
    # variance of linear theory; small scales are loose
    kmag = np.asarray(rfftn_kmag(cfg.mesh_shape, BOX))
    sampled = mode_variance(res.samples["noise"])
    for lo, hi in [(0.0, 0.05), (0.05, 0.09)]:
        ratio = shell_mean(sampled, kmag, lo, hi) / shell_mean(wiener, kmag, lo, hi)
        assert 0.6 < ratio < 1.5, (lo, hi, ratio)
    assert shell_mean(sampled, kmag, 0.0, 0.09) < 0.05
    assert shell_mean(sampled, kmag, 0.2, 0.35) > 0.3
    assert shell_mean(sampled, kmag, 0.2, 0.35) > 10 * shell_mean(sampled, kmag, 0.0, 0.09)


def test_bad_sampler_inputs_raise():
    cfg, truth, post = observed()
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="init must have"):
        sample_initial_conditions(key, post, jnp.zeros((8, 8, 8)))
    with pytest.raises(ValueError, match="algorithm must be"):
        sample_initial_conditions(key, post, truth, algorithm="mala")
    with pytest.raises(ValueError, match="num_samples"):
        sample_initial_conditions(key, post, truth, num_samples=2)
    with pytest.raises(ValueError, match="num_warmup must be >= 20"):
        sample_initial_conditions(key, post, truth, num_warmup=10)
    with pytest.raises(ValueError, match="variance must have"):
        sample_initial_conditions(key, post, truth, variance=jnp.ones((N, N, N)))
    with pytest.raises(ValueError, match="posterior must be a FieldPosterior"):
        sample_initial_conditions(key, post[:2] + (None, None), truth)
    with pytest.raises(ValueError, match="init must be finite"):
        sample_initial_conditions(key, post, truth.at[0, 0, 0].set(jnp.nan))

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from cosmojax.infer import chain_diagnostics, nuts_blackjax, nuts_chain, nuts_numpyro

# A correlated 2D Gaussian target with known moments.
MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PREC = np.linalg.inv(COV)


def log_density(position):
    r = position["theta"] - MEAN
    return -0.5 * r @ PREC @ r


def model():
    numpyro.sample("theta", dist.MultivariateNormal(jnp.asarray(MEAN), jnp.asarray(COV)))


def check_moments(draws, tol_sigma=5):
    draws = draws.reshape(-1, 2)
    n_eff = draws.shape[0] / 4  # conservative: NUTS chains are mildly autocorrelated
    err = np.sqrt(np.diag(COV) / n_eff)
    assert np.all(np.abs(draws.mean(0) - MEAN) < tol_sigma * err)
    np.testing.assert_allclose(np.cov(draws.T), COV, rtol=0.15, atol=0.1)


def test_numpyro_nuts_recovers_the_target():
    res = nuts_numpyro(jax.random.key(0), model, num_warmup=300, num_samples=1000, num_chains=2)
    assert res.samples["theta"].shape == (2, 1000, 2)
    check_moments(res.samples["theta"])
    assert res.max_rhat < 1.01
    assert res.min_ess > 200
    assert res.divergences == 0
    assert 0.6 < res.acceptance < 1.0


def test_blackjax_nuts_recovers_the_target_and_agrees_with_numpyro():
    res = nuts_blackjax(jax.random.key(1), log_density, {"theta": jnp.zeros(2)}, num_warmup=300, num_samples=1000, num_chains=2)
    assert res.samples["theta"].shape == (2, 1000, 2)
    check_moments(res.samples["theta"])
    assert res.max_rhat < 1.01 and res.min_ess > 200
    other = nuts_numpyro(jax.random.key(2), model, num_warmup=300, num_samples=500, num_chains=2)
    a, b = res.flat("theta"), other.flat("theta")
    se = np.sqrt(np.diag(COV) * (4 / a.shape[0] + 4 / b.shape[0]))
    assert np.all(np.abs(a.mean(0) - b.mean(0)) < 4 * se)


def test_rhat_detects_chains_that_disagree():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 200))
    bad = good + np.array([0, 0, 0, 3.0])[:, None]
    rhat, ess = chain_diagnostics({"good": good, "bad": bad})
    assert float(rhat["good"]) < 1.02
    assert float(rhat["bad"]) > 1.2
    assert 500 < float(ess["good"]) < 1200


def test_coverage_in_repeated_synthetic_trials():
    # Simulation-based-calibration style: draw mu from its N(0, 2^2) prior, data given mu,
    # and check that central posterior intervals cover the true mu at their nominal rates.
    # All trials run as one vmapped program.
    n_trials, n_data = 200, 8
    k_mu, k_y, k_w, k_s = jax.random.split(jax.random.key(3), 4)
    mu_true = 2.0 * jax.random.normal(k_mu, (n_trials,))
    ys = mu_true[:, None] + jax.random.normal(k_y, (n_trials, n_data))

    def posterior_draws(kw, ks, y):
        def log_density(p):
            return -0.5 * (p["mu"] / 2.0) ** 2 - 0.5 * jnp.sum((y - p["mu"]) ** 2)

        draws, _, _ = nuts_chain(kw, ks, log_density, {"mu": jnp.zeros(())}, num_warmup=200, num_samples=400)
        return draws["mu"]

    draws = np.asarray(
        jax.jit(jax.vmap(posterior_draws))(jax.random.split(k_w, n_trials), jax.random.split(k_s, n_trials), ys)
    )
    mu = np.asarray(mu_true)
    for level in (0.5, 0.68, 0.9):
        lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)], axis=1)
        rate = np.mean((lo <= mu) & (mu <= hi))
        assert abs(rate - level) < 3 * np.sqrt(level * (1 - level) / n_trials) + 0.02, (level, rate)
    # the posterior means match the conjugate answer
    exact = ys.sum(1) / (n_data + 0.25)
    np.testing.assert_allclose(draws.mean(1), exact, atol=0.12)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="num_samples must be an int >= 4"):
        nuts_numpyro(jax.random.key(0), model, num_samples=2)
    with pytest.raises(ValueError, match="num_chains must be an int >= 1"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, num_chains=0)
    with pytest.raises(ValueError, match="must have shape"):
        chain_diagnostics({"x": np.zeros((2, 2))})

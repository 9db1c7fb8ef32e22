"""End to end: cosmology -> Gaussian fields -> P(k) -> likelihood with a simulated
covariance -> NUTS posterior of (sigma8, Omega_c) that covers the truth."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import linear_power, planck2018
from cosmojax.infer import (
    gaussian_log_likelihood,
    nuts_blackjax,
    precision_from_simulations,
    sample_covariance,
    sellentin_heavens_log_likelihood,
)
from cosmojax.sims import gaussian_field
from cosmojax.stats import default_kedges, expected_power, power_spectrum

SHAPE, BOX = (32, 32, 32), 500.0
TRUTH = planck2018()


def test_expected_power_is_the_mean_of_the_estimator():
    kedges = default_kedges(SHAPE, BOX)
    power = lambda k: linear_power(TRUTH, k)
    theory = expected_power(power, SHAPE, BOX, kedges=kedges)
    measure = jax.jit(lambda key: power_spectrum(gaussian_field(key, SHAPE, BOX, power), BOX, kedges=kedges).power)
    sims = jax.lax.map(measure, jax.random.split(jax.random.key(0), 64))
    pull = (sims.mean(0) - theory.power) / (sims.std(0) / 8)
    assert np.all(np.abs(np.asarray(pull)) < 4)
    np.testing.assert_allclose(theory.n_modes, power_spectrum(jnp.zeros(SHAPE), BOX, kedges=kedges).n_modes)


def test_nuts_on_binned_power_recovers_sigma8_and_omega_c():
    kedges = default_kedges(SHAPE, BOX)[:9]  # large scales: Gaussian likelihood is adequate

    def model_power(theta):
        cosmo = TRUTH.replace(sigma8=theta[0], Omega_c=theta[1])
        return expected_power(lambda k: linear_power(cosmo, k), SHAPE, BOX, kedges=kedges).power

    measure = jax.jit(
        lambda key, c: power_spectrum(gaussian_field(key, SHAPE, BOX, lambda k: linear_power(c, k)), BOX, kedges=kedges).power
    )
    sims = jax.lax.map(lambda k: measure(k, TRUTH), jax.random.split(jax.random.key(1), 150))
    precision = precision_from_simulations(sims)
    data = measure(jax.random.key(999), TRUTH)

    def log_density(p):
        theta = jnp.stack([p["sigma8"], p["Omega_c"]])
        inside = (theta[0] > 0.3) & (theta[0] < 1.5) & (theta[1] > 0.1) & (theta[1] < 0.5)
        return jnp.where(inside, gaussian_log_likelihood(data, model_power(theta), precision), -jnp.inf)

    res = nuts_blackjax(
        jax.random.key(2), log_density, {"sigma8": jnp.asarray(0.8), "Omega_c": jnp.asarray(0.26)},
        num_warmup=200, num_samples=800, num_chains=2, jitter=0.01,
    )
    assert res.max_rhat < 1.02
    for name, truth in (("sigma8", TRUTH.sigma8), ("Omega_c", TRUTH.Omega_c)):
        lo, hi = np.percentile(res.flat(name), [2.5, 97.5])
        assert lo < truth < hi, (name, lo, hi)

    # sigma8 on a grid (Omega_c at the truth), with a covariance from only n = 30 of the
    # simulations. The model is linear in sigma8 near the peak, so chi^2 = chi2_min + u^2
    # with u in units of the plain Gaussian's sd, and Sellentin-Heavens,
    # (1 + chi^2 / (n - 1))^(-n/2), is a Student t in u with n - 1 degrees of freedom and
    # scale^2 (n - 1 + chi2_min) / (n - 1): its sd is sqrt((n - 1 + chi2_min) / (n - 3))
    # times the Gaussian's, about the same peak.
    n = 30
    _, cov = sample_covariance(sims[:n])
    grid = jnp.linspace(0.6, 1.0, 801)
    models = jax.vmap(lambda s: model_power(jnp.stack([s, jnp.asarray(TRUTH.Omega_c)])))(grid)

    def moments(log_like):
        w = np.exp(np.asarray(log_like, float) - np.max(log_like))
        w /= w.sum()
        mean = np.sum(w * grid)
        return mean, np.sqrt(np.sum(w * (grid - mean) ** 2))

    plain_log_like = jax.vmap(lambda m: gaussian_log_likelihood(data, m, jnp.linalg.inv(cov)))(models)
    sh = moments(jax.vmap(lambda m: sellentin_heavens_log_likelihood(data, m, cov, n))(models))
    plain = moments(plain_log_like)
    chi2_min = -2.0 * float(jnp.max(plain_log_like))
    assert grid[0] + 6 * sh[1] < sh[0] < grid[-1] - 6 * sh[1]  # the grid holds the likelihood
    assert sh[1] / plain[1] == pytest.approx(np.sqrt((n - 1 + chi2_min) / (n - 3)), rel=0.01)
    assert abs(sh[0] - plain[0]) < 0.05 * plain[1]  # same peak, symmetric tails

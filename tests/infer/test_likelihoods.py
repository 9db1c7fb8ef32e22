import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.infer import (
    gaussian_log_likelihood,
    hartlap_factor,
    precision_from_simulations,
    sample_covariance,
    sellentin_heavens_log_likelihood,
)


def test_hartlap_corrected_precision_is_unbiased(x64):
    p, n, repeats = 5, 20, 3000
    a = np.random.default_rng(0).normal(size=(p, p))
    cov = a @ a.T + p * np.eye(p)
    chol = np.linalg.cholesky(cov)
    keys = jax.random.split(jax.random.key(0), repeats)
    sims = jax.vmap(lambda k: jax.random.normal(k, (n, p)) @ chol.T)(keys)
    raw = jax.vmap(lambda s: precision_from_simulations(s, correction="none"))(sims).mean(0)
    fixed = jax.vmap(precision_from_simulations)(sims).mean(0)
    truth = np.linalg.inv(cov)
    # the raw inverse is biased high by (n - 1) / (n - p - 2)
    np.testing.assert_allclose(np.diag(raw) / np.diag(truth), (n - 1) / (n - p - 2), rtol=0.04)
    np.testing.assert_allclose(np.diag(fixed) / np.diag(truth), 1.0, rtol=0.04)
    assert hartlap_factor(n, p) == pytest.approx(13 / 19)


def test_sample_covariance_and_gaussian_likelihood(x64):
    sims = jax.random.normal(jax.random.key(1), (4000, 3)) * jnp.array([1.0, 2.0, 3.0]) + 5.0
    mean, cov = sample_covariance(sims)
    np.testing.assert_allclose(mean, 5.0, atol=0.15)
    np.testing.assert_allclose(jnp.diag(cov), [1.0, 4.0, 9.0], rtol=0.08)
    prec = jnp.diag(1 / jnp.array([1.0, 4.0, 9.0]))
    assert float(gaussian_log_likelihood(jnp.array([1.0, 2.0, 3.0]), jnp.zeros(3), prec)) == pytest.approx(-1.5)
    g = jax.grad(lambda m: gaussian_log_likelihood(jnp.ones(3), m, prec))(jnp.zeros(3))
    np.testing.assert_allclose(g, [1.0, 0.25, 1 / 9])


def test_sellentin_heavens_tends_to_gaussian_and_has_heavier_tails(x64):
    cov = jnp.eye(2)
    d, m = jnp.array([1.0, 0.5]), jnp.zeros(2)
    gauss = float(gaussian_log_likelihood(d, m, cov))
    big = float(sellentin_heavens_log_likelihood(d, m, cov, n_sims=10**7))
    assert big == pytest.approx(gauss, rel=1e-5)
    far = jnp.array([6.0, 0.0])
    assert float(sellentin_heavens_log_likelihood(far, m, cov, 20)) > float(gaussian_log_likelihood(far, m, cov))


def test_bad_likelihood_inputs_raise():
    with pytest.raises(ValueError, match="model must have the data's shape"):
        gaussian_log_likelihood(jnp.ones(3), jnp.zeros(1), jnp.eye(3))
    with pytest.raises(ValueError, match="precision must have shape \\(3, 3\\)"):
        gaussian_log_likelihood(jnp.ones(3), jnp.zeros(3), jnp.eye(2))
    with pytest.raises(ValueError, match="data must be a \\(p,\\) summary vector"):
        sellentin_heavens_log_likelihood(jnp.ones((3, 1)), jnp.zeros((3, 1)), jnp.eye(3), 10)
    with pytest.raises(ValueError, match="n_sims must be an integer >= 4"):
        sellentin_heavens_log_likelihood(jnp.ones(3), jnp.zeros(3), jnp.eye(3), 3)
    with pytest.raises(ValueError, match="n_sims must exceed"):
        precision_from_simulations(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="correction must be"):
        precision_from_simulations(np.zeros((50, 4)), correction="taylor")
    with pytest.raises(ValueError, match="simulations must have 2 dimensions"):
        sample_covariance(np.zeros(5))

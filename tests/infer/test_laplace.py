import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from cosmojax.infer import laplace_approximation


def test_laplace_is_exact_for_a_gaussian(x64):
    cov = np.array([[2.0, 0.9, 0.0], [0.9, 1.0, 0.3], [0.0, 0.3, 0.5]])
    precision = np.linalg.inv(cov)
    mean = {"a": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}

    def log_density(p, shift=0.0):
        x = jnp.concatenate([p["a"], p["b"][None]]) - jnp.array([1.0, -2.0, 0.5]) - shift
        return 3.0 - 0.5 * x @ precision @ x

    lap = laplace_approximation(log_density, mean)
    np.testing.assert_allclose(lap.covariance, cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lap.precision, precision, rtol=1e-10, atol=1e-12)
    exact = 3.0 + 1.5 * np.log(2 * np.pi) + 0.5 * np.log(np.linalg.det(cov))
    np.testing.assert_allclose(lap.log_evidence, exact, rtol=1e-12)
    np.testing.assert_allclose(lap.log_peak, 3.0, rtol=1e-12)
    # jit and vmap: several modes at once, each its own evidence
    shifts = jnp.array([0.0, 1.0, -2.0])
    modes = {"a": mean["a"] + shifts[:, None], "b": mean["b"] + shifts}
    batch = jax.jit(jax.vmap(lambda m, s: laplace_approximation(lambda p: log_density(p, s), m)))(modes, shifts)
    np.testing.assert_allclose(batch.log_evidence, np.full(3, exact), rtol=1e-12)


def test_laplace_evidence_of_a_gamma_kernel_is_stirling(x64):
    # integral of x^a e^(-b x) is Gamma(a + 1) / b^(a + 1); Laplace gives Stirling's formula,
    # whose error in ln Gamma(a + 1) is 1/(12 a) to leading order
    a, b = 50.0, 3.0
    lap = laplace_approximation(lambda x: a * jnp.log(x) - b * x, jnp.array(a / b))
    exact = gammaln(a + 1.0) - (a + 1.0) * np.log(b)
    assert abs(float(lap.log_evidence) - float(exact) + 1.0 / (12 * a)) < 1e-5
    np.testing.assert_allclose(lap.covariance, [[a / b**2]], rtol=1e-10)


def test_flat_directions_are_floored_not_inverted(x64):
    lap = laplace_approximation(lambda p: -0.5 * p[0] ** 2, jnp.zeros(2))  # p[1] is flat
    values = np.linalg.eigvalsh(np.asarray(lap.precision))
    assert values.min() > 0 and values.min() < 1e-9 * values.max()
    assert np.all(np.isfinite(lap.covariance)) and not bool(lap.is_maximum)
    saddle = laplace_approximation(lambda p: -0.5 * p[0] ** 2 + 0.5 * p[1] ** 2, jnp.zeros(2))
    assert not bool(saddle.is_maximum)
    assert bool(laplace_approximation(lambda p: -0.5 * jnp.sum(p**2), jnp.zeros(2)).is_maximum)

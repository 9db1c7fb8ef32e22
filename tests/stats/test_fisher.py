"""cosmojax.stats.fisher: the jit, vmap and grad claims of its docstrings. The Fisher values
themselves are tested in tests/infer/test_fisher.py (analytic Gaussian-field Fisher, binned
P(k) and xi against the field bound) and tests/imnn/test_fisher.py (linear-Gaussian summaries)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.stats import gaussian_field_fisher, gaussian_likelihood_fisher, marginal_errors, shell_kedges, summary_fisher

from tests._transforms import assert_vmap_and_jit


def log_powerlaw(theta, k):
    return jnp.log(theta[0]) + theta[1] * jnp.log(k / 0.1)


def test_gaussian_field_fisher_gradient_matches_analytic_and_finite_differences(x64):
    shape, box = (6, 6, 6), 80.0
    theta = jnp.array([1.7, -1.2])
    n = np.prod(shape) - 1
    # F_AA = n / (2 A^2), so d F_AA / d theta = (-n / A^3, 0); F_nn does not depend on theta
    f_aa = lambda t: gaussian_field_fisher(log_powerlaw, t, shape, box)[0, 0]  # noqa: E731
    g = jax.grad(f_aa)(theta)
    np.testing.assert_allclose(g, [-n / 1.7**3, 0.0], rtol=1e-10, atol=1e-10)
    eps = 1e-6
    fd = (f_aa(theta + jnp.array([eps, 0.0])) - f_aa(theta - jnp.array([eps, 0.0]))) / (2 * eps)
    np.testing.assert_allclose(g[0], fd, rtol=1e-7)
    jitted = jax.jit(lambda t: gaussian_field_fisher(log_powerlaw, t, shape, box))(theta)
    np.testing.assert_allclose(jitted, gaussian_field_fisher(log_powerlaw, theta, shape, box), rtol=1e-12)


def test_summary_fisher_and_marginal_errors_vmap_jit_and_grad():
    dmu = jax.random.normal(jax.random.key(0), (4, 2, 3))
    a = jax.random.normal(jax.random.key(1), (4, 3, 3))
    inv_c = jnp.einsum("bij,bkj->bik", a, a) + 3 * jnp.eye(3)
    assert_vmap_and_jit(summary_fisher, dmu, inv_c, rtol=1e-4)
    f = jax.vmap(summary_fisher)(dmu, inv_c) + jnp.eye(2)
    assert_vmap_and_jit(marginal_errors, f, rtol=1e-4)
    # d F_00 / d dmu_0 = 2 C^-1 dmu_0 (symmetric C^-1)
    g = jax.grad(lambda d: summary_fisher(d, inv_c[0])[0, 0])(dmu[0])
    np.testing.assert_allclose(g[0], 2 * inv_c[0] @ dmu[0, 0], rtol=1e-4)
    np.testing.assert_allclose(g[1], 0.0, atol=1e-6)


def test_gaussian_likelihood_fisher_is_differentiable_in_what_the_model_closes_over(x64):
    theta = jnp.array([0.4, 1.3])
    cov = jnp.array([0.5, 2.0, 1.0])

    def f00(scale):
        model = lambda t: scale * jnp.array([t[0], t[0] * t[1], t[1] ** 2])  # noqa: E731
        return gaussian_likelihood_fisher(model, theta, cov)[0, 0]

    # F_00 = scale^2 (1 / 0.5 + theta_1^2 / 2), so d F_00 / d scale = 2 scale (2 + theta_1^2 / 2)
    np.testing.assert_allclose(jax.grad(f00)(1.5), 3.0 * (2.0 + 1.3**2 / 2), rtol=1e-12)


def test_shell_kedges_refuses_a_kmax_below_every_mode():
    with pytest.raises(ValueError, match="kmax"):
        shell_kedges((8, 8), 100.0, kmax=1e-4)

"""Tests for cosmojax.imnn.loss: regulariser, adaptive coupling, loss value and gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.imnn import FisherStats, coupling_alpha, coupling_strength, covariance_distance, imnn_loss

from tests._transforms import assert_vmap_and_jit


def test_covariance_distance(x64):
    C = jnp.array([[2.0, 0.0], [0.0, 0.5]])
    # ||C - I|| = sqrt(1 + 0.25), ||C^-1 - I|| = sqrt(0.25 + 1)
    np.testing.assert_allclose(covariance_distance(C, jnp.linalg.inv(C)), 2 * np.sqrt(1.25), rtol=1e-12)
    np.testing.assert_allclose(covariance_distance(jnp.eye(3), jnp.eye(3)), 0.0)


@pytest.mark.parametrize("lam,eps", [(10.0, 0.1), (100.0, 0.01), (2.0, 0.5)])
def test_coupling_matches_paper(lam, eps, x64):
    """alpha solves r(epsilon) = lam epsilon / (epsilon + exp(-alpha epsilon)) with
    exp(-alpha epsilon) = epsilon (lam - 1) + epsilon^2 / (1 + epsilon): r(eps) = lam / (lam + eps/(1+eps))."""
    alpha = coupling_alpha(lam, eps)
    np.testing.assert_allclose(np.exp(-alpha * eps), eps * (lam - 1) + eps**2 / (1 + eps), rtol=1e-12)
    r_eps = coupling_strength(eps, lam, alpha)
    np.testing.assert_allclose(r_eps, lam * eps / (eps + eps * (lam - 1) + eps**2 / (1 + eps)), rtol=1e-12)
    assert float(coupling_strength(0.0, lam, alpha)) == 0.0
    np.testing.assert_allclose(coupling_strength(50.0, lam, alpha), lam, rtol=1e-6)


def test_coupling_rejects_bad_values():
    with pytest.raises(ValueError, match="lam must be > 0"):
        coupling_alpha(-1.0, 0.1)


def test_loss_value_and_gradient(x64):
    dmu = jnp.array([[1.0, 0.2]])
    C = jnp.array([[1.5, 0.1], [0.1, 0.8]])

    def loss_of(dmu, C):
        invC = jnp.linalg.inv(C)
        F = dmu @ invC @ dmu.T
        return imnn_loss(FisherStats(F, C, invC, jnp.zeros(2), dmu), 10.0, 0.1)

    value, info = loss_of(dmu, C)
    invC = jnp.linalg.inv(C)
    F = dmu @ invC @ dmu.T
    l2 = jnp.linalg.norm(C - jnp.eye(2)) + jnp.linalg.norm(invC - jnp.eye(2))
    r = coupling_strength(l2, 10.0, coupling_alpha(10.0, 0.1))
    np.testing.assert_allclose(value, -jnp.log(F[0, 0]) + r * l2, rtol=1e-12)
    np.testing.assert_allclose(info.Lambda2, l2, rtol=1e-12)
    g = jax.grad(lambda d: loss_of(d, C)[0])(dmu)
    e = jnp.array([[1e-6, 0.0]])
    fd = (loss_of(dmu + e, C)[0] - loss_of(dmu - e, C)[0]) / 2e-6
    np.testing.assert_allclose(g[0, 0], fd, rtol=1e-6)


def test_loss_parts_vmap_over_a_batch_and_jit():
    a = jax.random.normal(jax.random.key(0), (3, 2, 2))
    C = jnp.einsum("bij,bkj->bik", a, a) + jnp.eye(2)
    invC = jnp.linalg.inv(C)
    assert_vmap_and_jit(covariance_distance, C, invC, rtol=1e-4)
    alpha = coupling_alpha(10.0, 0.1)
    assert_vmap_and_jit(lambda x: coupling_strength(x, 10.0, alpha), jnp.array([0.01, 0.5, 3.0]))
    F = C + 2.0 * jnp.eye(2)
    stats = FisherStats(F, C, invC, jnp.zeros((3, 2)), jnp.ones((3, 2, 2)))
    assert_vmap_and_jit(lambda s: imnn_loss(s, 10.0, 0.1), stats, rtol=1e-4, atol=1e-5)

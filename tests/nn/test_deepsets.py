"""Tests for cosmojax.nn.deepsets: shapes, parameter count, permutation invariance, masking, training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.nn import DeepSets

from tests._transforms import assert_vmap_and_jit
from tests.nn._fit import fit_minibatches


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_shape_and_count(key):
    model = DeepSets(phi_features=(16, 8), rho_features=(16, 2))
    x = jnp.ones((4, 10, 3))
    params = model.init(key, x)
    assert model.apply(params, x).shape == (4, 2)
    assert n_params(params) == (3 + 1) * 16 + (16 + 1) * 8 + (8 + 1) * 16 + (16 + 1) * 2


@pytest.mark.parametrize("pool", ["sum", "mean", "max"])
def test_permutation_invariance_and_mask(key, pool):
    model = DeepSets(phi_features=(16, 8), rho_features=(8, 3), pool=pool)
    k1, k2 = jax.random.split(key)
    x = jax.random.normal(k1, (2, 12, 4))
    mask = jnp.arange(12)[None, :] < jnp.array([[9], [12]])
    params = model.init(key, x, mask)
    out = jax.jit(model.apply)(params, x, mask)
    perm = jax.random.permutation(k2, 12)
    np.testing.assert_allclose(model.apply(params, x[:, perm], mask[:, perm]), out, rtol=1e-5, atol=1e-6)
    # padded elements do not matter
    junk = jnp.where(mask[..., None], x, 50.0)
    np.testing.assert_allclose(model.apply(params, junk, mask), out, rtol=1e-5, atol=1e-6)
    # element order does matter for a non-symmetric function of the same numbers
    assert not np.allclose(model.apply(params, x[:, :, ::-1], mask), out)


def test_learns_set_variance(key):
    """Regress ln(sigma) of sets of 20 draws from N(0, sigma^2): MSE falls 10x."""
    n = 1024
    k_s, k_x, k_i = jax.random.split(key, 3)
    log_sig = jax.random.uniform(k_s, (n,), minval=-1.0, maxval=1.0)
    x = jnp.exp(log_sig)[:, None, None] * jax.random.normal(k_x, (n, 20, 1))
    model = DeepSets((32, 16), (32, 1), pool="mean")
    params = model.init(k_i, x[:1])

    def loss(p, idx):
        return jnp.mean((model.apply(p, x[idx])[:, 0] - log_sig[idx]) ** 2)

    all_idx = jnp.arange(n)
    before = float(loss(params, all_idx))
    trained, _ = fit_minibatches(loss, params, k_i, n, batch=128, steps=400)
    assert float(loss(trained, all_idx)) < before / 10


def test_apply_vmaps_over_batches_and_jits(key):
    model = DeepSets(phi_features=(16, 8), rho_features=(16, 2))
    x = jax.random.normal(key, (3, 4, 10, 3))
    params = model.init(key, x[0])
    assert_vmap_and_jit(lambda xb: model.apply(params, xb), x, rtol=1e-4, atol=1e-5)

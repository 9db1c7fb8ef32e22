"""Tests for cosmojax.nn.timeseries: shapes, parameter count, mask invariance, training."""

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.nn import TimeSeriesCNN

from tests._transforms import assert_vmap_and_jit
from tests.nn._fit import fit_minibatches


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_shape_and_count(key):
    model = TimeSeriesCNN(features=(8, 4), out_features=3, kernel_size=5, dense=(16,))
    x, mask, t = jnp.ones((2, 32, 2)), jnp.ones((2, 32)), jnp.ones((2, 32))
    params = model.init(key, x, mask, t)
    assert model.apply(params, x, mask, t).shape == (2, 3)
    # inputs: 2 values + mask + time step = 4 channels
    expect = (5 * 4 + 1) * 8 + (5 * 8 + 1) * 4 + (4 + 1) * 16 + (16 + 1) * 3
    assert n_params(params) == expect
    params2 = model.init(key, x, mask)  # without times: 3 input channels
    assert n_params(params2) == expect - 5 * 8


def test_masked_values_are_ignored(key):
    model = TimeSeriesCNN(features=(8, 8), out_features=2)
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (3, 64, 1))
    t = jnp.cumsum(jax.random.uniform(k2, (3, 64)), axis=1)
    mask = jax.random.bernoulli(k3, 0.6, (3, 64))
    params = model.init(key, x, mask, t)
    out = jax.jit(model.apply)(params, x, mask, t)
    junk = jnp.where(mask[..., None], x, 1e3 * jax.random.normal(k1, x.shape))
    junk_t = jnp.where(mask, t, -7.0)
    np.testing.assert_allclose(model.apply(params, junk, mask, junk_t), out, rtol=1e-5, atol=1e-6)
    # but the real values matter
    assert not np.allclose(model.apply(params, x + 1.0, mask, t), out)


def test_learns_period_of_sparse_sinusoids(key):
    """Regress the frequency of sinusoids sampled at random 50% of 64 epochs (MSE falls 5x)."""
    n, length = 512, 64
    k_f, k_m, k_p, k_i = jax.random.split(key, 4)
    freq = jax.random.uniform(k_f, (n,), minval=0.05, maxval=0.25)
    phase = jax.random.uniform(k_p, (n,), maxval=2 * jnp.pi)
    t = jnp.broadcast_to(jnp.arange(length, dtype=jnp.float32), (n, length))
    x = jnp.sin(2 * jnp.pi * freq[:, None] * t + phase[:, None])[..., None]
    mask = jax.random.bernoulli(k_m, 0.5, (n, length))
    target = (freq - 0.15) / 0.06
    model = TimeSeriesCNN(features=(16, 16), out_features=1, kernel_size=5, dense=(32,))
    params = model.init(k_i, x[:1], mask[:1], t[:1])

    def loss(p, idx):
        return jnp.mean((model.apply(p, x[idx], mask[idx], t[idx])[:, 0] - target[idx]) ** 2)

    everything = jnp.arange(n)
    before = float(loss(params, everything))
    after = float(loss(fit_minibatches(loss, params, k_i, n, batch=64, steps=300)[0], everything))
    assert after < before / 5


def test_apply_vmaps_over_batches_and_jits(key):
    model = TimeSeriesCNN(features=(8, 4), out_features=3, kernel_size=5, dense=(16,))
    k_x, k_m = jax.random.split(key)
    x, mask = jax.random.normal(k_x, (3, 2, 32, 2)), jax.random.bernoulli(k_m, 0.7, (3, 2, 32))
    t = jnp.broadcast_to(jnp.arange(32.0), (3, 2, 32))
    params = model.init(key, x[0], mask[0], t[0])
    assert_vmap_and_jit(lambda xb, mb, tb: model.apply(params, xb, mb, tb), x, mask, t, rtol=1e-4, atol=1e-5)

"""Tests for cosmojax.nn.timeseries: shapes, parameter count, mask invariance, training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cosmojax.nn import TimeSeriesCNN


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
    opt = optax.adam(3e-3)

    def loss(p, idx):
        return jnp.mean((model.apply(p, x[idx], mask[idx], t[idx])[:, 0] - target[idx]) ** 2)

    @jax.jit
    def train(p):
        def one(c, i):
            p, s = c
            idx = jax.random.permutation(jax.random.fold_in(k_i, i), n)[:64]
            val, g = jax.value_and_grad(loss)(p, idx)
            u, s = opt.update(g, s)
            return (optax.apply_updates(p, u), s), val

        return jax.lax.scan(one, (p, opt.init(p)), jnp.arange(300))[0][0]

    everything = jnp.arange(n)
    before = float(loss(params, everything))
    after = float(loss(train(params), everything))
    assert after < before / 5

"""Tests for cosmojax.nn.cnn: shapes, hand-counted parameters, jit/grad, a short regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.nn import CNN, density_cube_cnn
from cosmojax.nn.cnn import conv_output_size

from tests._transforms import assert_vmap_and_jit
from tests.nn._fit import fit_minibatches


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_cnn2d_shape_and_count(key):
    model = CNN(features=(4, 8), out_features=2, kernel_size=3, pooling="max", dense=(16,))
    x = jnp.ones((3, 16, 16, 1))
    params = model.init(key, x)
    assert model.apply(params, x).shape == (3, 2)
    convs = (9 * 1 + 1) * 4 + (9 * 4 + 1) * 8
    flat = 4 * 4 * 8  # 16 / 2 / 2 = 4 per side
    assert conv_output_size((16, 16), 2) * 8 == flat
    dense = (flat + 1) * 16 + (16 + 1) * 2
    assert n_params(params) == convs + dense


def test_cnn3d_avg_global_pool_count(key):
    model = CNN(features=(2, 4), out_features=3, spatial_dims=3, convs_per_block=2, pooling="avg", dense=(), global_pool=True)
    x = jnp.ones((2, 8, 8, 8, 1))
    params = model.init(key, x)
    assert model.apply(params, x).shape == (2, 3)
    convs = (27 * 1 + 1) * 2 + (27 * 2 + 1) * 2 + (27 * 2 + 1) * 4 + (27 * 4 + 1) * 4
    assert n_params(params) == convs + (4 + 1) * 3


def test_density_cube_cnn_count(key):
    model = density_cube_cnn(out_features=2)
    params = jax.eval_shape(model.init, key, jnp.ones((1, 32, 32, 32, 1)))
    convs = (27 + 1) * 16 + (27 * 16 + 1) * 16 + (27 * 16 + 1) * 32 + (27 * 32 + 1) * 32
    convs += (27 * 32 + 1) * 64 + (27 * 64 + 1) * 64
    dense = (4**3 * 64 + 1) * 256 + (256 + 1) * 64 + (64 + 1) * 2
    assert n_params(params) == convs + dense


def test_cnn_rejects_bad_input(key):
    model = CNN(features=(4, 4, 4), out_features=1)
    with pytest.raises(ValueError, match="divisible"):
        model.init(key, jnp.ones((1, 12, 12, 1)))
    with pytest.raises(ValueError, match="channel"):
        model.init(key, jnp.ones((1, 16, 16)))


def test_cnn_learns_field_amplitude(key):
    """Regress the log-amplitude of white-noise maps: the loss falls by a factor > 5."""
    k_a, k_n, k_i = jax.random.split(key, 3)
    n = 512
    log_amp = jax.random.uniform(k_a, (n,), minval=-1.0, maxval=1.0)
    maps = jnp.exp(log_amp)[:, None, None, None] * jax.random.normal(k_n, (n, 16, 16, 1))
    model = CNN(features=(8, 8), out_features=1, pooling="avg", dense=(16,), global_pool=True)
    params = model.init(k_i, maps[:1])

    def loss(p, xb, yb):
        return jnp.mean((model.apply(p, jnp.abs(xb))[:, 0] - yb) ** 2)

    def train(p):
        return fit_minibatches(lambda q, idx: loss(q, maps[idx], log_amp[idx]), p, k_i, n, batch=64, steps=300)[0]

    before = float(loss(params, maps, log_amp))
    after = float(loss(train(params), maps, log_amp))
    assert after < before / 5
    # grad is finite and nonzero
    g = jax.grad(loss)(params, maps[:8], log_amp[:8])
    assert np.isfinite(sum(float(jnp.sum(x**2)) for x in jax.tree_util.tree_leaves(g)))


def test_cnn_apply_vmaps_over_batches_and_jits(key):
    model = CNN(features=(4, 8), out_features=2, kernel_size=3, pooling="max", dense=(16,))
    x = jax.random.normal(key, (3, 2, 16, 16, 1))
    params = model.init(key, x[0])
    assert_vmap_and_jit(lambda xb: model.apply(params, xb), x, rtol=1e-4, atol=1e-5)


def test_conv_output_size_refuses_fractional_sizes():
    assert conv_output_size((32, 32, 32), 3, "avg") == 64
    assert conv_output_size((32, 32), 2, "none") == 1024
    for args, match in ((((32, 32.5), 1), r"spatial_shape\[1\] must be an integer"),
                        (((32, 32), 1.5), "n_blocks must be an integer >= 0")):
        with pytest.raises(ValueError, match=match):
            conv_output_size(*args)
    with pytest.raises(ValueError, match="pooling must be one of"):
        conv_output_size((32, 32), 1, "sum")

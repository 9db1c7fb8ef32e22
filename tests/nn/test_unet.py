"""Tests for cosmojax.nn.unet: shapes, hand-counted parameters, translation equivariance, training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cosmojax.nn import UNet3D

from tests._transforms import assert_vmap_and_jit


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_shape_and_count(key):
    model = UNet3D(features=(4, 8), out_channels=2)
    x = jnp.ones((1, 8, 8, 8, 1))
    params = jax.eval_shape(model.init, key, x)
    assert jax.eval_shape(model.apply, params, x).shape == (1, 8, 8, 8, 2)
    enc = (27 * 1 + 1) * 4 + (27 * 4 + 1) * 4
    bottom = (27 * 4 + 1) * 8 + (27 * 8 + 1) * 8
    up = (8 * 8 + 1) * 4  # 2^3 transposed conv, 8 -> 4 channels
    dec = (27 * 8 + 1) * 4 + (27 * 4 + 1) * 4  # after concatenation: 4 + 4 channels
    head = (4 + 1) * 2
    assert n_params(params) == enc + bottom + up + dec + head


def test_rejects_indivisible(key):
    with pytest.raises(ValueError, match="divisible"):
        UNet3D(features=(4, 8, 16)).init(key, jnp.ones((1, 6, 8, 8, 1)))


def test_learns_smoothing_map(key):
    """Learn field -> 3-point box-smoothed field (a local linear map): error falls 5x."""
    n = 8
    fields = jax.random.normal(key, (n, 8, 8, 8, 1))

    def target_of(f):
        return sum(jnp.roll(f, sh, axis=ax) for ax in (1, 2, 3) for sh in (-1, 0, 1)) / 9.0

    target = target_of(fields)
    model = UNet3D(features=(4, 8))
    params = model.init(key, fields[:1])
    opt = optax.adam(1e-2)

    def loss(p, xb, yb):
        return jnp.mean((model.apply(p, xb) - yb) ** 2)

    @jax.jit
    def train(p):
        def one(c, i):
            p, s = c
            val, g = jax.value_and_grad(loss)(p, fields, target)
            u, s = opt.update(g, s)
            return (optax.apply_updates(p, u), s), val

        return jax.lax.scan(one, (p, opt.init(p)), jnp.arange(100))

    (params, _), vals = train(params)
    test = jax.random.normal(jax.random.fold_in(key, 1), (2, 8, 8, 8, 1))
    # interior voxels only: zero padding differs from the periodic target at the faces
    err = (model.apply(params, test) - target_of(test))[:, 2:-2, 2:-2, 2:-2]
    base = target_of(test)[:, 2:-2, 2:-2, 2:-2]
    assert float(jnp.mean(err**2)) < 0.2 * float(jnp.mean(base**2))
    assert float(vals[-1]) < 0.2 * float(vals[0]) and np.isfinite(float(vals[-1]))


def test_apply_vmaps_over_batches_and_jits(key):
    model = UNet3D(features=(4, 8))
    x = jax.random.normal(key, (2, 1, 8, 8, 8, 1))
    params = model.init(key, x[0])
    assert_vmap_and_jit(lambda xb: model.apply(params, xb), x, rtol=1e-4, atol=1e-5)

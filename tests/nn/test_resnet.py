"""Tests for cosmojax.nn.resnet: shapes, hand-counted parameters, shortcut logic, training."""

import jax
import jax.numpy as jnp
import optax

from cosmojax.nn import PreActBottleneck, PreActResNet

from tests._transforms import assert_vmap_and_jit
from tests.nn._fit import fit_minibatches


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_bottleneck_identity_and_projection(key):
    x = jax.random.normal(key, (2, 8, 8, 16))
    unit = PreActBottleneck(features=4, stride=1, groups=4)
    params = unit.init(key, x)
    assert unit.apply(params, x).shape == (2, 8, 8, 16)
    assert "shortcut" not in params["params"]  # 16 == 4 * 4 channels: identity shortcut
    # norms: 3 GroupNorms with scale+bias over 16, 4, 4 channels; convs without bias
    assert n_params(params) == 2 * (16 + 4 + 4) + 16 * 4 + 9 * 4 * 4 + 4 * 16
    down = PreActBottleneck(features=8, stride=2, groups=4)
    p2 = down.init(key, x)
    assert down.apply(p2, x).shape == (2, 4, 4, 32)
    assert n_params(p2) == 2 * (16 + 8 + 8) + 16 * 32 + 16 * 8 + 9 * 8 * 8 + 8 * 32


def test_resnet_shape_and_count(key):
    model = PreActResNet(stage_sizes=(1, 1), num_classes=2, base_features=4, stem_features=8, groups=4)
    x = jnp.ones((3, 16, 16, 1))
    params = model.init(key, x)
    assert model.apply(params, x).shape == (3, 2)
    stem = 9 * 1 * 8
    unit1 = 2 * (8 + 4 + 4) + 8 * 16 + 8 * 4 + 9 * 4 * 4 + 4 * 16  # 8 -> 16 channels: projection
    unit2 = 2 * (16 + 8 + 8) + 16 * 32 + 16 * 8 + 9 * 8 * 8 + 8 * 32  # stride 2
    final = 2 * 32 + (32 + 1) * 2
    assert n_params(params) == stem + unit1 + unit2 + final


def test_resnet_learns_to_find_rings(key):
    """Classify maps with and without a faint ring (a toy lens finder): accuracy > 90%."""
    n = 256
    k_n, k_l, k_i, k_t = jax.random.split(key, 4)
    yy, xx = jnp.mgrid[-8:8, -8:8] + 0.5
    ring = jnp.exp(-0.5 * ((jnp.hypot(xx, yy) - 4.0) / 0.8) ** 2)
    labels = jax.random.bernoulli(k_l, 0.5, (n,))
    maps = jax.random.normal(k_n, (n, 16, 16)) + 1.5 * labels[:, None, None] * ring
    maps = maps[..., None]
    model = PreActResNet(stage_sizes=(1, 1), num_classes=2, base_features=4, stem_features=8)
    params = model.init(k_i, maps[:1])

    def loss(p, xb, yb):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.apply(p, xb), yb))

    params, vals = fit_minibatches(lambda q, idx: loss(q, maps[idx], labels[idx].astype(jnp.int32)), params, k_t, n,
                                   batch=64, steps=150)
    assert float(jnp.mean(vals[-10:])) < 0.5 * float(vals[0])
    test_labels = jax.random.bernoulli(jax.random.fold_in(k_l, 1), 0.5, (n,))
    test_maps = jax.random.normal(jax.random.fold_in(k_n, 1), (n, 16, 16)) + 1.5 * test_labels[:, None, None] * ring
    pred = jnp.argmax(model.apply(params, test_maps[..., None]), -1)
    assert float(jnp.mean(pred == test_labels)) > 0.9


def test_resnet_apply_vmaps_over_batches_and_jits(key):
    model = PreActResNet(stage_sizes=(1, 1), num_classes=2, base_features=4, stem_features=8, groups=4)
    x = jax.random.normal(key, (3, 2, 16, 16, 1))
    params = model.init(key, x[0])
    assert_vmap_and_jit(lambda xb: model.apply(params, xb), x, rtol=1e-4, atol=1e-5)

"""Spherical convolution layers: shapes, equivariance, pooling and a short training run."""

import healpy as hp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

from cosmojax.sphere import (
    ChebConv,
    HealpixPool,
    HealpixUnpool,
    base_rotation_permutation,
    healpix_graph,
    healpix_pool,
    healpix_unpool,
)


def test_shapes_and_parameter_count(key):
    layer = ChebConv(nside=4, features=5, order=3)
    x = jnp.ones((2, 192, 3))
    params = layer.init(key, x)
    assert layer.apply(params, x).shape == (2, 192, 5)
    sizes = jax.tree_util.tree_map(jnp.shape, params["params"])
    assert sizes == {"kernel": (9, 5), "bias": (5,)}
    assert healpix_pool(x).shape == (2, 48, 3)
    assert healpix_unpool(x).shape == (2, 768, 3)


def test_graph_is_symmetric_and_rotation_is_automorphism():
    nside = 4
    graph = healpix_graph(nside, "gaussian")
    npix = 12 * nside**2
    perm = base_rotation_permutation(nside)
    weights = {}
    for i in range(npix):
        for j, w in zip(graph.neighbours[i], graph.weights[i]):
            if j < npix:
                weights[(i, int(j))] = w
    assert all(weights[(j, i)] == pytest.approx(w) for (i, j), w in weights.items())
    assert all(weights[(perm[i], perm[j])] == pytest.approx(w, rel=1e-9) for (i, j), w in weights.items())
    theta, phi = hp.pix2ang(nside, np.arange(npix), nest=True)
    np.testing.assert_array_equal(perm, hp.ang2pix(nside, theta, phi + np.pi / 2, nest=True))


@pytest.mark.parametrize("weights", ["gaussian", "binary"])
def test_chebconv_equivariant_to_base_pixel_rotation(key, weights):
    nside = 4
    layer = ChebConv(nside=nside, features=4, order=4, weights=weights)
    x = jax.random.normal(key, (12 * nside**2, 2))
    params = layer.init(key, x)
    for turns in (1, 2, 3):
        perm = base_rotation_permutation(nside, turns)
        rotated = jnp.zeros_like(x).at[perm].set(x)
        out = layer.apply(params, x)
        out_rot = layer.apply(params, rotated)
        np.testing.assert_allclose(out_rot[perm], out, atol=1e-5)
        # pooling commutes with the rotation too
        pooled = healpix_pool(rotated[None])[0]
        coarse = base_rotation_permutation(nside // 2, turns)
        np.testing.assert_allclose(pooled[coarse], healpix_pool(x[None])[0], atol=1e-6)


def test_pooling_follows_nested_hierarchy():
    nside = 8
    values = np.random.default_rng(0).normal(size=12 * nside**2).astype(np.float32)
    pooled = healpix_pool(values[:, None])[:, 0]
    np.testing.assert_allclose(pooled, hp.ud_grade(values, nside // 2, order_in="NESTED"), rtol=1e-5, atol=1e-6)
    up = healpix_unpool(pooled[:, None])[:, 0]
    np.testing.assert_allclose(up, hp.ud_grade(np.asarray(pooled), nside, order_in="NESTED"), rtol=1e-6)
    np.testing.assert_allclose(healpix_pool(up[:, None])[:, 0], pooled, rtol=1e-6)
    assert float(healpix_pool(values[:, None], "max").max()) == pytest.approx(values.max())


class _Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(ChebConv(nside=4, features=8, order=3)(x))
        x = HealpixPool()(x)
        x = nn.relu(ChebConv(nside=2, features=8, order=3)(x))
        x = HealpixUnpool()(x)
        return ChebConv(nside=4, features=1, order=3)(x)


def test_short_training_run_learns(key):
    # learn to smooth: the target is the neighbour average of the input
    nside = 4
    graph = healpix_graph(nside, "binary")
    data_key, init_key = jax.random.split(key)
    x = jax.random.normal(data_key, (16, 12 * nside**2, 1))
    padded = jnp.concatenate([x, jnp.zeros((16, 1, 1))], axis=1)
    target = (x + jnp.sum(padded[:, graph.neighbours] * graph.weights[None, ..., None], axis=2)) / (
        1 + graph.degree[None, :, None]
    )
    model = _Net()
    params = model.init(init_key, x)
    opt = optax.adam(1e-2)
    state = opt.init(params)

    def loss_fn(p):
        return jnp.mean((model.apply(p, x) - target) ** 2)

    @jax.jit
    def step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = opt.update(grads, s)
        return optax.apply_updates(p, updates), s, loss

    first = float(loss_fn(params))
    for _ in range(80):
        params, state, loss = step(params, state)
    assert float(loss_fn(params)) < 0.2 * first


def test_bad_input_raises(key):
    with pytest.raises(ValueError, match="pixels|shape"):
        ChebConv(nside=4, features=2).init(key, jnp.ones((100, 1)))
    with pytest.raises(ValueError, match="reduce"):
        healpix_pool(jnp.ones((48, 1)), "median")
    with pytest.raises(ValueError, match="nside"):
        healpix_graph(3)
    with pytest.raises(ValueError, match="pixels"):
        healpix_pool(jnp.ones((50, 1)))

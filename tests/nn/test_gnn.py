"""Tests for cosmojax.nn.gnn: graph construction, shapes, counts, permutation symmetry, L1, training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cosmojax.nn import GNN, apply_with_message_penalty, knn_graph, message_l1, radius_graph

from tests._transforms import assert_vmap_and_jit


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def _brute_knn(pos, k, box=None):
    d = pos[:, None, :] - pos[None, :, :]
    if box is not None:
        d = d - box * np.round(d / box)
    r2 = np.sum(d**2, -1)
    np.fill_diagonal(r2, np.inf)
    return np.argsort(r2, axis=1)[:, :k]


@pytest.mark.parametrize("box", [None, 1.0])
def test_knn_graph_matches_brute_force(key, box):
    pos = np.asarray(jax.random.uniform(key, (50, 3)))
    senders, receivers = knn_graph(jnp.asarray(pos), 4, box_size=box, chunk_size=16)
    assert senders.shape == receivers.shape == (200,)
    np.testing.assert_array_equal(np.asarray(receivers), np.repeat(np.arange(50), 4))
    got = np.sort(np.asarray(senders).reshape(50, 4), axis=1)
    np.testing.assert_array_equal(got, np.sort(_brute_knn(pos, 4, box), axis=1))


def test_radius_graph_and_bad_input(key):
    pos = np.array([[0.0, 0.0], [0.5, 0.0], [0.95, 0.0]])
    s, r = radius_graph(pos, 0.6)
    assert sorted(zip(s.tolist(), r.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    s, r = radius_graph(pos, 0.1, box_size=1.0)  # 0 and 0.95 are 0.05 apart through the boundary
    assert sorted(zip(s.tolist(), r.tolist())) == [(0, 2), (2, 0)]
    with pytest.raises(ValueError, match="k must"):
        knn_graph(jnp.zeros((5, 2)), 5)


def test_shape_count_and_permutation_symmetry(key):
    k1, k2, k3 = jax.random.split(key, 3)
    n, k = 30, 5
    pos = jax.random.uniform(k1, (n, 2))
    feats = jax.random.normal(k2, (n, 3))
    s, r = knn_graph(pos, k)
    edges = pos[s] - pos[r]
    model = GNN(message_features=(16, 4), node_features=(16, 8), out_features=2, n_layers=2)
    params = model.init(key, feats, s, r, edges)
    out = jax.jit(model.apply)(params, feats, s, r, edges)
    assert out.shape == (n, 2)
    layer0 = (2 * 3 + 2 + 1) * 16 + (16 + 1) * 4 + (3 + 4 + 1) * 16 + (16 + 1) * 8
    layer1 = (2 * 8 + 2 + 1) * 16 + (16 + 1) * 4 + (8 + 4 + 1) * 16 + (16 + 1) * 8
    assert n_params(params) == layer0 + layer1 + (8 + 1) * 2
    # relabel the nodes: node outputs permute along, the pooled output is unchanged
    perm = jax.random.permutation(k3, n)
    inv = jnp.argsort(perm)
    out_p = model.apply(params, feats[perm], inv[s], inv[r], edges)
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-5, atol=1e-6)
    # edge order does not matter either
    eperm = jax.random.permutation(k3, s.size)
    np.testing.assert_allclose(model.apply(params, feats, s[eperm], r[eperm], edges[eperm]), out, rtol=1e-5, atol=1e-5)
    pooled = GNN((16, 4), (16, 8), 1, readout="sum")
    pp = pooled.init(key, feats, s, r, edges)
    np.testing.assert_allclose(
        pooled.apply(pp, feats[perm], inv[s], inv[r], edges), pooled.apply(pp, feats, s, r, edges), rtol=1e-5
    )


def test_message_penalty(key):
    n = 10
    feats = jax.random.normal(key, (n, 2))
    s, r = knn_graph(jax.random.uniform(key, (n, 2)), 3)
    model = GNN((8, 3), (8, 4), 1, n_layers=2)
    params = model.init(key, feats, s, r)
    out, l1 = apply_with_message_penalty(model, params, feats, s, r)
    _, state = model.apply(params, feats, s, r, mutable=["intermediates"])
    msgs = state["intermediates"]["messages"]
    assert len(msgs) == 2 and msgs[0].shape == (n * 3, 3)
    expect = sum(float(jnp.mean(jnp.sum(jnp.abs(m), -1))) for m in msgs)
    np.testing.assert_allclose(l1, expect, rtol=1e-6)
    np.testing.assert_allclose(out, model.apply(params, feats, s, r), rtol=1e-6)
    half = jnp.arange(s.size) % 2 == 0
    _, l1_masked = apply_with_message_penalty(model, params, feats, s, r, edge_mask=half)
    _, state = model.apply(params, feats, s, r, edge_mask=half, mutable=["intermediates"])
    masked_msgs = state["intermediates"]["messages"]
    assert float(jnp.max(jnp.abs(masked_msgs[0][~half]))) == 0.0
    expect = sum(float(jnp.sum(jnp.abs(m[half]))) / int(jnp.sum(half)) for m in masked_msgs)
    np.testing.assert_allclose(l1_masked, expect, rtol=1e-6)
    np.testing.assert_allclose(message_l1(masked_msgs, half), expect, rtol=1e-6)
    g = jax.grad(lambda p: apply_with_message_penalty(model, p, feats, s, r)[1])(params)
    assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(g))


def test_learns_pairwise_force_with_sparse_messages(key):
    """Predict the net 1/r^2-like pull on each particle from its neighbours (a Cranmer-style task).

    Trained with an L1 message penalty, the relative node MSE falls 10x.
    """
    n_graphs, n, k = 64, 16, 6
    pos = jax.random.uniform(key, (n_graphs, n, 2))

    def force(p):
        d = p[None, :, :] - p[:, None, :]
        r2 = jnp.sum(d**2, -1) + 0.05
        w = jnp.where(jnp.eye(n, dtype=bool), 0.0, 1.0 / r2)
        return jnp.sum(w[..., None] * d, axis=1) / n

    s, r = jax.vmap(lambda p: knn_graph(p, n - 1))(pos)
    target = jax.vmap(force)(pos)
    feats = jnp.zeros((n_graphs, n, 1))
    edges = jax.vmap(lambda p, s_, r_: p[s_] - p[r_])(pos, s, r)
    model = GNN((32, 32, 4), (32, 2), 2)
    params = model.init(key, feats[0], s[0], r[0], edges[0])
    opt = optax.adam(3e-3)

    def batch_out(p):
        return jax.vmap(lambda f, s_, r_, e: apply_with_message_penalty(model, p, f, s_, r_, e))(feats, s, r, edges)

    def loss(p, alpha):
        out, l1 = batch_out(p)
        return jnp.mean((out - target) ** 2) / jnp.mean(target**2) + alpha * jnp.mean(l1)

    @jax.jit
    def train(p):
        def one(c, i):
            p, st = c
            g = jax.grad(loss)(p, 1e-3)
            u, st = opt.update(g, st)
            return (optax.apply_updates(p, u), st), None

        return jax.lax.scan(one, (p, opt.init(p)), jnp.arange(400))[0][0]

    before = float(loss(params, 0.0))
    trained = train(params)
    assert float(loss(trained, 0.0)) < before / 10


def test_graph_model_and_penalty_vmap_over_graphs_and_jit(key):
    k1, k2 = jax.random.split(key)
    pos = jax.random.uniform(k1, (2, 12, 2))
    feats = jax.random.normal(k2, (2, 12, 3))
    assert_vmap_and_jit(lambda p: knn_graph(p, 3), pos)
    s, r = jax.vmap(lambda p: knn_graph(p, 3))(pos)
    edges = jax.vmap(lambda p, s_, r_: p[s_] - p[r_])(pos, s, r)
    model = GNN(message_features=(8, 4), node_features=(8, 4), out_features=2, n_layers=1)
    params = model.init(key, feats[0], s[0], r[0], edges[0])
    assert_vmap_and_jit(lambda f, s_, r_, e: apply_with_message_penalty(model, params, f, s_, r_, e), feats, s, r, edges,
                        rtol=1e-4, atol=1e-5)
    messages = jax.random.normal(k1, (2, 36, 4))
    assert_vmap_and_jit(lambda m: message_l1([m]), messages)


def test_knn_graph_accepts_numpy_positions_as_read_catalogue_returns():
    pos = np.random.default_rng(1).uniform(0, 10, (30, 3))  # float64 numpy, like read_catalogue
    s_np, r_np = knn_graph(pos, 4, box_size=10.0, chunk_size=7)
    s_j, r_j = knn_graph(jnp.asarray(pos), 4, box_size=10.0, chunk_size=7)
    np.testing.assert_array_equal(s_np, s_j)
    np.testing.assert_array_equal(r_np, r_j)
    # brute force: the 4 nearest (minimum image) of point 0
    d = pos - pos[0]
    d -= 10.0 * np.round(d / 10.0)
    nearest = np.argsort(np.sum(d**2, axis=1))[1:5]
    assert set(np.asarray(s_np[r_np == 0])) == set(nearest)


def test_knn_graph_refuses_bad_sizes_and_complex_positions():
    pos = np.random.default_rng(2).uniform(0, 10, (20, 3))
    for k in (2.5, 0, "3", True):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            knn_graph(pos, k)
    with pytest.raises(ValueError, match="k must satisfy 1 <= k < N = 20"):
        knn_graph(pos, 20)
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        knn_graph(pos, 3, chunk_size=10.5)
    with pytest.raises(TypeError, match="pos must be real"):
        knn_graph(pos + 0j, 3)
    with pytest.raises(TypeError, match="pos must be real"):
        radius_graph(pos + 0j, 1.0)
    with pytest.raises(ValueError, match="box_size must be > 0"):
        radius_graph(pos, 1.0, box_size=-1.0)

"""Multi-device execution: the counts on 4 forced host devices equal those on one."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import parallel

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from cosmojax.stats.pairs import pair_counts, pair_counts_smu
    from cosmojax.stats.triplets import triplet_counts

    assert len(jax.local_devices()) == 4, jax.local_devices()
    rng = np.random.default_rng(7)
    pos = rng.uniform(0, 40.0, (600, 3))
    w = rng.uniform(0.5, 1.5, 600)
    edges = np.linspace(0.0, 20.0, 6)
    out = {}
    for n in (1, 4):
        pc = pair_counts(pos, edges=edges, box_size=40.0, weights1=w, devices=n, chunk_size=4096)
        smu = pair_counts_smu(pos[:300], pos[300:], edges=edges, mu_edges=np.linspace(0, 1, 4), box_size=40.0,
                              devices=n)
        tc = triplet_counts(pos[:150], edges=np.array([2.0, 6.0, 10.0]), box_size=40.0, devices=n)
        out[n] = {"pairs": pc.counts.tolist(), "weighted": np.asarray(pc.weighted).tolist(),
                  "smu": smu.counts.tolist(), "triplets": tc.counts.tolist()}
    from cosmojax import parallel
    import jax.numpy as jnp
    mesh = parallel.device_mesh(4)
    xs = jnp.arange(16.0)
    placed = parallel.shard_leading(xs, mesh)
    out["placed_devices"] = len(placed.sharding.device_set)
    mapped = jax.jit(lambda x: parallel.sharded_map(lambda a: a**2 + 1.0, x, mesh, chunk_size=4))(xs)
    out["mapped"] = np.asarray(mapped).tolist()
    out["mapped_devices"] = len(mapped.sharding.device_set)
    d = pos[:, None, :] - pos[None, :, :]
    d = d - 40.0 * np.round(d / 40.0)
    d2 = np.sum(d * d, axis=-1)[np.triu_indices(600, 1)]
    b = np.searchsorted(edges**2, d2, side="right") - 1
    out["brute"] = np.bincount(b[(b >= 0) & (b < 5)], minlength=5).tolist()
    print(json.dumps(out))
    """
)


def test_four_host_devices_match_one_device_and_brute_force():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    one, four = out["1"], out["4"]
    assert one["pairs"] == four["pairs"] == out["brute"]
    assert sum(one["pairs"]) > 10000
    np.testing.assert_allclose(four["weighted"], one["weighted"], rtol=1e-12)
    assert one["smu"] == four["smu"] and sum(map(sum, one["smu"])) > 1000
    assert one["triplets"] == four["triplets"] and np.sum(one["triplets"]) > 0
    assert out["placed_devices"] == 4
    assert out["mapped"] == (np.arange(16.0) ** 2 + 1.0).tolist()


def test_map_sum_on_one_device_and_device_selection():
    mesh = parallel.device_mesh(1)
    assert mesh.size == 1 and parallel.local_devices(None) == jax.local_devices()

    def f(shard, scale):
        return {"s": jnp.sum(shard) * scale}

    g = jax.jit(parallel.map_sum(f, mesh))
    x = jnp.arange(12.0).reshape(1, 12)
    assert float(g(x, 2.0)["s"]) == 132.0
    with pytest.raises(ValueError, match="devices"):
        parallel.local_devices(len(jax.local_devices()) + 1)
    with pytest.raises(ValueError, match="devices"):
        parallel.local_devices([])
    for bad in (True, 1.5, 0):
        with pytest.raises(ValueError, match="devices"):
            parallel.local_devices(bad)
    assert parallel.local_devices(1.0) == jax.local_devices()[:1]


def test_sharded_map_equals_vmap_eager_jit_and_grad():
    mesh = parallel.device_mesh()
    xs = {"a": jnp.arange(12.0), "b": jnp.linspace(0.0, 1.0, 12)}
    f = lambda x: jnp.sin(x["a"]) * x["b"] + x["a"] ** 2  # noqa: E731
    want = jax.vmap(f)(xs)
    for chunk in (None, 3, 12, 20):
        np.testing.assert_allclose(parallel.sharded_map(f, xs, mesh, chunk), want, rtol=1e-6)
        np.testing.assert_allclose(jax.jit(lambda x: parallel.sharded_map(f, x, mesh, chunk))(xs), want, rtol=1e-6)
    # differentiable through f: d/da sum(sin(a) b + a^2) = cos(a) b + 2 a
    g = jax.grad(lambda a: jnp.sum(parallel.sharded_map(f, {"a": a, "b": xs["b"]}, mesh, 4)))(xs["a"])
    np.testing.assert_allclose(g, jnp.cos(xs["a"]) * xs["b"] + 2 * xs["a"], rtol=1e-6)
    with pytest.raises(ValueError, match="chunk_size must divide"):
        parallel.sharded_map(f, xs, mesh, 5)
    # shard_leading keeps the values, eagerly and under jit, and passes through without a mesh
    np.testing.assert_array_equal(parallel.shard_leading(xs["a"], mesh), xs["a"])
    np.testing.assert_array_equal(jax.jit(lambda a: parallel.shard_leading(a, mesh))(xs["a"]), xs["a"])
    assert parallel.shard_leading(xs["a"], None) is xs["a"]

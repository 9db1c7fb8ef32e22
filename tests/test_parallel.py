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

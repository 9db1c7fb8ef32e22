"""Tests for cosmojax.imnn.derivatives: the three derivative strategies agree, chunking and
device sharding change nothing, bad input is rejected."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import parallel
from cosmojax.imnn import autodiff, finite_differences, precomputed, sharded_map, simulate_dataset


def theta_fid():
    return jnp.array([0.5, 2.0])


def simulator(key, theta):
    """d = mu + sqrt(v) z, z ~ N(0, 1)^6: linear in mu, smooth in v."""
    return theta[0] + jnp.sqrt(theta[1]) * jax.random.normal(key, (6,))


def apply_fn(w, d):
    return jnp.stack([jnp.sum(w * d), jnp.sum(w * d**2)])


def weights():
    return jnp.linspace(0.5, 1.5, 6)


def test_strategies_agree(key, x64):
    THETA, W = theta_fid(), weights()
    n_s, n_d = 12, 6
    ad = autodiff(simulator, THETA, n_s, n_d)
    fd = finite_differences(simulator, THETA, jnp.array([1e-4, 1e-4]), n_s, n_d)
    x_ad, dx_ad = ad.compute(apply_fn, W, key)
    x_fd, dx_fd = fd.compute(apply_fn, W, key)
    assert x_ad.shape == (n_s, 2) and dx_ad.shape == (n_d, 2, 2)
    np.testing.assert_allclose(x_fd, x_ad, rtol=1e-12)
    np.testing.assert_allclose(dx_fd, dx_ad, rtol=1e-6, atol=1e-8)
    # by hand for simulation 0: d s1 / d mu = sum w, d s1 / d v = sum w z / (2 sqrt v)
    z = jax.random.normal(jax.random.fold_in(key, 0), (6,))
    np.testing.assert_allclose(dx_ad[0, 0, 0], jnp.sum(W), rtol=1e-12)
    np.testing.assert_allclose(dx_ad[0, 1, 0], jnp.sum(W * z) / (2 * jnp.sqrt(THETA[1])), rtol=1e-12)
    # precomputed data sets reproduce the on-the-fly sources
    fid, plus, minus = simulate_dataset(key, simulator, THETA, n_s, n_d, delta=1e-4)
    x_pc, dx_pc = precomputed(fid, plus=plus, minus=minus, delta=1e-4).compute(apply_fn, W, None)
    np.testing.assert_allclose(x_pc, x_ad, rtol=1e-12)
    np.testing.assert_allclose(dx_pc, dx_fd, rtol=1e-12)
    dd = jax.vmap(lambda k: jnp.moveaxis(jax.jacfwd(lambda t: simulator(k, t))(THETA), -1, 0))(
        jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_d, dtype=jnp.uint32))
    )
    _, dx_dd = precomputed(fid, data_derivatives=dd).compute(apply_fn, W, None)
    np.testing.assert_allclose(dx_dd, dx_ad, rtol=1e-12)


def test_chunks_and_mesh_change_nothing(key):
    THETA, W = theta_fid(), weights()
    src = autodiff(simulator, THETA, 16, 8)
    x0, dx0 = jax.jit(lambda k: src.compute(apply_fn, W, k))(key)
    chunked = autodiff(simulator, THETA, 16, 8, chunk_size=4)
    mesh = parallel.device_mesh()
    assert sharded_map is parallel.sharded_map  # one implementation, re-exported by cosmojax.imnn
    x1, dx1 = jax.jit(lambda k: chunked.compute(apply_fn, W, k, mesh))(key)
    np.testing.assert_allclose(x1, x0, rtol=1e-6)
    np.testing.assert_allclose(dx1, dx0, rtol=1e-6)
    y = sharded_map(lambda a: a**2, jnp.arange(12.0), mesh, chunk_size=3)
    np.testing.assert_allclose(y, jnp.arange(12.0) ** 2)
    with pytest.raises(ValueError, match="chunk_size"):
        sharded_map(lambda a: a, jnp.arange(10.0), None, chunk_size=3)


def test_bad_input():
    THETA = theta_fid()
    with pytest.raises(ValueError, match="n_s"):
        autodiff(simulator, THETA, 1)
    with pytest.raises(ValueError, match="n_d"):
        autodiff(simulator, THETA, 4, 5)
    with pytest.raises(ValueError, match="delta"):
        finite_differences(simulator, THETA, jnp.array([1e-3, 0.0]), 4)
    with pytest.raises(ValueError, match="NaN"):
        autodiff(simulator, jnp.array([jnp.nan, 1.0]), 4)
    with pytest.raises(ValueError, match="plus, minus and delta"):
        precomputed(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="data_derivatives"):
        precomputed(jnp.zeros((4, 3)), data_derivatives=jnp.zeros((4, 2, 5)))
    # sizes are whole numbers, never truncated
    with pytest.raises(ValueError, match="n_d"):
        autodiff(simulator, THETA, 4, 2.5)
    with pytest.raises(ValueError, match="n_s"):
        autodiff(simulator, THETA, 4.5, 2)
    for bad in (2.5, True, 0):
        with pytest.raises(ValueError, match="chunk_size"):
            autodiff(simulator, THETA, 4, 2, chunk_size=bad)
    with pytest.raises(ValueError, match="chunk_size must divide"):
        finite_differences(simulator, THETA, 1e-3, 6, 6, chunk_size=4)
    with pytest.raises(ValueError, match="chunk_size"):
        sharded_map(lambda a: a, jnp.arange(10.0), None, chunk_size=2.5)


_TWO_DEVICE_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np, optax
from cosmojax.imnn import autodiff, imnn
assert len(jax.devices()) == 2, jax.devices()
def simulator(key, theta):
    return theta[0] + jnp.sqrt(theta[1]) * jax.random.normal(key, (6,))
def apply_fn(w, d):
    return jnp.stack([jnp.sum(w * d), jnp.sum(w * d**2)])
model = imnn(apply_fn, optax.sgd(0.0), autodiff(simulator, jnp.array([0.5, 2.0]), 16, 8))
w = jnp.linspace(0.5, 1.5, 6)
stats = jax.jit(model.fisher)(w, jax.random.key(3))
print(repr(np.asarray(stats.F).tolist()))
try:
    imnn(apply_fn, optax.sgd(0.0), autodiff(simulator, jnp.array([0.5, 2.0]), 15, 8))
except ValueError as err:
    print("rejected", "multiples" in str(err))
"""


def test_two_devices_give_the_same_fisher():
    """Sharded over two (host) devices, the Fisher matrix equals the single-device one."""
    import ast
    import os
    import subprocess
    import sys

    import optax

    from cosmojax.imnn import imnn

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", _TWO_DEVICE_SCRIPT], capture_output=True, text=True, env=env, check=True, timeout=300
    )
    lines = out.stdout.strip().splitlines()
    F_two = np.asarray(ast.literal_eval(lines[0]))
    assert lines[1] == "rejected True"
    model = imnn(apply_fn, optax.sgd(0.0), autodiff(simulator, theta_fid(), 16, 8))
    F_one = np.asarray(jax.jit(model.fisher)(weights(), jax.random.key(3)).F)
    np.testing.assert_allclose(F_two, F_one, rtol=1e-4)

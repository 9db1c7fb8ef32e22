"""Local bias: linear, quadratic and tidal terms, Lagrangian and Eulerian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims.bias_expansion import (BiasParams, bias_expansion, eulerian_bias, lagrangian_bias, lagrangian_weights,
                                tidal_squared)
from cosmojax.sims.config import SimConfig

from tests._transforms import assert_vmap_and_jit


def _plane_wave(n=16, box=100.0, amplitude=0.3, mode=2):
    x = np.arange(n) * box / n
    return jnp.asarray(amplitude * np.cos(2 * np.pi * mode * x / box))[:, None, None] * jnp.ones((n, n, n))


def test_tidal_invariant_of_a_plane_wave_is_two_thirds_delta_squared():
    # s_ij = diag(2/3, -1/3, -1/3) delta for a wave along x, so s^2 = 2/3 delta^2
    delta = _plane_wave()
    np.testing.assert_allclose(tidal_squared(delta, 100.0), 2.0 / 3.0 * delta**2, atol=1e-6)


def test_eulerian_expansion_term_by_term():
    delta = _plane_wave()
    d2 = delta**2
    got = eulerian_bias(delta, BiasParams(b1=2.0, b2=0.5, bs2=-0.4), 100.0)
    want = 2.0 * delta + 0.25 * (d2 - d2.mean()) - 0.4 * (2.0 / 3.0) * (d2 - d2.mean())
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert abs(float(got.mean())) < 1e-6


def test_bias_gradient_is_the_expansion_term():
    delta = jax.random.normal(jax.random.key(0), (8, 8, 8))
    g = jax.grad(lambda b: jnp.sum(eulerian_bias(delta, b, 50.0) * delta))(BiasParams(1.5, 0.3, 0.1))
    np.testing.assert_allclose(g.b1, jnp.sum(delta**2), rtol=1e-5)
    np.testing.assert_allclose(g.b2, 0.5 * jnp.sum((delta**2 - jnp.mean(delta**2)) * delta), rtol=1e-4)
    s2 = tidal_squared(delta, 50.0)
    np.testing.assert_allclose(g.bs2, jnp.sum((s2 - s2.mean()) * delta), rtol=1e-4)


def test_lagrangian_bias_without_displacement_is_the_weights():
    config = SimConfig(mesh_shape=8, box_size=40.0)
    delta_lin = 0.1 * jax.random.normal(jax.random.key(1), config.mesh_shape)
    bias = BiasParams(b1=1.2, b2=0.4, bs2=0.2)
    field = lagrangian_bias(jnp.zeros((512, 3)), delta_lin, bias, config)
    weights = lagrangian_weights(delta_lin, bias, config.box_size).reshape(config.mesh_shape)
    np.testing.assert_allclose(field, weights / weights.mean() - 1.0, atol=1e-5)


def test_lagrangian_bias_moves_weight_with_the_particles():
    config = SimConfig(mesh_shape=8, box_size=40.0)
    delta_lin = 0.1 * jax.random.normal(jax.random.key(2), config.mesh_shape)
    bias = BiasParams(b1=1.0)
    shifted = lagrangian_bias(jnp.full((512, 3), config.spacing) * jnp.array([1.0, 0.0, 0.0]), delta_lin, bias, config)
    still = lagrangian_bias(jnp.zeros((512, 3)), delta_lin, bias, config)
    np.testing.assert_allclose(shifted, jnp.roll(still, 1, axis=0), atol=1e-5)


def test_bad_input_raises():
    config = SimConfig(mesh_shape=8, box_size=40.0)
    with pytest.raises(ValueError, match="delta_lin"):
        lagrangian_bias(jnp.zeros((512, 3)), jnp.zeros((4, 4, 4)), BiasParams(), config)
    with pytest.raises(ValueError, match="delta"):
        eulerian_bias(jnp.zeros((8, 8)), BiasParams(), 10.0)


def _batch(n=3, shape=(8, 8, 8), scale=0.2):
    return scale * jax.random.normal(jax.random.key(5), (n,) + shape)


@pytest.mark.parametrize("name", ["tidal_squared", "bias_expansion", "eulerian_bias", "lagrangian_weights"])
def test_mesh_functions_vmap_over_fields_and_bias_and_jit(name):
    deltas = _batch()
    biases = BiasParams(b1=jnp.array([1.0, 1.5, 2.0]), b2=jnp.array([0.0, 0.3, -0.2]), bs2=jnp.array([0.1, 0.0, 0.2]))
    if name == "tidal_squared":
        assert_vmap_and_jit(lambda d: tidal_squared(d, 40.0), deltas)
        return
    fn = {"bias_expansion": bias_expansion, "eulerian_bias": eulerian_bias,
          "lagrangian_weights": lagrangian_weights}[name]
    assert_vmap_and_jit(lambda d, b: fn(d, b, 40.0), deltas, biases)


def test_lagrangian_bias_vmaps_over_snapshots_and_jits():
    config = SimConfig(mesh_shape=4, box_size=20.0)
    disp = 2.0 * jax.random.normal(jax.random.key(6), (2, 64, 3))
    deltas = _batch(2, (4, 4, 4))
    assert_vmap_and_jit(lambda x, d: lagrangian_bias(x, d, BiasParams(b1=0.5, b2=0.2), config), disp, deltas)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.nn.bias_network import SHELL_INDEX, IsotropicConv3D, NeuralBias, isotropic_kernel


def test_parameter_count_and_shapes():
    net = NeuralBias()
    delta = 0.3 * jax.random.normal(jax.random.key(0), (8, 8, 8))
    params = net.init(jax.random.key(1), delta)
    # conv: 4 shells x 1 input x 3 filters + 3 biases; head: 3 + 1
    assert sum(x.size for x in jax.tree_util.tree_leaves(params)) == 4 * 3 + 3 + 3 + 1
    rate = net.apply(params, delta)
    assert rate.shape == (8, 8, 8) and bool(jnp.all(rate > 0))
    batch = net.apply(params, jnp.stack([delta, delta]))
    np.testing.assert_allclose(batch[1], rate, rtol=1e-6)
    assert sum(x.size for x in jax.tree_util.tree_leaves(NeuralBias(features=5).init(jax.random.key(1), delta))) == 4 * 5 + 5 + 5 + 1


def test_shell_index_counts():
    assert [int(np.sum(SHELL_INDEX == s)) for s in range(4)] == [1, 6, 12, 8]


def test_rate_is_equivariant_to_rotations_reflections_and_shifts():
    net = NeuralBias()
    delta = jnp.exp(0.5 * jax.random.normal(jax.random.key(2), (6, 6, 6))) - 1
    params = net.init(jax.random.key(3), delta)
    rate = net.apply(params, delta)
    rot = jnp.rot90(delta, k=1, axes=(0, 1))
    np.testing.assert_allclose(net.apply(params, rot), jnp.rot90(rate, k=1, axes=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(net.apply(params, delta[::-1]), rate[::-1], rtol=1e-5)
    np.testing.assert_allclose(net.apply(params, jnp.transpose(delta, (2, 0, 1))), jnp.transpose(rate, (2, 0, 1)), rtol=1e-5)
    np.testing.assert_allclose(net.apply(params, jnp.roll(delta, 2, axis=1)), jnp.roll(rate, 2, axis=1), rtol=1e-5)


def test_isotropic_conv_matches_a_direct_periodic_stencil(x64):
    conv = IsotropicConv3D(features=1)
    x = jax.random.normal(jax.random.key(4), (1, 5, 5, 5, 1))
    params = conv.init(jax.random.key(5), x)
    shells = np.asarray(params["params"]["shells"])[:, 0, 0]
    out = np.asarray(conv.apply(params, x))[0, ..., 0]
    xs = np.asarray(x)[0, ..., 0]
    direct = np.zeros_like(xs)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                direct += shells[abs(dx) + abs(dy) + abs(dz)] * np.roll(xs, (-dx, -dy, -dz), axis=(0, 1, 2))
    np.testing.assert_allclose(out, direct, atol=1e-12)


def test_empty_cells_give_finite_rates_and_gradients():
    net = NeuralBias()
    delta = jnp.full((4, 4, 4), -1.0).at[0, 0, 0].set(5.0)
    params = net.init(jax.random.key(0), delta)
    assert bool(jnp.all(jnp.isfinite(net.apply(params, delta))))
    g = jax.grad(lambda p: jnp.sum(net.apply(p, delta)))(params)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(g))
    with pytest.raises(ValueError, match="delta must have shape"):
        net.apply(params, jnp.zeros((4, 4)))


def test_shell_sums_equal_a_dense_convolution_with_the_expanded_kernel(x64):
    conv = IsotropicConv3D(features=3)
    x = jax.random.normal(jax.random.key(6), (2, 6, 5, 4, 2))
    params = conv.init(jax.random.key(7), x)
    kernel = isotropic_kernel(params["params"]["shells"])
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)), mode="wrap")
    dense = jax.lax.conv_general_dilated(
        padded, kernel, (1, 1, 1), "VALID", dimension_numbers=("NDHWC", "DHWIO", "NDHWC")
    ) + params["params"]["bias"]
    np.testing.assert_allclose(conv.apply(params, x), dense, atol=1e-12)

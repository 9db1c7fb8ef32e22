"""Tracer sampling from a biased density."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims.tracers import count_field, counts_to_positions, fixed_number_tracers, poisson_counts, poisson_rate

from tests._transforms import assert_vmap_and_jit, keys


def test_poisson_counts_have_the_expected_mean_and_variance():
    delta = jnp.zeros((16, 16, 16))
    nbar = 2e-3  # (h/Mpc)^3; cells of (100/16)^3 hold 0.49 on average
    counts = poisson_counts(jax.random.key(0), delta, 100.0, nbar)
    expected = nbar * 100.0**3 / 4096
    assert counts.dtype == jnp.int32
    mean, var = float(counts.mean()), float(counts.var())
    assert abs(mean - expected) < 5 * np.sqrt(expected / 4096)
    assert abs(var / mean - 1.0) < 0.1


def test_rate_follows_the_density_and_floors_at_zero():
    delta = jnp.array([-2.0, -1.0, 0.0, 1.0, 3.0]).reshape(5, 1, 1) * jnp.ones((5, 2, 2))
    rate = poisson_rate(delta, (50.0, 20.0, 20.0), 1e-3)
    np.testing.assert_allclose(rate[:, 0, 0], 1e-3 * 1000.0 * np.array([0.0, 0.0, 1.0, 2.0, 4.0]), rtol=1e-6)


def test_positions_of_counts_land_in_their_cells():
    counts = poisson_counts(jax.random.key(1), jnp.zeros((8, 8, 8)), 40.0, 0.05)
    total = int(counts.sum())
    pos, valid = counts_to_positions(jax.random.key(2), counts, 40.0, max_tracers=total + 7)
    assert int(valid.sum()) == total and not bool(valid[-1])
    recount = count_field(pos, (8, 8, 8), 40.0, weights=valid.astype(pos.dtype))
    np.testing.assert_array_equal(np.asarray(recount), np.asarray(counts))
    with pytest.raises(ValueError, match="max_tracers"):
        counts_to_positions(jax.random.key(2), counts, 40.0, max_tracers=total - 1)


def test_fixed_number_sampling_avoids_empty_regions():
    delta = jnp.concatenate([jnp.full((4, 8, 8), -1.0), jnp.full((4, 8, 8), 1.0)])
    pos = fixed_number_tracers(jax.random.key(3), delta, 80.0, 2000)
    assert pos.shape == (2000, 3)
    cells = np.floor(np.asarray(pos[:, 0]) / 10.0 + 0.5).astype(int) % 8
    assert np.all(cells >= 4)
    # delta_t = +1 is uniform over the four occupied x-planes: a quarter of the tracers each
    fractions = np.bincount(cells, minlength=8)[4:] / 2000
    assert np.all(np.abs(fractions - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 2000))
    with pytest.raises(ValueError, match="n_tracers"):
        fixed_number_tracers(jax.random.key(3), delta, 80.0, 0)


def test_rates_and_count_fields_vmap_over_fields_and_jit():
    deltas = 0.5 * jax.random.normal(jax.random.key(4), (3, 8, 8, 8))
    assert_vmap_and_jit(lambda d: poisson_rate(d, 40.0, 0.05), deltas)
    pos = jax.random.uniform(jax.random.key(5), (3, 100, 3), maxval=40.0)
    assert_vmap_and_jit(lambda p: count_field(p, (8, 8, 8), 40.0), pos)


def test_poisson_counts_vmap_over_keys_and_fields_and_jit():
    deltas = 0.5 * jax.random.normal(jax.random.key(6), (2, 4, 4, 4))
    assert_vmap_and_jit(lambda k, d: poisson_counts(k, d, 40.0, 0.05), keys(2), deltas, atol=0)


def test_fixed_number_tracers_vmap_over_keys_and_fields_and_jit():
    deltas = 0.5 * jax.random.normal(jax.random.key(6), (2, 4, 4, 4))
    assert_vmap_and_jit(lambda k, d: fixed_number_tracers(k, d, 40.0, 50), keys(2), deltas)


def test_counts_to_positions_vmap_over_keys_and_counts_and_jit():
    counts = jax.random.randint(jax.random.key(7), (2, 4, 4, 4), 0, 3)
    assert_vmap_and_jit(lambda k, c: counts_to_positions(k, c, 40.0, max_tracers=200), keys(2), counts)

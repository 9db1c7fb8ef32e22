"""Bad inputs at the simulators' boundary: integer seeds, complex fields, non-integer sizes,
and out-of-range parameters under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims import cmb, fields, reionisation, tracers
from cosmojax.sims.bias_expansion import BiasParams, eulerian_bias
from cosmojax.sims.rsd import peculiar_velocity, redshift_space
from cosmojax.cosmology import planck2018

SHAPE = (8, 8, 8)
POWER = lambda k: 100.0 * k ** -1.0  # noqa: E731
DELTA = 0.1 * np.random.default_rng(0).standard_normal(SHAPE)
CLS = np.ones((4, 17)) * [[1.0], [0.1], [0.01], [0.0]]

KEYED = {
    "fields.white_noise": lambda key: fields.white_noise(key, SHAPE),
    "gaussian_field": lambda key: fields.gaussian_field(key, SHAPE, 100.0, POWER),
    "paired_gaussian_fields": lambda key: fields.paired_gaussian_fields(key, SHAPE, 100.0, POWER),
    "lognormal_field": lambda key: fields.lognormal_field(key, SHAPE, 100.0, POWER),
    "poisson_counts": lambda key: tracers.poisson_counts(key, DELTA, 100.0, 1e-3),
    "counts_to_positions": lambda key: tracers.counts_to_positions(key, np.ones(SHAPE, np.int32), 100.0, 600),
    "fixed_number_tracers": lambda key: tracers.fixed_number_tracers(key, DELTA, 100.0, 10),
    "unit_alm": lambda key: cmb.unit_alm(key, 8),
    "synalm": lambda key: cmb.synalm(key, CLS),
    "synfast": lambda key: cmb.synfast(key, CLS, 4),
    "cmb.white_noise": lambda key: cmb.white_noise(key, np.ones(192), 10.0),
    "simulate_qu": lambda key: reionisation.simulate_qu(key, 0.06, reionisation.ReionisationConfig(nside=4)),
}


@pytest.mark.parametrize("name", sorted(KEYED))
def test_integer_seed_is_refused_with_the_fix(name):
    with pytest.raises(TypeError, match=r"key must be a JAX PRNG key.*jax\.random\.key\(seed\)"):
        KEYED[name](0)
    with pytest.raises(TypeError, match="key must be a single PRNG key"):
        KEYED[name](jax.random.split(jax.random.key(0), 2))


@pytest.mark.parametrize("name", sorted(KEYED))
def test_typed_and_legacy_keys_both_work(name):
    a = KEYED[name](jax.random.key(3))
    b = KEYED[name](jax.random.PRNGKey(3))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert np.shape(x) == np.shape(y)


@pytest.mark.parametrize("shape", [(8, 8, 8.5), (8.5, 8), ("8", 8, 8)])
def test_non_integer_mesh_shape_is_refused_not_truncated(key, shape):
    with pytest.raises(ValueError, match=r"mesh_shape\[\d\] must be an integer >= 2"):
        fields.white_noise(key, shape)
    with pytest.raises(ValueError, match=r"mesh_shape\[\d\] must be an integer >= 2"):
        fields.gaussian_field(key, shape, 100.0, POWER)


def test_complex_fields_are_refused_not_cast(key):
    z = DELTA + 1j
    with pytest.raises(TypeError, match="noise must be real"):
        fields.noise_to_modes(z, 100.0, POWER)
    with pytest.raises(TypeError, match="delta_t must be real"):
        tracers.poisson_rate(z, 100.0, 1e-3)
    with pytest.raises(TypeError, match="delta must be real"):
        eulerian_bias(z, BiasParams(b1=1.5), 100.0)
    with pytest.raises(TypeError, match="cls must be real"):
        cmb.synalm(key, CLS + 0j)
    with pytest.raises(TypeError, match="box_size must be real"):
        fields.gaussian_field(key, SHAPE, 100.0 + 1j, POWER)
    pos = np.ones((4, 3))
    with pytest.raises(TypeError, match="vel must be real"):
        redshift_space(pos, pos + 0j, planck2018(), 0.5)


def test_non_integer_sizes_are_refused(key):
    with pytest.raises(ValueError, match="lmax must be an integer >= 0"):
        cmb.synalm(key, CLS, lmax=8.5)
    with pytest.raises(ValueError, match="n_tracers must be an integer >= 1"):
        tracers.fixed_number_tracers(key, DELTA, 100.0, 10.5)
    with pytest.raises(ValueError, match="lmax must be an integer >= 0"):
        reionisation.cl_ee_tau(0.06, 8.5)
    with pytest.raises(ValueError, match="lmax must be an integer >= 0"):
        cmb.unit_alm(key, 8.5)
    with pytest.raises(ValueError, match="mmax must be an integer >= 0"):
        cmb.unit_alm(key, 8, mmax=4.5)


def test_traced_tau_outside_the_table_is_nan_not_the_edge_value():
    lo, hi = reionisation.tau_range()
    f = jax.jit(lambda t: reionisation.cl_ee_tau(t, 8)[3])
    assert np.isfinite(float(f(0.06)))
    assert np.isnan(float(f(hi + 0.05))) and np.isnan(float(f(lo - 0.01)))
    assert np.isnan(float(jax.grad(lambda t: reionisation.cl_ee_tau(t, 8)[3])(hi + 0.05)))
    with pytest.raises(ValueError, match="tau must lie in the table range"):
        reionisation.cl_ee_tau(hi + 0.05, 8)


def test_rsd_traced_bad_cosmology_or_scale_factor_is_nan():
    pos = jnp.full((4, 3), 10.0)
    vel = jnp.ones((4, 3))
    c = planck2018()
    good = jax.jit(redshift_space)(pos, vel, c, 0.5)
    np.testing.assert_allclose(good, redshift_space(pos, vel, c, 0.5), rtol=1e-6)
    assert np.all(np.isnan(jax.jit(redshift_space)(pos, vel, c.replace(h=-0.7), 0.5)))
    assert np.all(np.isnan(jax.jit(redshift_space)(pos, vel, c, 0.0)))
    assert np.all(np.isnan(jax.jit(peculiar_velocity)(pos, -1.0)))
    with pytest.raises(ValueError, match="a must be > 0"):
        peculiar_velocity(pos, 0.0)

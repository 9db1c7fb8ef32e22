"""Redshift-space positions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import hubble, planck2018
from cosmojax.sims.rsd import peculiar_velocity, redshift_space

from tests._transforms import assert_vmap_and_jit

COSMO = planck2018()


def test_plane_parallel_shift_is_v_over_aH_and_wraps():
    pos = jnp.array([[10.0, 20.0, 30.0], [1.0, 2.0, 99.0]])
    vel = jnp.array([[300.0, -200.0, 500.0], [0.0, 0.0, 1000.0]])
    a = 0.5
    s = redshift_space(pos, vel, COSMO, a, box_size=100.0)
    shift = np.asarray(vel[:, 2]) / (100.0 * a * float(hubble(COSMO, a)))
    np.testing.assert_allclose(s[:, :2], pos[:, :2], rtol=1e-6)
    np.testing.assert_allclose(s[0, 2], 30.0 + shift[0], rtol=1e-6)
    np.testing.assert_allclose(s[1, 2], (99.0 + shift[1]) % 100.0, rtol=1e-5)


def test_line_of_sight_is_normalised_and_radial_mode_uses_the_observer():
    pos = jnp.array([[10.0, 0.0, 0.0], [0.0, 0.0, 20.0]])
    vel = jnp.array([[100.0, 50.0, 0.0], [0.0, 80.0, -100.0]])
    along_x = redshift_space(pos, vel, COSMO, 1.0, los=(2.0, 0.0, 0.0))
    np.testing.assert_allclose(along_x[:, 1:], pos[:, 1:])
    np.testing.assert_allclose(along_x[:, 0] - pos[:, 0], vel[:, 0] / 100.0, rtol=1e-6)
    radial = redshift_space(pos, vel, COSMO, 1.0, observer=(0.0, 0.0, 0.0))
    np.testing.assert_allclose(radial[0], [10.0 + 1.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(radial[1], [0.0, 0.0, 20.0 - 1.0], rtol=1e-6)


def test_velocity_from_momentum_and_gradient_in_a():
    mom = jnp.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(peculiar_velocity(mom, 0.5), [[200.0, 400.0, 600.0]])
    pos = jnp.array([[1.0, 1.0, 1.0]])
    vel = jnp.array([[0.0, 0.0, 100.0]])
    # d s_z / d a = -v / (100 a^2 E) * (1 + dlnE/dlna)
    grad = jax.grad(lambda a: redshift_space(pos, vel, COSMO, a)[0, 2])(0.7)
    eps = 1e-3
    fd = (redshift_space(pos, vel, COSMO, 0.7 + eps)[0, 2] - redshift_space(pos, vel, COSMO, 0.7 - eps)[0, 2]) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-3)


def test_bad_input_raises():
    pos = jnp.zeros((3, 3))
    with pytest.raises(ValueError, match="vel"):
        redshift_space(pos, jnp.zeros((2, 3)), COSMO, 1.0)
    with pytest.raises(ValueError, match="los"):
        redshift_space(pos, pos, COSMO, 1.0, los=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="a"):
        redshift_space(pos, pos, COSMO, -1.0)


@pytest.mark.parametrize("mode", [dict(box_size=100.0), dict(los=(1.0, 1.0, 0.0)), dict(observer=(50.0, 50.0, 50.0))])
def test_redshift_space_vmaps_over_catalogues_and_scale_factors_and_jits(mode):
    pos = jax.random.uniform(jax.random.key(7), (2, 8, 3), maxval=100.0)
    vel = 300.0 * jax.random.normal(jax.random.key(8), (2, 8, 3))
    a = jnp.array([0.5, 1.0])
    assert_vmap_and_jit(lambda p, v, aa: redshift_space(p, v, COSMO, aa, **mode), pos, vel, a, rtol=1e-5, atol=1e-4)


def test_peculiar_velocity_vmaps_and_jits():
    mom = jax.random.normal(jax.random.key(9), (3, 10, 3))
    assert_vmap_and_jit(peculiar_velocity, mom, jnp.array([0.3, 0.6, 1.0]))

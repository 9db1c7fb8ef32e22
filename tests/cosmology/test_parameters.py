import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import growth_factor, hubble, linear_power, planck2018


def test_planck2018_matches_published_densities():
    c = planck2018()
    assert c.Omega_c * c.h**2 == pytest.approx(0.11933, rel=1e-12)
    assert c.Omega_b * c.h**2 == pytest.approx(0.02242, rel=1e-12)
    # Planck's Omega_m = 0.3111 includes Omega_nu h^2 = 0.06 eV / 93.14 eV, absent here
    omega_nu = 0.06 / 93.14 / c.h**2
    assert float(c.Omega_m) + omega_nu == pytest.approx(0.3111, abs=1e-4)
    assert float(c.Omega_de) == pytest.approx(1 - float(c.Omega_m), abs=1e-12)


def test_cosmology_is_a_pytree_and_replace_works():
    c = planck2018()
    leaves = jax.tree_util.tree_leaves(c)
    assert len(leaves) == 9
    c2 = c.replace(sigma8=0.9)
    assert c2.sigma8 == 0.9 and c.sigma8 == pytest.approx(0.8102)
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, c)
    assert doubled.h == pytest.approx(2 * c.h)


def test_vmap_over_a_batch_of_cosmologies():
    sig = jnp.array([0.7, 0.8, 0.9])
    batch = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (3,)), planck2018()).replace(sigma8=sig)
    p = jax.vmap(lambda cosmo: linear_power(cosmo, 0.1))(batch)
    ratio = np.asarray(p / p[1])
    np.testing.assert_allclose(ratio, (np.asarray(sig) / 0.8) ** 2, rtol=1e-5)


@pytest.mark.parametrize(
    "field, value",
    [("Omega_c", -0.1), ("Omega_b", -0.01), ("sigma8", 0.0), ("sigma8", -1.0), ("h", 0.0), ("w0", np.nan)],
)
def test_bad_parameters_raise_naming_the_parameter(field, value):
    bad = planck2018().replace(**{field: value})
    with pytest.raises(ValueError, match=f"cosmo.{field}"):
        linear_power(bad, 0.1)
    with pytest.raises(ValueError, match=f"cosmo.{field}"):
        hubble(bad, 0.5)


def test_bad_scale_factor_raises():
    c = planck2018()
    for fn in (hubble, growth_factor):
        with pytest.raises(ValueError, match="a must be > 0"):
            fn(c, 0.0)
        with pytest.raises(ValueError, match="a must be > 0"):
            fn(c, jnp.array([0.5, -1.0]))


def test_not_a_cosmology_raises():
    with pytest.raises(ValueError, match="cosmo must be"):
        hubble({"Omega_c": 0.25}, 1.0)

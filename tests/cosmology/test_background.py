import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from cosmojax.cosmology import (
    HUBBLE_DISTANCE,
    Cosmology,
    angular_diameter_distance,
    comoving_distance,
    hubble,
    luminosity_distance,
    planck2018,
    transverse_comoving_distance,
)
from cosmojax.cosmology import background

from tests._transforms import assert_vmap_and_jit
from tests.cosmology._batch import cosmology_batch

COSMOLOGIES = {
    "lcdm": planck2018(),
    "w0wa": Cosmology(Omega_c=0.26, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, w0=-0.9, wa=0.3),
    "open": Cosmology(Omega_c=0.25, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, Omega_k=0.05),
    "closed": Cosmology(Omega_c=0.25, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, Omega_k=-0.05, w0=-1.1),
}


def _e_numpy(c, a):
    om = c.Omega_c + c.Omega_b
    ode = 1 - om - c.Omega_k
    de = a ** (-3 * (1 + c.w0 + c.wa)) * np.exp(-3 * c.wa * (1 - a))
    return np.sqrt(om / a**3 + c.Omega_k / a**2 + ode * de)


@pytest.mark.parametrize("name", list(COSMOLOGIES))
def test_distances_match_direct_quadrature(x64, name):
    c = COSMOLOGIES[name]
    a = np.array([1e-3, 0.05, 0.3, 0.5, 0.8, 0.99, 1.0])
    chi_ref = np.array([HUBBLE_DISTANCE * quad(lambda x: 1 / (x * x * _e_numpy(c, x)), ai, 1, epsabs=0, epsrel=1e-12)[0] for ai in a])
    chi = np.asarray(comoving_distance(c, a))
    np.testing.assert_allclose(chi, chi_ref, rtol=1e-5, atol=1e-8)
    x = np.sqrt(abs(c.Omega_k)) * chi_ref / HUBBLE_DISTANCE
    fk = chi_ref if c.Omega_k == 0 else (np.sinh(x) if c.Omega_k > 0 else np.sin(x)) * HUBBLE_DISTANCE / np.sqrt(abs(c.Omega_k))
    np.testing.assert_allclose(transverse_comoving_distance(c, a), fk, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(angular_diameter_distance(c, a), a * fk, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(luminosity_distance(c, a), fk / a, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hubble(c, a), _e_numpy(c, a), rtol=1e-12)


def test_hubble_today_is_one_and_flat_lcdm_limit(x64):
    c = planck2018()
    assert float(hubble(c, 1.0)) == pytest.approx(1.0, abs=1e-14)
    # Einstein-de Sitter: chi = 2 c/H0 (1 - sqrt(a))
    eds = Cosmology(Omega_c=0.95, Omega_b=0.05, h=0.7, n_s=1.0, sigma8=0.8)
    a = jnp.array([0.1, 0.5])
    np.testing.assert_allclose(comoving_distance(eds, a), 2 * HUBBLE_DISTANCE * (1 - np.sqrt(a)), rtol=1e-10)


def test_distance_gradient_matches_finite_differences(x64):
    def d_a(params):
        om, ok, w0 = params
        c = planck2018().replace(Omega_c=om, Omega_k=ok, w0=w0)
        return angular_diameter_distance(c, 0.4)

    p0 = jnp.array([0.26, 0.0, -1.0])  # Omega_k = 0 exercises the curvature branch switch
    g = jax.grad(d_a)(p0)
    eps = 1e-6
    fd = [(d_a(p0.at[i].add(eps)) - d_a(p0.at[i].add(-eps))) / (2 * eps) for i in range(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert np.all(np.isfinite(g))


def test_jit_and_vmap(x64):
    c = planck2018()
    a = jnp.linspace(0.2, 1.0, 5)
    direct = comoving_distance(c, a)
    np.testing.assert_allclose(jax.jit(comoving_distance)(c, a), direct, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(lambda x: comoving_distance(c, x))(a), direct, rtol=1e-12)


@pytest.mark.parametrize("name", ["dark_energy_density", "dark_energy_w", "hubble", "dlnhubble_dlna", "omega_m_a",
                                  "comoving_distance", "transverse_comoving_distance", "angular_diameter_distance",
                                  "luminosity_distance"])
def test_background_vmaps_over_cosmologies_and_jits(name):
    fn = getattr(background, name)
    assert_vmap_and_jit(lambda c, a: fn(c, a), cosmology_batch(), jnp.array([0.3, 0.6, 0.9]), rtol=1e-5)


def test_transverse_from_comoving_is_the_transverse_distance(x64):
    from cosmojax.cosmology import transverse_from_comoving

    a = jnp.asarray([0.9, 0.5, 0.2])
    for omega_k in (-0.1, 0.0, 0.1):
        cosmo = planck2018().replace(Omega_k=omega_k)
        chi = comoving_distance(cosmo, a)
        np.testing.assert_allclose(transverse_from_comoving(cosmo, chi), transverse_comoving_distance(cosmo, a), rtol=1e-12)
    # open: f_K(chi) = D_H / sqrt(Omega_k) sinh(sqrt(Omega_k) chi / D_H)
    cosmo = planck2018().replace(Omega_k=0.1)
    expected = 2997.92458 / np.sqrt(0.1) * np.sinh(np.sqrt(0.1) * 3000.0 / 2997.92458)
    assert float(transverse_from_comoving(cosmo, 3000.0)) == pytest.approx(expected, rel=1e-12)

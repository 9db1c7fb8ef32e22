import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from cosmojax.cosmology import (
    PowerTable,
    eisenstein_hu,
    growth_factor,
    linear_power,
    planck2018,
    sigma_r,
    tophat_window,
)

from tests._transforms import assert_vmap_and_jit
from tests.cosmology._batch import cosmology_batch


def test_sigma8_normalisation(x64):
    c = planck2018()
    assert float(sigma_r(c, 8.0)) == pytest.approx(c.sigma8, rel=1e-10)
    nw = sigma_r(c, 8.0, transfer="eisenstein_hu_nowiggle")
    assert float(nw) == pytest.approx(c.sigma8, rel=1e-10)


def test_sigma_r_matches_adaptive_quadrature(x64):
    c = planck2018()
    amp = float(linear_power(c, 0.1) / (0.1**c.n_s * eisenstein_hu(c, 0.1) ** 2))

    def sigma2(r):
        def integrand(lnk):
            k = np.exp(lnk)
            pk = amp * k**c.n_s * float(eisenstein_hu(c, k)) ** 2
            return k**3 * pk * float(tophat_window(k * r)) ** 2 / (2 * np.pi**2)

        return quad(integrand, np.log(1e-5), np.log(1e3), limit=400, epsrel=1e-10)[0]

    for r in (2.0, 8.0, 30.0):
        assert float(sigma_r(c, r)) == pytest.approx(np.sqrt(sigma2(r)), rel=1e-5)


def test_power_scales_with_growth_and_sigma8(x64):
    c = planck2018()
    k = jnp.array([0.01, 0.1, 1.0])
    np.testing.assert_allclose(linear_power(c, k, a=0.5), linear_power(c, k) * growth_factor(c, 0.5) ** 2, rtol=1e-12)
    np.testing.assert_allclose(linear_power(c.replace(sigma8=2 * c.sigma8), k), 4 * linear_power(c, k), rtol=1e-12)
    # broadcast k against a list of scale factors
    assert linear_power(c, k[None, :], a=jnp.array([[0.5], [1.0]])).shape == (2, 3)


def test_planck_power_amplitude_is_sensible(x64):
    # Order-of-magnitude anchors for Planck 2018 linear P(k) at z = 0 (Mpc/h)^3
    p = np.asarray(linear_power(planck2018(), jnp.array([0.02, 0.1, 1.0])))
    assert 1.8e4 < p[0] < 2.6e4 and 4.5e3 < p[1] < 6.5e3 and 40 < p[2] < 90


def test_tabulated_power_reproduces_the_formula(x64):
    c = planck2018()
    k_tab = np.logspace(-4, 2, 400)
    table = PowerTable(k_tab, np.asarray(linear_power(c, k_tab)))
    k = jnp.array([3e-4, 0.01, 0.073, 0.2, 5.0])
    np.testing.assert_allclose(linear_power(c, k, transfer=table), linear_power(c, k), rtol=2e-3)
    np.testing.assert_allclose(linear_power(c, k, a=0.5, transfer=table), linear_power(c, k, a=0.5), rtol=2e-3)
    # power-law extrapolation beyond the table: P ∝ k^n_s at very large scales
    lo = linear_power(c, jnp.array([1e-6, 1e-5]), transfer=table)
    assert float(lo[1] / lo[0]) == pytest.approx(10**c.n_s, rel=1e-3)


def test_tabulated_power_gradient_in_sigma8_and_table(x64):
    k_tab = np.logspace(-3, 1, 50)
    p_tab = jnp.asarray(1e4 * k_tab / (1 + (k_tab / 0.02) ** 2.5))
    c = planck2018()
    g = jax.grad(lambda s8: linear_power(c.replace(sigma8=s8), 0.1, transfer=PowerTable(k_tab, p_tab)))(0.8)
    assert float(g) == pytest.approx(2 * float(linear_power(c.replace(sigma8=0.8), 0.1, transfer=PowerTable(k_tab, p_tab))) / 0.8, rel=1e-8)
    # the amplitude of the table is irrelevant; its shape is not
    scaled = linear_power(c, 0.1, transfer=PowerTable(k_tab, 3 * p_tab))
    assert float(scaled) == pytest.approx(float(linear_power(c, 0.1, transfer=PowerTable(k_tab, p_tab))), rel=1e-10)


def test_linear_power_gradients_match_finite_differences(x64):
    c = planck2018()
    names = ("Omega_c", "Omega_b", "h", "n_s", "sigma8", "w0", "wa")
    grads = jax.grad(lambda cc: jnp.sum(jnp.log(linear_power(cc, jnp.array([0.05, 0.3]), a=0.7))))(c)
    eps = 1e-6
    for name in names:
        v = getattr(c, name)

        def f(x):
            return float(jnp.sum(jnp.log(linear_power(c.replace(**{name: x}), jnp.array([0.05, 0.3]), a=0.7))))

        fd = (f(v + eps) - f(v - eps)) / (2 * eps)
        assert float(getattr(grads, name)) == pytest.approx(fd, rel=1e-5, abs=1e-8), name


def test_linear_power_under_jit_and_vmap():
    c = planck2018()
    k = jnp.logspace(-3, 0, 16)
    eager = linear_power(c, k)
    np.testing.assert_allclose(jax.jit(linear_power)(c, k), eager, rtol=1e-5)
    np.testing.assert_allclose(jax.vmap(lambda kk: linear_power(c, kk))(k), eager, rtol=1e-5)


def test_bad_power_inputs_raise():
    c = planck2018()
    with pytest.raises(ValueError, match="k must be > 0"):
        linear_power(c, jnp.array([0.0, 0.1]))
    with pytest.raises(ValueError, match="transfer must be one of"):
        linear_power(c, 0.1, transfer="bbks")
    with pytest.raises(ValueError, match="transfer.k must be strictly increasing"):
        linear_power(c, 0.1, transfer=PowerTable(np.array([0.1, 0.05, 1.0]), np.ones(3)))
    with pytest.raises(ValueError, match="transfer.power must be > 0"):
        linear_power(c, 0.1, transfer=PowerTable(np.array([0.01, 0.1, 1.0]), np.array([1.0, -1.0, 1.0])))
    with pytest.raises(ValueError, match="r must be > 0"):
        sigma_r(c, -8.0)


def test_sigma_r_and_window_vmap_and_jit():
    assert_vmap_and_jit(tophat_window, jnp.array([[0.0, 0.05, 0.5], [1.0, 3.0, 10.0]]))
    assert_vmap_and_jit(lambda c, r: sigma_r(c, r), cosmology_batch(), jnp.array([8.0, 10.0, 20.0]), rtol=1e-5)


def test_linear_power_table_is_linear_power_at_its_nodes(x64):
    from cosmojax.cosmology import linear_power_table

    cosmo = planck2018().replace(n_s=0.95, sigma8=0.75)
    table = linear_power_table(cosmo)
    assert table.k.shape == table.power.shape == (2048,)
    np.testing.assert_allclose(table.power, linear_power(cosmo, table.k), rtol=1e-12)
    # differentiable: d ln P / d ln sigma8 = 2 at every node
    grad = jax.grad(lambda s8: jnp.log(linear_power_table(cosmo.replace(sigma8=s8)).power[1000]))(0.75)
    assert float(grad) * 0.75 == pytest.approx(2.0, rel=1e-10)

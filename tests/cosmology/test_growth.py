import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from cosmojax.cosmology import (
    Cosmology,
    growth_factor,
    growth_factor_second,
    growth_rate,
    growth_rate_second,
    hubble,
    growth_table,
    LinearTheory,
    planck2018,
    prime,
)
from cosmojax.cosmology import growth

from tests._transforms import assert_vmap_and_jit
from tests.cosmology._batch import cosmology_batch

A = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5])


def _e(c, a):
    om = c.Omega_c + c.Omega_b
    ode = 1 - om - c.Omega_k
    de = a ** (-3 * (1 + c.w0 + c.wa)) * np.exp(-3 * c.wa * (1 - a))
    return np.sqrt(om / a**3 + c.Omega_k / a**2 + ode * de)


def _integral_growth(c, a):
    """Heath (1977): D(a) ∝ E(a) ∫_0^a da' / (a' E(a'))^3, exact for matter + curvature + Λ."""
    return _e(c, a) * quad(lambda x: 1.0 / (x * _e(c, x)) ** 3, 0, a, epsabs=0, epsrel=1e-12)[0]


@pytest.mark.parametrize(
    "cosmo",
    [planck2018(), Cosmology(Omega_c=0.25, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, Omega_k=0.1)],
    ids=["flat", "open"],
)
def test_growth_matches_integral_solution_for_lcdm(x64, cosmo):
    ref = np.array([_integral_growth(cosmo, a) for a in A]) / _integral_growth(cosmo, 1.0)
    np.testing.assert_allclose(growth_factor(cosmo, A), ref, rtol=1e-4)
    # f = dlnD/dlna from the same integral form, by differentiating it analytically
    om_a = (cosmo.Omega_c + cosmo.Omega_b) / A**3 / _e(cosmo, A) ** 2
    ok_a = cosmo.Omega_k / A**2 / _e(cosmo, A) ** 2
    dlnE = -1.5 * om_a - ok_a
    f_ref = dlnE + 1.0 / (A**2 * _e(cosmo, A) ** 3 * np.array([_integral_growth(cosmo, a) / _e(cosmo, a) for a in A]))
    np.testing.assert_allclose(growth_rate(cosmo, A), f_ref, rtol=1e-4)


def test_growth_w0wa_matches_independent_ode_solve(x64):
    c = Cosmology(Omega_c=0.26, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, w0=-0.8, wa=-0.5, Omega_k=0.02)

    def rhs(a, y):
        d, dp = y  # derivatives in a
        e = _e(c, a)
        h = 1e-6
        dlne_da = (np.log(_e(c, a + h)) - np.log(_e(c, a - h))) / (2 * h)
        om = (c.Omega_c + c.Omega_b) / a**3 / e**2
        return [dp, -(3 / a + dlne_da) * dp + 1.5 * om * d / a**2]

    sol = solve_ivp(rhs, (1e-3, 1.5), [1e-3, 1.0], rtol=1e-11, atol=1e-14, dense_output=True)
    ref = sol.sol(A)[0] / sol.sol(1.0)[0]
    np.testing.assert_allclose(growth_factor(c, A), ref, rtol=1e-4)
    f_ref = A * sol.sol(A)[1] / sol.sol(A)[0]
    np.testing.assert_allclose(growth_rate(c, A), f_ref, rtol=1e-4)


def test_matter_domination_limits(x64):
    c = planck2018()
    a = jnp.array([1e-5, 1e-4, 1e-3])
    d = growth_factor(c, a)
    # D ∝ a early on, f -> 1, D2 -> -3/7 D^2 and f2 -> 2
    np.testing.assert_allclose(d / a, d[-1] / a[-1], rtol=1e-4)
    np.testing.assert_allclose(growth_rate(c, a), 1.0, atol=1e-4)
    np.testing.assert_allclose(growth_factor_second(c, a) / d**2, -3.0 / 7.0, rtol=1e-4)
    np.testing.assert_allclose(growth_rate_second(c, a), 2.0, atol=2e-4)
    assert float(growth_factor(c, 1.0)) == pytest.approx(1.0, abs=1e-12)


def test_second_order_growth_today_follows_the_omega_fit(x64):
    # Bouchet et al. 1995: D2 ≈ -3/7 D1^2 Ω_m(a)^{-1/143}, f2 ≈ 2 Ω_m(a)^{6/11}
    c = planck2018()
    om = float(c.Omega_m)
    assert float(growth_factor_second(c, 1.0)) == pytest.approx(-3 / 7 * om ** (-1 / 143), rel=2e-3)
    assert float(growth_rate_second(c, 1.0)) == pytest.approx(2 * om ** (6 / 11), rel=1e-2)


def test_growth_rate_is_the_log_derivative(x64):
    c = planck2018()
    lna = jnp.log(jnp.array([0.3, 0.6, 1.0]))
    numeric = jax.vmap(jax.grad(lambda x: jnp.log(growth_factor(c, jnp.exp(x)))))(lna)
    np.testing.assert_allclose(growth_rate(c, jnp.exp(lna)), numeric, rtol=1e-5)


def test_growth_gradient_matches_finite_differences(x64):
    def d(om, w0):
        return growth_factor(planck2018().replace(Omega_c=om, w0=w0), 0.5)

    g = jax.grad(d, argnums=(0, 1))(0.26, -1.0)
    eps = 1e-6
    fd = ((d(0.26 + eps, -1.0) - d(0.26 - eps, -1.0)) / (2 * eps), (d(0.26, -1.0 + eps) - d(0.26, -1.0 - eps)) / (2 * eps))
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_growth_under_jit_matches_eager():
    c = planck2018()
    a = jnp.array([0.5, 1.0])
    np.testing.assert_allclose(jax.jit(growth_factor)(c, a), growth_factor(c, a), rtol=1e-6)
    assert jnp.all(hubble(c, a) > 0)


READERS = ["growth_factor", "growth_rate", "growth_factor_second", "growth_rate_second"]


@pytest.mark.parametrize("name", READERS)
@pytest.mark.parametrize("primed", [False, True])
def test_growth_vmaps_over_cosmologies_and_jits(name, primed):
    reader = getattr(growth, name)
    fn = (lambda c, a: reader(prime(c), a)) if primed else reader  # noqa: E731
    assert_vmap_and_jit(fn, cosmology_batch(), jnp.array([0.3, 0.6, 0.9]), rtol=1e-5)


@pytest.mark.parametrize("name", READERS)
def test_primed_theory_reads_the_same_growth_as_the_ode(name):
    c = Cosmology(Omega_c=0.27, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, w0=-0.9, wa=0.2)
    reader = getattr(growth, name)
    theory = prime(c)
    assert isinstance(theory, LinearTheory) and theory.power is None and prime(theory) is theory
    a = jnp.array([1e-5, 0.05, 0.3, 1.0, 1.7, 2.5])  # inside the table and beyond both ends
    np.testing.assert_array_equal(reader(theory, a), reader(c, a))
    np.testing.assert_allclose(jax.jit(reader)(theory, a), reader(c, a), rtol=1e-6)  # XLA fusion rounding


@pytest.mark.parametrize("name", READERS)
def test_gradient_through_the_primed_table_matches_finite_differences(x64, name):
    reader = getattr(growth, name)

    def f(om, wa):
        return reader(prime(planck2018().replace(Omega_c=om, wa=wa)), 0.4)

    g = jax.grad(f, argnums=(0, 1))(0.26, 0.1)
    eps = 1e-6
    fd = ((f(0.26 + eps, 0.1) - f(0.26 - eps, 0.1)) / (2 * eps), (f(0.26, 0.1 + eps) - f(0.26, 0.1 - eps)) / (2 * eps))
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert abs(float(g[0])) > 1e-3  # the table really depends on the parameters


@pytest.mark.parametrize("name", READERS)
def test_from_table_readers_are_deprecated_aliases(name):
    c = planck2018()
    a = jnp.array([0.2, 0.7])
    with pytest.warns(DeprecationWarning, match=f"{name}\\(prime\\(cosmo\\), a\\)"):
        old = getattr(growth, name + "_from_table")(growth_table(c), a)
    np.testing.assert_array_equal(old, getattr(growth, name)(prime(c), a))
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="table must be a GrowthTable"):
        getattr(growth, name + "_from_table")(c, a)


def test_growth_readers_reject_what_is_not_a_cosmology():
    with pytest.raises(TypeError, match="cosmo must be a cosmojax.cosmology.Cosmology or a LinearTheory"):
        growth_factor({"Omega_c": 0.25}, 0.5)
    with pytest.raises(ValueError, match="a must be > 0"):
        growth_factor(prime(planck2018()), 0.0)


def test_prime_checks_the_parameters_and_vmaps():
    with pytest.raises(ValueError, match="sigma8"):
        prime(planck2018().replace(sigma8=-0.1))
    batch = cosmology_batch()
    theories = jax.vmap(prime)(batch)
    assert theories.growth.d1.shape[0] == batch.h.shape[0]

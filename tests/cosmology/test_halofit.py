"""Halofit (Takahashi et al. 2012): CCL on the same linear input, gradients, transforms, guards."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import Cosmology, halofit_parameters, halofit_power, linear_power, planck2018

COSMO = planck2018()
K = np.logspace(-3, 1, 9)


def _ccl_halofit(cosmo, k, a):
    """CCL's halofit applied to cosmojax's own linear power (a Pk2D table), h units."""
    import pyccl as ccl  # the test extra installs it

    h = float(cosmo.h)
    ccl_cosmo = ccl.Cosmology(
        Omega_c=float(cosmo.Omega_c), Omega_b=float(cosmo.Omega_b), h=h, n_s=float(cosmo.n_s),
        sigma8=float(cosmo.sigma8), w0=float(cosmo.w0), T_CMB=float(cosmo.T_cmb),
        transfer_function="eisenstein_hu", matter_power_spectrum="halofit",
    )
    lnk = np.linspace(np.log(1e-5), np.log(1e4), 1000)
    a_grid = np.linspace(0.05, 1.0, 39)
    pk = np.asarray(linear_power(cosmo, jnp.asarray(np.exp(lnk))[None, :], jnp.asarray(a_grid)[:, None]))
    table = ccl.Pk2D(a_arr=a_grid, lk_arr=lnk + np.log(h), pk_arr=np.log(pk / h**3), is_logp=True)
    return np.asarray(table.apply_halofit(ccl_cosmo)(k * h, a, ccl_cosmo)) * h**3


@pytest.mark.parametrize("a", [1.0, 0.5, 1.0 / 3.0])
def test_halofit_matches_ccl_on_the_same_linear_power(x64, a):
    ours = np.asarray(halofit_power(COSMO, jnp.asarray(K), a))
    ref = _ccl_halofit(COSMO, K, a)
    # measured: <= 3e-4 at a = 1 and 0.5; the tolerance leaves room for CCL's splines in a
    np.testing.assert_allclose(ours, ref, rtol=2e-3)
    # and it is nonlinear: a factor > 2 above linear theory at k = 1 h/Mpc, z = 0
    if a == 1.0:
        lin = np.asarray(linear_power(COSMO, jnp.asarray(K), a))
        assert ours[K == 1.0][0] / lin[K == 1.0][0] > 2.0


def test_halofit_with_w0_matches_ccl(x64):
    cosmo = COSMO.replace(w0=-0.9)
    np.testing.assert_allclose(np.asarray(halofit_power(cosmo, jnp.asarray(K), 1.0)), _ccl_halofit(cosmo, K, 1.0), rtol=2e-3)


def test_a_linear_power_callable_gives_the_same_as_the_default(x64):
    a = 0.7
    default = halofit_power(COSMO, jnp.asarray(K), a)
    given = halofit_power(COSMO, jnp.asarray(K), a, linear=lambda k: linear_power(COSMO, k, a))
    np.testing.assert_allclose(np.asarray(given), np.asarray(default), rtol=1e-12)
    # a different linear input changes the answer (the callable is really used)
    doubled = halofit_power(COSMO, jnp.asarray(K), a, linear=lambda k: 2.0 * linear_power(COSMO, k, a))
    assert np.all(np.asarray(doubled) > 1.5 * np.asarray(default))


def test_nonlinear_scale_solves_sigma_equals_one(x64):
    k_sigma, n_eff, c = halofit_parameters(COSMO, 1.0)
    lnk = np.linspace(np.log(1e-5), np.log(1e4), 20001)
    k = np.exp(lnk)
    d2 = k**3 * np.asarray(linear_power(COSMO, jnp.asarray(k))) / (2 * np.pi**2)
    sigma2 = np.trapezoid(d2 * np.exp(-((k / float(k_sigma)) ** 2)), lnk)
    assert abs(sigma2 - 1.0) < 1e-6
    assert 0.1 < float(k_sigma) < 1.0 and -2.5 < float(n_eff) < -1.0 and 0.0 < float(c) < 1.0


def test_gradient_matches_finite_differences(x64):
    def f(theta):
        cosmo = COSMO.replace(sigma8=theta[0], Omega_c=theta[1])
        return jnp.sum(jnp.log(halofit_power(cosmo, jnp.asarray([0.1, 1.0, 5.0]), 0.8)))

    theta = jnp.asarray([float(COSMO.sigma8), float(COSMO.Omega_c)])
    grad = np.asarray(jax.grad(f)(theta))
    eps = 1e-5
    fd = [(f(theta.at[i].add(eps)) - f(theta.at[i].add(-eps))) / (2 * eps) for i in range(2)]
    np.testing.assert_allclose(grad, np.asarray(fd), rtol=1e-5)
    # the nonlinear scale's implicit gradient is part of it: d ln k_sigma / d sigma8 != 0
    dks = jax.grad(lambda s: jnp.log(halofit_parameters(COSMO.replace(sigma8=s), 1.0)[0]))(float(COSMO.sigma8))
    assert abs(float(dks)) > 0.5


def test_jit_and_vmap_equal_eager(x64):
    k = jnp.asarray(K)
    eager = np.stack([np.asarray(halofit_power(COSMO, k, a)) for a in (0.5, 1.0)])
    jitted = jax.jit(lambda a: halofit_power(COSMO, k, a))
    np.testing.assert_allclose(np.asarray(jitted(1.0)), eager[1], rtol=1e-12)
    batched = jax.vmap(lambda a: halofit_power(COSMO, k, a))(jnp.asarray([0.5, 1.0]))
    np.testing.assert_allclose(np.asarray(batched), eager, rtol=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: halofit_power(COSMO, jnp.asarray([0.1, -1.0])), ValueError, "k must be"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1]), a=jnp.asarray([0.5, 1.0])), ValueError, "a must be a scalar"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1]), a=0.0), ValueError, "a"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1]), linear=3.0), TypeError, "linear must be a callable"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1]), a=1e-4), ValueError, "never reaches sigma"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1]), linear=lambda k: k[:3]), ValueError, "same shape"),
        (lambda: halofit_power(COSMO, jnp.asarray([0.1 + 1j])), TypeError, "real"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_cosmology_raises():
    with pytest.raises(ValueError, match="sigma8"):
        halofit_power(Cosmology(Omega_c=0.25, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=-0.8), jnp.asarray([0.1]))


def test_formula_from_solved_parameters_is_halofit_power(x64):
    """halofit_from_parameters with halofit_parameters' solution is halofit_power, at any (k, a)."""
    from cosmojax.cosmology import halofit_from_parameters, halofit_parameters

    cosmo = planck2018().replace(w0=-0.9, wa=0.1)
    k = jnp.geomspace(1e-3, 10.0, 40)
    for a in (0.4, 1.0):
        k_sigma, n_eff, c = halofit_parameters(cosmo, a)
        direct = halofit_from_parameters(cosmo, k, a, linear_power(cosmo, k, a), k_sigma, n_eff, c)
        np.testing.assert_allclose(direct, halofit_power(cosmo, k, a), rtol=1e-12)

"""FFTLog correlation functions against analytic Hankel pairs and brute-force quadrature."""

import numpy as np
import jax
import jax.numpy as jnp
import pytest
from scipy.special import jv

from cosmojax.projected.hankel import PAD_DECADES, correlation

ARCMIN = np.pi / 180.0 / 60.0


@pytest.mark.parametrize("statistic, nu", [("xi_plus", 0), ("gamma_t", 2), ("xi_minus", 4)])
def test_gaussian_spectra_give_the_analytic_transform(x64, statistic, nu):
    # int l dl / 2pi  l^nu exp(-l^2 s^2 / 2) J_nu(l theta) = theta^nu / s^(2 nu + 2) exp(-theta^2 / 2 s^2) / 2pi
    s = 1e-3
    ell = np.geomspace(1.0, 2e4, 400)
    cl = np.maximum(ell**nu * np.exp(-(ell**2) * s**2 / 2), 1e-300)
    theta = np.geomspace(1e-4, 5e-3, 30)
    exact = theta**nu / s ** (2 * nu + 2) * np.exp(-(theta**2) / (2 * s**2)) / (2 * np.pi)
    xi = np.asarray(correlation(ell, cl, theta, statistic))
    assert np.max(np.abs(xi - exact)) < 1e-4 * np.max(np.abs(exact))


def _lensing_like(ell):
    """A shear-like spectrum: flat at low l, a knee near l ~ 300, l^-1.6 beyond."""
    return 2e-9 / (1.0 + (ell / 300.0) ** 1.6)


def _brute(ell, cl, theta, nu):
    """The defining integral over the range FFTLog uses, with the same extension of C:
    steps of 1e-4 in ln l while they are shorter than 1/16 of J's period, then linear
    steps of 1/16 of the period (on a log grid, J's oscillations alias at large l theta)."""
    from cosmojax.projected.hankel import _extend

    lo, hi = ell[0] / 10**PAD_DECADES, ell[-1] * 10**PAD_DECADES
    out = []
    for t in theta:
        step = 2 * np.pi / t / 16
        switch = min(hi, step / 1e-4)
        pieces = [np.exp(np.arange(np.log(lo), np.log(switch), 1e-4))]
        if switch < hi:
            pieces.append(np.arange(pieces[0][-1], hi, step))
        total = 0.0
        for grid in pieces:
            c = np.asarray(_extend(jnp.asarray(ell), jnp.asarray(cl), np.log(grid)))
            total += np.trapezoid(grid * c * jv(nu, grid * t), grid)
        out.append(total / (2 * np.pi))
    return np.array(out)


@pytest.mark.parametrize("statistic, nu", [("xi_plus", 0), ("xi_minus", 4), ("gamma_t", 2), ("w_theta", 0)])
def test_one_to_300_arcmin_within_1e3_of_quadrature(x64, statistic, nu):
    """1e-3 of xi, or 1e-6 of its largest value where J_0's xi crosses zero (near 300').
    The multipoles reach 1e5, as they must for 1' (J_4 peaks at l theta ~ 5)."""
    ell = np.geomspace(2.0, 1e5, 200)
    cl = _lensing_like(ell)
    theta = np.geomspace(1.0, 300.0, 5) * ARCMIN
    xi = np.asarray(correlation(ell, cl, theta, statistic))
    reference = _brute(ell, cl, theta, nu)
    np.testing.assert_allclose(xi, reference, rtol=1e-3, atol=1e-6 * np.abs(reference).max())


def test_bin_averages_are_the_theta_weighted_mean(x64):
    ell = np.geomspace(2.0, 1e5, 200)
    cl = _lensing_like(ell)
    edges = np.geomspace(2.0, 200.0, 6) * ARCMIN
    binned = np.asarray(correlation(ell, cl, edges, "xi_plus", bins=True))
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        t = np.linspace(lo, hi, 801)
        xi = np.asarray(correlation(ell, cl, t, "xi_plus"))
        assert binned[i] == pytest.approx(np.trapezoid(xi * t, t) / np.trapezoid(t, t), rel=1e-5)


def test_correlation_is_linear_and_differentiable_in_the_spectrum(x64):
    ell = np.geomspace(2.0, 1e5, 120)
    theta = np.array([3.0, 30.0]) * ARCMIN
    base = jnp.asarray(_lensing_like(ell))

    def f(amplitude):
        return correlation(ell, amplitude * base, theta, "xi_minus")[1]

    np.testing.assert_allclose(jax.jit(f)(2.0), 2.0 * f(1.0), rtol=1e-10)
    assert float(jax.grad(f)(1.5)) == pytest.approx(float(f(1.0)), rel=1e-8)
    # vmap over a batch of spectra equals one at a time
    batch = jax.vmap(lambda c: correlation(ell, c, theta, "xi_plus"))(jnp.stack([base, 3.0 * base]))
    np.testing.assert_allclose(batch[1], 3.0 * batch[0], rtol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(statistic="xi_0"), "statistic must be one of"),
    (dict(theta=np.array([1e-7])), "theta must lie in"),
    (dict(theta=np.array([1.0])), "theta must lie in"),
    (dict(cl=np.r_[1e-9, -1e-9, np.full(8, 1e-9)]), "change sign"),
    (dict(cl=np.ones(3)), "last axis must match"),
    (dict(ell=np.geomspace(100.0, 10.0, 10)), "ell"),
])
def test_bad_input_is_refused(kwargs, match):
    args = dict(ell=np.geomspace(10.0, 1e4, 10), cl=np.full(10, 1e-9), theta=np.array([1e-3]), statistic="xi_plus")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        correlation(**args)

"""Legendre recursion against scipy and its stability at high m."""

import numpy as np
import pytest
from scipy.special import sph_harm_y

from cosmojax.sphere import legendre_table


def test_lambda_matches_scipy(x64):
    theta = np.array([0.05, 0.7, 1.5, 2.9])
    lmax = 24
    table = np.asarray(legendre_table(lmax, lmax, theta))
    for ell in range(lmax + 1):
        for m in range(ell + 1):
            ref = sph_harm_y(ell, m, theta, 0.0).real
            np.testing.assert_allclose(table[ell, :, m], ref, atol=1e-13)
        assert np.all(table[ell, :, ell + 1 :] == 0)


def test_high_m_is_finite_and_bounded(x64):
    # sin(theta)^m underflows double precision near the pole for m ~ 700: the scaled
    # recursion must still give finite values of the right size.
    lmax = 767
    theta = np.array([0.003, 0.5, np.pi / 2])
    table = np.asarray(legendre_table(lmax, lmax, theta))
    assert np.all(np.isfinite(table))
    ell = np.arange(lmax + 1)[:, None, None]
    assert np.all(np.abs(table) <= np.sqrt((2 * ell + 1) / (4 * np.pi)) + 1e-12)
    # sum rule: sum_m |Y_lm|^2 over -l..l equals (2l+1)/4pi
    ell = 700
    total = table[ell, :, 0] ** 2 + 2 * np.sum(table[ell, :, 1:] ** 2, axis=-1)
    np.testing.assert_allclose(total, (2 * ell + 1) / (4 * np.pi), rtol=1e-10)


def test_spin2_sum_rule(x64):
    # sum_m |_2Y_lm|^2 = (2l+1)/4pi with _{+-2}Y = (F1 +- F2) e^{im phi}
    theta = np.array([0.3, 1.2])
    f1, f2 = np.asarray(legendre_table(30, 30, theta, spin=2))
    for ell in (2, 10, 30):
        plus = (f1[ell] + f2[ell]) ** 2
        minus = (f1[ell] - f2[ell]) ** 2
        # m and -m together: |_2Y_l,-m|^2 = |_{-2}Y_lm|^2
        total = plus[:, 0] + np.sum(plus[:, 1:] + minus[:, 1:], axis=-1)
        np.testing.assert_allclose(total, (2 * ell + 1) / (4 * np.pi), rtol=1e-10)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="spin"):
        legendre_table(4, 4, [0.5], spin=1)
    with pytest.raises(ValueError, match="mmax"):
        legendre_table(4, 5, [0.5])
    with pytest.raises(ValueError, match="theta"):
        legendre_table(4, 4, [0.0])

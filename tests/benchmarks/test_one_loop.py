"""benchmarks/_one_loop.py: the SPT kernels and the box sums against analytic limits and the
continuum integrals they must converge to."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
import _one_loop as one_loop  # noqa: E402


def _power(k):
    """A smooth, CDM-like spectrum (Mpc/h)^3 that vanishes well inside the test boxes' modes."""
    k = np.asarray(k, dtype=float)
    return 2e4 * (k / 0.02) / (1 + (k / 0.02) ** 2.8) * np.exp(-((k / 0.06) ** 2))


def test_second_order_kernels_take_their_known_values():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 3))
    f2, g2 = one_loop.kernels_2(q, q)
    np.testing.assert_allclose(f2, 2.0, rtol=1e-13)  # 5/7 + 1 + 2/7
    np.testing.assert_allclose(g2, 2.0, rtol=1e-13)  # 3/7 + 1 + 4/7
    f2, g2 = one_loop.kernels_2(q, -q)
    np.testing.assert_allclose(f2, 0.0, atol=1e-13)
    # perpendicular vectors: mu = 0, F2 = 5/7 and G2 = 3/7
    f2, g2 = one_loop.kernels_2(np.array([[1.0, 0, 0]]), np.array([[0, 2.0, 0]]))
    np.testing.assert_allclose([f2[0], g2[0]], [5 / 7, 3 / 7], rtol=1e-13)


def test_kernels_conserve_momentum_at_low_k():
    """F2(q, k - q) and F3(k, q, -q) vanish as k^2 when k -> 0 (mass and momentum conservation)."""
    q = np.array([[0.3, -0.2, 0.5]])
    direction = np.array([[0.6, 0.0, 0.8]])
    values = []
    for k in (1e-2, 1e-3):
        f2, _ = one_loop.kernels_2(q, k * direction - q)
        values.append(f2[0])
    assert abs(values[1]) < 2e-5 and values[0] / values[1] == pytest.approx(100, rel=0.05)
    # angle-averaged F3(k, q, -q) for q >> k: -61/1890 k^2/q^2, the continuum bracket's -488/5
    # (its integral over the cosine is k^2 B / (1512 q^2))
    kvec = np.array([0.0, 0.0, 1e-3])
    x, w = np.polynomial.legendre.leggauss(64)
    qs = 0.2 * np.stack([np.sqrt(1 - x**2), np.zeros_like(x), x], axis=-1)
    f3 = one_loop.kernel_f3(np.broadcast_to(kvec, qs.shape), qs, -qs)
    assert np.sum(w * f3) / 2 == pytest.approx(-61 / 1890 * (1e-3 / 0.2) ** 2, rel=1e-3)


def test_p13_bracket_limits_and_low_k_law():
    b = one_loop._p13_bracket(np.array([1e-4, 5e-3, 2e-2, 50.0, 150.0, 1e4]))
    np.testing.assert_allclose(b[[0, 5]], [-168, -488 / 5], rtol=1e-6)
    # the series and the closed form join continuously at r = 1e-2 and 1e2
    for edge in (1e-2, 1e2):
        below, above = one_loop._p13_bracket(edge * np.array([1 - 1e-9, 1 + 1e-9]))
        assert below == pytest.approx(above, rel=1e-6)
    # P13(k -> 0) = -(61/105) k^2 sigma_v^2 P(k), sigma_v^2 = int P dq / (6 pi^2)
    q = np.logspace(-5, 0.5, 20001)
    sigma_v2 = np.sum(np.diff(q) * (_power(q[1:]) + _power(q[:-1])) / 2) / (6 * np.pi**2)
    k = 1e-4
    _, p13 = one_loop.one_loop_continuum(_power, k, q_min=1e-6, q_max=3.0)
    assert p13[0] == pytest.approx(-61 / 105 * k**2 * sigma_v2 * _power(k), rel=2e-3)


def test_box_sums_converge_to_the_continuum_integrals():
    """In a box whose fundamental is far below k, the mode sums are the continuum integrals:
    each of P22 and P13 to a few per cent (their infrared parts), their sum far better."""
    k = 0.05
    box = 8 * 2 * np.pi / k
    c22, c13 = one_loop.one_loop_continuum(_power, k)
    b22, b13 = one_loop.one_loop_box(_power, np.array([0.0, 0.0, k]), 64, box)
    assert b22 == pytest.approx(c22[0], rel=0.06)
    assert b13 == pytest.approx(c13[0], rel=0.06)
    assert b22 + b13 == pytest.approx(c22[0] + c13[0], abs=0.01 * (abs(c22[0]) + abs(c13[0])))
    # the box sum is invariant under the cube's symmetries, which box_over_continuum relies on
    assert one_loop.one_loop_box(_power, np.array([k, 0.0, 0.0]), 64, box)[1] == pytest.approx(b13, rel=1e-10)


def test_distinct_modes_count_every_mode_once():
    box = 128.0
    vecs, counts = one_loop.distinct_modes(0.075, 0.125, box)
    m = np.arange(-4, 5)
    grid = np.stack(np.meshgrid(m, m, m, indexing="ij"), axis=-1).reshape(-1, 3) * 2 * np.pi / box
    norm = np.linalg.norm(grid, axis=-1)
    assert counts.sum() == np.sum((norm >= 0.075) & (norm < 0.125)) == 62
    assert np.all(np.diff(vecs, axis=-1) >= 0) and np.all(vecs >= 0)

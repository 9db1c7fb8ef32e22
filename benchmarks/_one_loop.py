"""One-loop standard perturbation theory in a periodic box and in the continuum.

The fidelity table of ``bench_pm.py`` compares a simulation's z = 0 power with linear theory
times halofit's P_NL / P_lin, a fit to infinite-volume simulations. A periodic box holds only
the modes of its lattice, so the mode coupling that builds the nonlinear power at the box's
largest scales is not the infinite-volume one. One-loop SPT measures how much: the same
one-loop power summed over the box's modes and integrated over the continuum,

.. math::

    P_{22}(\\mathbf k) = \\frac{2}{V} \\sum_{\\mathbf q} F_2(\\mathbf q, \\mathbf k - \\mathbf q)^2
        P(q) P(|\\mathbf k - \\mathbf q|), \\qquad
    P_{13}(\\mathbf k) = \\frac{6 P(k)}{V} \\sum_{\\mathbf q} F_3(\\mathbf k, \\mathbf q, -\\mathbf q) P(q),

with the symmetrised Einstein-de Sitter kernels of the recursion of Goroff et al. (1986) and
the continuum forms of Jain & Bertschinger (1994). For paired-fixed initial conditions these
sums are the expectation over the random phases of the box's one-loop power (fixed
amplitudes |delta_q|^2 = V P(q)). numpy, float64; a benchmark diagnostic, not part of the
package.
"""

from __future__ import annotations

import numpy as np


def _dot(a, b):
    return np.sum(a * b, axis=-1)


def _alpha_beta(k1, k2):
    """Mode-coupling functions alpha(k1, k2) = k12.k1 / k1^2 and
    beta(k1, k2) = k12^2 (k1.k2) / (2 k1^2 k2^2), zero where k1 (or k2) vanishes (the kernels
    multiplying them vanish there too)."""
    k12 = k1 + k2
    s1, s2 = _dot(k1, k1), _dot(k2, k2)
    ok1, ok = s1 > 0, (s1 > 0) & (s2 > 0)
    alpha = np.where(ok1, _dot(k12, k1) / np.where(ok1, s1, 1.0), 0.0)
    beta = np.where(ok, _dot(k12, k12) * _dot(k1, k2) / (2 * np.where(ok, s1 * s2, 1.0)), 0.0)
    return alpha, beta


def kernels_2(q1, q2):
    """Symmetrised second-order density and velocity kernels F2, G2 of (..., 3) wavevectors."""
    a12, b12 = _alpha_beta(q1, q2)
    a21, b21 = _alpha_beta(q2, q1)
    f2 = (5 * (a12 + a21) + 2 * (b12 + b21)) / 14
    g2 = (3 * (a12 + a21) + 4 * (b12 + b21)) / 14
    return f2, g2


def kernel_f3(q1, q2, q3):
    """Symmetrised third-order density kernel F3 of (..., 3) wavevectors."""
    total = 0.0
    for a, b, c in ((q1, q2, q3), (q2, q3, q1), (q3, q1, q2), (q1, q3, q2), (q2, q1, q3), (q3, q2, q1)):
        f2_bc, g2_bc = kernels_2(b, c)
        al, be = _alpha_beta(a, b + c)
        _, g2_ab = kernels_2(a, b)
        al2, be2 = _alpha_beta(a + b, c)
        total = total + (7 * al * f2_bc + 2 * be * g2_bc + g2_ab * (7 * al2 + 2 * be2)) / 18
    return total / 6


def box_modes(n: int, box_size: float) -> np.ndarray:
    """(n-1)^3 x 3 wavevectors (h/Mpc) of an n^3 lattice, Nyquist planes left out so the set is
    symmetric under the cube's rotations and reflections."""
    m = np.arange(-(n // 2) + 1, n // 2)
    grid = np.stack(np.meshgrid(m, m, m, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid * (2 * np.pi / box_size)


def one_loop_box(power, k_vec, n: int, box_size: float, chunk: int = 1 << 18):
    """(P22, P13) in (Mpc/h)^3 at the wavevector ``k_vec`` (3,) h/Mpc of an n^3 box of side
    ``box_size`` Mpc/h whose modes (Nyquist planes excluded) carry the linear spectrum
    ``power(k)`` (a numpy callable). Modes outside the lattice do not couple."""
    k_vec = np.asarray(k_vec, dtype=float)
    kf = 2 * np.pi / box_size
    q_all = box_modes(n, box_size)
    q_all = q_all[_dot(q_all, q_all) > 0]
    volume = box_size**3
    lim = (n // 2 - 1) * kf * (1 + 1e-9)
    p22 = p13 = 0.0
    for start in range(0, len(q_all), chunk):
        q = q_all[start:start + chunk]
        pq = power(np.sqrt(_dot(q, q)))
        p13 += np.sum(kernel_f3(np.broadcast_to(k_vec, q.shape), q, -q) * pq)
        rest = k_vec - q
        inside = np.all(np.abs(rest) <= lim, axis=-1) & (_dot(rest, rest) > 0)
        q, rest, pq = q[inside], rest[inside], pq[inside]
        f2, _ = kernels_2(q, rest)
        p22 += np.sum(f2**2 * pq * power(np.sqrt(_dot(rest, rest))))
    k = np.sqrt(_dot(k_vec, k_vec))
    return 2 * p22 / volume, 6 * power(k) * p13 / volume


def _p13_bracket(r):
    """The bracket of the continuum P13 integrand (Jain & Bertschinger 1994), with its series
    at small and large r where the closed form cancels catastrophically; -168 at r -> 0 and
    -488/5 at r -> infinity."""
    r = np.asarray(r, dtype=float)
    out = np.empty_like(r)
    small, large = r < 1e-2, r > 1e2
    mid = ~(small | large)
    x = r[mid]
    with np.errstate(divide="ignore"):
        log = np.log(np.abs((1 + x) / (1 - x)))
    out[mid] = 12 / x**2 - 158 + 100 * x**2 - 42 * x**4 + 3 / x**3 * (x**2 - 1) ** 3 * (7 * x**2 + 2) * log
    out[small] = -168 + 928 / 5 * r[small] ** 2
    out[large] = -488 / 5 + 96 / 5 / r[large] ** 2
    return out


def one_loop_continuum(power, k, q_min=1e-4, q_max=10.0, n_r=4000, n_x=400):
    """(P22, P13) in (Mpc/h)^3 of infinite volume at wavenumbers ``k`` (h/Mpc), integrating
    the linear spectrum ``power`` over q in [q_min, q_max] h/Mpc."""
    k = np.atleast_1d(np.asarray(k, dtype=float))
    x, wx = np.polynomial.legendre.leggauss(n_x)
    p22, p13 = [], []
    for kk in k:
        # log-spaced r with the integrable singularity at r = 1 (|k - q| -> 0) resolved
        ln_r = np.linspace(np.log(q_min / kk), np.log(q_max / kk), n_r)
        r = np.exp(ln_r)
        wr = np.gradient(ln_r) * r
        pr = power(kk * r)
        d2 = 1 + r[:, None] ** 2 - 2 * r[:, None] * x[None, :]
        d2 = np.maximum(d2, 1e-30)
        integrand = power(kk * np.sqrt(d2)) * (3 * r[:, None] + 7 * x - 10 * r[:, None] * x**2) ** 2 / d2**2
        p22.append(kk**3 / (98 * 4 * np.pi**2) * np.sum(wr * pr * (integrand @ wx)))
        p13.append(kk**3 * power(kk) / (252 * 4 * np.pi**2) * np.sum(wr * pr * _p13_bracket(r)))
    return np.array(p22), np.array(p13)


def distinct_modes(k_lo: float, k_hi: float, box_size: float):
    """Wavevectors of an L-periodic box with k_lo <= |k| < k_hi, as (representatives, counts):
    one vector (0 <= k_x <= k_y <= k_z, in h/Mpc) per orbit of the cube's symmetry group
    and how many of the bin's modes it stands for."""
    kf = 2 * np.pi / box_size
    m_max = int(np.ceil(k_hi / kf))
    m = np.arange(-m_max, m_max + 1)
    grid = np.stack(np.meshgrid(m, m, m, indexing="ij"), axis=-1).reshape(-1, 3)
    norm = np.sqrt(_dot(grid, grid)) * kf
    grid = grid[(norm >= k_lo) & (norm < k_hi)]
    keys, counts = np.unique(np.sort(np.abs(grid), axis=-1), axis=0, return_counts=True)
    return keys * kf, counts


def box_over_continuum(power, k_lo, k_hi, n, box_size):
    """Mode-weighted (P_lin + P22 + P13) / P_lin in the bin [k_lo, k_hi) of an n^3 box over
    the same at each mode's |k| in infinite volume: the factor by which the box's one-loop
    power departs from the continuum's there."""
    vecs, counts = distinct_modes(k_lo, k_hi, box_size)
    box, cont = [], []
    for v in vecs:
        k = float(np.sqrt(_dot(v, v)))
        p_lin = float(power(np.array([k]))[0])
        p22, p13 = one_loop_box(power, v, n, box_size)
        c22, c13 = one_loop_continuum(power, k)
        box.append(p_lin + p22 + p13)
        cont.append(p_lin + c22[0] + c13[0])
    box, cont = np.array(box), np.array(cont)
    return float(np.sum(counts * box) / np.sum(counts * cont))

"""Estimators: formulas, Poisson null tests, a lognormal catalogue and marked statistics."""

from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import linear_power, planck2018
from cosmojax.sims import lognormal_field
from cosmojax.stats.estimators import (
    analytic_rr,
    analytic_rr_rppi,
    analytic_rr_smu,
    combine_catalogues,
    correlation_function,
    davis_peebles,
    elementary_symmetric,
    hamilton,
    landy_szalay,
    marked_correlation,
    marked_statistic,
    natural,
    neighbour_counts,
    projected_correlation,
    normalized,
    szapudi_szalay_3pcf,
    white_mark,
    xi_multipoles,
)
from cosmojax.stats.pairs import PairCounts, pair_counts, pair_counts_rppi, pair_counts_smu
from cosmojax.stats.triplets import triplet_counts

from tests._transforms import assert_vmap_and_jit


def _pc(weighted, norm):
    w = np.asarray(weighted, float)
    return PairCounts(counts=w.astype(int), weighted=w, norm=norm, edges=(np.arange(len(w) + 1.0),))


def test_estimator_formulas(x64):
    dd, dr, rr = _pc([30.0, 12.0], 100.0), _pc([50.0, 40.0], 400.0), _pc([20.0, 10.0], 200.0)
    d, r, x = np.array([0.3, 0.12]), np.array([0.125, 0.1]), np.array([0.1, 0.05])
    np.testing.assert_allclose(natural(dd, rr), d / x - 1)
    np.testing.assert_allclose(davis_peebles(dd, dr), d / r - 1)
    np.testing.assert_allclose(hamilton(dd, dr, rr), d * x / r**2 - 1)
    np.testing.assert_allclose(landy_szalay(dd, dr, rr), (d - 2 * r + x) / x)
    # arrays of fractions are accepted in place of counts
    np.testing.assert_allclose(landy_szalay(d, r, x), (d - 2 * r + x) / x)


def test_elementary_symmetric_polynomials():
    w = np.array([0.5, 2.0, 1.5, 3.0, 0.7])
    e = elementary_symmetric(jnp.asarray(w), 4)
    for k in range(1, 5):
        brute = sum(np.prod(w[list(c)]) for c in __import__("itertools").combinations(range(5), k))
        np.testing.assert_allclose(e[k], brute, rtol=1e-6)
    assert elementary_symmetric(7, 3) == [1.0, 7.0, 21.0, 35.0]


def test_analytic_rr_matches_random_pairs_and_poisson_landy_szalay_is_zero():
    rng = np.random.default_rng(51)
    box, edges = 100.0, np.linspace(2.0, 20.0, 7)
    rand = rng.uniform(0, box, (4000, 3))
    rr = pair_counts(rand, edges=edges, box_size=box)
    frac = np.asarray(rr.weighted / rr.norm)
    expect = analytic_rr(edges, box)
    np.testing.assert_allclose(frac, expect, rtol=4.0 / np.sqrt(rr.counts.min()))
    # Poisson data and randoms in open geometry: LS consistent with zero
    data = rng.uniform(0, box, (2500, 3))
    rand2 = rng.uniform(0, box, (5000, 3))
    xi, counts = correlation_function(data, rand2, edges=edges)
    sigma = 1.0 / np.sqrt(counts["DD"].counts)
    chi2 = float(np.sum((np.asarray(xi) / sigma) ** 2))
    assert chi2 < len(xi) + 4 * np.sqrt(2 * len(xi)), chi2
    assert np.all(np.abs(np.asarray(xi)) < 4 * sigma)
    for name in ("natural", "davis-peebles", "hamilton"):
        other, _ = correlation_function(data, rand2, edges=edges, estimator=name)
        assert np.all(np.abs(np.asarray(other)) < 6 * sigma + 0.02)
    # periodic box without randoms: natural estimator with analytic RR
    xi_box, c = correlation_function(data, edges=edges, box_size=box)
    assert "RR" in c and np.all(np.abs(np.asarray(xi_box)) < 4 * sigma)


def _sample_lognormal(key, n_mesh, box, nbar, bias2):
    cosmo = planck2018()
    delta = lognormal_field(key, (n_mesh,) * 3, box, lambda k: bias2 * linear_power(cosmo, k))
    rng = np.random.default_rng(5)
    cell = box / n_mesh
    lam = np.asarray(nbar * cell**3 * (1.0 + delta), float)
    counts = rng.poisson(np.maximum(lam, 0.0)).ravel()
    ijk = np.stack(np.unravel_index(np.repeat(np.arange(counts.size), counts), (n_mesh,) * 3), axis=1)
    return np.mod((ijk + rng.uniform(size=ijk.shape)) * cell, box), cosmo


def test_lognormal_xi_matches_input_correlation_function(key):
    n_mesh, box, nbar, bias2 = 32, 256.0, 1.0e-3, 4.0
    pos, cosmo = _sample_lognormal(key, n_mesh, box, nbar, bias2)
    edges = np.array([16.0, 24.0, 32.0, 44.0, 60.0])
    xi, counts = correlation_function(pos, edges=edges, box_size=box)
    xi = np.asarray(xi)
    # input xi(r): the mesh modes of the input power, times the window of placing points
    # uniformly in cells, averaged over separations in each bin
    kf = 2 * np.pi / box
    k1 = np.fft.fftfreq(n_mesh, 1.0 / n_mesh) * kf
    kx, ky, kz = np.meshgrid(k1, k1, k1, indexing="ij")
    kk = np.sqrt(kx**2 + ky**2 + kz**2).ravel()[1:]
    kvec = np.stack([kx.ravel(), ky.ravel(), kz.ravel()], axis=1)[1:]
    cell = box / n_mesh
    window = np.prod(np.sinc(kvec * cell / (2 * np.pi)), axis=1) ** 2
    pk = bias2 * np.asarray(linear_power(cosmo, kk)) * window
    rng = np.random.default_rng(9)
    xi_in, sigma = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        r = np.cbrt(rng.uniform(lo**3, hi**3, 64))
        u = rng.normal(size=(64, 3))
        u /= np.linalg.norm(u, axis=1)[:, None]
        phase = np.cos((r[:, None] * u) @ kvec.T)
        xi_in.append(np.mean(phase @ pk) / box**3)
        # Gaussian error of a bin: (2 / V^2) sum_k (P + 1/n)^2 j0(k r)^2 summed over +-k pairs
        j0 = np.mean(np.sinc(np.outer(r, kk) / np.pi), axis=0)
        sigma.append(np.sqrt(np.sum((pk + 1.0 / nbar) ** 2 * j0**2)) / box**3)
    xi_in, sigma = np.array(xi_in), np.array(sigma)
    assert np.all(xi_in > 0.01) and xi_in[0] > 5 * xi_in[-1]
    assert np.all(np.abs(xi - xi_in) < 3.5 * sigma + 0.01), (xi, xi_in, sigma)
    assert xi[0] > 0.5 * xi_in[0]


def test_multipoles_and_projected_correlation_recover_known_shapes(x64):
    mu_edges = np.linspace(0, 1, 21)
    a = np.array([1.0, 0.5, 0.25])
    b = np.array([0.3, -0.2, 0.1])
    p2 = np.polynomial.legendre.Legendre.basis(2)
    # bin-average P2 exactly so the recovery is exact
    p2_bin = np.diff(p2.integ()(mu_edges)) / np.diff(mu_edges)
    xi_smu = a[:, None] + b[:, None] * p2_bin[None, :]
    ells = xi_multipoles(xi_smu, mu_edges, ells=(0, 2, 4))
    np.testing.assert_allclose(ells[0], a, atol=1e-12)
    np.testing.assert_allclose(ells[1], b, rtol=0.01)
    assert np.all(np.abs(ells[2]) < 0.01 * np.abs(b).max())
    # exact for xi constant in each mu bin: compare with a fine quadrature of that step function
    fine = (np.arange(200000) + 0.5) / 200000
    step = xi_smu[:, np.minimum((fine * 20).astype(int), 19)]
    for i, ell in enumerate((0, 2, 4)):
        pl = np.polynomial.legendre.Legendre.basis(ell)(fine)
        np.testing.assert_allclose(ells[i], (2 * ell + 1) * np.mean(step * pl, axis=1), atol=1e-9)
    pi_edges = np.array([0.0, 10.0, 20.0, 40.0])
    xi_rppi = np.array([[1.0, 0.5, 0.1], [0.2, 0.1, 0.0]])
    np.testing.assert_allclose(projected_correlation(xi_rppi, pi_edges), 2 * np.array([17.0, 3.0]))
    with pytest.raises(ValueError, match="even"):
        xi_multipoles(xi_smu, mu_edges, ells=(1,))


def test_smu_and_rppi_randoms_match_analytic():
    rng = np.random.default_rng(52)
    box = 100.0
    rand = rng.uniform(0, box, (3000, 3))
    edges, mu_edges = np.array([5.0, 12.0, 20.0]), np.linspace(0, 1, 5)
    smu = pair_counts_smu(rand, edges=edges, mu_edges=mu_edges, box_size=box)
    frac = np.asarray(smu.weighted / smu.norm)
    np.testing.assert_allclose(frac, analytic_rr_smu(edges, mu_edges, box), rtol=4.0 / np.sqrt(smu.counts.min()))
    rp_edges, pi_edges = np.array([2.0, 8.0, 16.0]), np.array([0.0, 8.0, 16.0])
    rppi = pair_counts_rppi(rand, rp_edges=rp_edges, pi_edges=pi_edges, box_size=box)
    frac = np.asarray(rppi.weighted / rppi.norm)
    np.testing.assert_allclose(frac, analytic_rr_rppi(rp_edges, pi_edges, box), rtol=4.0 / np.sqrt(rppi.counts.min()))


def test_marked_correlation_and_neighbour_counts(x64):
    rng = np.random.default_rng(53)
    box = 50.0
    pos = rng.uniform(0, box, (300, 3))
    edges = np.array([1.0, 5.0, 10.0])
    ones = pair_counts(pos, edges=edges, box_size=box, weights1=np.full(300, 2.0))
    np.testing.assert_allclose(marked_correlation(ones, 2.0), 1.0, rtol=1e-12)
    # marks independent of position: M(r) = 1 within noise; a mark equal to x correlates
    marks = rng.uniform(0.5, 1.5, 300)
    mm = pair_counts(pos, edges=edges, box_size=box, weights1=marks)
    m = np.asarray(marked_correlation(mm, marks.mean()))
    assert np.all(np.abs(m - 1.0) < 0.05)
    # neighbour counts from the gradient of the pair count equal a direct count
    d = pos[:, None, :] - pos[None, :, :]
    d = d - box * np.round(d / box)
    near = np.sum(d * d, axis=-1) < 4.0**2
    np.fill_diagonal(near, False)
    w = rng.uniform(0.5, 2.0, 300)
    np.testing.assert_allclose(neighbour_counts(pos, 4.0, box_size=box), near.sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(neighbour_counts(pos, 4.0, box_size=box, weights=w), near @ w, rtol=1e-10)
    ms, mk = marked_statistic(pos, edges=np.array([1.0, 5.0, 13.0, 20.0]), radius=6.0, box_size=box, p=1.0)
    assert mk.shape == (300,) and np.all(np.asarray(mk) > 0)
    # Poisson points: pairs closer than the smoothing radius share their neighbourhood, so
    # both sit in denser spheres and carry lower marks (M < 1); beyond 2R marks decorrelate
    ms = np.asarray(ms)
    assert ms[0] < 0.9 and abs(ms[2] - 1.0) < 0.05
    g = jax.grad(lambda mk_: marked_correlation(pair_counts(pos, edges=edges, box_size=box, weights1=mk_),
                                                jnp.mean(mk_))[1])(jnp.asarray(marks))
    assert g.shape == (300,) and np.isfinite(np.asarray(g)).all() and np.abs(np.asarray(g)).max() > 0


def test_szapudi_szalay_3pcf_composition_formula_and_poisson_null(x64):
    rng = np.random.default_rng(54)
    box = 20.0
    data, rand = rng.uniform(0, box, (150, 3)), rng.uniform(0, box, (300, 3))
    pos, w, labels = combine_catalogues(data, rand)
    edges = np.array([1.5, 3.0, 4.5])
    tc = triplet_counts(np.asarray(pos), edges=edges, box_size=box, labels=labels)
    zeta = np.asarray(szapudi_szalay_3pcf(tc, 150, 300))
    c = tc.counts
    frac = [c[k] / (comb(150, 3 - k) * comb(300, k)) for k in range(4)]
    filled = c[3] > 0
    expect = np.full(c[3].shape, np.nan)
    expect[filled] = ((frac[0] - 3 * frac[1] + 3 * frac[2] - frac[3])[filled]) / frac[3][filled]
    np.testing.assert_allclose(zeta[filled], expect[filled], rtol=1e-10)
    assert np.all(np.isnan(zeta[~filled]))
    # Poisson data: zeta consistent with zero (error ~ 1/sqrt(DDD))
    sig = 1.0 / np.sqrt(np.maximum(c[0][filled], 1))
    assert np.all(np.abs(zeta[filled]) < 5 * sig + 0.05)
    with pytest.raises(ValueError, match="labels"):
        szapudi_szalay_3pcf(triplet_counts(data, edges=edges, box_size=box), 150, 300)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="half the box"):
        pair_counts(np.zeros((3, 3)), edges=np.array([0.0, 60.0]), box_size=100.0)
    with pytest.raises(ValueError, match="increasing"):
        analytic_rr(np.array([1.0, 0.5]), 100.0)
    with pytest.raises(ValueError, match="estimator"):
        correlation_function(np.zeros((3, 3)), edges=np.array([0.0, 1.0]), box_size=10.0, estimator="foo")
    with pytest.raises(ValueError, match="randoms"):
        correlation_function(np.zeros((3, 3)), edges=np.array([0.0, 1.0]))
    # the analytic RR is valid only up to half the box, where 4/3 pi r^3 / V would pass 1
    np.testing.assert_allclose(analytic_rr(np.array([0.0, 50.0]), 100.0), [np.pi / 6], rtol=1e-12)
    for edges in (np.array([0.0, 50.0001]), np.array([0.0, 10.0, 70.0])):
        with pytest.raises(ValueError, match="valid only up to half the box"):
            analytic_rr(edges, 100.0)
    with pytest.raises(ValueError, match="valid only up to half the box"):
        analytic_rr(np.array([0.0, 30.0]), (100.0, 100.0, 50.0))
    with pytest.raises(ValueError, match="valid only up to half the box"):
        analytic_rr_smu(np.array([0.0, 60.0]), np.linspace(0, 1, 3), 100.0)
    with pytest.raises(ValueError, match="valid only up to half the box"):
        analytic_rr_rppi(np.array([0.0, 40.0]), np.array([0.0, 40.0]), 100.0)
    # empty, complex and NaN catalogues; sizes never truncated
    rng = np.random.default_rng(1)
    data, randoms = rng.uniform(0, 10.0, (30, 3)), rng.uniform(0, 10.0, (60, 3))
    edges = np.array([0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="data is empty"):
        correlation_function(np.zeros((0, 3)), randoms, edges=edges)
    with pytest.raises(ValueError, match="randoms is empty"):
        correlation_function(data, np.zeros((0, 3)), edges=edges)
    with pytest.raises(TypeError, match="randoms must be real"):
        correlation_function(data, randoms + 0j, edges=edges)
    with pytest.raises(TypeError, match="data_weights must be real"):
        correlation_function(data, randoms, edges=edges, data_weights=np.ones(30) + 1j)
    nan = data.copy()
    nan[4, 0] = np.nan
    with pytest.raises(ValueError, match="data contains NaN"):
        correlation_function(nan, randoms, edges=edges)
    with pytest.raises(ValueError, match="chunk_size"):
        correlation_function(data, randoms, edges=edges, chunk_size=1000.5)
    with pytest.raises(ValueError, match="pos is empty"):
        neighbour_counts(np.zeros((0, 3)), 1.0)
    with pytest.raises(TypeError, match="weights must be real"):
        neighbour_counts(data, 1.0, weights=np.ones(30) + 1j)
    with pytest.raises(ValueError, match="pos is empty"):
        marked_statistic(np.zeros((0, 3)), edges=edges, radius=1.0, box_size=10.0)
    with pytest.raises(ValueError, match="ells"):
        xi_multipoles(np.zeros((2, 4)), np.linspace(0, 1, 5), ells=(0, 2.5))
    with pytest.raises(ValueError, match="ells"):
        xi_multipoles(np.zeros((2, 4)), np.linspace(0, 1, 5), ells=(0, 3))
    with pytest.raises(TypeError, match="xi_smu"):
        xi_multipoles(np.zeros((2, 4)) + 0j, np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="order"):
        elementary_symmetric(10, 2.5)
    with pytest.raises(ValueError, match="weights"):
        elementary_symmetric(True, 2)
    with pytest.raises(TypeError, match="weights"):
        elementary_symmetric(np.ones(4) + 1j, 2)
    with pytest.raises(TypeError, match="delta"):
        white_mark(np.zeros(3) + 0j)


def test_estimators_and_marks_vmap_over_a_batch_and_jit():
    r = jax.random.uniform(jax.random.key(0), (4, 3, 5, 4), minval=0.5, maxval=1.5)
    dd, dr, rr = r[0], r[1], r[2]
    assert_vmap_and_jit(natural, dd, rr)
    assert_vmap_and_jit(landy_szalay, dd, dr, rr)
    assert_vmap_and_jit(davis_peebles, dd, dr)
    assert_vmap_and_jit(hamilton, dd, dr, rr)
    assert_vmap_and_jit(normalized, dd)
    mu_edges = np.linspace(0.0, 1.0, 5)
    assert_vmap_and_jit(lambda x: xi_multipoles(x, mu_edges, (0, 2, 4)), dd)
    assert_vmap_and_jit(lambda x: projected_correlation(x, np.array([0.0, 5.0, 10.0, 20.0, 40.0])), dd)
    assert_vmap_and_jit(lambda d: white_mark(d, delta_s=0.5, p=2.0), r[3] - 1.0)

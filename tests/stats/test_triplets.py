"""Triangle counts and 3PCF multipoles against brute-force numpy sums in float64."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import eval_legendre

from cosmojax.stats.threepcf_multipoles import harmonics, random_multipole_norm, threepcf_multipoles
from cosmojax.stats.triplets import equilateral, isosceles, triplet_counts

from tests._transforms import assert_vmap_and_jit

L = 12.0


def _bins(pos, edges, box):
    d = pos[:, None, :] - pos[None, :, :]
    if box is not None:
        d = d - box * np.round(d / box)
    d2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    return np.searchsorted(edges**2, d2, side="right") - 1


def brute_triplets(pos, edges, box, w=None, labels=None):
    n = len(edges) - 1
    b = _bins(pos, edges, box)
    w = np.ones(len(pos)) if w is None else w
    labels = np.zeros(len(pos), int) if labels is None else labels
    counts, weighted = np.zeros((4, n, n, n), int), np.zeros((4, n, n, n))
    for i, j, k in itertools.combinations(range(len(pos)), 3):
        sides = [b[i, j], b[i, k], b[j, k]]
        if min(sides) < 0 or max(sides) >= n:
            continue
        cell = (labels[i] + labels[j] + labels[k],) + tuple(sorted(sides, reverse=True))
        counts[cell] += 1
        weighted[cell] += w[i] * w[j] * w[k]
    return counts, weighted


def _clustered(rng, n, box=L):
    centres = rng.uniform(0, box, (4, 3))
    return np.mod(centres[rng.integers(0, 4, n)] + rng.normal(0, 1.2, (n, 3)), box)


@pytest.mark.parametrize("periodic", [True, False])
def test_triplet_counts_equal_brute_force(x64, periodic):
    rng = np.random.default_rng(31 if periodic else 32)
    box = L if periodic else None
    pos = np.concatenate([rng.uniform(0, L, (40, 3)), _clustered(rng, 40)])
    w = rng.uniform(0.3, 2.0, len(pos))
    edges = np.array([0.5, 1.5, 2.5, 4.0, 6.0])  # up to L/2
    ref_c, ref_w = brute_triplets(pos, edges, box, w)
    got = triplet_counts(pos, edges=edges, box_size=box, weights=w, block_size=8)
    np.testing.assert_array_equal(got.counts, ref_c[0])
    np.testing.assert_allclose(got.weighted, ref_w[0], rtol=1e-12)
    assert got.counts.sum() > 1000
    # only cells with sides sorted longest first fill
    a, b, c = np.indices(got.counts.shape)
    assert np.all(got.counts[~((a >= b) & (b >= c))] == 0)
    unweighted = triplet_counts(pos, edges=edges, box_size=box)
    np.testing.assert_array_equal(unweighted.counts, ref_c[0])
    np.testing.assert_allclose(unweighted.weighted, ref_c[0])


def test_triplet_counts_split_by_randoms_and_slices(x64):
    rng = np.random.default_rng(33)
    pos = rng.uniform(0, L, (70, 3))
    labels = (rng.uniform(size=70) < 0.5).astype(int)
    edges = np.array([1.0, 2.5, 4.0, 5.5])
    ref_c, _ = brute_triplets(pos, edges, L, labels=labels)
    got = triplet_counts(pos, edges=edges, box_size=L, labels=labels)
    np.testing.assert_array_equal(got.counts, ref_c)
    assert np.all(got.counts.sum(axis=(1, 2, 3)) > 0)
    eq = equilateral(got.counts)
    np.testing.assert_array_equal(eq, ref_c[:, [0, 1, 2], [0, 1, 2], [0, 1, 2]])
    iso = isosceles(got.counts[0])
    assert iso[2, 0] == ref_c[0, 2, 2, 0] and iso[0, 2] == ref_c[0, 2, 0, 0] and iso[1, 1] == ref_c[0, 1, 1, 1]


def test_triplet_weights_gradient(x64):
    rng = np.random.default_rng(34)
    pos = rng.uniform(0, L, (30, 3))
    edges = np.array([0.0, 3.0, 6.0])
    w = jnp.asarray(rng.uniform(0.5, 1.5, 30))
    # d/dw_m of sum over triangles in cell (1,1,0) of w_i w_j w_k
    g = jax.grad(lambda wt: triplet_counts(pos, edges=edges, box_size=L, weights=wt).weighted[1, 1, 0])(w)
    b = _bins(pos, edges, L)
    expect = np.zeros(30)
    wn = np.asarray(w)
    for i, j, k in itertools.combinations(range(30), 3):
        if sorted([b[i, j], b[i, k], b[j, k]], reverse=True) == [1, 1, 0]:
            expect[i] += wn[j] * wn[k]
            expect[j] += wn[i] * wn[k]
            expect[k] += wn[i] * wn[j]
    assert np.any(expect > 0)
    np.testing.assert_allclose(g, expect, rtol=1e-10)


def brute_multipoles(pos, edges, lmax, box, w):
    d = pos[None, :, :] - pos[:, None, :]
    if box is not None:
        d = d - box * np.round(d / box)
    r = np.sqrt(np.sum(d * d, axis=-1))
    b = np.searchsorted(edges, r, side="right") - 1
    n = len(edges) - 1
    z = np.zeros((lmax + 1, n, n))
    for i in range(len(pos)):
        js = np.where((b[i] >= 0) & (b[i] < n) & (np.arange(len(pos)) != i))[0]
        u = d[i, js] / r[i, js][:, None]
        cos = u @ u.T
        for ell in range(lmax + 1):
            p = eval_legendre(ell, cos) * np.outer(w[js], w[js])
            np.fill_diagonal(p, 0.0)
            for b1 in range(n):
                for b2 in range(n):
                    z[ell, b1, b2] += w[i] * p[np.ix_(b[i, js] == b1, b[i, js] == b2)].sum()
    return z


@pytest.mark.parametrize("periodic", [True, False])
def test_threepcf_multipoles_equal_brute_force(x64, periodic):
    rng = np.random.default_rng(35)
    box = L if periodic else None
    pos = np.concatenate([rng.uniform(0, L, (50, 3)), _clustered(rng, 30)])
    w = rng.uniform(0.5, 2.0, len(pos))
    edges = np.array([0.5, 2.0, 3.5, 5.5])
    got = threepcf_multipoles(pos, edges=edges, lmax=5, box_size=box, weights=w, block_size=8)
    ref = brute_multipoles(pos, edges, 5, box, w)
    np.testing.assert_allclose(got.zeta, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    assert np.abs(ref[2]).max() > 1.0
    # the monopole counts ordered (j, k) pairs: it equals the triangle-count identity
    tri = triplet_counts(pos, edges=edges, box_size=box, weights=w)
    # every triangle with all sides in range appears 6 times in sum_{b1,b2} Z_0 restricted to
    # closing sides in range, so the total Z_0 is at least 6 times the triangle total
    assert np.sum(got.zeta[0]) >= 6 * np.sum(tri.weighted) - 1e-6


def test_random_multipole_norm_matches_poisson_expectation(x64):
    rng = np.random.default_rng(36)
    pos = rng.uniform(0, L, (400, 3))
    edges = np.array([1.0, 2.5, 4.0])
    got = threepcf_multipoles(pos, edges=edges, lmax=2, box_size=L)
    ratio = np.asarray(got.zeta[0]) / random_multipole_norm(400, edges, L)
    np.testing.assert_allclose(ratio, 1.0, atol=0.08)
    assert np.all(np.abs(np.asarray(got.zeta[1:]) / random_multipole_norm(400, edges, L)) < 0.05)


def test_bad_input_raises():
    pos = np.random.default_rng(0).uniform(0, 10.0, (10, 3))
    with pytest.raises(ValueError, match="increasing"):
        triplet_counts(pos, edges=np.array([1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="half the box"):
        triplet_counts(pos, edges=np.array([1.0, 7.0]), box_size=10.0)
    with pytest.raises(ValueError, match="labels"):
        triplet_counts(pos, edges=np.array([1.0, 2.0]), labels=np.full(10, 2))
    with pytest.raises(ValueError, match="weights"):
        threepcf_multipoles(pos, edges=np.array([1.0, 2.0]), weights=np.ones(3))
    with pytest.raises(ValueError, match="outside"):
        threepcf_multipoles(pos - 1.0, edges=np.array([1.0, 2.0]), box_size=10.0)
    edges = np.array([1.0, 2.0])
    for call in (lambda p, **kw: triplet_counts(p, edges=edges, **kw),
                 lambda p, **kw: threepcf_multipoles(p, edges=edges, lmax=2, **kw)):
        with pytest.raises(ValueError, match="pos is empty"):
            call(np.zeros((0, 3)))
        with pytest.raises(TypeError, match="pos must be real"):
            call(pos + 0j)
        with pytest.raises(TypeError, match="weights must be real"):
            call(pos, weights=np.ones(10) + 1j)
        nan = pos.copy()
        nan[2, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            call(nan)
        for size in (4096.5, True):
            with pytest.raises(ValueError, match="chunk_size"):
                call(pos, chunk_size=size)
        with pytest.raises(ValueError, match="block_size"):
            call(pos, block_size=4.5)
    with pytest.raises(ValueError, match="lmax"):
        threepcf_multipoles(pos, edges=edges, lmax=2.5)
    with pytest.raises(ValueError, match="n_points"):
        random_multipole_norm(100.5, edges, 10.0)
    with pytest.raises(ValueError, match="n_points"):
        random_multipole_norm(True, edges, 10.0)


def test_slices_and_harmonics_vmap_over_a_batch_and_jit():
    cubes = jax.random.normal(jax.random.key(0), (3, 4, 4, 4))
    assert_vmap_and_jit(equilateral, cubes)
    assert_vmap_and_jit(isosceles, cubes)
    v = jax.random.normal(jax.random.key(1), (3, 10, 3))
    v = v / jnp.linalg.norm(v, axis=-1, keepdims=True)
    assert_vmap_and_jit(lambda u: harmonics((u[:, 0], u[:, 1], u[:, 2]), 3), v)

"""Tetrahedron counts against a brute-force numpy count in float64."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.stats.estimators import szapudi_szalay_4pcf
from cosmojax.stats.quadruplets import quadruplet_counts

L = 10.0


def brute_quadruplets(pos, edges, box, w=None, labels=None):
    n = len(edges) - 1
    d = pos[:, None, :] - pos[None, :, :]
    if box is not None:
        d = d - box * np.round(d / box)
    d2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    b = np.searchsorted(edges**2, d2, side="right") - 1
    w = np.ones(len(pos)) if w is None else w
    labels = np.zeros(len(pos), int) if labels is None else labels
    counts, weighted = np.zeros((5, n), int), np.zeros((5, n))
    for q in itertools.combinations(range(len(pos)), 4):
        sides = {b[i, j] for i, j in itertools.combinations(q, 2)}
        if len(sides) == 1:
            s = sides.pop()
            if 0 <= s < n:
                counts[labels[list(q)].sum(), s] += 1
                weighted[labels[list(q)].sum(), s] += np.prod(w[list(q)])
    return counts, weighted


def _catalogue(rng, n):
    centres = rng.uniform(0, L, (3, 3))
    clustered = centres[rng.integers(0, 3, n // 2)] + rng.normal(0, 1.0, (n // 2, 3))
    return np.mod(np.concatenate([rng.uniform(0, L, (n - n // 2, 3)), clustered]), L)


@pytest.mark.parametrize("periodic", [True, False])
def test_quadruplet_counts_equal_brute_force(x64, periodic):
    rng = np.random.default_rng(41)
    box = L if periodic else None
    pos = _catalogue(rng, 44)
    w = rng.uniform(0.5, 2.0, len(pos))
    edges = np.array([0.5, 2.0, 3.5, 5.0])
    ref_c, ref_w = brute_quadruplets(pos, edges, box, w)
    got = quadruplet_counts(pos, edges=edges, box_size=box, weights=w, block_size=8)
    np.testing.assert_array_equal(got.counts, ref_c[0])
    np.testing.assert_allclose(got.weighted, ref_w[0], rtol=1e-12)
    assert ref_c[0].sum() > 50 and np.all(ref_c[0] > 0)


def test_quadruplet_counts_split_by_randoms_and_gradient(x64):
    rng = np.random.default_rng(43)
    pos = _catalogue(rng, 40)
    labels = (rng.uniform(size=40) < 0.5).astype(int)
    edges = np.array([1.0, 3.0, 5.0])
    ref_c, _ = brute_quadruplets(pos, edges, L, labels=labels)
    got = quadruplet_counts(pos, edges=edges, box_size=L, labels=labels)
    np.testing.assert_array_equal(got.counts, ref_c)
    assert np.all(ref_c > 0)
    # the estimator combines the five compositions with weights 1, -4, 6, -4, 1
    nd, nr = int(np.sum(labels == 0)), int(np.sum(labels == 1))
    from math import comb

    frac = [ref_c[k] / (comb(nd, 4 - k) * comb(nr, k)) for k in range(5)]
    expect = (frac[0] - 4 * frac[1] + 6 * frac[2] - 4 * frac[3] + frac[4]) / frac[4]
    np.testing.assert_allclose(szapudi_szalay_4pcf(got, nd, nr), expect, rtol=1e-12)
    # weights gradient: d/dw_m sum_q prod w = sum over tetrahedra holding m of the other three
    w = jnp.asarray(rng.uniform(0.5, 1.5, 40))
    g = jax.grad(lambda wt: quadruplet_counts(pos, edges=edges, box_size=L, weights=wt).weighted[1])(w)
    d = pos[:, None, :] - pos[None, :, :]
    d = d - L * np.round(d / L)
    b = np.searchsorted(edges**2, np.sum(d * d, axis=-1), side="right") - 1
    expect_g = np.zeros(40)
    wn = np.asarray(w)
    for q in itertools.combinations(range(40), 4):
        if all(b[i, j] == 1 for i, j in itertools.combinations(q, 2)):
            for m in q:
                expect_g[m] += np.prod(wn[list(q)]) / wn[m]
    assert np.any(expect_g > 0)
    np.testing.assert_allclose(g, expect_g, rtol=1e-10)


def test_bad_input_raises():
    pos = np.random.default_rng(0).uniform(0, 10.0, (10, 3))
    with pytest.raises(ValueError, match="increasing"):
        quadruplet_counts(pos, edges=np.array([2.0, 1.0]))
    with pytest.raises(ValueError, match="half the box"):
        quadruplet_counts(pos, edges=np.array([1.0, 5.5]), box_size=10.0)
    with pytest.raises(ValueError, match="weights"):
        quadruplet_counts(pos, edges=np.array([1.0, 2.0]), weights=np.ones((10, 2)))
    edges = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="pos is empty"):
        quadruplet_counts(np.zeros((0, 3)), edges=edges)
    with pytest.raises(TypeError, match="pos must be real"):
        quadruplet_counts(pos + 0j, edges=edges)
    with pytest.raises(TypeError, match="weights must be real"):
        quadruplet_counts(pos, edges=edges, weights=np.ones(10) + 1j)
    nan = pos.copy()
    nan[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quadruplet_counts(nan, edges=edges)
    for size in (4096.5, False):
        with pytest.raises(ValueError, match="chunk_size"):
            quadruplet_counts(pos, edges=edges, chunk_size=size)
    with pytest.raises(ValueError, match="block_size"):
        quadruplet_counts(pos, edges=edges, block_size=3.5)

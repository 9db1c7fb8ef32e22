"""Pair counts against brute-force numpy counts done in float64 with the same arithmetic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.stats._kernels import histogram, histogram2d, histogram_small
from cosmojax.stats.pairs import pair_counts, pair_counts_rppi, pair_counts_smu, pair_plan, smooth_pair_counts

from tests._transforms import assert_vmap_and_jit

L = 60.0


def _catalogue(rng, n, kind, box=L):
    if kind == "random":
        return rng.uniform(0, box, (n, 3))
    centres = rng.uniform(0, box, (6, 3))
    pos = centres[rng.integers(0, 6, n)] + rng.normal(0, 2.0, (n, 3))
    pos[:4] = pos[4:8]  # exact duplicates: zero separations
    return np.mod(pos, box)


def _diff(p1, p2, box):
    d = p1[:, None, :] - p2[None, :, :]
    if box is not None:
        d = d - box * np.round(d / box)
    return d


def _pairs(p1, p2, box, w1, w2):
    """Separation vectors, squared separations, weight products and both positions of every
    counted pair (i < j for auto)."""
    auto = p2 is None
    p2 = p1 if auto else p2
    w1 = np.ones(len(p1)) if w1 is None else w1
    w2 = (w1 if auto else np.ones(len(p2))) if w2 is None else w2
    d = _diff(p1, p2, box)
    i, j = np.triu_indices(len(p1), 1) if auto else [a.ravel() for a in np.indices((len(p1), len(p2)))]
    d = d[i, j]
    d2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
    return d, d2, w1[i] * w2[j], p1[i], p2[j]


def _hist(idx, ok, ww, nbins):
    return (np.bincount(idx[ok], minlength=nbins), np.bincount(idx[ok], weights=ww[ok], minlength=nbins))


def brute_r(p1, p2, edges, box, w1=None, w2=None):
    _, d2, ww, _, _ = _pairs(p1, p2, box, w1, w2)
    b = np.searchsorted(edges**2, d2, side="right") - 1
    return _hist(b, (b >= 0) & (b < len(edges) - 1), ww, len(edges) - 1)


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_auto_and_cross_counts_equal_brute_force(x64, periodic, kind):
    rng = np.random.default_rng(11 if periodic else 12)
    box = L if periodic else None
    p1, p2 = _catalogue(rng, 300, kind), _catalogue(rng, 200, kind)
    w1, w2 = rng.uniform(0.2, 2.0, 300), rng.uniform(0.2, 2.0, 200)
    edges = np.array([0.0, 0.5, 2.0, 5.0, 11.0, 19.0, 30.0])  # up to L/2
    for weights in (False, True):
        kw = dict(weights1=w1, weights2=w2) if weights else {}
        got = pair_counts(p1, p2, edges=edges, box_size=box, block_size=16, **kw)
        ref = brute_r(p1, p2, edges, box, *((w1, w2) if weights else (None, None)))
        np.testing.assert_array_equal(got.counts, ref[0])
        np.testing.assert_allclose(got.weighted, ref[1], rtol=1e-12)
        auto_kw = dict(weights1=w1) if weights else {}
        got = pair_counts(p1, edges=edges, box_size=box, block_size=16, **auto_kw)
        ref = brute_r(p1, None, edges, box, w1 if weights else None)
        np.testing.assert_array_equal(got.counts, ref[0])
        np.testing.assert_allclose(got.weighted, ref[1], rtol=1e-12)
        assert got.counts.dtype == np.int64 and got.counts.sum() > 1000
    if kind == "clustered":
        assert ref[0][0] >= 4  # the duplicates sit in [0, 0.5)


def test_auto_counts_unordered_pairs_and_norm(x64):
    pos = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 1.0]])
    got = pair_counts(pos, edges=np.array([0.0, 1.5, 2.5]), box_size=10.0, weights1=np.array([1.0, 2.0, 3.0, 4.0]))
    # pairs: (0,3) r=0, (0,1) r=1, (1,3) r=1 -> bin 0; (0,2),(2,3) r=2, (1,2) r=sqrt5 -> bin 1
    np.testing.assert_array_equal(got.counts, [3, 3])
    np.testing.assert_allclose(got.weighted, [4 + 2 + 8, 3 + 12 + 6])
    np.testing.assert_allclose(got.norm, 0.5 * (10.0**2 - 30.0))


def test_minimum_image_across_the_boundary(x64):
    pos = np.array([[0.5, 5.0, 5.0], [9.7, 5.0, 5.0], [5.0, 0.1, 9.9]])
    got = pair_counts(pos, edges=np.array([0.0, 1.0, 5.0]), box_size=10.0)
    # 0-1 is 0.8 across x; 0-2 and 1-2 are about 7 apart -> beyond 5
    np.testing.assert_array_equal(got.counts, [1, 0])
    open_ = pair_counts(pos, edges=np.array([0.0, 1.0, 5.0]))
    np.testing.assert_array_equal(open_.counts, [0, 0])


def test_chunk_size_and_block_size_do_not_change_counts(x64):
    rng = np.random.default_rng(3)
    pos = _catalogue(rng, 400, "clustered")
    edges = np.linspace(0.0, 25.0, 6)
    ref = brute_r(pos, None, edges, L)[0]
    for chunk, block in [(64, 8), (1 << 12, 32), (1 << 20, None)]:
        got = pair_counts(pos, edges=edges, box_size=L, chunk_size=chunk, block_size=block)
        np.testing.assert_array_equal(got.counts, ref)


def brute_smu(p1, p2, edges, mu_edges, box, los, w1=None, w2=None):
    d, d2, ww, a, b = _pairs(p1, p2, box, w1, w2)
    if los == "midpoint":
        ell = a + b
        sl = d[:, 0] * ell[:, 0] + d[:, 1] * ell[:, 1] + d[:, 2] * ell[:, 2]
        t2, scale = sl * sl, d2 * (ell[:, 0] * ell[:, 0] + ell[:, 1] * ell[:, 1] + ell[:, 2] * ell[:, 2])
    else:
        t2, scale = d[:, "xyz".index(los)] ** 2, d2
    m2 = mu_edges[1:-1] ** 2
    mbin = np.sum((t2[:, None] >= m2 * scale[:, None]) & (d2 > 0)[:, None], axis=1)
    rbin = np.searchsorted(edges**2, d2, side="right") - 1
    n_mu = len(mu_edges) - 1
    ok = (rbin >= 0) & (rbin < len(edges) - 1)
    c, w = _hist(rbin * n_mu + mbin, ok, ww, (len(edges) - 1) * n_mu)
    return c.reshape(-1, n_mu), w.reshape(-1, n_mu)


def brute_rppi(p1, p2, rp_edges, pi_edges, box, los, w1=None, w2=None):
    d, d2, ww, a, b = _pairs(p1, p2, box, w1, w2)
    if los == "midpoint":
        ell = a + b
        sl = d[:, 0] * ell[:, 0] + d[:, 1] * ell[:, 1] + d[:, 2] * ell[:, 2]
        l2 = ell[:, 0] * ell[:, 0] + ell[:, 1] * ell[:, 1] + ell[:, 2] * ell[:, 2]
        pi2 = sl * sl / l2
        rp2 = np.maximum(d2 - pi2, 0.0)
    else:
        ax = "xyz".index(los)
        o = [k for k in range(3) if k != ax]
        pi2, rp2 = d[:, ax] * d[:, ax], d[:, o[0]] * d[:, o[0]] + d[:, o[1]] * d[:, o[1]]
    rb = np.searchsorted(rp_edges**2, rp2, side="right") - 1
    pb = np.searchsorted(pi_edges**2, pi2, side="right") - 1
    n_pi = len(pi_edges) - 1
    ok = (rb >= 0) & (rb < len(rp_edges) - 1) & (pb >= 0) & (pb < n_pi)
    c, w = _hist(rb * n_pi + pb, ok, ww, (len(rp_edges) - 1) * n_pi)
    return c.reshape(-1, n_pi), w.reshape(-1, n_pi)


@pytest.mark.parametrize("periodic", [True, False])
def test_smu_and_rppi_counts_equal_brute_force(x64, periodic):
    rng = np.random.default_rng(21)
    box = L if periodic else None
    offset = 0.0 if periodic else 500.0  # open geometry: a survey far from the observer
    p1 = _catalogue(rng, 250, "clustered") + offset
    p2 = _catalogue(rng, 150, "random") + offset
    w1 = rng.uniform(0.5, 1.5, 250)
    los = "z" if periodic else "midpoint"
    edges, mu_edges = np.array([0.0, 3.0, 8.0, 15.0, 25.0]), np.linspace(0, 1, 6)
    got = pair_counts_smu(p1, edges=edges, mu_edges=mu_edges, box_size=box, weights1=w1, block_size=16)
    ref = brute_smu(p1, None, edges, mu_edges, box, los, w1)
    np.testing.assert_array_equal(got.counts, ref[0])
    np.testing.assert_allclose(got.weighted, ref[1], rtol=1e-12)
    got = pair_counts_smu(p1, p2, edges=edges, mu_edges=mu_edges, box_size=box, los="x", block_size=16)
    np.testing.assert_array_equal(got.counts, brute_smu(p1, p2, edges, mu_edges, box, "x")[0])
    rp_edges, pi_edges = np.array([0.5, 2.0, 6.0, 14.0]), np.arange(0.0, 21.0, 4.0)
    got = pair_counts_rppi(p1, rp_edges=rp_edges, pi_edges=pi_edges, box_size=box, weights1=w1, block_size=16)
    ref = brute_rppi(p1, None, rp_edges, pi_edges, box, los, w1)
    np.testing.assert_array_equal(got.counts, ref[0])
    np.testing.assert_allclose(got.weighted, ref[1], rtol=1e-12)
    assert got.counts.shape == (3, 5) and got.counts.sum() > 500
    # summing over mu recovers the r counts
    r = pair_counts(p1, edges=edges, box_size=box, block_size=16)
    s = pair_counts_smu(p1, edges=edges, mu_edges=mu_edges, box_size=box, block_size=16)
    np.testing.assert_array_equal(s.counts.sum(axis=1), r.counts)


def test_jit_and_grad_with_respect_to_weights(x64):
    rng = np.random.default_rng(5)
    pos = rng.uniform(0, L, (150, 3))
    w = jnp.asarray(rng.uniform(0.5, 1.5, 150))
    edges = np.array([0.0, 10.0, 20.0])
    ref_counts, ref_w = brute_r(pos, None, edges, L, np.asarray(w))

    @jax.jit
    def weighted(wt):
        return pair_counts(pos, edges=edges, box_size=L, weights1=wt).weighted

    np.testing.assert_allclose(weighted(w), ref_w, rtol=1e-12)

    def loss(wt):
        return jnp.sum(jnp.array([1.0, -2.0]) * pair_counts(pos, edges=edges, box_size=L, weights1=wt).weighted)

    # d/dw_k sum_{i<j in bin} w_i w_j = sum over partners j of k in that bin of w_j
    d2 = np.sum(_diff(pos, pos, L) ** 2, axis=-1)
    np.fill_diagonal(d2, np.inf)
    coef = np.where(d2 < 100.0, 1.0, np.where(d2 < 400.0, -2.0, 0.0))
    analytic = coef @ np.asarray(w)
    np.testing.assert_allclose(jax.grad(loss)(w), analytic, rtol=1e-10)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(w), analytic, rtol=1e-10)

    # traced positions fall back to evaluating every pair, still exact
    @jax.jit
    def counts_traced(p):
        return pair_counts(p, edges=edges, box_size=L).counts

    np.testing.assert_array_equal(counts_traced(jnp.asarray(pos)), ref_counts)


def test_smooth_counts_gradient_in_positions(x64):
    rng = np.random.default_rng(8)
    pos = rng.uniform(0, 40.0, (60, 3))
    edges = np.array([2.0, 6.0, 10.0])
    h = 0.3
    plan = pair_plan(pos, r_max=edges[-1] + 10 * h + 1.0)

    def loss(p):
        return jnp.sum(jnp.array([1.0, 0.5]) * smooth_pair_counts(p, edges=edges, width=h, plan=plan).counts)

    g = jax.grad(loss)(jnp.asarray(pos))
    eps = 1e-6
    for i, k in [(0, 0), (7, 2), (33, 1)]:
        dp = np.zeros_like(pos)
        dp[i, k] = eps
        fd = (loss(jnp.asarray(pos + dp)) - loss(jnp.asarray(pos - dp))) / (2 * eps)
        np.testing.assert_allclose(g[i, k], fd, rtol=1e-5, atol=1e-8)
    assert float(jnp.max(jnp.abs(g))) > 1e-3
    # without a plan, traced positions use the all-pairs path and agree
    g2 = jax.grad(lambda p: jnp.sum(jnp.array([1.0, 0.5]) * smooth_pair_counts(p, edges=edges, width=h).counts))(
        jnp.asarray(pos))
    np.testing.assert_allclose(g2, g, rtol=1e-6, atol=1e-9)
    # narrow smoothing approaches the exact counts
    sharp = smooth_pair_counts(pos, edges=edges, width=1e-4).counts
    np.testing.assert_allclose(sharp, brute_r(pos, None, edges, None)[0], atol=0.05)


def test_bad_input_raises():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 10.0, (20, 3))
    with pytest.raises(ValueError, match="increasing"):
        pair_counts(pos, edges=np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="half the box"):
        pair_counts(pos, edges=np.array([0.0, 6.0]), box_size=10.0)
    with pytest.raises(ValueError, match="outside the periodic box"):
        pair_counts(pos + 5.0, edges=np.array([0.0, 2.0]), box_size=10.0)
    bad = pos.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pair_counts(bad, edges=np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="weights1"):
        pair_counts(pos, edges=np.array([0.0, 2.0]), weights1=np.ones(19))
    with pytest.raises(ValueError, match="weights2"):
        pair_counts(pos, edges=np.array([0.0, 2.0]), weights2=np.ones(20))
    with pytest.raises(ValueError, match="shape"):
        pair_counts(pos[:, :2], edges=np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="mu_edges"):
        pair_counts_smu(pos, edges=np.array([0.0, 2.0]), mu_edges=np.linspace(0, 0.9, 4))
    with pytest.raises(ValueError, match="midpoint"):
        pair_counts_smu(pos, edges=np.array([0.0, 2.0]), mu_edges=np.linspace(0, 1, 4), box_size=10.0, los="midpoint")
    with pytest.raises(ValueError, match="half the box"):
        pair_counts_rppi(pos, rp_edges=np.array([0.0, 4.0]), pi_edges=np.array([0.0, 4.0]), box_size=10.0)


def test_plan_is_checked_against_the_catalogue_it_counts(x64):
    """A plan from another catalogue of the same size is refused by every counter that takes
    one; the right plan (and one whose spare reach covers small displacements) gives counts
    equal to brute force."""
    rng = np.random.default_rng(11)
    pos = rng.uniform(0, L, (300, 3))
    other = rng.uniform(0, L, (300, 3))
    edges = np.linspace(0.0, 12.0, 5)
    mu_edges = np.linspace(0.0, 1.0, 3)
    plan = pair_plan(pos, r_max=edges[-1], box_size=L)
    np.testing.assert_array_equal(pair_counts(pos, edges=edges, box_size=L, plan=plan).counts,
                                  brute_r(pos, None, edges, L)[0])
    calls = {
        "r": lambda p, pl: pair_counts(p, edges=edges, box_size=L, plan=pl),
        "smu": lambda p, pl: pair_counts_smu(p, edges=edges, mu_edges=mu_edges, box_size=L, plan=pl),
        "rppi": lambda p, pl: pair_counts_rppi(p, rp_edges=edges[:3], pi_edges=edges[:3], box_size=L, plan=pl),
        "smooth": lambda p, pl: smooth_pair_counts(p, edges=edges[:3], width=0.1, box_size=L, plan=pl),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="same positions"):
            call(other, plan)
        with pytest.raises(ValueError, match="same positions"):
            call(pos[:299], plan)
    # the same positions as float32 (rounded) are still accepted and counted exactly
    pos32 = pos.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(calls["r"](pos32, plan).counts, brute_r(pos32, None, edges, L)[0])
    # a plan with spare reach accepts displaced positions that stay within it, and is exact
    wide = pair_plan(pos, r_max=edges[-1] + 2.0, box_size=L)
    moved = np.mod(pos + rng.uniform(-0.05, 0.05, pos.shape), L)
    np.testing.assert_array_equal(calls["r"](moved, wide).counts, brute_r(moved, None, edges, L)[0])
    with pytest.raises(ValueError, match="same positions"):
        calls["r"](other, wide)
    # cross plans: each catalogue checked; auto and cross plans and boxes are not interchangeable
    cross = pair_plan(pos[:150], pos[150:], r_max=edges[-1], box_size=L)
    got = pair_counts(pos[:150], pos[150:], edges=edges, box_size=L, plan=cross).counts
    np.testing.assert_array_equal(got, brute_r(pos[:150], pos[150:], edges, L)[0])
    with pytest.raises(ValueError, match="pos2"):
        pair_counts(pos[:150], other[150:], edges=edges, box_size=L, plan=cross)
    with pytest.raises(ValueError, match="cross counts"):
        pair_counts(pos, edges=edges, box_size=L, plan=cross)
    with pytest.raises(ValueError, match="auto counts"):
        pair_counts(pos[:150], pos[150:], edges=edges, box_size=L, plan=plan)
    with pytest.raises(ValueError, match="box_size"):
        pair_counts(pos, edges=edges, plan=plan)
    with pytest.raises(ValueError, match="r_max"):
        pair_counts(pos, edges=np.linspace(0.0, 14.0, 5), box_size=L, plan=plan)
    with pytest.raises(TypeError, match="pair_plan"):
        pair_counts(pos, edges=edges, box_size=L, plan=(1, 2))


def test_bad_catalogues_and_sizes_are_refused():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 10.0, (20, 3))
    edges = np.array([0.0, 2.0])
    counters = {
        "pair_counts": lambda p, **kw: pair_counts(p, edges=edges, **kw),
        "pair_counts_smu": lambda p, **kw: pair_counts_smu(p, edges=edges, mu_edges=np.linspace(0, 1, 3), **kw),
        "pair_counts_rppi": lambda p, **kw: pair_counts_rppi(p, rp_edges=edges, pi_edges=edges, **kw),
        "smooth_pair_counts": lambda p, **kw: smooth_pair_counts(p, edges=edges, width=0.2, **kw),
    }
    for name, call in counters.items():
        with pytest.raises(ValueError, match="pos1 is empty"):
            call(np.zeros((0, 3)))
        with pytest.raises(ValueError, match="pos2 is empty"):
            call(pos, pos2=np.zeros((0, 3)))
        with pytest.raises(TypeError, match="pos1 must be real"):
            call(pos + 0j)
        with pytest.raises(TypeError, match="weights1 must be real"):
            call(pos, weights1=np.ones(20) + 1j)
        with pytest.raises(TypeError, match="pos1"):
            call(pos > 5)
        bad = pos.copy()
        bad[0, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            call(bad)
        for size in (1000.5, True, 0):
            with pytest.raises(ValueError, match="chunk_size"):
                call(pos, chunk_size=size)
        with pytest.raises(ValueError, match="block_size"):
            call(pos, block_size=8.5)
    with pytest.raises(ValueError, match="block_size"):
        pair_plan(pos, r_max=2.0, block_size=16.5)
    with pytest.raises(ValueError, match="r_max"):
        pair_plan(pos, r_max=-1.0)
    with pytest.raises(ValueError, match="pos1 is empty"):
        pair_plan(np.zeros((0, 3)), r_max=2.0)


@pytest.mark.parametrize("which", ["histogram", "histogram2d", "histogram_small"])
def test_histogram_kernels_vmap_jit_and_grad_in_the_weights(which):
    flat = jax.random.randint(jax.random.key(0), (3, 40), 0, 6)
    valid = jax.random.bernoulli(jax.random.key(1), 0.7, (3, 40))
    ww = jax.random.uniform(jax.random.key(2), (3, 40))
    one_d = {"histogram": histogram, "histogram_small": histogram_small}

    def fn(f, v, w):
        if which == "histogram2d":
            return histogram2d(f // 3, 2, f % 3, 3, v, w, True)
        return one_d[which](f, v, w, 6, True)

    assert_vmap_and_jit(fn, flat, valid, ww)
    counts, wsum = fn(flat[0], valid[0], ww[0])
    assert int(jnp.sum(counts)) == int(jnp.sum(valid[0]))
    grad = jax.grad(lambda w: jnp.sum(fn(flat[0], valid[0], w)[1]))(ww[0])
    np.testing.assert_array_equal(grad, valid[0].astype(grad.dtype))

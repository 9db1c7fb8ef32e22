"""Spherical-harmonic transforms against healpy, gradients, batching and input checks."""

import healpy as hp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sphere import alm2map, alm2map_spin, alm_index, alm_lm, alm_size, map2alm, map2alm_spin


def random_alm(seed, lmax, ncomp=3, mmax=None):
    rng = np.random.default_rng(seed)
    n = alm_size(lmax, mmax)
    alm = rng.normal(size=(ncomp, n)) + 1j * rng.normal(size=(ncomp, n))
    ls, ms = alm_lm(lmax, mmax)
    alm[:, ms == 0] = alm[:, ms == 0].real
    if ncomp == 3:
        alm[1:, ls < 2] = 0.0
    return alm


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b)))


@pytest.mark.parametrize("nside", [8, 16, 32])
def test_synthesis_and_analysis_match_healpy(x64, nside):
    lmax = 3 * nside - 1
    alm = random_alm(nside, lmax)
    ref_maps = np.array(hp.alm2map(alm, nside, lmax=lmax, pol=True))
    maps = alm2map(alm, nside, pol=True)
    for i in range(3):  # T is spin 0, Q and U spin 2
        assert rel(maps[i], ref_maps[i]) < 1e-6
    ref_alm = np.array(hp.map2alm(ref_maps, lmax=lmax, iter=3, pol=True))
    out = map2alm(ref_maps, lmax=lmax, iter=3, pol=True)
    for i in range(3):
        assert rel(out[i], ref_alm[i]) < 1e-6


def test_spin_functions_and_mmax_match_healpy(x64):
    nside, lmax, mmax = 8, 20, 12
    alm = random_alm(1, lmax, mmax=mmax)
    ref = np.array(hp.alm2map(alm, nside, lmax=lmax, mmax=mmax, pol=True))
    qu = alm2map_spin(alm[1:], nside, lmax=lmax, mmax=mmax)
    assert rel(qu, ref[1:]) < 1e-6
    ref_alm = np.array(hp.map2alm(ref, lmax=lmax, mmax=mmax, iter=0, pol=True))
    eb = map2alm_spin(ref[1:], lmax=lmax, mmax=mmax, iter=0)
    assert rel(eb, ref_alm[1:]) < 1e-6
    t = map2alm(ref[0], lmax=lmax, mmax=mmax, iter=0)
    assert rel(t, ref_alm[0]) < 1e-6


def test_float32_accuracy():
    nside = 16
    alm = random_alm(2, 3 * nside - 1)
    ref = np.array(hp.alm2map(alm, nside, pol=True))
    maps = alm2map(jnp.asarray(alm, jnp.complex64), nside, pol=True)
    assert maps.dtype == jnp.float32
    assert rel(maps, ref) < 1e-4


def test_band_limited_round_trip_and_index(x64):
    nside, lmax = 8, 16  # well below 3 nside: iterations converge to the input
    alm = random_alm(3, lmax, ncomp=1)[0]
    back = map2alm(alm2map(alm, nside), lmax=lmax, iter=8)
    assert rel(back, alm) < 1e-6
    assert alm_index(lmax, 5, 3) == hp.Alm.getidx(lmax, 5, 3)


def test_jit_vmap_and_gradients(x64):
    nside, lmax = 4, 11
    rng = np.random.default_rng(4)
    alms = jnp.asarray(random_alm(5, lmax)[1:])  # (E, B)
    target = jnp.asarray(rng.normal(size=(2, 12 * nside**2)))
    weight = jnp.arange(12 * nside**2, dtype=float)

    def loss(a):
        return jnp.sum(weight * (alm2map_spin(a, nside) - target) ** 2)

    grad = jax.jit(jax.grad(loss))(alms)
    direction = jnp.asarray(rng.normal(size=alms.shape) + 1j * rng.normal(size=alms.shape))
    eps = 1e-6
    fd = (loss(alms + eps * direction) - loss(alms - eps * direction)) / (2 * eps)
    assert jnp.sum(jnp.real(grad * direction)) == pytest.approx(float(fd), rel=1e-6)

    def loss_ana(m):
        return jnp.sum(jnp.arange(alm_size(lmax)) * jnp.abs(map2alm(m, iter=2)) ** 2)

    maps = target[0]
    grad = jax.grad(loss_ana)(maps)
    d = jnp.asarray(rng.normal(size=maps.shape))
    fd = (loss_ana(maps + eps * d) - loss_ana(maps - eps * d)) / (2 * eps)
    assert jnp.sum(grad * d) == pytest.approx(float(fd), rel=1e-6)

    batched = jax.vmap(lambda a: alm2map_spin(a, nside))(jnp.stack([alms, 2 * alms]))
    np.testing.assert_allclose(batched[1], 2 * alm2map_spin(alms, nside), rtol=1e-10, atol=1e-12)


def test_bad_input_raises():
    alm = np.zeros(alm_size(10), complex)
    with pytest.raises(ValueError, match="nside"):
        alm2map(alm, 12)
    with pytest.raises(ValueError, match="alm"):
        alm2map(alm[:-1], 8)
    with pytest.raises(ValueError, match="lmax"):
        alm2map(np.zeros(alm_size(40), complex), 8)
    with pytest.raises(ValueError, match="pixels"):
        map2alm(np.zeros(100))
    with pytest.raises(ValueError, match="lmax"):
        map2alm(np.zeros(768), lmax=24)
    with pytest.raises(ValueError, match="Q, U"):
        map2alm_spin(np.zeros((3, 768)))
    with pytest.raises(ValueError, match="NaN"):
        map2alm(np.full(768, np.nan))
    with pytest.raises(ValueError, match="iter"):
        map2alm(np.zeros(768), iter=-1)

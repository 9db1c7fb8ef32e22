"""Gaussian CMB skies: agreement with healpy, recovered spectra, noise and masks."""

import healpy as hp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims.cmb import (
    latitude_mask,
    noise_spectrum,
    pixel_noise_std,
    synalm,
    synfast,
    toy_hit_map,
    white_noise,
)
from cosmojax.sphere import alm2cl, anafast, gaussian_beam

NSIDE = 8
LMAX = 3 * NSIDE - 1


def toy_cls(lmax=LMAX):
    ell = np.arange(lmax + 1)
    tt = 1000.0 / (ell + 2.0) ** 2
    ee = 30.0 / (ell + 2.0) ** 2
    bb = 5.0 / (ell + 2.0) ** 2
    te = 0.5 * np.sqrt(tt * ee)
    cls = np.stack([tt, ee, bb, te])
    cls[1:3, :2] = 0.0
    cls[3, :2] = 0.0
    return cls


def test_synfast_equals_healpy_alm2map_of_same_alms(x64, key):
    cls = toy_cls()
    alm = synalm(key, cls)
    fwhm = np.radians(5.0)
    maps = synfast(key, cls, NSIDE, fwhm=fwhm)
    ref = hp.alm2map(np.asarray(alm), NSIDE, lmax=LMAX, pol=True, fwhm=fwhm)
    np.testing.assert_allclose(maps, np.array(ref), rtol=1e-6, atol=1e-9 * np.abs(ref).max())


def test_spectra_of_many_maps_average_to_input(x64, key):
    cls = toy_cls()
    nsim = 200
    keys = jax.random.split(key, nsim)
    maps = jax.jit(jax.vmap(lambda k: synfast(k, cls, NSIDE)))(keys)
    measured = jax.jit(lambda m: anafast(m, pol=True))(maps)  # (nsim, 6, lmax + 1)
    mean = np.asarray(measured.mean(axis=0))
    ell = np.arange(2, LMAX + 1)
    expected = np.stack([cls[0], cls[1], cls[2], cls[3]])[:, 2:]
    # cosmic variance of the mean: Var = (C_XX C_YY + C_XY^2) / ((2l+1) nsim)
    var = np.stack(
        [
            2 * cls[0] ** 2,
            2 * cls[1] ** 2,
            2 * cls[2] ** 2,
            cls[0] * cls[1] + cls[3] ** 2,
        ]
    )[:, 2:] / ((2 * ell + 1) * nsim)
    pulls = (mean[:4, 2:] - expected) / np.sqrt(var)
    assert np.all(np.abs(pulls) < 5)
    assert abs(pulls.mean()) < 0.5  # no overall bias (64 roughly independent pulls)
    # EB and TB vanish: Var = C_EE C_BB (resp. C_TT C_BB) / ((2l+1) nsim)
    for row, (x, y) in ((4, (1, 2)), (5, (0, 2))):
        bound = 5 * np.sqrt(cls[x, 2:] * cls[y, 2:] / ((2 * ell + 1) * nsim))
        assert np.all(np.abs(mean[row, 2:]) < bound)


def test_gradient_of_map_loss_wrt_spectra(x64, key):
    cls = jnp.asarray(toy_cls())

    def loss(scale):
        return jnp.sum(synfast(key, cls * scale, NSIDE) ** 2)

    grad = jax.grad(loss)(1.3)
    fd = (loss(1.3 + 1e-6) - loss(1.3 - 1e-6)) / 2e-6
    assert float(grad) == pytest.approx(float(fd), rel=1e-6)


def test_white_noise_and_masks(key):
    hits = toy_hit_map(16, contrast=3.0)
    assert hits.mean() == pytest.approx(1.0)
    std = pixel_noise_std(hits, 30.0)
    pix_arcmin = np.sqrt(4 * np.pi / hits.size) * 180 * 60 / np.pi
    np.testing.assert_allclose(std, 30.0 / pix_arcmin / np.sqrt(hits), rtol=1e-5)
    noise = white_noise(key, hits, jnp.array([30.0, 40.0]))
    assert noise.shape == (2, hits.size)
    ratio = np.asarray(noise[1]) / (40.0 / pix_arcmin / np.sqrt(hits))
    assert np.std(ratio) == pytest.approx(1.0, abs=0.05)
    flat = white_noise(key, np.ones(768), 50.0)
    nl = anafast(flat)
    assert float(jnp.mean(nl[2:])) == pytest.approx(float(noise_spectrum(50.0, 23)[0]), rel=0.15)
    mask = latitude_mask(16, 20.0, apodization_deg=10.0)
    theta, _ = hp.pix2ang(16, np.arange(mask.size))
    lat = 90 - np.degrees(theta)
    assert np.all(mask[np.abs(lat) < 20] == 0) and np.all(mask[np.abs(lat) > 30] == 1)
    assert np.all((mask >= 0) & (mask <= 1))
    zero_hits = hits.copy()
    zero_hits[:10] = 0
    assert np.all(np.asarray(white_noise(key, zero_hits, 30.0))[:10] == 0)


def test_beam_matches_healpy_smoothing(x64, key):
    cls = toy_cls()
    alm = np.asarray(synalm(key, cls[0]))
    b = np.asarray(gaussian_beam(np.radians(4.0), LMAX))
    ref = hp.alm2cl(hp.smoothalm(alm.copy(), fwhm=np.radians(4.0), inplace=False))
    np.testing.assert_allclose(np.asarray(alm2cl(alm)) * b**2, ref, rtol=1e-10)


def test_bad_input_raises(key):
    with pytest.raises(ValueError, match="cls"):
        synalm(key, np.ones((3, 10)))
    with pytest.raises(ValueError, match="cls"):
        synalm(key, -np.ones(10))
    with pytest.raises(ValueError, match="lmax"):
        synalm(key, np.ones(10), lmax=20)
    with pytest.raises(ValueError, match="hits"):
        pixel_noise_std(np.ones(100), 10.0)
    with pytest.raises(ValueError, match="hits"):
        pixel_noise_std(-np.ones(768), 10.0)
    with pytest.raises(ValueError, match="depth"):
        white_noise(key, np.ones(768), -1.0)
    with pytest.raises(ValueError, match="cut_deg"):
        latitude_mask(8, 95.0)

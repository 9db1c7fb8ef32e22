"""Power spectra, beams and masks against healpy."""

import healpy as hp
import jax
import numpy as np
import pytest

from cosmojax.sphere import alm2cl, almxfl, anafast, fsky_w2, gaussian_beam, map2alm


def test_anafast_matches_healpy(x64):
    nside = 8
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 12 * nside**2))
    other = rng.normal(size=(3, 12 * nside**2))
    np.testing.assert_allclose(anafast(maps, pol=True), hp.anafast(maps, pol=True), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        anafast(maps, other, pol=True), hp.anafast(maps, other, pol=True), rtol=1e-6, atol=1e-12
    )
    mask = (np.arange(12 * nside**2) % 3 != 0).astype(float)
    masked = anafast(maps, pol=True, mask=mask)
    np.testing.assert_allclose(masked, hp.anafast(maps * mask, pol=True) / np.mean(mask**2), rtol=1e-6, atol=1e-12)
    assert float(fsky_w2(mask)) == pytest.approx(2 / 3, abs=1e-3)


def test_alm2cl_almxfl_and_beam_match_healpy(x64):
    alm = map2alm(np.random.default_rng(1).normal(size=768), iter=0)
    np.testing.assert_allclose(alm2cl(alm), hp.alm2cl(np.asarray(alm)), rtol=1e-10)
    fl = np.linspace(1.0, 0.2, 24)
    np.testing.assert_allclose(almxfl(alm, fl), hp.almxfl(np.asarray(alm), fl), rtol=1e-12)
    beam = gaussian_beam(np.radians(3.0), 40, pol=True)
    np.testing.assert_allclose(beam.T, hp.gauss_beam(np.radians(3.0), 40, pol=True)[:, :3], rtol=1e-12)
    grad = jax.grad(lambda f: gaussian_beam(f, 40)[20])(0.05)
    fd = (gaussian_beam(0.05 + 1e-6, 40)[20] - gaussian_beam(0.05 - 1e-6, 40)[20]) / 2e-6
    assert float(grad) == pytest.approx(float(fd), rel=1e-6)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="mask"):
        anafast(np.zeros(768), mask=np.ones(100))
    with pytest.raises(ValueError, match="mask"):
        anafast(np.zeros(768), mask=-np.ones(768))
    with pytest.raises(ValueError, match="maps2"):
        anafast(np.zeros(768), np.zeros(3072))
    with pytest.raises(ValueError, match="alm2"):
        alm2cl(np.zeros(6, complex), np.zeros(10, complex))

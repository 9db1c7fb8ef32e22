"""Gaussian covariance of angular spectra against simulated skies, and the noise helpers."""

import numpy as np
import jax
import pytest

from cosmojax.projected import data_vector, gaussian_covariance, pair_indices, shape_noise, shot_noise


def _spectra(ell):
    """Three correlated tracers: C^{ab}_l = sum_k A_ak(l) A_bk(l), positive definite."""
    mix = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.3, -0.4, 0.7]])
    shape = (ell / 10.0) ** -1.0
    return np.einsum("ak,bk,l->abl", mix, mix, shape)


def test_covariance_matches_simulated_full_sky_spectra():
    """Draw Gaussian a_lm of three correlated fields with noise, estimate every C^{ab}_l
    from the 2l + 1 modes, and compare the sample covariance of the data vector over
    4000 skies with the formula (f_sky = 1, band width 1)."""
    rng = np.random.default_rng(3)
    ell = np.arange(5.0, 9.0)
    cl = _spectra(ell)
    noise = np.array([0.05, 0.1, 0.0])
    total = cl + np.eye(3)[:, :, None] * noise[:, None, None]
    skies = 4000
    estimates = np.empty((skies, 6 * ell.size))
    for i, l in enumerate(ell.astype(int)):
        chol = np.linalg.cholesky(total[:, :, i])
        modes = np.einsum("ab,sbm->sam", chol, rng.normal(size=(skies, 3, 2 * l + 1)))  # real modes
        hat = np.einsum("sam,sbm->sab", modes, modes) / (2 * l + 1) - np.diag(noise)
        for p, (a, b) in enumerate(pair_indices(3)):
            estimates[:, p * ell.size + i] = hat[:, a, b]
    predicted = np.asarray(gaussian_covariance(cl, ell, 1.0, 1.0, noise))
    sample = np.cov(estimates, rowvar=False)
    # the sample covariance of 4000 skies scatters by ~sqrt(2 / 4000) = 2% of the diagonal scale
    scale = np.sqrt(np.outer(np.diag(predicted), np.diag(predicted)))
    assert np.max(np.abs(sample - predicted) / scale) < 0.08
    np.testing.assert_allclose(estimates.mean(axis=0), data_vector(cl), atol=4 * np.sqrt(np.diag(predicted) / skies).max())


def test_covariance_scales_with_sky_fraction_and_band_width_and_is_block_diagonal():
    ell = np.array([20.0, 40.0, 80.0])
    cl = _spectra(ell)
    full = np.asarray(gaussian_covariance(cl, ell, 10.0, 1.0, np.zeros(3)))
    part = np.asarray(gaussian_covariance(cl, ell, np.array([10.0, 20.0, 40.0]), 0.25, np.zeros(3)))
    widths = np.tile([1.0, 2.0, 4.0], 6)
    np.testing.assert_allclose(part, full * 4.0 / np.sqrt(np.outer(widths, widths)), rtol=1e-6)
    blocks = full.reshape(6, 3, 6, 3)
    off = blocks[:, [0, 0, 1, 1, 2, 2], :, [1, 2, 0, 2, 0, 1]]
    assert np.all(off == 0.0) and np.allclose(full, full.T)
    assert np.all(np.linalg.eigvalsh(full) > 0)


def test_noise_helpers_convert_arcmin_densities():
    steradian = (180 * 60 / np.pi) ** 2
    assert float(shape_noise(0.26, 10.0)) == pytest.approx(0.26**2 / (10.0 * steradian))
    assert float(shot_noise(0.5)) == pytest.approx(1.0 / (0.5 * steradian))
    assert float(jax.grad(lambda s: shape_noise(s, 10.0))(0.26)) == pytest.approx(2 * 0.26 / (10.0 * steradian))


@pytest.mark.parametrize("kwargs, match", [
    (dict(f_sky=1.5), "f_sky must be <= 1"),
    (dict(f_sky=0.0), "f_sky must be > 0"),
    (dict(delta_ell=-1.0), "delta_ell must be > 0"),
    (dict(noise=np.array([-1.0, 0.0, 0.0])), "noise must be >= 0"),
    (dict(noise=np.zeros(2)), "noise must have shape"),
    (dict(ell=np.array([10.0, 20.0])), "ell must have shape"),
])
def test_bad_input_is_refused(kwargs, match):
    ell = np.array([10.0, 20.0, 40.0])
    args = dict(cl=_spectra(ell), ell=ell, delta_ell=5.0, f_sky=0.3, noise=np.zeros(3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gaussian_covariance(**args)
    with pytest.raises(ValueError, match="density must be > 0"):
        shot_noise(0.0)


def test_covariance_jits_and_differentiates_in_sky_fraction_and_spectra():
    ell = np.array([20.0, 40.0])
    cl = jax.numpy.asarray(_spectra(ell))
    noise = jax.numpy.asarray([0.1, 0.0, 0.2])
    eager = gaussian_covariance(cl, ell, 3.0, 0.2, noise)
    np.testing.assert_allclose(jax.jit(gaussian_covariance)(cl, ell, 3.0, 0.2, noise), eager, rtol=1e-6)
    # Cov ~ 1 / f_sky: d Cov_00 / d f_sky = -Cov_00 / f_sky; Cov_00 = 2 C~_00^2 / modes
    grad = jax.grad(lambda f: gaussian_covariance(cl, ell, 3.0, f, noise)[0, 0])(0.2)
    assert float(grad) == pytest.approx(-float(eager[0, 0]) / 0.2, rel=1e-5)
    grad_cl = jax.grad(lambda c: gaussian_covariance(c, ell, 3.0, 0.2, noise)[0, 0])(cl)
    assert float(grad_cl[0, 0, 0]) == pytest.approx(4 * (float(cl[0, 0, 0]) + 0.1) / (41.0 * 3.0 * 0.2), rel=1e-5)
    np.testing.assert_allclose(jax.jit(data_vector)(cl), data_vector(cl))

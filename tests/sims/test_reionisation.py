"""Low-l EE model in tau and the noisy Q/U simulator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims.reionisation import (
    ReionisationConfig,
    cl_ee_tau,
    load_ee_tau_table,
    noise_level,
    signal_spectrum,
    simulate_qu,
    tau_range,
)
from cosmojax.sphere import map2alm_spin, alm2cl


def test_table_nodes_are_reproduced_and_smooth(x64):
    table = load_ee_tau_table()
    assert tau_range() == (pytest.approx(0.02), pytest.approx(0.12))
    for i in (0, 17, 40):
        np.testing.assert_allclose(cl_ee_tau(table.tau[i], 30), table.cl_ee[i, :31], rtol=1e-12)
    taus = jnp.linspace(0.03, 0.11, 33)
    cl = cl_ee_tau(taus, 8)
    assert cl.shape == (33, 9) and np.all(np.asarray(cl[:, :2]) == 0)
    # the reionisation bump grows monotonically with tau
    assert np.all(np.diff(np.asarray(cl[:, 2:6]), axis=0) > 0)
    # roughly C_l ~ tau^2 at l = 2..4
    slope = np.log(cl[-1, 2:5] / cl[0, 2:5]) / np.log(0.11 / 0.03)
    assert np.all((slope > 1.0) & (slope < 3.0))
    grad = jax.vmap(jax.grad(lambda t: cl_ee_tau(t, 8)[3]))(taus)
    fd = (cl_ee_tau(taus + 1e-6, 8)[:, 3] - cl_ee_tau(taus - 1e-6, 8)[:, 3]) / 2e-6
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_gradient_of_map_loss_wrt_tau(x64, key):
    config = ReionisationConfig(nside=8, hit_contrast=1.0, mask_cut_deg=15.0, mask_apodization_deg=5.0)

    def loss(tau):
        return jnp.sum(simulate_qu(key, tau, config) ** 2)

    grad = jax.jit(jax.grad(loss))(0.06)
    fd = (loss(0.06 + 1e-6) - loss(0.06 - 1e-6)) / 2e-6
    assert float(grad) == pytest.approx(float(fd), rel=1e-5)
    assert float(grad) > 0  # more tau, more polarisation


def test_simulated_ee_spectrum_recovers_model(x64, key):
    config = ReionisationConfig(nside=8, noise_depth=20.0)
    nsim = 100
    tau = 0.08
    maps = jax.jit(jax.vmap(lambda k: simulate_qu(k, tau, config)))(jax.random.split(key, nsim))
    assert maps.shape == (nsim, 2, 768)
    alm = map2alm_spin(maps, lmax=config.ell_max)
    cl_e = np.asarray(alm2cl(alm[:, 0])).mean(axis=0)
    cl_b = np.asarray(alm2cl(alm[:, 1])).mean(axis=0)
    ell = np.arange(config.ell_max + 1)
    model = np.asarray(signal_spectrum(tau, config) + noise_level(config))
    sigma = model * np.sqrt(2 / ((2 * ell + 1) * nsim))
    assert np.all(np.abs(cl_e[2:] - model[2:]) < 5 * sigma[2:])
    noise = np.asarray(noise_level(config))
    assert np.all(np.abs(cl_b[2:] - noise[2:]) < 5 * noise[2:] * np.sqrt(2 / ((2 * ell[2:] + 1) * nsim)))


def test_bad_input_raises(key):
    with pytest.raises(ValueError, match="tau"):
        cl_ee_tau(0.3, 10)
    with pytest.raises(ValueError, match="lmax"):
        cl_ee_tau(0.06, 500)
    with pytest.raises(ValueError, match="nside"):
        ReionisationConfig(nside=5)
    with pytest.raises(ValueError, match="lmax"):
        ReionisationConfig(nside=8, lmax=40)
    with pytest.raises(ValueError, match="tau"):
        simulate_qu(key, jnp.array([0.05, 0.06]), ReionisationConfig())


def test_simulated_spectra_follow_the_gaussian_model_and_its_fisher(key):
    """Mean, variance and cross-l covariance of the measured C_l^EE, and the Fisher information
    on tau of the simulations, agree with the independent-mode Gaussian model that the analytic
    likelihood assumes (C_l = b_l^2 C_l^EE(tau) + N_l, variance 2 C_l^2 / (2l + 1)).

    Also shows how a summary can appear to beat that bound although the simulations follow the
    model: a curved function of the optimal score, differenced between seed-matched skies at
    tau +- 0.005 (about 1.8 sigma of tau), has a finite-difference "Fisher information" well
    above the analytic one, while with its local derivative (the chain rule at the fiducial
    sky, as ``cosmojax.imnn.precomputed(..., data_derivatives=...)`` takes it) it stays below.
    """
    config = ReionisationConfig(nside=8, fwhm_deg=10.0, noise_depth=20.0)
    nsim, tau, dtau = 2048, 0.07, 0.005
    lmax = config.ell_max
    ell = np.arange(2, lmax + 1)

    @jax.jit
    def spectra(keys, t):
        maps = jax.vmap(lambda k: simulate_qu(k, t, config))(keys)
        return alm2cl(map2alm_spin(maps, lmax=lmax, iter=0)[:, 0])[:, 2:]

    keys = jax.random.split(key, nsim)
    cl0, clp, clm = (np.asarray(spectra(keys, t), np.float64) for t in (tau, tau + dtau, tau - dtau))
    model = np.asarray(signal_spectrum(tau, config) + noise_level(config), np.float64)[2:]
    dmodel = np.asarray(jax.jacfwd(lambda t: signal_spectrum(t, config))(tau), np.float64)[2:]

    # mean and variance per l within sampling errors of chi^2_{2l+1} / (2l+1) statistics
    nu = 2 * ell + 1
    mean_ratio = cl0.mean(0) / model
    exact = ell <= 2 * config.nside  # where the nside-8 quadrature of map2alm is accurate
    assert np.all(np.abs(mean_ratio - 1)[exact] < 4 * np.sqrt(2 / (nu * nsim))[exact]), mean_ratio
    # above 2 nside the one-pass analysis aliases a little low-l signal upwards: +1-3% of N_l
    assert np.all(np.abs(mean_ratio - 1)[~exact] < 0.04), mean_ratio
    var_ratio = cl0.var(0, ddof=1) / (2 * model**2 / nu)
    assert np.all(np.abs(var_ratio - 1) < 4 * np.sqrt((2 + 12 / nu) / nsim)), var_ratio
    # no correlations between multipoles beyond sampling noise (231 pairs, sigma = 1 / sqrt(nsim))
    corr = np.corrcoef(cl0.T)
    off = corr[~np.eye(ell.size, dtype=bool)]
    assert np.max(np.abs(off)) < 5 / np.sqrt(nsim)
    assert np.sqrt(np.mean(off**2)) < 1.25 / np.sqrt(nsim)
    # the seed-matched derivative of the mean matches the model's where the signal matters
    dsim = (clp - clm).mean(0) / (2 * dtau)
    signal_band = ell <= 12
    np.testing.assert_allclose(dsim[signal_band], dmodel[signal_band], rtol=0.05)

    # Fisher information: analytic, and that of the score measured on the simulations
    fisher = 0.5 * np.sum(nu * (dmodel / model) ** 2)
    weights = 0.5 * nu * dmodel / model**2

    def score(cl):
        return (cl - model) @ weights

    s0, ds = score(cl0), (clp - clm) @ weights / (2 * dtau)
    fisher_sim = ds.mean() ** 2 / s0.var(ddof=1)
    assert fisher_sim / fisher == pytest.approx(1.0, abs=0.1)
    assert s0.mean() ** 2 < 16 * s0.var() / nsim  # the score has mean zero at the fiducial

    # a curved summary of the score: finite differences over 1.8 sigma of tau exceed the bound,
    # its local derivative (chain rule on the seed-matched data derivative) does not
    z = lambda s: (s - s0.mean()) / s0.std()  # noqa: E731
    curved = lambda s: np.exp(0.5 * z(s))  # noqa: E731
    t0 = curved(s0)
    fisher_fd = ((curved(score(clp)) - curved(score(clm))).mean() / (2 * dtau)) ** 2 / t0.var(ddof=1)
    fisher_local = (0.5 * t0 * ds / s0.std()).mean() ** 2 / t0.var(ddof=1)
    assert fisher_fd / fisher > 1.2
    assert fisher_local / fisher < 1.1

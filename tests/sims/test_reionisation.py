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

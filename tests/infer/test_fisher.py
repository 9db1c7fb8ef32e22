import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import linear_power, planck2018
from cosmojax.infer import fisher_matrix, gaussian_field_fisher, marginal_errors
from cosmojax.stats import default_kedges, power_spectrum


def log_powerlaw(theta, k):
    amplitude, index = theta
    return jnp.log(amplitude) + index * jnp.log(k / 0.1)


@pytest.mark.parametrize("shape", [(8, 8, 8), (16, 12), (7, 9, 5)])
def test_amplitude_information_counts_every_mode(x64, shape):
    a = 3.0
    f = gaussian_field_fisher(log_powerlaw, jnp.array([a, -2.0]), shape, 100.0)
    # every non-zero full-grid mode carries 1/2 (dlnP/dA)^2
    assert float(f[0, 0]) == pytest.approx((np.prod(shape) - 1) / (2 * a**2), rel=1e-12)
    assert f.shape == (2, 2) and np.allclose(f, f.T)


def test_field_fisher_with_kmax_and_binned_pk_fisher_agree(x64):
    shape, box = (16, 16, 16), 200.0
    edges = default_kedges(shape, box)
    kmax = edges[-1]
    theta = jnp.array([2.0, -1.5])
    f_modes = gaussian_field_fisher(log_powerlaw, theta, shape, box, kmax=kmax)
    # the binned P(k) with Gaussian covariance 2 P^2 / N_k carries the same amplitude information
    counts = np.asarray(power_spectrum(np.zeros(shape), box, kedges=edges).n_modes)
    kmean = np.asarray(power_spectrum(np.zeros(shape), box, kedges=edges).k)
    model = lambda t: jnp.exp(log_powerlaw(t, jnp.asarray(kmean)))
    cov = 2 * model(theta) ** 2 / counts
    f_binned = fisher_matrix(model, theta, cov)
    assert float(f_binned[0, 0]) == pytest.approx(float(f_modes[0, 0]), rel=1e-10)
    # binning loses a little information on the slope, never gains
    assert float(f_binned[1, 1]) <= float(f_modes[1, 1]) * (1 + 1e-9)
    assert float(f_binned[1, 1]) > 0.95 * float(f_modes[1, 1])


def test_sigma8_forecast_from_linear_power(x64):
    cosmo = planck2018()
    shape, box = (16, 16, 16), 500.0

    def log_p(theta, k):
        return jnp.log(linear_power(cosmo.replace(sigma8=theta[0], Omega_c=theta[1]), k))

    theta = jnp.array([cosmo.sigma8, cosmo.Omega_c])
    f = gaussian_field_fisher(log_p, theta, shape, box)
    n = np.prod(shape) - 1
    assert float(f[0, 0]) == pytest.approx(n / 2 * (2 / cosmo.sigma8) ** 2, rel=1e-8)
    err = marginal_errors(f)
    assert err.shape == (2,) and bool(jnp.all(err > 0))
    # marginalising over Omega_c can only widen the sigma8 error
    assert float(err[0]) >= float(1 / jnp.sqrt(f[0, 0])) * (1 - 1e-12)

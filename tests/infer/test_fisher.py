import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import linear_power, planck2018
import cosmojax.imnn
import cosmojax.infer
import cosmojax.stats
from cosmojax.infer import fisher_matrix, gaussian_field_fisher, gaussian_likelihood_fisher, marginal_errors
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
    f_binned = gaussian_likelihood_fisher(model, theta, cov)
    with pytest.warns(DeprecationWarning, match="gaussian_likelihood_fisher"):
        np.testing.assert_allclose(fisher_matrix(model, theta, cov), f_binned, rtol=1e-12)
    assert float(f_binned[0, 0]) == pytest.approx(float(f_modes[0, 0]), rel=1e-10)
    # binning loses a little information on the slope, never gains
    assert float(f_binned[1, 1]) <= float(f_modes[1, 1]) * (1 + 1e-9)
    assert float(f_binned[1, 1]) > 0.95 * float(f_modes[1, 1])


@pytest.mark.parametrize("shape", [(6, 5, 4), (8, 7)])
def test_one_gaussian_field_fisher_through_both_old_entry_points(x64, shape):
    """F_ij = 1/2 sum over the independent modes of dlnP_i dlnP_j (DESIGN.md), summed here by
    brute force over every full-grid mode k != 0, against the one implementation and the
    two older entry points (cosmojax.infer's, cosmojax.imnn's deprecated form)."""
    box = (50.0, 70.0, 90.0)[: len(shape)]
    theta = np.array([2.0, -1.3])
    axes = [2 * np.pi * np.fft.fftfreq(m, 1.0 / m) / size for m, size in zip(shape, box)]
    k = np.sqrt(sum(g**2 for g in np.meshgrid(*axes, indexing="ij"))).ravel()
    k = k[k > 0]
    g = np.stack([np.full_like(k, 1.0 / theta[0]), np.log(k / 0.1)])  # d ln P / d (A, n)
    brute = 0.5 * g @ g.T
    assert cosmojax.infer.gaussian_field_fisher is cosmojax.stats.gaussian_field_fisher
    one = np.asarray(cosmojax.stats.gaussian_field_fisher(log_powerlaw, jnp.asarray(theta), shape, box))
    np.testing.assert_allclose(one, brute, rtol=1e-12)
    np.testing.assert_allclose(gaussian_field_fisher(log_powerlaw, jnp.asarray(theta), shape, box), brute, rtol=1e-12)
    slopes = lambda kk: np.stack([np.full_like(kk, 1.0 / theta[0]), np.log(kk / 0.1)])  # noqa: E731
    with pytest.warns(DeprecationWarning, match="gaussian_field_fisher"):
        old = cosmojax.imnn.gaussian_field_fisher(shape, box, slopes)
    np.testing.assert_allclose(old, brute, rtol=1e-12)
    # a kmax cut keeps exactly the modes with |k| <= kmax
    kmax = float(np.median(k))
    cut = g[:, k <= kmax]
    np.testing.assert_allclose(cosmojax.stats.gaussian_field_fisher(log_powerlaw, jnp.asarray(theta), shape, box,
                                                                   kmax=kmax), 0.5 * cut @ cut.T, rtol=1e-12)


def test_gaussian_likelihood_fisher_precision_form_and_bad_shapes(x64):
    a = jnp.array([[1.0, 0.5], [0.0, 2.0], [-1.0, 1.0]])
    cov = jnp.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])
    model = lambda t: a @ t**2  # noqa: E731
    theta = jnp.array([0.7, -1.1])
    jac = np.asarray(a) * 2 * np.asarray(theta)[None, :]
    want = jac.T @ np.linalg.solve(np.asarray(cov), jac)
    np.testing.assert_allclose(gaussian_likelihood_fisher(model, theta, cov), want, rtol=1e-12)
    np.testing.assert_allclose(gaussian_likelihood_fisher(model, theta, precision=jnp.linalg.inv(cov)), want,
                               rtol=1e-10)
    np.testing.assert_allclose(jax.jit(lambda t: gaussian_likelihood_fisher(model, t, cov))(theta), want, rtol=1e-12)
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_likelihood_fisher(model, theta)
    with pytest.raises(ValueError, match="covariance must have shape"):
        gaussian_likelihood_fisher(model, theta, jnp.eye(4))
    with pytest.raises(ValueError, match="precision must have shape"):
        gaussian_likelihood_fisher(model, theta, precision=jnp.eye(2))


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


# ---------------------------------------------- P(k), xi(r) and IMNN against the field bound
# The 2D Gaussian field of tests/imnn: P(k) = A k^n on 16^2 cells of a (8 pi Mpc/h)^2 box,
# fiducial (A, n) = (1, -1.5).

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import optax  # noqa: E402

from cosmojax import mesh  # noqa: E402
from cosmojax.imnn import autodiff, fisher_statistics, fit_imnn, imnn  # noqa: E402
from cosmojax.infer import precision_from_simulations  # noqa: E402
from cosmojax.infer.fisher import correlation_function_fisher, power_spectrum_fisher, shell_kedges  # noqa: E402
from cosmojax.stats import (  # noqa: E402
    expected_grid_correlation,
    grid_correlation_covariance,
    grid_correlation_function,
    shell_redges,
)
from cosmojax.sims.fields import gaussian_field_from_noise  # noqa: E402

SHAPE = (16, 16)
BOX = 8 * np.pi
FIDUCIAL = (1.0, -1.5)


def log_pk(theta, k):
    return jnp.log(theta[0]) + theta[1] * jnp.log(k)


def whitened_eigenvalues(f, f_ref):
    """Eigenvalues of F_ref^-1/2 F F_ref^-1/2: all 1 when F = F_ref, all <= 1 when F <= F_ref."""
    inv = np.linalg.inv(np.linalg.cholesky(np.asarray(f_ref)))
    return np.linalg.eigvalsh(inv @ np.asarray(f) @ inv.T)


def test_power_spectrum_fisher_on_shells_equals_field_fisher(x64):
    shape, box = SHAPE, BOX
    theta = jnp.array(FIDUCIAL)
    f_field = gaussian_field_fisher(log_pk, theta, shape, box)
    f_shells = power_spectrum_fisher(log_pk, theta, shape, box, kedges=shell_kedges(shape, box))
    np.testing.assert_allclose(f_shells, f_field, rtol=1e-10)
    # wider bins (k_f wide, up to Nyquist) hold less, in every direction
    edges = default_kedges(shape, box)
    f_binned = power_spectrum_fisher(log_pk, theta, shape, box, kedges=edges)
    f_same_modes = gaussian_field_fisher(log_pk, theta, shape, box, kmax=edges[-1])
    lam = whitened_eigenvalues(f_binned, f_same_modes)
    assert np.all(lam <= 1 + 1e-10) and lam.min() < 0.99, lam
    # jit safe with static sizes
    f_jit = jax.jit(lambda t: power_spectrum_fisher(log_pk, t, shape, box, kedges=shell_kedges(shape, box)))(theta)
    np.testing.assert_allclose(f_jit, f_field, rtol=1e-10)


def test_grid_correlation_function_is_the_lag_average(x64, key):
    shape, box = (6, 8), (12.0, 20.0)
    field = jax.random.normal(key, shape)
    edges = np.array([0.0, 2.1, 3.0, 5.0, 9.0])
    r, xi = grid_correlation_function(field, box, redges=edges)
    # brute force over every lag vector (minimal image) and every cell
    f = np.asarray(field)
    sums, counts, rsum = np.zeros(4), np.zeros(4), np.zeros(4)
    for i in range(6):
        for j in range(8):
            sep = np.hypot(min(i, 6 - i) * 2.0, min(j, 8 - j) * 2.5)
            b = np.searchsorted(edges, sep, side="right") - 1
            if 0 <= b < 4:
                sums[b] += np.mean(f * np.roll(f, (-i, -j), axis=(0, 1)))
                counts[b] += 1
                rsum[b] += sep
    np.testing.assert_allclose(xi, sums / counts, rtol=1e-10)
    np.testing.assert_allclose(r, rsum / counts, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(lambda x: grid_correlation_function(x, box, redges=edges)[1])(field), xi, rtol=1e-10)
    with pytest.raises(ValueError, match="redges"):
        grid_correlation_function(field, box, redges=[0.0, 0.5, 1.0])


def test_xi_mean_and_covariance_match_gaussian_simulations(x64, key):
    theta = jnp.array(FIDUCIAL)
    power = lambda k: jnp.exp(log_pk(theta, k))  # noqa: E731
    edges = shell_redges(SHAPE, BOX, rmax=4 * BOX / 16)
    n_sims = 2000
    sims = jax.vmap(lambda k: grid_correlation_function(gaussian_field_from_noise(jax.random.normal(k, SHAPE), BOX, power), BOX, redges=edges)[1])(
        jax.random.split(key, n_sims)
    )
    mean = expected_grid_correlation(power, SHAPE, BOX, redges=edges)
    cov = np.asarray(grid_correlation_covariance(power, SHAPE, BOX, redges=edges))
    sigma = np.sqrt(np.diag(cov))
    assert np.all(np.abs(np.asarray(sims.mean(0)) - mean) < 4 * sigma / np.sqrt(n_sims))
    # sample variances scatter by sqrt(2 / n) ~ 3%
    np.testing.assert_allclose(np.var(np.asarray(sims), axis=0, ddof=1) / sigma**2, 1.0, atol=0.1)


def test_xi_fisher_is_below_the_field_bound_and_reaches_it_on_all_scales(x64, key):
    theta = jnp.array(FIDUCIAL)
    f_field = gaussian_field_fisher(log_pk, theta, SHAPE, BOX)
    cell = BOX / 16
    coarse = (np.arange(9) - 0.5).clip(0) * cell  # 8 bins one cell wide, up to half the box
    results = {}
    for name, edges in [("all lags", shell_redges(SHAPE, BOX)), ("r < L/2", shell_redges(SHAPE, BOX, rmax=8 * cell)), ("coarse", coarse)]:
        lam = whitened_eigenvalues(correlation_function_fisher(log_pk, theta, SHAPE, BOX, redges=edges), f_field)
        assert np.all(lam <= 1 + 1e-9), (name, lam)
        results[name] = lam
    assert results["all lags"].min() > 0.99  # measured 0.9983
    assert results["r < L/2"].min() > 0.99  # measured 0.9976
    assert results["coarse"].min() < 0.85  # measured 0.81: cell-wide bins lose the slope
    # the same with a covariance from 2000 simulations and the Hartlap factor
    edges = shell_redges(SHAPE, BOX, rmax=8 * cell)
    n_sims, p = 2000, edges.size - 1
    power = lambda k: jnp.exp(log_pk(theta, k))  # noqa: E731
    sims = jax.vmap(lambda k: grid_correlation_function(gaussian_field_from_noise(jax.random.normal(k, SHAPE), BOX, power), BOX, redges=edges)[1])(
        jax.random.split(key, n_sims)
    )
    f_sims = correlation_function_fisher(log_pk, theta, SHAPE, BOX, redges=edges, precision=precision_from_simulations(sims))
    lam = whitened_eigenvalues(f_sims, f_field)
    noise = np.sqrt(2.0 / (n_sims - p - 4))  # relative scatter of a Hartlap-debiased Fisher
    assert np.all(lam <= 1 + 3 * noise) and np.all(lam >= 1 - 3 * noise), (lam, noise)
    with pytest.raises(ValueError, match="precision must have shape"):
        correlation_function_fisher(log_pk, theta, SHAPE, BOX, redges=edges, precision=np.eye(3))


def field_sim(key, theta):
    """The simulator of tests/imnn: delta_k = FFT(white noise) sqrt(P(k) / V_cell)."""
    kmag = mesh.rfftn_kmag(SHAPE, BOX)
    amplitude = jnp.sqrt(theta[0]) * jnp.where(kmag > 0, kmag, 1.0) ** (0.5 * theta[1]) * (kmag > 0)
    noise_k = jnp.fft.rfftn(jax.random.normal(key, SHAPE))
    return jnp.fft.irfftn(noise_k * amplitude / np.sqrt(BOX**2 / np.prod(SHAPE)), s=SHAPE)


class ShellPowerNet(nn.Module):
    """Field -> power in every |k| shell over the fiducial model -> a linear readout."""

    @nn.compact
    def __call__(self, field):
        edges = shell_kedges(SHAPE, BOX)
        ps = power_spectrum(field, BOX, kedges=edges)
        fiducial = jnp.exp(log_pk(jnp.array(FIDUCIAL), ps.k))
        # unit-variance inputs: (P / P_fid - 1) has variance 2 / N_modes at the fiducial
        return nn.Dense(2)((ps.power / fiducial - 1.0) * jnp.sqrt(ps.n_modes / 2))


def test_imnn_fisher_is_below_the_bounds_and_reaches_90_percent(key):
    theta = jnp.array(FIDUCIAL)
    f_field = np.asarray(gaussian_field_fisher(log_pk, theta, SHAPE, BOX))
    f_pk = np.asarray(power_spectrum_fisher(log_pk, theta, SHAPE, BOX, kedges=shell_kedges(SHAPE, BOX)))
    np.testing.assert_allclose(f_pk, f_field, rtol=1e-4)
    k_fit, k_test = jax.random.split(key)
    net = ShellPowerNet()
    params = net.init(jax.random.key(2), jnp.zeros(SHAPE))
    model = imnn(net.apply, optax.adam(optax.cosine_decay_schedule(0.1, 200)), autodiff(field_sim, theta, 500))
    result = fit_imnn(k_fit, model, params, n_steps=200, validate_every=50, patience=3, progress=False)
    x, dx = jax.jit(lambda k: autodiff(field_sim, theta, 4000, chunk_size=1000).compute(net.apply, result.params, k))(k_test)
    lam = whitened_eigenvalues(fisher_statistics(x, dx).F, f_field)
    subsets = np.asarray([whitened_eigenvalues(fisher_statistics(x[i::8], dx[i::8]).F, f_field) for i in range(8)])
    noise = subsets.std(0, ddof=1) / np.sqrt(8)
    assert np.all(lam <= 1 + 3 * noise), (lam, noise)
    assert np.all(lam >= 0.9), (lam, noise)

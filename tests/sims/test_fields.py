import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import mesh
from cosmojax.cosmology import linear_power, planck2018
from cosmojax.sims import (
    gaussian_field,
    gaussian_field_from_noise,
    lognormal_field,
    lognormal_transform,
    noise_to_modes,
    paired_gaussian_fields,
    white_noise,
)
from cosmojax.stats import default_kedges, power_spectrum

from tests._transforms import assert_vmap_and_jit, keys

COSMO = planck2018()


def linear(k):
    return linear_power(COSMO, k)


def powerlaw_2d(k):
    return 50.0 * (k / 0.1) ** -1.5


def expected_binned(power, shape, box, kedges):
    """<P> over the modes of each bin, the exact expectation of the estimator."""
    kmag = np.asarray(mesh.rfftn_kmag(shape, box), float)
    w = np.asarray(mesh.hermitian_weights(shape))
    p = np.where(kmag > 0, np.asarray(power(jnp.asarray(np.where(kmag > 0, kmag, 1.0)))), 0.0)
    idx = np.searchsorted(kedges, kmag, side="right") - 1
    n = kedges.size - 1
    idx = np.where((idx < 0) | (idx >= n), n, idx)
    num = np.bincount(idx.ravel(), (w * p).ravel(), minlength=n + 1)[:n]
    den = np.bincount(idx.ravel(), w.ravel(), minlength=n + 1)[:n]
    return num / den


@pytest.mark.parametrize(
    "shape, box, power",
    [((32, 32, 32), 250.0, linear), ((64, 48), (320.0, 240.0), powerlaw_2d)],
    ids=["3d", "2d-rectangular"],
)
def test_mean_power_within_cosmic_variance(shape, box, power):
    kedges = default_kedges(shape, box)
    n_real = 48

    @jax.jit
    def measure(key):
        return power_spectrum(gaussian_field(key, shape, box, power), box, kedges=kedges)

    keys = jax.random.split(jax.random.key(7), n_real)
    spectra = jax.lax.map(measure, keys)
    p_mean = np.asarray(spectra.power).mean(0)
    n_modes = np.asarray(spectra.n_modes[0])
    truth = expected_binned(power, shape, box, kedges)
    sigma = truth * np.sqrt(2.0 / (n_modes * n_real))
    pull = (p_mean - truth) / sigma
    assert np.all(np.abs(pull) < 3.5), pull
    assert np.mean(pull**2) < 2.0  # chi^2 per bin consistent with 1
    # the empirical scatter of single realisations is the Gaussian 2P^2/N_k
    scatter = np.asarray(spectra.power).std(0) / (truth * np.sqrt(2.0 / n_modes))
    assert 0.7 < np.median(scatter) < 1.3


def test_field_variance_matches_the_integral_of_p(x64):
    shape, box = (32, 32, 32), 200.0
    keys = jax.random.split(jax.random.key(3), 24)
    fields = jax.vmap(lambda k: gaussian_field(k, shape, box, linear))(keys)
    var = float(jnp.mean(jnp.var(fields, axis=(1, 2, 3))))
    # discrete integral of P d^3k / (2 pi)^3 over the mesh's modes
    kmag = np.asarray(mesh.rfftn_kmag(shape, box))
    w = np.asarray(mesh.hermitian_weights(shape))
    p = np.where(kmag > 0, np.asarray(linear(np.where(kmag > 0, kmag, 1.0))), 0.0)
    expected = np.sum(w * p) / box**3
    # the same integral over the Nyquist cube by quadrature (independent of the mesh sum)
    k_nyq = np.pi * shape[0] / box
    g = np.linspace(-k_nyq, k_nyq, 81)
    gx, gy, gz = np.meshgrid(g, g, g, indexing="ij")
    kk = np.sqrt(gx**2 + gy**2 + gz**2)
    cube = np.trapezoid(np.trapezoid(np.trapezoid(np.asarray(linear(np.maximum(kk, 1e-4))), g), g), g) / (2 * np.pi) ** 3
    assert var == pytest.approx(expected, rel=0.03)
    assert expected == pytest.approx(cube, rel=0.05)


def test_fixed_amplitude_has_exact_power_per_mode(x64):
    shape, box = (16, 16, 16), 100.0
    field = gaussian_field(jax.random.key(1), shape, box, linear, fixed_amplitude=True)
    modes = jnp.fft.rfftn(field)
    measured = np.abs(np.asarray(modes)) ** 2 * box**3 / np.prod(shape) ** 2
    kmag = np.asarray(mesh.rfftn_kmag(shape, box))
    expected = np.where(kmag > 0, np.asarray(linear(np.where(kmag > 0, kmag, 1.0))), 0.0)
    np.testing.assert_allclose(measured, expected, rtol=1e-10, atol=1e-10)


def test_paired_fields_are_opposite_and_flip_phase_matches(x64):
    key = jax.random.key(5)
    pair = paired_gaussian_fields(key, (8, 8, 8), 50.0, linear)
    np.testing.assert_allclose(pair[0], -pair[1], atol=1e-14)
    a = gaussian_field(key, (8, 8, 8), 50.0, linear, fixed_amplitude=True)
    b = gaussian_field(key, (8, 8, 8), 50.0, linear, fixed_amplitude=True, flip_phase=True)
    np.testing.assert_allclose(a, pair[0], atol=1e-14)
    np.testing.assert_allclose(b, pair[1], atol=1e-14)


def test_same_key_same_field_and_noise_route_agrees():
    key = jax.random.key(11)
    f1 = gaussian_field(key, (8, 8, 8), 50.0, linear)
    f2 = jax.jit(lambda k: gaussian_field(k, (8, 8, 8), 50.0, linear))(key)
    np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-6)
    f3 = gaussian_field_from_noise(white_noise(key, (8, 8, 8)), 50.0, linear)
    np.testing.assert_array_equal(np.asarray(f1), np.asarray(f3))
    assert not np.allclose(f1, gaussian_field(jax.random.key(12), (8, 8, 8), 50.0, linear))


def test_lognormal_field_is_positive_and_recovers_the_input_power():
    shape, box = (32, 32, 32), 256.0
    kedges = default_kedges(shape, box)

    @jax.jit
    def measure(key):
        delta = lognormal_field(key, shape, box, linear)
        return delta.min(), delta.mean(), power_spectrum(delta, box, kedges=kedges)

    mins, means, spectra = jax.lax.map(measure, jax.random.split(jax.random.key(2), 48))
    assert float(mins.min()) > -1.0
    assert abs(float(means.mean())) < 3 * float(means.std()) / np.sqrt(48) + 1e-6
    p = np.asarray(spectra.power)
    truth = expected_binned(linear, shape, box, kedges)
    err = p.std(0) / np.sqrt(p.shape[0])
    pull = (p.mean(0) - truth) / err
    assert np.all(np.abs(pull) < 4), pull
    np.testing.assert_allclose(p.mean(0)[3:], truth[3:], rtol=0.05)


def test_lognormal_field_is_non_gaussian():
    delta = lognormal_field(jax.random.key(0), (32, 32, 32), 400.0, linear)
    x = np.asarray(delta).ravel()
    skew = np.mean((x - x.mean()) ** 3) / x.std() ** 3
    # a lognormal with variance s^2 has skewness 3 s + s^3
    s = x.std()
    assert 0.3 < s < 1.0
    assert skew == pytest.approx(3 * s + s**3, rel=0.15)
    gauss = np.asarray(gaussian_field(jax.random.key(0), (32, 32, 32), 400.0, linear)).ravel()
    assert abs(np.mean(gauss**3) / gauss.std() ** 3) < 0.1


def test_power_spectrum_loss_gradient_matches_finite_differences(x64):
    shape, box = (16, 16, 16), 200.0
    noise = white_noise(jax.random.key(4), shape)
    kedges = default_kedges(shape, box)
    target = power_spectrum(gaussian_field_from_noise(noise, box, linear), box, kedges=kedges).power * 1.1

    def loss(params):
        cosmo = COSMO.replace(sigma8=params[0], Omega_c=params[1])
        field = gaussian_field_from_noise(noise, box, lambda k: linear_power(cosmo, k))
        p = power_spectrum(field, box, kedges=kedges).power
        return jnp.sum(jnp.log(p / target) ** 2)

    p0 = jnp.array([0.8, 0.26])
    grad = jax.jit(jax.grad(loss))(p0)
    eps = 1e-5
    fd = np.array([(loss(p0.at[i].add(eps)) - loss(p0.at[i].add(-eps))) / (2 * eps) for i in range(2)])
    np.testing.assert_allclose(grad, fd, rtol=1e-3)
    assert np.all(np.abs(fd) > 1e-3)  # both derivatives are informative


def test_gradient_with_respect_to_white_noise(x64):
    shape, box = (8, 8, 8), 80.0
    noise = white_noise(jax.random.key(6), shape)

    def loss(n):
        return jnp.sum(gaussian_field_from_noise(n, box, linear) ** 3)

    g = jax.grad(loss)(noise)
    eps = 1e-6
    idx = (1, 2, 3)
    fd = (loss(noise.at[idx].add(eps)) - loss(noise.at[idx].add(-eps))) / (2 * eps)
    assert float(g[idx]) == pytest.approx(float(fd), rel=1e-6)


def test_bad_field_inputs_raise():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="mesh_shape must have 2 or 3 entries"):
        gaussian_field(key, (8,), 10.0, linear)
    with pytest.raises(ValueError, match=r"mesh_shape\[1\] must be an integer >= 2"):
        gaussian_field(key, (8, 0, 8), 10.0, linear)
    with pytest.raises(ValueError, match="box_size must be a number or 3 numbers"):
        gaussian_field(key, (8, 8, 8), (10.0, 10.0), linear)
    with pytest.raises(ValueError, match="power must be a callable"):
        gaussian_field(key, (8, 8, 8), 10.0, jnp.ones((8, 8, 8)))
    with pytest.raises(ValueError, match="noise contains NaN"):
        noise_to_modes(jnp.full((4, 4, 4), jnp.nan), 10.0, linear)


def test_field_functions_vmap_over_keys_and_noise_and_jit():
    shape, box = (8, 8, 8), 100.0
    ks = keys(3)
    assert_vmap_and_jit(lambda k: white_noise(k, shape), ks)
    noise = jax.vmap(lambda k: white_noise(k, shape))(ks)
    assert_vmap_and_jit(lambda n: noise_to_modes(n, box, linear), noise, atol=1e-3)
    assert_vmap_and_jit(lambda n: gaussian_field_from_noise(n, box, linear), noise, atol=1e-5)
    assert_vmap_and_jit(lambda k: paired_gaussian_fields(k, shape, box, linear), ks, atol=1e-5)
    assert_vmap_and_jit(lambda k: lognormal_field(k, shape, box, linear), ks, atol=1e-5)
    assert_vmap_and_jit(lognormal_transform, 0.3 * noise, jnp.array([0.09, 0.1, 0.2]))

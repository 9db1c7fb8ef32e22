import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import mesh
from cosmojax.cosmology import linear_power, planck2018
from cosmojax.sims import gaussian_field
from cosmojax.stats import default_kedges, power_multipoles, power_spectrum


def plane_wave(shape, box, m, amplitude):
    grids = np.meshgrid(*[np.arange(n) * box / n for n in shape], indexing="ij")
    phase = sum(2 * np.pi * mi * g / box for mi, g in zip(m, grids))
    return amplitude * np.cos(phase)


def test_plane_wave_power_lands_in_one_bin_with_the_right_amplitude(x64):
    shape, box, amp = (16, 16, 16), 100.0, 0.3
    field = plane_wave(shape, box, (2, 1, 0), amp)
    ps = power_spectrum(field, box)
    k_wave = 2 * np.pi / box * np.sqrt(5)
    kedges = default_kedges(shape, box)
    b = np.searchsorted(kedges, k_wave) - 1
    # the wave puts A^2 V / 4 in each of its two modes, +k and -k
    assert float(ps.power[b]) == pytest.approx(2 * amp**2 * box**3 / 4 / float(ps.n_modes[b]), rel=1e-12)
    others = np.delete(np.asarray(ps.power), b)
    assert np.abs(others).max() < 1e-20
    assert float(jnp.sum(ps.n_modes)) <= np.prod(shape)


def test_default_kedges_and_mode_counts():
    edges = default_kedges((32, 32, 32), 100.0)
    kf = 2 * np.pi / 100
    np.testing.assert_allclose(edges[:3], [0.5 * kf, 1.5 * kf, 2.5 * kf])
    assert edges[-1] <= np.pi * 32 / 100 + 1e-12
    ps = power_spectrum(np.zeros((32, 32, 32)), 100.0)
    # first shell |m| in [0.5, 1.5): the 6 face and 12 edge neighbours (corners are at sqrt 3)
    assert int(ps.n_modes[0]) == 6 + 12
    np.testing.assert_allclose(ps.k[0], kf * (6 * 1 + 12 * np.sqrt(2)) / 18, rtol=1e-6)
    # second shell [1.5, 2.5): 8 corners (sqrt 3), 6 at 2, 24 at sqrt 5, 24 at sqrt 6
    assert int(ps.n_modes[1]) == 8 + 6 + 24 + 24


def test_cross_spectrum(x64):
    shape, box = (16, 16, 16), 100.0
    cosmo = planck2018()
    a = gaussian_field(jax.random.key(0), shape, box, lambda k: linear_power(cosmo, k))
    b = gaussian_field(jax.random.key(1), shape, box, lambda k: linear_power(cosmo, k))
    auto = power_spectrum(a, box)
    np.testing.assert_allclose(power_spectrum(a, box, field2=a).power, auto.power, rtol=1e-12)
    np.testing.assert_allclose(power_spectrum(a, box, field2=-2 * a).power, -2 * auto.power, rtol=1e-12)
    # cross of a + b with a - b is P_a - P_b
    pa, pb = auto.power, power_spectrum(b, box).power
    np.testing.assert_allclose(power_spectrum(a + b, box, field2=a - b).power, pa - pb, rtol=1e-9, atol=1e-6)


def test_kaiser_multipoles(x64):
    shape, box, beta = (48, 48, 48), 600.0, 0.5
    cosmo = planck2018()
    real = gaussian_field(jax.random.key(3), shape, box, lambda k: linear_power(cosmo, k), fixed_amplitude=True)
    kmag = np.asarray(mesh.rfftn_kmag(shape, box))
    safe = np.where(kmag > 0, kmag, 1.0)
    mu = np.broadcast_to(np.asarray(mesh.rfftn_kvec(shape, box)[2]), kmag.shape) / safe
    rsd = jnp.fft.irfftn(jnp.fft.rfftn(real) * (1 + beta * mu**2), s=shape)
    poles = power_multipoles(rsd, box, ells=(0, 2, 4))

    # exact expectation: fixed amplitudes make |delta_k|^2 = P(k) (1 + beta mu^2)^2 mode by mode
    edges = default_kedges(shape, box)
    w = np.asarray(mesh.hermitian_weights(shape))
    pk = np.where(kmag > 0, np.asarray(linear_power(cosmo, safe)), 0.0) * (1 + beta * mu**2) ** 2
    idx = np.searchsorted(edges, kmag, side="right") - 1
    legendre = {0: np.ones_like(mu), 2: 0.5 * (3 * mu**2 - 1), 4: (35 * mu**4 - 30 * mu**2 + 3) / 8}
    for row, ell in enumerate((0, 2, 4)):
        expected = [
            (2 * ell + 1) * np.sum((w * pk * legendre[ell])[idx == b]) / np.sum(w[idx == b]) for b in range(edges.size - 1)
        ]
        np.testing.assert_allclose(poles.power[row], expected, rtol=1e-9, atol=1e-9)

    # and close to the continuous Kaiser (1987) ratios where bins hold many modes
    p = power_spectrum(real, box).power
    hi = slice(8, None)
    np.testing.assert_allclose(poles.power[0][hi] / p[hi], 1 + 2 * beta / 3 + beta**2 / 5, rtol=0.02)
    np.testing.assert_allclose(poles.power[1][hi] / p[hi], 4 * beta / 3 + 4 * beta**2 / 7, rtol=0.05)
    # the hexadecapole feels the grid's discrete mu most: compare its average over bins
    assert float(jnp.mean(poles.power[2][hi] / p[hi])) == pytest.approx(8 * beta**2 / 35, rel=0.25)
    # line of sight along x: the z-distorted field has a much smaller quadrupole about x
    px = power_multipoles(rsd, box, ells=(2,), los=(1.0, 0.0, 0.0)).power[0]
    assert np.all(np.asarray(px[hi]) < 0.25 * np.asarray(poles.power[1][hi]))
    np.testing.assert_allclose(poles.power[0], power_spectrum(rsd, box).power, rtol=1e-12)


def test_poisson_shot_noise_is_subtracted(x64):
    box, n_grid, n_part = 100.0, 16, 20000
    pos = np.random.default_rng(0).uniform(0, box, (n_part, 3))
    counts = mesh.paint(pos, (n_grid,) * 3, box, scheme="ngp")
    delta = counts / counts.mean() - 1
    shot = box**3 / n_part
    raw = power_spectrum(delta, box)
    clean = power_spectrum(delta, box, shot_noise=shot)
    np.testing.assert_allclose(clean.power, raw.power - shot, rtol=1e-12)
    # NGP shot noise is white: every bin scatters about 1/n with the Gaussian error
    err = shot * np.sqrt(2 / np.asarray(raw.n_modes))
    pull = np.asarray(clean.power) / err
    assert np.all(np.abs(pull) < 4) and abs(np.mean(pull)) < 1.0


def test_compensation_raises_small_scale_power():
    box, n = 100.0, 16
    pos = np.random.default_rng(1).uniform(0, box, (5000, 3))
    m = mesh.paint(pos, (n,) * 3, box, scheme="cic")
    delta = m / m.mean() - 1
    raw = power_spectrum(delta, box).power
    comp = power_spectrum(delta, box, compensate="cic").power
    assert np.all(np.asarray(comp) >= np.asarray(raw))
    assert float(comp[-1] / raw[-1]) > 1.5


def test_power_spectrum_2d_and_jit_grad():
    field = jax.random.normal(jax.random.key(0), (16, 24))
    box = (50.0, 75.0)
    ps = power_spectrum(field, box)
    # white noise of unit variance per cell: P = cell area
    cell = 50.0 * 75.0 / (16 * 24)
    n = np.asarray(ps.n_modes)
    pull = (np.asarray(ps.power) - cell) / (cell * np.sqrt(2 / n))
    assert np.all(np.abs(pull) < 4)
    assert float(np.sum(n * ps.power) / np.sum(n)) == pytest.approx(cell, rel=0.1)
    jitted = jax.jit(lambda f: power_spectrum(f, box).power)(field)
    np.testing.assert_allclose(jitted, ps.power, rtol=1e-5)
    g = jax.grad(lambda f: jnp.sum(power_spectrum(f, box).power))(field)
    assert g.shape == field.shape and bool(jnp.all(jnp.isfinite(g)))
    batch = jax.vmap(lambda f: power_spectrum(f, box).power)(jnp.stack([field, 2 * field]))
    np.testing.assert_allclose(batch[1], 4 * batch[0], rtol=1e-5)


def test_bad_power_spectrum_inputs_raise():
    f = np.zeros((8, 8, 8))
    with pytest.raises(ValueError, match="kedges must be strictly increasing"):
        power_spectrum(f, 10.0, kedges=[0.1, 0.3, 0.2])
    with pytest.raises(ValueError, match="field2 must have the shape"):
        power_spectrum(f, 10.0, field2=np.zeros((8, 8, 4)))
    with pytest.raises(ValueError, match="field contains NaN"):
        power_spectrum(np.full((8, 8, 8), np.nan), 10.0)
    with pytest.raises(ValueError, match="field.shape must have 2 or 3 entries"):
        power_spectrum(np.zeros(8), 10.0)
    with pytest.raises(ValueError, match="compensate must be one of"):
        power_spectrum(f, 10.0, compensate="pcs")
    with pytest.raises(ValueError, match="los must be a non-zero vector"):
        power_multipoles(f, 10.0, los=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="ells must be"):
        power_multipoles(f, 10.0, ells=(-2,))

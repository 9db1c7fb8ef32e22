import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmojax.infer
from cosmojax.cosmology import planck2018
from cosmojax.infer.field_level import (
    large_scale_modes,
    make_field_posterior,
    noisy_observation,
    reconstruct_initial_conditions,
)
from cosmojax.sims import prime, white_noise
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import lpt
from cosmojax.sims.nbody import density
from cosmojax.stats import cross_correlation

COSMO = planck2018()


def observed(n, box, noise_level, dtype="float32"):
    cfg = SimConfig(mesh_shape=n, box_size=box, dtype=dtype)
    truth = white_noise(jax.random.key(0), cfg.mesh_shape)
    data, sigma = noisy_observation(jax.random.key(1), truth, COSMO, cfg, noise_level)
    return cfg, truth, data, sigma


def test_initial_conditions_are_recovered_on_large_scales():
    cfg, truth, data, sigma = observed(16, 256.0, 0.3)
    post = make_field_posterior(data, sigma, COSMO, cfg)
    w, history = reconstruct_initial_conditions(post, jnp.zeros_like(truth), steps=200)
    assert float(history[-1]) > float(history[0])
    assert float(post.log_density(w)) > float(post.log_density(truth))
    r = cross_correlation(w, truth, cfg.box_size)
    large = np.asarray(r.k) < 0.1
    assert large.sum() >= 3
    assert np.all(np.asarray(r.power)[large] > 0.9)
    # the starting point knows nothing: r = 0 is what the data had to overcome
    r0 = cross_correlation(jax.random.normal(jax.random.key(5), truth.shape), truth, cfg.box_size)
    assert np.all(np.abs(np.asarray(r0.power)[large]) < 0.5)


def test_field_log_density_gradient_matches_finite_differences(x64):
    cfg, truth, data, sigma = observed(8, 128.0, 0.5, "float64")
    post = make_field_posterior(data, sigma, COSMO, cfg)
    w = 0.5 * truth
    g = jax.grad(post.log_density)(w)
    eps = 1e-6
    for idx in [(0, 0, 0), (3, 5, 1), (7, 2, 6)]:
        fd = (post.log_density(w.at[idx].add(eps)) - post.log_density(w.at[idx].add(-eps))) / (2 * eps)
        assert float(g[idx]) == pytest.approx(float(fd), rel=1e-5)


def test_cross_correlation_of_a_field_with_itself_and_noise():
    f = jax.random.normal(jax.random.key(0), (16, 16, 16))
    r = cross_correlation(f, 3.0 * f, 100.0)
    np.testing.assert_allclose(r.power, 1.0, rtol=1e-5)
    g = jax.random.normal(jax.random.key(1), (16, 16, 16))
    mixed = cross_correlation(f, f + g, 100.0).power
    # equal power in signal and noise: r = 1 / sqrt(2) on average
    assert float(jnp.mean(mixed)) == pytest.approx(1 / np.sqrt(2), abs=0.05)


def test_bad_field_level_inputs_raise():
    cfg = SimConfig(mesh_shape=8, box_size=100.0)
    with pytest.raises(ValueError, match="data must have shape"):
        make_field_posterior(jnp.zeros((4, 4, 4)), 1.0, COSMO, cfg)
    with pytest.raises(ValueError, match="noise_sigma must be > 0"):
        make_field_posterior(jnp.zeros((8, 8, 8)), 0.0, COSMO, cfg)
    with pytest.raises(ValueError, match="data contains NaN"):
        make_field_posterior(jnp.zeros((8, 8, 8)).at[1, 2, 3].set(jnp.nan), 1.0, COSMO, cfg)
    with pytest.raises(ValueError, match="a must be a scale factor > 0"):
        make_field_posterior(jnp.zeros((8, 8, 8)), 1.0, COSMO, cfg, a=0.0)


@pytest.mark.parametrize("a, order", [(1.0, 2), (0.5, 1)])
def test_forward_is_the_plain_lpt_density(a, order):
    # the forward model evaluates the growth table and P(k) once, when the posterior is
    # built; it must still be the LPT density of the noise, to float32 rounding
    cfg = SimConfig(mesh_shape=16, box_size=256.0, scheme="tsc")
    noise = white_noise(jax.random.key(4), cfg.mesh_shape)
    forward = make_field_posterior(jnp.zeros(cfg.mesh_shape), 1.0, COSMO, cfg, a=a, order=order).forward
    ref = density(lpt(noise, COSMO, cfg, a=a, order=order).disp, cfg)
    tol = 1e-5 * float(jnp.abs(ref).max())
    np.testing.assert_allclose(forward(noise), ref, rtol=0, atol=tol)
    np.testing.assert_allclose(jax.jit(forward)(noise), ref, rtol=0, atol=tol)
    # a and order matter: the check above is not passed by any density
    other = density(lpt(noise, COSMO, cfg, a=1.5 - a, order=3 - order).disp, cfg)
    assert float(jnp.abs(other - ref).max()) > 1e3 * tol


def test_make_field_posterior_rejects_lpt_order_3():
    cfg = SimConfig(mesh_shape=8, box_size=100.0)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        make_field_posterior(jnp.zeros((8, 8, 8)), 1.0, COSMO, cfg, order=3)


def test_noisy_observation_adds_white_noise_of_the_requested_level():
    cfg = SimConfig(mesh_shape=16, box_size=256.0, scheme="tsc")
    truth = white_noise(jax.random.key(0), cfg.mesh_shape)
    level, a, order = 0.4, 0.5, 1
    data, sigma = noisy_observation(jax.random.key(1), truth, COSMO, cfg, level, a=a, order=order)
    assert data.shape == cfg.mesh_shape and data.dtype == jnp.float32 and isinstance(sigma, float)
    # a and order reach the forward model
    forward = make_field_posterior(jnp.zeros(cfg.mesh_shape), 1.0, COSMO, cfg, a=a, order=order).forward
    clean = jax.jit(forward)(truth)
    assert sigma == pytest.approx(level * float(clean.std()), rel=1e-6)
    # the residual is unit white noise: over 16^3 = 4096 cells its mean scatters by
    # 1/64 = 0.016 and its std by 1/sqrt(2 * 4096) = 0.011, so these bounds are ~4 sigma
    r = np.asarray(data - clean, dtype=np.float64) / sigma
    assert abs(r.mean()) < 0.065
    assert abs(r.std() - 1.0) < 0.05
    # independent of the signal (correlation coefficient scatters by 1/64 as well)
    assert abs(np.corrcoef(r.ravel(), np.asarray(clean).ravel())[0, 1]) < 0.065
    # the key draws the pixel noise: same key, same data; another key, other noise
    again, sigma_again = noisy_observation(jax.random.key(1), truth, COSMO, cfg, level, a=a, order=order)
    assert sigma_again == sigma and bool(jnp.all(again == data))
    other, _ = noisy_observation(jax.random.key(2), truth, COSMO, cfg, level, a=a, order=order)
    assert abs(np.corrcoef(np.asarray(other - clean).ravel(), r.ravel())[0, 1]) < 0.065


def test_noisy_observation_rejects_bad_inputs():
    cfg = SimConfig(mesh_shape=8, box_size=100.0)
    key, noise = jax.random.key(1), jnp.zeros((8, 8, 8))
    for level in (0.0, -0.3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise_level must be"):
            noisy_observation(key, noise, COSMO, cfg, level)
    with pytest.raises(ValueError, match="noise must have shape"):
        noisy_observation(key, jnp.zeros((16, 16, 16)), COSMO, cfg, 0.3)
    with pytest.raises(ValueError, match="noise must be finite"):
        noisy_observation(key, noise.at[1, 2, 3].set(jnp.nan), COSMO, cfg, 0.3)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        noisy_observation(key, noise, COSMO, cfg, 0.3, order=3)


def test_large_scale_modes_are_the_orthonormal_fourier_modes_below_kmax():
    n, box, kmax = 16, 256.0, 0.1
    draws = jax.random.normal(jax.random.key(2), (2, 300, n, n, n))
    modes = np.asarray(large_scale_modes(draws, box, kmax))
    # direct: numpy's rfftn of one draw, every cell with 0 < |k| < kmax
    m = np.fft.fftfreq(n, 1.0 / n)
    kz = np.fft.rfftfreq(n, 1.0 / n)
    kmag = 2 * np.pi / box * np.sqrt(m[:, None, None] ** 2 + m[None, :, None] ** 2 + kz[None, None, :] ** 2)
    inside = (kmag > 0) & (kmag < kmax)
    ref = np.fft.rfftn(np.asarray(draws[0, 0]))[inside] / n**1.5
    # no self-conjugate mode lies below 0.1 h/Mpc here (the first is at k_Nyquist = 0.196)
    assert modes.shape == (2, 300, 2 * inside.sum())
    np.testing.assert_allclose(modes[0, 0], np.concatenate([ref.real, ref.imag]), atol=1e-5)
    # jit (box and kmax static) and vmap over chains give the same numbers
    jitted = jax.jit(jax.vmap(large_scale_modes, in_axes=(0, None, None)), static_argnums=(1, 2))
    np.testing.assert_allclose(jitted(draws, box, kmax), modes, atol=1e-6)
    # grad: the map is linear, so <grad f, v> = f(v) for f = <c, modes(.)>, exactly
    c = jax.random.normal(jax.random.key(3), (modes.shape[-1],))
    f = lambda x: jnp.vdot(c, large_scale_modes(x, box, kmax))  # noqa: E731
    v = draws[1, 0]
    assert float(jnp.vdot(jax.grad(f)(draws[0, 0]), v)) == pytest.approx(float(f(v)), rel=1e-4)
    # unit white noise: variance 1/2 in each real component
    assert float(modes.var(axis=(0, 1)).mean()) == pytest.approx(0.5, abs=0.02)
    # below 0.2 h/Mpc lie the three self-conjugate modes (8, 0, 0), (0, 8, 0), (0, 0, 8) at
    # k_Nyquist: each contributes its real part only
    beyond = np.asarray(large_scale_modes(draws[0, :2], box, 0.2))
    cells = int(((kmag > 0) & (kmag < 0.2)).sum())
    assert beyond.shape == (2, 2 * cells - 3)
    with pytest.raises(ValueError, match="samples must have shape"):
        large_scale_modes(draws[0, 0, 0], box)
    with pytest.raises(ValueError, match="box_size"):
        large_scale_modes(draws, -1.0)
    with pytest.raises(ValueError, match="kmax must exceed"):
        large_scale_modes(draws, box, 0.01)


def test_field_posterior_accepts_a_primed_theory_and_refuses_one_for_another_mesh():
    cfg = SimConfig(mesh_shape=8, box_size=100.0, scheme="tsc")
    noise = white_noise(jax.random.key(6), cfg.mesh_shape)
    plain = make_field_posterior(jnp.zeros(cfg.mesh_shape), 1.0, COSMO, cfg).forward(noise)
    primed = make_field_posterior(jnp.zeros(cfg.mesh_shape), 1.0, prime(COSMO, cfg), cfg).forward(noise)
    np.testing.assert_array_equal(primed, plain)
    with pytest.raises(ValueError, match="primed for the mesh"):
        make_field_posterior(jnp.zeros(cfg.mesh_shape), 1.0, prime(COSMO, cfg.replace(box_size=50.0)), cfg)


def test_field_level_names_stay_importable_from_both_paths():
    import cosmojax.infer.field_level as field_level

    for name in field_level.__all__:
        assert getattr(cosmojax.infer, name, getattr(field_level, name)) is getattr(field_level, name)
    for name in ("make_field_posterior", "sample_initial_conditions", "linear_mode_variance", "FieldSamples"):
        assert getattr(cosmojax.infer, name) is getattr(field_level, name)

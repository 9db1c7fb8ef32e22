"""LPT initial conditions: growth, second order against an analytic case, velocities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import growth_factor, growth_table, hubble, planck2018
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import white_noise
from cosmojax.sims import prime as prime_mesh
from cosmojax.sims.lpt import linear_density, linear_modes, linear_power_on_mesh, lpt, lpt_from_potentials, lpt_potentials, positions

from tests._transforms import assert_vmap_and_jit
from tests.sims._sims_growth import power_ratio

COSMO = planck2018()
# A big box keeps k < 4 k_f = 0.0126 h/Mpc linear to well below 1% at a = 1 (in a 1000 Mpc/h
# box mode coupling of one realisation already reaches ~1.5% at 3 k_f).
BIG = SimConfig(mesh_shape=32, box_size=2000.0, a_init=0.1, steps=10)


@pytest.fixture(scope="module")
def runs():
    """Linear density at a = 1 and LPT displacements {(order, a): (N, 3)}, fixed amplitude."""
    noise = white_noise(jax.random.key(11), BIG.mesh_shape)

    def compute(n):
        lin = linear_density(n, COSMO, BIG, a=1.0, fixed_amplitude=True)
        disp = {(o, a): lpt(n, COSMO, BIG, a=a, order=o, fixed_amplitude=True).disp for o in (1, 2) for a in (0.5, 1.0)}
        return lin, disp

    return jax.jit(compute)(noise)


@pytest.mark.parametrize("order", [1, 2])
def test_large_scales_grow_as_linear_theory(runs, order):
    lin, disp = runs
    for a in (0.5, 1.0):
        d2 = float(growth_factor(COSMO, a)) ** 2
        ratio = power_ratio(disp[order, a], lin, BIG) / d2
        np.testing.assert_allclose(ratio, 1.0, atol=0.01)


def test_zeldovich_displacement_is_exactly_linear(runs):
    _, disp = runs
    ratio = float(growth_factor(COSMO, 1.0) / growth_factor(COSMO, 0.5))
    scale = float(jnp.std(disp[1, 1.0]))
    np.testing.assert_allclose(disp[1, 1.0], ratio * disp[1, 0.5], rtol=1e-4, atol=1e-4 * scale)


def test_second_order_displacement_of_two_crossed_waves(x64):
    # delta = A cos(k1 x) + B cos(k2 y): phi2 = -A B cos(k1 x) cos(k2 y) / (k1^2 + k2^2)
    config = SimConfig(mesh_shape=16, box_size=100.0, dtype="float64")
    q = np.arange(16) * config.spacing
    x, y, _ = np.meshgrid(q, q, q, indexing="ij")
    k1, k2 = 2 * np.pi / 100.0 * 2, 2 * np.pi / 100.0 * 3
    A, B = 0.3, 0.2
    delta = A * np.cos(k1 * x) + B * np.cos(k2 * y)
    psi1, psi2 = lpt_potentials(jnp.fft.rfftn(delta), config, order=2)
    psi1_x = -A / k1 * np.sin(k1 * x)  # -d/dx phi1 with phi1 = -A cos(k1 x) / k1^2
    np.testing.assert_allclose(psi1[:, 0], psi1_x.ravel(), atol=1e-12)
    phi2_x = A * B * k1 * np.sin(k1 * x) * np.cos(k2 * y) / (k1**2 + k2**2)
    phi2_y = A * B * k2 * np.cos(k1 * x) * np.sin(k2 * y) / (k1**2 + k2**2)
    np.testing.assert_allclose(psi2[:, 0], phi2_x.ravel(), atol=1e-12)
    np.testing.assert_allclose(psi2[:, 1], phi2_y.ravel(), atol=1e-12)
    np.testing.assert_allclose(psi2[:, 2], 0.0, atol=1e-12)


def test_momentum_is_the_time_derivative_of_displacement(x64):
    # p = a^3 E(a) dx/da, for the first- and second-order terms together
    config = SimConfig(mesh_shape=4, box_size=200.0, dtype="float64")
    psi1, psi2 = jax.random.normal(jax.random.key(3), (2, 64, 3))
    a = 0.4
    disp_and_mom = jax.jit(lambda s: lpt_from_potentials(psi1, psi2, COSMO, s, config))
    dxda = jax.jit(jax.jacfwd(lambda s: disp_and_mom(s).disp))(a)
    mom = disp_and_mom(a).mom
    np.testing.assert_allclose(mom, a**3 * hubble(COSMO, a) * dxda, rtol=1e-6)


def test_positions_wrap_into_the_box():
    config = SimConfig(mesh_shape=4, box_size=10.0)
    disp = jnp.full((64, 3), -3.0)
    pos = positions(disp, config)
    assert float(pos.min()) >= 0.0 and float(pos.max()) < 10.0
    np.testing.assert_allclose(pos[0], [7.0, 7.0, 7.0], rtol=1e-6)


def test_jit_matches_eager_and_noise_shape_is_checked():
    config = SimConfig(mesh_shape=8, box_size=64.0)
    noise = white_noise(jax.random.key(4), config.mesh_shape)
    modes = jnp.fft.rfftn(noise)
    eager = lpt_potentials(modes, config)
    jitted = jax.jit(lambda m: lpt_potentials(m, config))(modes)
    np.testing.assert_allclose(jitted[1], eager[1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="noise"):
        linear_modes(jnp.zeros((8, 8, 4)), COSMO, config)
    with pytest.raises(ValueError, match="order"):
        lpt(noise, COSMO, config, order=3)


def test_vmap_over_noise_and_cosmology_matches_one_at_a_time():
    config = SimConfig(mesh_shape=8, box_size=100.0)
    noises = jnp.stack([white_noise(jax.random.key(i), config.mesh_shape) for i in range(2)])
    sigma8 = jnp.array([0.7, 0.9])
    batched = jax.vmap(lambda n, s: lpt(n, COSMO.replace(sigma8=s), config, a=1.0).disp)(noises, sigma8)
    for i in range(2):
        single = lpt(noises[i], COSMO.replace(sigma8=float(sigma8[i])), config, a=1.0).disp
        np.testing.assert_allclose(batched[i], single, rtol=1e-5, atol=1e-5)


def test_linear_fields_and_potentials_vmap_over_noise_and_jit():
    config = SimConfig(mesh_shape=8, box_size=100.0)
    noises = jax.vmap(lambda k: white_noise(k, config.mesh_shape))(jax.random.split(jax.random.key(3), 2))
    sigma8 = jnp.array([0.7, 0.9])
    assert_vmap_and_jit(lambda n, s: linear_modes(n, COSMO.replace(sigma8=s), config), noises, sigma8, atol=1e-4)
    assert_vmap_and_jit(lambda n, s: linear_density(n, COSMO.replace(sigma8=s), config, 0.5), noises, sigma8,
                        atol=1e-5)
    modes = jax.vmap(lambda n: linear_modes(n, COSMO, config))(noises)
    assert_vmap_and_jit(lambda m: lpt_potentials(m, config, 2), modes, rtol=1e-4, atol=1e-5)


def test_primed_theory_gives_the_same_particles():
    cfg = SimConfig(mesh_shape=16, box_size=256.0)
    noise = white_noise(jax.random.key(5), cfg.mesh_shape)
    theory = prime_mesh(COSMO, cfg)
    assert theory.power.shape == (16, 16, 9) and float(theory.power[0, 0, 0]) == 0.0
    assert theory.mesh == cfg.power_mesh
    plain = lpt(noise, COSMO, cfg, a=0.5)
    primed = jax.jit(lambda n, t: lpt(n, t, cfg, a=0.5))(noise, theory)
    for got, want in zip(primed, plain):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * float(jnp.abs(want).max()))
    # the power held is the one used: Zel'dovich displacements scale as its square root
    zel = lpt(noise, COSMO, cfg, a=0.5, order=1)
    other = lpt(noise, theory.replace(power=4.0 * theory.power), cfg, a=0.5, order=1)
    np.testing.assert_allclose(other.disp, 2.0 * zel.disp, rtol=1e-5, atol=1e-5 * float(jnp.abs(zel.disp).max()))


def test_a_theory_primed_for_another_mesh_is_refused():
    cfg = SimConfig(mesh_shape=8, box_size=128.0)
    noise = white_noise(jax.random.key(0), cfg.mesh_shape)
    for other in (cfg.replace(box_size=64.0), cfg.replace(mesh_shape=4), cfg.replace(transfer="eisenstein_hu_nowiggle")):
        with pytest.raises(ValueError, match="primed for the mesh"):
            lpt(noise, prime_mesh(COSMO, other), cfg)
    with pytest.raises(TypeError, match="cosmo must be"):
        lpt(noise, {"sigma8": 0.8}, cfg)


def test_table_and_power_keywords_are_deprecated_but_still_work():
    cfg = SimConfig(mesh_shape=8, box_size=128.0)
    noise = white_noise(jax.random.key(5), cfg.mesh_shape)
    power = linear_power_on_mesh(COSMO, cfg)
    with pytest.warns(DeprecationWarning, match="prime"):
        old = lpt(noise, COSMO, cfg, a=0.5, table=growth_table(COSMO), power=power)
    new = lpt(noise, prime_mesh(COSMO, cfg), cfg, a=0.5)
    for got, want in zip(old, new):
        np.testing.assert_array_equal(got, want)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="power must have the rfftn mesh shape"):
        lpt(noise, COSMO, cfg, power=power[:4])


def test_power_on_mesh_jits_and_scales_as_sigma8_squared():
    cfg = SimConfig(mesh_shape=8, box_size=128.0)
    eager = linear_power_on_mesh(COSMO, cfg)
    np.testing.assert_allclose(jax.jit(lambda c: linear_power_on_mesh(c, cfg))(COSMO), eager, rtol=1e-5)
    # P is proportional to sigma8^2, so d sum(P) / d sigma8 = 2 sum(P) / sigma8
    total = lambda s8: jnp.sum(linear_power_on_mesh(COSMO.replace(sigma8=s8), cfg))
    np.testing.assert_allclose(jax.grad(total)(COSMO.sigma8), 2.0 * total(COSMO.sigma8) / COSMO.sigma8, rtol=1e-4)

"""Particle-mesh N-body: linear growth, convergence, gradients, memory, conservation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import growth_factor, planck2018
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import white_noise
from cosmojax.sims.lpt import Particles, linear_density, lpt
from cosmojax.sims.nbody import State, density, force, force_response, integrate, nbody, step, step_factors
from cosmojax.stats import default_kedges, grid_correlation_function, power_spectrum

from tests._transforms import assert_vmap_and_jit
from tests.sims._sims_growth import power_ratio

COSMO = planck2018()


def _run(init, config):
    factors = step_factors(COSMO, config)
    return jax.jit(integrate, static_argnums=2)(init, factors, config)


def test_large_scales_grow_as_linear_theory_with_ten_steps():
    config = SimConfig(mesh_shape=32, box_size=2000.0, a_init=0.1, steps=10, a_snapshots=(0.5, 1.0))
    noise = white_noise(jax.random.key(11), config.mesh_shape)
    snaps, lin = jax.jit(
        lambda n: (nbody(n, COSMO, config, fixed_amplitude=True), linear_density(n, COSMO, config, 1.0, fixed_amplitude=True))
    )(noise)
    for i, a in enumerate(config.a_snapshots):
        ratio = power_ratio(snaps.disp[i], lin, config) / float(growth_factor(COSMO, a)) ** 2
        np.testing.assert_allclose(ratio, 1.0, atol=0.01)
    # mass is conserved: the painted overdensity has zero mean to round-off
    assert abs(float(jnp.mean(snaps.density))) < 1e-6


@pytest.mark.parametrize("force_factor", [1, 2])
def test_force_of_small_displacements_is_the_continuum_force(force_factor):
    # linear response: F = Psi for a small Zel'dovich displacement, on large and small scales
    config = SimConfig(mesh_shape=16, box_size=500.0, a_init=0.05, force_factor=force_factor)
    noise = white_noise(jax.random.key(5), config.mesh_shape)
    disp, f = jax.jit(lambda n: (lambda d: (d, force(d, config)))(lpt(n, COSMO, config, order=1).disp))(noise)
    psi_k = jnp.fft.rfftn(disp.reshape(16, 16, 16, 3), axes=(0, 1, 2))
    f_k = jnp.fft.rfftn(f.reshape(16, 16, 16, 3), axes=(0, 1, 2))
    # uncompensated, these ratios are 0.90 and 0.48 (force_factor 1), 1.06 and 0.95 (2)
    for block, tolerance in ((slice(0, 3), 2e-3), (slice(2, 5), 1e-2)):
        sel = np.zeros((16, 16, 9), bool)
        sel[block, block, block] = True
        ratio = np.sum(np.real(f_k * np.conj(psi_k))[sel]) / np.sum(np.abs(psi_k[sel]) ** 2)
        assert abs(ratio - 1.0) < tolerance
    n = 16 * force_factor
    assert force_response(config).shape == (n, n, n // 2 + 1)


@pytest.fixture(scope="module")
def small_box():
    """A quasi-linear 16^3 box and a 32-step reference run."""
    config = SimConfig(mesh_shape=16, box_size=200.0, a_init=0.05, a_snapshots=(0.5, 1.0))
    noise = white_noise(jax.random.key(7), config.mesh_shape)
    init = jax.jit(lambda n: lpt(n, COSMO, config, order=2))(noise)
    ref = _run(init, config.replace(steps=32))
    return config, noise, init, ref


def _rms(x):
    return float(jnp.sqrt(jnp.mean(x**2)))


def test_pm_converges_as_steps_increase(small_box):
    config, _, init, ref = small_box
    errors = [_rms(_run(init, config.replace(steps=s))[0][-1] - ref[0][-1]) for s in (4, 12)]
    assert errors[1] < 0.5 * errors[0]
    assert errors[1] < 0.1 * _rms(ref[0][-1])


def test_second_order_lpt_beats_zeldovich_against_pm(small_box):
    config, noise, _, ref = small_box
    lpt_at = jax.jit(lambda n: [[lpt(n, COSMO, config, a=a, order=o).disp for o in (1, 2)] for a in config.a_snapshots])
    for (first, second), pm in zip(lpt_at(noise), ref[0]):
        assert _rms(second - pm) < 0.95 * _rms(first - pm)


def test_gradients_match_finite_differences(x64):
    # the inference use: a loss on the snapshots and on summary statistics of a PM run
    # (P(k) against a target, xi(r)), differentiated with respect to the cosmology and the
    # initial white noise; one compiled gradient checks both kinds of loss
    config = SimConfig(mesh_shape=8, box_size=64.0, a_init=0.1, steps=3, a_snapshots=(0.5, 1.0), dtype="float64")
    noise = white_noise(jax.random.key(1), config.mesh_shape)
    w = jax.random.normal(jax.random.key(2), (2, 512, 3))
    kedges = default_kedges(config.mesh_shape, config.box_size)
    redges = np.array([8.0, 16.0, 24.0, 32.0])
    target = power_spectrum(density(lpt(noise, COSMO, config).disp, config), config.box_size, kedges=kedges).power

    def losses(omega_c, sigma8, noise):
        snaps = nbody(noise, COSMO.replace(Omega_c=omega_c, sigma8=sigma8), config)
        delta = snaps.density[-1]
        pk = power_spectrum(delta, config.box_size, kedges=kedges).power
        _, xi = grid_correlation_function(delta, config.box_size, redges=redges)
        on_snapshots = jnp.sum(w * snaps.disp) + 0.1 * jnp.sum(w * snaps.mom) + jnp.sum(delta**2)
        return jnp.stack([on_snapshots, jnp.sum(jnp.log(pk / target) ** 2) + jnp.sum(xi**2)])

    args = (COSMO.Omega_c, COSMO.sigma8, noise)
    grads = jax.jit(jax.jacrev(losses, argnums=(0, 1, 2)))(*args)  # (2,) per cosmological parameter
    f = jax.jit(losses)
    eps = 1e-6

    def central(delta):
        return (f(*(a + d for a, d in zip(args, delta))) - f(*(a - d for a, d in zip(args, delta)))) / (2 * eps)

    zero = jnp.zeros_like(noise)
    assert abs(float(grads[1][1])) > 1.0  # the PM run has grown power above 2LPT's: the loss has a slope
    np.testing.assert_allclose(grads[0], central((eps, 0.0, zero)), rtol=1e-5)
    np.testing.assert_allclose(grads[1], central((0.0, eps, zero)), rtol=1e-5)
    for index in [(0, 0, 1), (3, 5, 2), (7, 6, 2)]:
        np.testing.assert_allclose(grads[2][(slice(None),) + index], central((0.0, 0.0, zero.at[index].set(eps))),
                                   rtol=1e-4)


def _integration_inputs(config):
    """Random particles and step factors of a plausible size (the integrator is linear in
    neither, and its gradients do not care where they come from)."""
    keys = jax.random.split(jax.random.key(9), 3)
    n, steps = config.num_particles, len(config.a_steps) - 1
    dtype = config.float_dtype
    disp = 0.2 * config.spacing * jax.random.normal(keys[0], (n, 3), dtype)
    mom = 0.1 * config.spacing * jax.random.normal(keys[1], (n, 3), dtype)
    factors = jax.random.uniform(keys[2], (steps, 3), dtype, 0.05, 0.3) * jnp.asarray([1.0, 5.0, 1.0], dtype)
    return Particles(disp, mom), factors


def test_checkpointed_forward_equals_plain_forward():
    config = SimConfig(mesh_shape=8, box_size=32.0, a_init=0.1, steps=3, a_snapshots=(0.5, 1.0))
    init, factors = _integration_inputs(config)
    plain = integrate(init, factors, config.replace(gradient="autodiff"))
    remat = integrate(init, factors, config.replace(gradient="checkpoint"))
    for r, p in zip(remat, plain):  # displacements and momenta, every snapshot
        # on GPUs the two programs order the painting's scatter-add sums differently
        np.testing.assert_allclose(r, p, rtol=1e-6, atol=1e-5 * float(np.max(np.abs(p))))


def _compiled_gradient(config, w):
    init, factors = _integration_inputs(config)

    def loss(disp, mom, factors):
        d, m = integrate(Particles(disp, mom), factors, config)
        return jnp.sum(w * d) + jnp.sum(w * m**2)

    args = (init.disp, init.mom, factors)
    compiled = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(*args).compile()
    return compiled(*args), compiled.memory_analysis().temp_size_in_bytes


def test_adjoint_gradient_equals_autodiff_with_memory_flat_in_steps(x64):
    base = SimConfig(mesh_shape=8, box_size=32.0, a_init=0.1, a_snapshots=(0.4, 1.0), dtype="float64")
    w = jax.random.normal(jax.random.key(3), (2, 512, 3))
    adjoint, adjoint_bytes = _compiled_gradient(base.replace(steps=12), w)
    plain, plain_bytes = _compiled_gradient(base.replace(steps=12, gradient="autodiff"), w)
    for got, want in zip(adjoint, plain):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10 * float(jnp.max(jnp.abs(want))))
    _, adjoint_bytes_short = _compiled_gradient(base.replace(steps=3), w)
    # the adjoint keeps no per-step state: 3 or 12 steps need the same scratch memory,
    # while plain reverse mode stores every step's particles
    assert adjoint_bytes <= 1.05 * adjoint_bytes_short
    assert plain_bytes > 3.0 * adjoint_bytes


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(a_init=1.0), "a_init"),
        (dict(a_init=0.5, a_snapshots=(0.3,)), "a_snapshots"),
        (dict(steps=-2), "steps"),
        (dict(steps=1.5), "steps"),
        (dict(mesh_shape=(16, 16, 8)), "cubic"),
        (dict(force_factor=0), "force_factor"),
        (dict(a_snapshots=(1.0, 0.5)), "increasing"),
        (dict(gradient="magic"), "gradient"),
    ],
)
def test_bad_configuration_raises(changes, match):
    with pytest.raises(ValueError, match=match):
        SimConfig(**changes)


def test_configuration_is_hashable_and_static():
    a = SimConfig(mesh_shape=16, steps=4, a_snapshots=(0.5, 1.0))
    b = SimConfig(mesh_shape=(16, 16, 16), steps=4, a_snapshots=[0.5, 1.0])
    assert a == b and hash(a) == hash(b)
    assert SimConfig(steps=0).steps == 0  # no particle mesh: LPT snapshots (cosmojax.sims.simulate)
    assert a.snapshot_steps[-1] == len(a.a_steps) - 1
    np.testing.assert_allclose(a.a_steps[a.snapshot_steps[0]], 0.5)


def test_mesh_force_and_steps_vmap_over_particles_and_jit():
    config = SimConfig(mesh_shape=8, box_size=64.0, steps=2, a_init=0.5)
    disp = jax.random.normal(jax.random.key(3), (3, 512, 3))
    assert_vmap_and_jit(lambda d: density(d, config), disp)
    assert_vmap_and_jit(lambda d: force(d, config), disp, atol=1e-5)
    state = State(disp, 0.1 * disp, jax.vmap(lambda d: force(d, config))(disp))
    factors = jnp.array([[0.1, 0.2, 0.1], [0.2, 0.3, 0.2], [0.05, 0.1, 0.05]])
    assert_vmap_and_jit(lambda s, f: step(s, f, config), state, factors, atol=1e-5)


def test_nbody_vmaps_over_noise_and_cosmology_and_jits():
    config = SimConfig(mesh_shape=8, box_size=64.0, steps=2, a_init=0.5, a_snapshots=(1.0,))
    noise = jax.vmap(lambda k: white_noise(k, config.mesh_shape))(jax.random.split(jax.random.key(4), 2))
    cosmos = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (2,)), COSMO).replace(Omega_c=jnp.array([0.25, 0.3]))
    assert_vmap_and_jit(lambda n, c: nbody(n, c, config).disp, noise, cosmos, rtol=1e-4, atol=1e-4)

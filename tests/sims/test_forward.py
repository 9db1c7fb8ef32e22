"""The forward model: one assembly for nbody, the snapshot hook, LPT-only runs, priming."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.cosmology import growth_table, planck2018
from cosmojax.cosmology import prime as prime_growth
from cosmojax.sims import (
    SimConfig,
    evolve,
    initial_displacements,
    integrate,
    linear_modes,
    linear_power_on_mesh,
    lpt,
    lpt_density,
    lpt_from_potentials,
    lpt_potentials,
    nbody,
    particle_density,
    prime,
    simulate,
    step_factors,
    white_noise,
)

from tests._transforms import assert_vmap_and_jit

COSMO = planck2018()
CFG = SimConfig(mesh_shape=8, box_size=64.0, a_init=0.1, steps=3, a_snapshots=(0.4, 0.7, 1.0))


def _noise(seed=0, cfg=CFG):
    return white_noise(jax.random.key(seed), cfg.mesh_shape)


def _assert_close(got, want, rel=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=0, atol=rel * max(float(np.abs(want).max()), 1e-30))


def test_simulate_is_the_pipeline_assembled_by_hand():
    noise = _noise()
    snaps = jax.jit(lambda n: simulate(n, COSMO, CFG))(noise)
    # the pipeline written out from its pieces, without the primed theory
    modes = linear_modes(noise, COSMO, CFG)
    psi1, psi2 = lpt_potentials(modes, CFG, CFG.lpt_order)
    init = lpt_from_potentials(psi1, psi2, COSMO, CFG.a_init, CFG)
    disp, mom = integrate(init, step_factors(COSMO, CFG), CFG)
    assert snaps.disp.shape == (3, 512, 3) and snaps.density.shape == (3, 8, 8, 8)
    np.testing.assert_array_equal(snaps.a, np.asarray(CFG.a_snapshots, np.float32))
    _assert_close(snaps.disp, disp)
    _assert_close(snaps.mom, mom)
    for i in range(3):
        _assert_close(snaps.density[i], particle_density(disp[i], CFG))
    np.testing.assert_array_equal(nbody(noise, COSMO, CFG).disp, simulate(noise, COSMO, CFG).disp)
    # primed or not, the same run
    _assert_close(simulate(noise, prime(COSMO, CFG), CFG).disp, simulate(noise, COSMO, CFG).disp)


def test_snapshot_hook_runs_compiled_segments_that_match_the_single_scan():
    noise = _noise(1)
    cfg = CFG.replace(a_snapshots=(0.1, 0.55, 1.0))  # one snapshot at a_init, one between steps
    whole = simulate(noise, COSMO, cfg)
    seen = []
    out = simulate(noise, COSMO, cfg, on_snapshot=lambda s: seen.append(s) or float(s.a), progress=True)
    assert out == pytest.approx(list(cfg.a_snapshots))
    assert len(seen) == 3
    for i, snap in enumerate(seen):
        assert snap.pos.shape == (512, 3) and snap.density.shape == (8, 8, 8)
        for got, want in zip(snap, whole):
            _assert_close(got, want[i], rel=1e-4)
    # the hook on evolve itself, from given particles and factors
    theory = prime(COSMO, cfg)
    psi1, psi2 = initial_displacements(noise, theory, cfg)
    init = lpt_from_potentials(psi1, psi2, theory, cfg.a_init, cfg)
    dens = evolve(init, step_factors(theory, cfg), cfg, on_snapshot=lambda s: np.asarray(s.density))
    _assert_close(np.stack(dens), whole.density, rel=1e-4)


def test_zero_steps_gives_the_lpt_particles_at_every_snapshot():
    cfg = CFG.replace(steps=0)
    noise = _noise(2)
    snaps = simulate(noise, COSMO, cfg)
    hooked = simulate(noise, COSMO, cfg, on_snapshot=lambda s: s)
    for i, a in enumerate(cfg.a_snapshots):
        want = lpt(noise, COSMO, cfg, a=a)
        _assert_close(snaps.disp[i], want.disp)
        _assert_close(snaps.mom[i], want.mom)
        _assert_close(hooked[i].disp, want.disp)
        _assert_close(snaps.density[i], lpt_density(noise, COSMO, cfg, a))
    # and differs from the particle-mesh run, which has grown nonlinear structure
    assert float(jnp.abs(simulate(noise, COSMO, CFG).disp[-1] - snaps.disp[-1]).max()) > 1e-2


def test_lpt_density_is_the_painted_lpt_particles():
    noise = _noise(3)
    for order in (1, 2):
        want = particle_density(lpt(noise, COSMO, CFG, a=0.8, order=order).disp, CFG)
        _assert_close(jax.jit(lambda n: lpt_density(n, prime(COSMO, CFG), CFG, 0.8, order=order))(noise), want)
    # default a is the last snapshot
    _assert_close(lpt_density(noise, COSMO, CFG), particle_density(lpt(noise, COSMO, CFG, a=1.0).disp, CFG))


def test_simulate_vmaps_over_noise_and_cosmologies():
    cfg = CFG.replace(steps=2, a_snapshots=(1.0,))
    noises = jnp.stack([_noise(s) for s in range(2)])
    sigma8 = jnp.array([0.7, 0.9])
    assert_vmap_and_jit(lambda n, s: simulate(n, COSMO.replace(sigma8=s), cfg).disp, noises, sigma8,
                        rtol=1e-4, atol=1e-4)
    theories = jax.vmap(lambda s: prime(COSMO.replace(sigma8=s), cfg))(sigma8)
    assert theories.power.shape == (2, 8, 8, 5)
    assert_vmap_and_jit(lambda n, t: simulate(n, t, cfg.replace(steps=0)).density, noises, theories,
                        rtol=1e-4, atol=1e-4)


def test_gradient_through_prime_and_lpt_snapshots_matches_finite_differences(x64):
    cfg = CFG.replace(steps=0, dtype="float64")
    noise = _noise(4, cfg)
    w = jax.random.normal(jax.random.key(5), (3, 512, 3))

    def loss(omega_c, sigma8):
        theory = prime(COSMO.replace(Omega_c=omega_c, sigma8=sigma8), cfg)
        snaps = simulate(noise, theory, cfg)
        return jnp.sum(w * snaps.disp) + 0.1 * jnp.sum(w * snaps.mom)

    grads = jax.grad(loss, argnums=(0, 1))(COSMO.Omega_c, COSMO.sigma8)
    eps = 1e-6
    fd = ((loss(COSMO.Omega_c + eps, COSMO.sigma8) - loss(COSMO.Omega_c - eps, COSMO.sigma8)) / (2 * eps),
          (loss(COSMO.Omega_c, COSMO.sigma8 + eps) - loss(COSMO.Omega_c, COSMO.sigma8 - eps)) / (2 * eps))
    np.testing.assert_allclose(grads, fd, rtol=1e-6)
    assert abs(float(grads[0])) > 1.0 and abs(float(grads[1])) > 1.0


def test_prime_fills_the_mesh_power_once_and_for_the_right_mesh():
    theory = prime(COSMO, CFG)
    assert theory.mesh == CFG.power_mesh
    np.testing.assert_array_equal(theory.power, linear_power_on_mesh(COSMO, CFG))
    assert prime(theory, CFG) is theory
    # a growth-only theory keeps its table and gains the power
    grown = prime(prime_growth(COSMO), CFG)
    np.testing.assert_array_equal(grown.growth.d1, growth_table(COSMO).d1)
    other = CFG.replace(box_size=128.0)
    with pytest.raises(ValueError, match="primed for the mesh"):
        prime(theory, other)
    moved = prime(theory.cosmo, other)
    assert moved.mesh == other.power_mesh and not np.allclose(moved.power, theory.power)


def test_bad_forward_inputs_raise_naming_the_argument():
    noise = _noise()
    with pytest.raises(TypeError, match="on_snapshot must be a callable"):
        simulate(noise, COSMO, CFG, on_snapshot="write")
    with pytest.raises(TypeError, match="config must be a cosmojax.sims.SimConfig"):
        simulate(noise, COSMO, {"mesh_shape": 8})
    with pytest.raises(TypeError, match="cosmo must be"):
        simulate(noise, None, CFG)
    with pytest.raises(ValueError, match="noise must have the particle-grid shape"):
        simulate(noise[:4], COSMO, CFG)
    with pytest.raises(ValueError, match="primed for the mesh"):
        simulate(noise, prime(COSMO, CFG.replace(box_size=32.0)), CFG)
    init = lpt(noise, COSMO, CFG)
    with pytest.raises(ValueError, match="factors must have shape"):
        evolve(init, step_factors(COSMO, CFG.replace(steps=5)), CFG)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        initial_displacements(noise, COSMO, CFG, order=3)
    with pytest.raises(ValueError, match="steps"):
        SimConfig(steps=-1)

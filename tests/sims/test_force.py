"""The particle-mesh force on random (off-lattice) loads, for every force option.

A load of particles at uniformly random positions is displaced by a small longitudinal
plane wave s(x) = khat cos(k . x); in linear theory the unit force of ``nbody.force`` equals
the displacement (module docstring of ``cosmojax.sims.nbody``), so the projection of the
force's linear response (a jvp, which removes the load's own shot-noise force exactly) on
the wave, divided by that of the wave itself, is 1 for the continuum force. Averaged over
loads it is the mean response ``random_load_response`` times the potential kernel's
compensation. With the default force band (modes below the particle Nyquist) and
force_factor 2 the lattice responds as random loads do, so the default compensation, exact
on the lattice, is right on random loads too.
"""

import importlib
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import lattice

nbody = importlib.import_module("cosmojax.sims.nbody")

N = 16
BOX = 64.0
WAVES = (1, 2, 4, 7)  # k in units of k_f = 2 pi / BOX: 0.098 to 0.69 h/Mpc (particle Nyquist 8 k_f)
LOADS = 8


def measured_response(config, key, lattice_load=False):
    """Mean over ``LOADS`` random loads of the projected linear force response, per wave."""
    q = lattice(config)
    k = 2 * np.pi / BOX * np.asarray(WAVES, float)

    def one(load_key, kx):
        pos = q if lattice_load else jax.random.uniform(load_key, q.shape, maxval=BOX)
        wave = jnp.zeros_like(q).at[:, 0].set(jnp.cos(kx * pos[:, 0]))
        if config.scheme == "ngp":  # piecewise constant: a central difference, amplitude 0.1 cell
            eps = 0.1 * config.spacing
            response = (nbody.force(pos - q + eps * wave, config) - nbody.force(pos - q - eps * wave, config)) / (2 * eps)
        else:
            _, response = jax.jvp(lambda d: nbody.force(d, config), (pos - q,), (wave,))
        return jnp.sum(response * wave) / jnp.sum(wave * wave)

    keys = jax.random.split(key, LOADS)
    # eager: the primitives are compiled once and shared by every force option
    out = jax.vmap(jax.vmap(one, (None, 0)), (0, None))(keys, jnp.asarray(k))
    return np.asarray(out.mean(0)), np.asarray(out.std(0)) / np.sqrt(LOADS)


def predicted_response(config):
    """Mean random-load response times the compensation, at the waves along x."""
    r = np.asarray(nbody.random_load_response(config))[list(WAVES), 0, 0]
    kernel = np.asarray(nbody._potential_kernel(config, jnp.float64))[list(WAVES), 0, 0]
    k2 = (2 * np.pi / BOX * np.asarray(WAVES, float)) ** 2
    return -r * kernel * k2


OPTIONS = list(itertools.product(("ngp", "cic", "tsc"), (1, 2), ("exact", "fd2", "fd4")))


@pytest.mark.parametrize("scheme, force_factor, gradient_kind", OPTIONS)
def test_force_on_random_loads_is_the_mean_response_times_the_compensation(x64, scheme, force_factor, gradient_kind):
    # the response is linear in the potential kernel, so the uncompensated force checks the
    # mean response r(k) and the compensated ones (checked below) follow from the kernel
    variants = [(False, "particle")]
    if (scheme, force_factor) == ("cic", 2):
        variants += [(c, b) for c in ("window", "blend", True) for b in ("particle", "mesh")] + [(False, "mesh")]
    for compensate, band in variants:
        config = SimConfig(
            mesh_shape=N, box_size=BOX, force_factor=force_factor, scheme=scheme, gradient_kind=gradient_kind,
            compensate=compensate, force_band=band, dtype="float64",
        )
        mean, err = measured_response(config, jax.random.key(3))
        expected = predicted_response(config)
        np.testing.assert_allclose(mean, expected, atol=5 * err.max() + 2e-3)
        if compensate in ("window", "blend"):
            # exact for random loads up to half the particle Nyquist
            np.testing.assert_allclose(expected[:3], 1.0, atol=1e-12)


@pytest.mark.parametrize("scheme", ["cic", "tsc"])
def test_particle_band_makes_one_compensation_right_on_lattice_and_random_loads(x64, scheme):
    # force_factor 2, k = 1, 2, 4 k_f of a 16^3 grid. With the default force band the force
    # mesh keeps the modes below the particle Nyquist only, the lattice's coherent images
    # carry no force, and the lattice responds as random loads do (lattice over random
    # response 1.000 1.000 0.998 for CIC, 0.998 0.994 0.974 for TSC): the default "lattice"
    # compensation, exact on the lattice, is right on random loads too, and so is "window".
    base = SimConfig(mesh_shape=N, box_size=BOX, force_factor=2, scheme=scheme, dtype="float64")
    assert base.compensate is True and base.force_band == "particle"
    tolerance = 3e-3 if scheme == "cic" else 0.03
    on_lattice, _ = measured_response(base, jax.random.key(0), lattice_load=True)
    np.testing.assert_allclose(on_lattice, 1.0, atol=1e-3)
    mean, err = measured_response(base, jax.random.key(3))
    np.testing.assert_allclose(mean[:3], 1.0, atol=5 * err.max() + tolerance)
    window = base.replace(compensate="window")
    window_on_lattice, _ = measured_response(window, jax.random.key(0), lattice_load=True)
    np.testing.assert_allclose(window_on_lattice[:3], 1.0, atol=tolerance)
    # with every mesh mode (force_band="mesh", the force before) no compensation is right
    # on both loads: "window" is too strong on the lattice (1.07 1.14 1.33 for CIC), the
    # lattice compensation too weak on random loads (0.94 0.88 0.75)
    mesh = base.replace(force_band="mesh")
    window_on_lattice, _ = measured_response(mesh.replace(compensate="window"), jax.random.key(0), lattice_load=True)
    assert window_on_lattice[0] > 1.03 and window_on_lattice[2] > 1.2
    assert np.all(predicted_response(mesh)[:3] < 0.96)


def test_force_factor_one_window_and_lattice_compensations():
    # CIC, k = 1, 2, 4, 7 k_f of a 16^3 grid, force_factor 1 (the band is the whole mesh).
    # On random loads the lattice compensation is 1.000 1.002 1.032 1.86 (strong near the
    # Nyquist), none 0.975 0.902 0.657 0.259, "window" 1 1 1 then capped; on the lattice
    # "window" is 1.000 0.998 0.969 0.54 of the continuum and "lattice" exact.
    base = SimConfig(mesh_shape=N, box_size=BOX, force_factor=1, dtype="float64")
    assert np.all(np.asarray(nbody.force_band_mask(base)) == 1.0)  # the band is the whole mesh
    lattice_comp = predicted_response(base)
    window = predicted_response(base.replace(compensate="window"))
    none = predicted_response(base.replace(compensate=False))
    assert lattice_comp[3] > 1.5 and none[2] < 0.7
    np.testing.assert_allclose(window[:3], 1.0, atol=1e-12)
    assert window[3] < 1.0
    on_lattice, _ = measured_response(base, jax.random.key(0), lattice_load=True)
    np.testing.assert_allclose(on_lattice, 1.0, atol=2e-3)
    window_on_lattice, _ = measured_response(base.replace(compensate="window"), jax.random.key(0), lattice_load=True)
    np.testing.assert_allclose(window_on_lattice[:2], 1.0, atol=3e-3)
    assert 0.95 < window_on_lattice[2] < 0.99


@pytest.mark.parametrize("force_factor", [1, 2])
def test_blend_is_the_lattice_compensation_on_the_lattice_and_the_window_one_on_random_loads(x64, force_factor):
    base = SimConfig(mesh_shape=N, box_size=BOX, force_factor=force_factor, dtype="float64")
    q = lattice(base)
    assert float(nbody.lattice_order(jnp.zeros_like(q), base)) == 1.0
    random = jax.random.uniform(jax.random.key(1), q.shape, maxval=BOX) - q
    assert float(nbody.lattice_order(random, base)) < 1e-30
    # independent displacements whose neighbour differences have rms 0.1 spacing per component:
    # exp(-(2 pi 0.1)^2 / 2) = 0.82
    small = 0.1 * base.spacing / np.sqrt(2) * jax.random.normal(jax.random.key(2), q.shape)
    assert abs(float(nbody.lattice_order(small, base)) - np.exp(-0.5 * (2 * np.pi * 0.1) ** 2)) < 0.01
    blend = base.replace(compensate="blend")
    on_lattice, _ = measured_response(blend, jax.random.key(0), lattice_load=True)
    np.testing.assert_allclose(on_lattice, 1.0, atol=2e-3)
    mean, err = measured_response(blend, jax.random.key(3))
    np.testing.assert_allclose(mean, predicted_response(base.replace(compensate="window")), atol=5 * err.max() + 2e-3)


def test_random_load_response_is_the_squared_window_for_the_exact_gradient():
    config = SimConfig(mesh_shape=8, box_size=80.0, force_factor=2, scheme="tsc", force_band="mesh")
    r = np.asarray(nbody.random_load_response(config))
    assert r.shape == (16, 16, 9)
    u = np.arange(1, 8) / 16
    np.testing.assert_allclose(r[1:8, 0, 0], np.sinc(u) ** 6, rtol=1e-6)
    assert r[0, 0, 0] == 1.0 and r[8, 0, 0] == 0.0  # the Nyquist plane of the exact gradient
    # the particle band: nothing above the particle Nyquist (4 of the 16 mesh cycles) on any axis
    banded = np.asarray(nbody.random_load_response(config.replace(force_band="particle")))
    np.testing.assert_array_equal(banded[:5, :5, :5], r[:5, :5, :5])
    assert not banded[5:12].any() and not banded[:, 5:12].any() and not banded[..., 5:].any()


@pytest.mark.parametrize("value", ["windows", 1, None, "Lattice"])
def test_bad_compensate_raises(value):
    with pytest.raises(ValueError, match="compensate must be True, False or one of"):
        SimConfig(compensate=value)

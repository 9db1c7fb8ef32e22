"""Bad cosmologies and scale factors at every cosmology entry point: eager calls raise naming
the parameter; under jit, vmap and grad the result is NaN, never a plausible number."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import cosmology as cc
from cosmojax.cosmology.background import dlnhubble_dlna, omega_m_a

GOOD = cc.planck2018()

# entry point -> a call of it on (cosmo, a); k = 0.1 h/Mpc, r = 8 Mpc/h
BACKGROUND = {
    "hubble": lambda c, a: cc.hubble(c, a),
    "dlnhubble_dlna": lambda c, a: dlnhubble_dlna(c, a),
    "omega_m_a": lambda c, a: omega_m_a(c, a),
    "dark_energy_density": lambda c, a: cc.dark_energy_density(c, a),
    "comoving_distance": lambda c, a: cc.comoving_distance(c, a),
    "transverse_comoving_distance": lambda c, a: cc.transverse_comoving_distance(c, a),
    "angular_diameter_distance": lambda c, a: cc.angular_diameter_distance(c, a),
    "luminosity_distance": lambda c, a: cc.luminosity_distance(c, a),
}
TRANSFER = {
    "linear_power": lambda c, a: cc.linear_power(c, 0.1, a),
    "sigma_r": lambda c, a: cc.sigma_r(c, 8.0, a),
    "eisenstein_hu": lambda c, a: cc.eisenstein_hu(c, 0.1) * a,
    "eisenstein_hu_nowiggle": lambda c, a: cc.eisenstein_hu_nowiggle(c, 0.1) * a,
    "sound_horizon": lambda c, a: cc.sound_horizon(c) * a,
}
ALL = {**BACKGROUND, **TRANSFER}

BAD = [
    ("sigma8", -1.0, "cosmo.sigma8 must be > 0"),
    ("h", 0.0, "cosmo.h must be > 0"),
    ("Omega_c", -0.2, "cosmo.Omega_c must be >= 0"),
    ("T_cmb", 0.0, "cosmo.T_cmb must be > 0"),
    ("w0", np.nan, "cosmo.w0 contains NaN"),
    ("Omega_k", 5.0, "must expand"),  # recollapses at a ~ 1.1
    ("Omega_k", -2.0, "must expand"),  # a bounce: no big bang
]


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("field, value, match", BAD)
def test_bad_concrete_cosmology_raises_naming_the_parameter(name, field, value, match):
    with pytest.raises(ValueError, match=match):
        ALL[name](GOOD.replace(**{field: value}), 0.5)


@pytest.mark.parametrize("name", sorted(ALL))
def test_complex_parameter_is_refused_not_cast(name):
    with pytest.raises(TypeError, match="cosmo.n_s must be real"):
        ALL[name](GOOD.replace(n_s=0.96 + 0.1j), 0.5)


@pytest.mark.parametrize("name", sorted(TRANSFER))
def test_eisenstein_hu_needs_baryons_and_cdm(name):
    for field in ("Omega_b", "Omega_c"):
        with pytest.raises(ValueError, match=f"cosmo.{field} must be > 0 for the Eisenstein-Hu"):
            TRANSFER[name](GOOD.replace(**{field: 0.0}), 0.5)


@pytest.mark.parametrize("name", sorted(BACKGROUND))
def test_background_accepts_no_baryons(name):
    # the background only needs Omega_m > 0: a baryon-free universe has distances
    value = BACKGROUND[name](GOOD.replace(Omega_b=0.0), 0.5)
    assert np.isfinite(float(value))


def test_background_refuses_no_matter():
    with pytest.raises(ValueError, match="Omega_c \\+ cosmo.Omega_b must be > 0"):
        cc.hubble(GOOD.replace(Omega_c=0.0, Omega_b=0.0), 0.5)


@pytest.mark.parametrize("name", sorted(set(BACKGROUND) - {"dark_energy_density"}))
@pytest.mark.parametrize("a", [0.0, -0.5, np.nan, np.inf])
def test_bad_concrete_scale_factor_raises(name, a):
    with pytest.raises(ValueError, match="a must be > 0|a contains NaN"):
        BACKGROUND[name](GOOD, a)


# ---------------------------------------------------------------- traced: NaN, not numbers

TRACED = ["hubble", "omega_m_a", "comoving_distance", "luminosity_distance", "linear_power", "eisenstein_hu",
          "sound_horizon"]


@pytest.mark.parametrize("name", TRACED)
def test_jit_bad_cosmology_gives_nan_good_gives_eager_value(name):
    fn = jax.jit(ALL[name])
    np.testing.assert_allclose(float(fn(GOOD, 0.5)), float(ALL[name](GOOD, 0.5)), rtol=1e-5)
    for field, value, _ in BAD[:5] + [("Omega_b", 0.0, "")] * (name in TRANSFER):
        assert np.isnan(float(fn(GOOD.replace(**{field: value}), 0.5))), (field, value)


def test_jit_growth_factor_of_negative_sigma8_is_nan():
    # the example of the contract: D(a) does not depend on sigma8, yet a bad sigma8 must not
    # pass silently under jit
    assert np.isnan(float(jax.jit(cc.growth_factor)(GOOD.replace(sigma8=-1.0), 0.5)))
    assert np.isnan(float(jax.jit(cc.growth_factor)(GOOD.replace(h=-0.7), 0.5)))
    assert float(jax.jit(cc.growth_factor)(GOOD, 0.5)) == pytest.approx(float(cc.growth_factor(GOOD, 0.5)), rel=1e-5)


def test_vmap_poisons_only_the_bad_members():
    batch = jax.tree_util.tree_map(lambda x: jnp.full((3,), x, dtype=float), GOOD)
    batch = batch.replace(sigma8=jnp.array([0.8, -1.0, 0.8]), Omega_k=jnp.array([0.0, 0.0, 5.0]))
    for name in ("hubble", "linear_power", "comoving_distance"):
        out = np.asarray(jax.vmap(ALL[name], in_axes=(0, None))(batch, 0.5))
        assert np.isfinite(out[0]), name
        assert np.isnan(out[1]), name
    # Omega_k = 5 recollapses at a ~ 1.1: E^2 <= 0 met under tracing is NaN
    assert np.isnan(float(jax.vmap(cc.hubble, in_axes=(0, None))(batch, 1.5)[2]))


def test_vmap_over_scale_factors_poisons_only_bad_entries():
    a = jnp.array([0.5, 0.0, -1.0, jnp.nan, 1.0])
    for name in ("hubble", "comoving_distance", "linear_power"):
        out = np.asarray(jax.vmap(lambda x: ALL[name](GOOD, x))(a))
        assert np.all(np.isfinite(out[[0, 4]])), name
        assert np.all(np.isnan(out[1:4])), name


@pytest.mark.parametrize("name", ["hubble", "comoving_distance", "linear_power", "sound_horizon"])
def test_grad_of_bad_cosmology_is_nan(name):
    def f(sigma8, omega_b):
        return ALL[name](GOOD.replace(sigma8=sigma8, Omega_b=omega_b), 0.5)

    good = jax.grad(f, argnums=(0, 1))(0.8, 0.05)
    assert np.all(np.isfinite(good))
    for bad in ((-1.0, 0.05), (0.8, -0.01)):
        grads = jax.grad(f, argnums=(0, 1))(*bad)
        assert np.all(np.isnan(grads)), (name, bad, grads)
    if name in TRANSFER:  # Omega_b = 0: the fit divides by it
        assert np.all(np.isnan(jax.grad(f, argnums=(0, 1))(0.8, 0.0)))


def test_grad_at_a_bad_scale_factor_is_nan():
    for fn in (cc.hubble, cc.comoving_distance, lambda c, a: cc.linear_power(c, 0.1, a)):
        assert np.isfinite(float(jax.grad(lambda a: fn(GOOD, a))(0.5)))
        assert np.isnan(float(jax.grad(lambda a: fn(GOOD, a))(0.0)))


def test_traced_k_and_r_out_of_range_are_nan():
    k = jnp.array([0.1, 0.0, -0.1])
    out = np.asarray(jax.jit(lambda k: cc.linear_power(GOOD, k))(k))
    assert np.isfinite(out[0]) and np.all(np.isnan(out[1:]))
    out = np.asarray(jax.jit(lambda r: cc.sigma_r(GOOD, r))(jnp.array([8.0, -8.0])))
    assert np.isfinite(out[0]) and np.isnan(out[1])
    with pytest.raises(ValueError, match="k must be > 0"):
        cc.linear_power(GOOD, k)
    with pytest.raises(TypeError, match="k must be real"):
        cc.linear_power(GOOD, jnp.array([0.1 + 0.1j]))

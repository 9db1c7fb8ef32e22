import jax
import jax.numpy as jnp
import numpy as np
import pytest
from colossus.cosmology import power_spectrum as colossus_ps

from cosmojax.cosmology import Cosmology, eisenstein_hu, eisenstein_hu_nowiggle, planck2018, sound_horizon

from tests._transforms import assert_vmap_and_jit
from tests.cosmology._batch import cosmology_batch

COSMOLOGIES = [
    planck2018(),
    Cosmology(Omega_c=0.2, Omega_b=0.08, h=0.65, n_s=1.0, sigma8=0.8),
    Cosmology(Omega_c=0.35, Omega_b=0.03, h=0.75, n_s=0.95, sigma8=0.8, T_cmb=2.7),
]


@pytest.mark.parametrize("cosmo", COSMOLOGIES)
def test_eisenstein_hu_matches_reference_implementation(x64, cosmo):
    k = np.logspace(-4, 2, 300)
    args = (k, cosmo.h, float(cosmo.Omega_m), cosmo.Omega_b, cosmo.T_cmb)
    np.testing.assert_allclose(eisenstein_hu(cosmo, k), colossus_ps.modelEisenstein98(*args), rtol=1e-4)
    np.testing.assert_allclose(eisenstein_hu_nowiggle(cosmo, k), colossus_ps.modelEisenstein98ZeroBaryon(*args), rtol=1e-4)


def test_transfer_limits_and_wiggles(x64):
    c = planck2018()
    assert float(eisenstein_hu(c, 1e-5)) == pytest.approx(1.0, abs=1e-4)
    assert float(eisenstein_hu_nowiggle(c, 1e-5)) == pytest.approx(1.0, abs=1e-4)
    # The wiggle/no-wiggle ratio oscillates about 1 with the BAO period 2 pi / r_s
    k = np.linspace(0.02, 0.3, 2000)
    ratio = np.asarray(eisenstein_hu(c, k) / eisenstein_hu_nowiggle(c, k)) - 1
    crossings = np.where(np.diff(np.sign(ratio)))[0]
    spacing = np.median(np.diff(k[crossings]))
    assert spacing == pytest.approx(np.pi / float(sound_horizon(c)), rel=0.15)
    assert float(sound_horizon(c)) == pytest.approx(147.0 * c.h, rel=0.05)


def test_transfer_is_differentiable_in_every_parameter(x64):
    c = planck2018()
    g = jax.grad(lambda cc: eisenstein_hu(cc, 0.1))(c)
    eps = 1e-6
    for name in ("Omega_c", "Omega_b", "h"):
        v = getattr(c, name)
        fd = (eisenstein_hu(c.replace(**{name: v + eps}), 0.1) - eisenstein_hu(c.replace(**{name: v - eps}), 0.1)) / (2 * eps)
        assert float(getattr(g, name)) == pytest.approx(float(fd), rel=1e-6)


@pytest.mark.parametrize("transfer", [eisenstein_hu, eisenstein_hu_nowiggle])
def test_transfer_vmaps_over_cosmologies_and_jits(transfer):
    k = jnp.geomspace(1e-3, 1.0, 12)
    assert_vmap_and_jit(lambda c: transfer(c, k), cosmology_batch(), rtol=1e-5)

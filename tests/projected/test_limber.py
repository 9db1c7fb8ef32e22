"""Limber angular spectra against CCL, an independent quadrature, finite differences."""

import numpy as np
import jax
import jax.numpy as jnp
import pytest
from scipy.integrate import simpson

from cosmojax.cosmology import hubble, planck2018, transverse_comoving_distance
from cosmojax.cosmology import linear_power
from cosmojax.projected import (
    CMBLensing,
    GaussianNZ,
    NumberCounts,
    SmailNZ,
    WeakLensing,
    angular_cl,
    matter_power,
    photoz_bins,
    redshift_density,
)

ccl = pytest.importorskip("pyccl")  # the test extra installs it

ELL = np.geomspace(10.0, 3000.0, 16)
COSMO = planck2018().replace(w0=-0.9, wa=0.1)
IA, IA_ETA, SHEAR_BIAS, MAG = 0.5, 1.0, 0.02, 0.3


def _tracers():
    parent = SmailNZ(0.5, 2.0, 1.5, z_max=3.5)
    sources = [WeakLensing(s, ia_amplitude=IA, ia_eta=IA_ETA, multiplicative_bias=SHEAR_BIAS)
               for s in photoz_bins(parent, [0.2, 0.6, 1.0, 3.0], 0.05)]
    lenses = [NumberCounts(GaussianNZ(m, 0.03, z_max=3.5), bias=1.2 + 0.2 * i, magnification_bias=MAG)
              for i, m in enumerate((0.3, 0.6))]
    return sources + lenses + [CMBLensing()]


def _ccl_cosmology(cosmo):
    # no radiation, as cosmojax's background
    return ccl.Cosmology(
        Omega_c=cosmo.Omega_c, Omega_b=cosmo.Omega_b, h=cosmo.h, n_s=cosmo.n_s, sigma8=cosmo.sigma8,
        w0=cosmo.w0, wa=cosmo.wa, Omega_k=cosmo.Omega_k, Neff=0, Omega_g=0, T_CMB=cosmo.T_cmb,
        transfer_function="eisenstein_hu", matter_power_spectrum="halofit",
    )


def _ccl_power(cosmo):
    """cosmojax's halofit P(k, a) as a CCL Pk2D (Mpc units), sampled finely."""
    h = cosmo.h
    lnk = np.linspace(np.log(1e-5), np.log(1e4), 1500)
    a = np.geomspace(1.0 / 1101.0, 1.0, 400)
    k = jnp.asarray(np.exp(lnk))[:, None] * jnp.ones(a.size)[None, :]
    pk = np.asarray(matter_power(cosmo, k, jnp.asarray(a), "halofit"))
    return ccl.Pk2D(a_arr=a, lk_arr=lnk + np.log(h), pk_arr=np.log(pk.T / h**3), is_logp=True)


def _ccl_tracers(c, tracers):
    z = np.linspace(0.0, 3.5, 7001)
    out = []
    for t in tracers:
        if isinstance(t, CMBLensing):
            out.append(ccl.CMBLensingTracer(c, z_source=t.z_source))
            continue
        n = np.asarray(redshift_density(t.nz, jnp.asarray(z)))
        if isinstance(t, WeakLensing):
            out.append(ccl.WeakLensingTracer(c, dndz=(z, n), ia_bias=(z, IA * ((1 + z) / 1.62) ** IA_ETA)))
        else:
            out.append(ccl.NumberCountsTracer(c, has_rsd=False, dndz=(z, n), bias=(z, t.bias * np.ones_like(z)),
                                              mag_bias=(z, MAG * np.ones_like(z))))
    return out


@pytest.fixture(scope="module")
def spectra():
    with jax.enable_x64(True):
        tracers = _tracers()
        cl = np.asarray(jax.jit(lambda c: angular_cl(c, tracers, ELL))(COSMO))
        c = _ccl_cosmology(COSMO)
        return tracers, cl, c, _ccl_tracers(c, tracers)


def _shear_factor(tracers, i, j):
    """(1 + m) for each shear tracer in the pair: CCL has no multiplicative bias."""
    return np.prod([1.0 + SHEAR_BIAS for t in (tracers[i], tracers[j]) if isinstance(t, WeakLensing)])


def test_every_spectrum_agrees_with_ccl_on_the_same_power(spectra):
    """Same P(k, a) on both sides: autos within 1e-3, crosses within 1e-3 of sqrt(C_aa C_bb)
    (a cross spectrum can pass through zero, where a relative error means nothing)."""
    tracers, cl, c, ccl_tracers = spectra
    power = _ccl_power(COSMO)
    worst_auto = worst_cross = 0.0
    for i in range(len(tracers)):
        for j in range(i, len(tracers)):
            ref = ccl.angular_cl(c, ccl_tracers[i], ccl_tracers[j], ELL, p_of_k_a=power)
            mine = cl[i, j] / _shear_factor(tracers, i, j)
            if i == j:
                worst_auto = max(worst_auto, np.max(np.abs(mine / ref - 1.0)))
            else:
                scale = np.sqrt(cl[i, i] * cl[j, j]) / _shear_factor(tracers, i, j)
                worst_cross = max(worst_cross, np.max(np.abs(mine - ref) / scale))
    assert worst_auto < 1e-3 and worst_cross < 1e-3, (worst_auto, worst_cross)


def test_galaxy_spectra_agree_with_ccls_own_halofit(spectra):
    """CCL computing its own EH + halofit: the galaxy spectra within 3e-3. The halofits
    agree to ~1e-3 on one linear power; with wa != 0 CCL's halofit also uses the
    w0-matched cosmology, cosmojax's the instantaneous w(a) (cosmology/halofit.py), which
    moves l = 3000 by 2e-3."""
    tracers, cl, c, ccl_tracers = spectra
    for i in range(len(tracers) - 1):  # CMB lensing reaches z = 1100, beyond CCL's halofit table
        ref = ccl.angular_cl(c, ccl_tracers[i], ccl_tracers[i], ELL)
        np.testing.assert_allclose(cl[i, i] / _shear_factor(tracers, i, i), ref, rtol=3e-3)


def test_curved_limber_matches_a_direct_quadrature(x64):
    """Omega_k = 0.05 (where CCL's Limber uses chi, not f_K): number counts against a direct
    quadrature in z of int dchi W^2 / f_K^2 P((l + 1/2) / f_K) with the linear power."""
    cosmo = planck2018().replace(Omega_k=0.05)
    nz = GaussianNZ(0.7, 0.1, z_max=2.0)
    ell = np.array([20.0, 200.0, 1500.0])
    cl = np.asarray(jax.jit(lambda c: angular_cl(c, [NumberCounts(nz, bias=1.3)], ell, power="linear"))(cosmo))[0, 0]
    # Simpson's rule on 20001 redshifts over the bin's support (the kernel is < 1e-20 beyond)
    z = np.linspace(0.2, 1.2, 20001)
    a = jnp.asarray(1.0 / (1.0 + z))
    r = np.asarray(transverse_comoving_distance(cosmo, a))
    e = np.asarray(hubble(cosmo, a))
    w = 1.3 * np.asarray(redshift_density(nz, jnp.asarray(z))) * e / 2997.92458
    for l, value in zip(ell, cl):
        p = np.asarray(linear_power(cosmo, jnp.asarray((l + 0.5) / r), a))
        ref = simpson(w * w / r**2 * p * 2997.92458 / e, x=z)
        assert value == pytest.approx(ref, rel=5e-4)


def test_gradients_match_finite_differences(x64):
    tracers = [WeakLensing(SmailNZ(0.5, z_max=3.0), ia_amplitude=0.4), NumberCounts(GaussianNZ(0.5, 0.08, z_max=3.0), bias=1.5)]
    ell = jnp.asarray([30.0, 300.0, 2000.0])

    def f(params):
        cosmo = COSMO.replace(Omega_c=params[0], sigma8=params[1], h=params[2])
        tr = [tracers[0].replace(ia_amplitude=params[3], nz=tracers[0].nz.replace(shift=params[4])),
              tracers[1].replace(bias=params[5])]
        cl = angular_cl(cosmo, tr, ell)
        return jnp.sum(jnp.log(cl[jnp.triu_indices(2)]))

    x = jnp.asarray([COSMO.Omega_c, COSMO.sigma8, COSMO.h, 0.4, 0.02, 1.5])
    grad = jax.jit(jax.grad(f))(x)
    step, value = 1e-5, jax.jit(f)
    fd = [(value(x.at[i].add(step)) - value(x.at[i].add(-step))) / (2 * step) for i in range(x.size)]
    np.testing.assert_allclose(grad, fd, rtol=2e-5)


def test_spectra_vmap_over_biases_and_jit():
    nz = GaussianNZ(0.5, 0.08, z_max=2.0)
    ell = jnp.asarray([50.0, 500.0])

    def clustering(b):
        return angular_cl(COSMO, [NumberCounts(nz, bias=b)], ell, power="linear")[0, 0]

    batch = jax.jit(jax.vmap(clustering))(jnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(batch[1], 4.0 * batch[0], rtol=1e-6)  # C ~ b^2
    np.testing.assert_allclose(batch[0], jax.jit(clustering)(1.0), rtol=1e-6)


def test_cross_spectra_are_symmetric_and_shear_bias_scales_them():
    src = SmailNZ(0.5, z_max=3.0)
    tracers = [WeakLensing(src), WeakLensing(src, multiplicative_bias=0.1), NumberCounts(GaussianNZ(0.4, 0.05, z_max=3.0))]
    cl = np.asarray(jax.jit(lambda c: angular_cl(c, tracers, jnp.asarray([100.0, 1000.0]), power="linear"))(COSMO))
    np.testing.assert_allclose(cl, cl.transpose(1, 0, 2), rtol=1e-6)
    np.testing.assert_allclose(cl[1, 1], 1.1**2 * cl[0, 0], rtol=1e-5)
    np.testing.assert_allclose(cl[1, 2], 1.1 * cl[0, 2], rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(ell=np.array([1.0, 10.0])), ValueError, "ell must be finite and >= 2"),
    (dict(ell=np.array([[10.0]])), ValueError, "1-d"),
    (dict(ell=np.array([10.0, np.nan])), ValueError, "ell must be finite"),
    (dict(tracers=[]), ValueError, "at least one tracer"),
    (dict(tracers=[GaussianNZ(0.5, 0.1)]), TypeError, "tracers\\[0\\] must be a WeakLensing"),
    (dict(tracers=[NumberCounts(GaussianNZ(0.5, -0.1))]), ValueError, "tracers\\[0\\].nz.sigma"),
    (dict(tracers=[WeakLensing(GaussianNZ(0.5, 0.1), field="kappa")]), ValueError, "field"),
    (dict(tracers=[CMBLensing(z_source=-1.0)]), ValueError, "z_source"),
    (dict(power="nonlinear"), ValueError, "power must be"),
    (dict(n_radial=100), ValueError, "n_radial must be odd"),
])
def test_bad_input_is_refused_before_tracing(kwargs, error, match):
    args = dict(tracers=[NumberCounts(GaussianNZ(0.5, 0.1))], ell=np.array([10.0, 100.0]))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        angular_cl(COSMO, **args)

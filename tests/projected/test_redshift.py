"""Redshift distributions: normalisation, moments, nuisances, photo-z bins and guards."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.projected import (
    GaussianNZ,
    PhotozBinNZ,
    SmailNZ,
    mean_redshift,
    photoz_bins,
    redshift_density,
    tabulated_nz,
)

Z = np.linspace(0.0, 6.0, 60001)


def _integral(nz, z=Z):
    return float(np.trapezoid(np.asarray(redshift_density(nz, jnp.asarray(z))), z))


def test_densities_integrate_to_one_and_vanish_outside_the_support(x64):
    for nz in (SmailNZ(0.3, z_max=5.0), GaussianNZ(0.8, 0.1, z_max=3.0), PhotozBinNZ(SmailNZ(0.3, z_max=5.0), 0.5, 0.9, 0.05, z_max=5.0)):
        assert _integral(nz) == pytest.approx(1.0, abs=2e-6)
        assert float(redshift_density(nz, nz.z_max + 0.01)) == 0.0 and float(redshift_density(nz, -0.01)) == 0.0


def test_smail_mean_is_the_gamma_function_ratio(x64):
    # <z> = z0 Gamma((alpha + 2) / beta) / Gamma((alpha + 1) / beta) on an untruncated support
    z0, alpha, beta = 0.25, 2.0, 1.5
    expected = z0 * math.gamma((alpha + 2) / beta) / math.gamma((alpha + 1) / beta)
    assert float(mean_redshift(SmailNZ(z0, alpha, beta, z_max=8.0))) == pytest.approx(expected, rel=1e-6)


def test_shift_moves_the_mean_and_stretch_scales_the_width(x64):
    base = GaussianNZ(1.0, 0.1, z_max=3.0)
    assert float(mean_redshift(base.replace(shift=0.05))) == pytest.approx(1.05, abs=1e-7)
    stretched = base.replace(stretch=1.3)
    z = jnp.asarray(Z[Z <= 3.0])
    p = np.asarray(redshift_density(stretched, z))
    mean = np.trapezoid(p * np.asarray(z), np.asarray(z))
    sd = math.sqrt(np.trapezoid(p * (np.asarray(z) - mean) ** 2, np.asarray(z)))
    assert mean == pytest.approx(1.0, abs=1e-7) and sd == pytest.approx(0.13, rel=1e-5)


def test_shift_is_differentiable_and_vmaps(x64):
    base = GaussianNZ(1.0, 0.1, z_max=3.0)
    grad = jax.grad(lambda s: mean_redshift(base.replace(shift=s)))(0.02)
    assert float(grad) == pytest.approx(1.0, abs=1e-6)
    means = jax.jit(jax.vmap(lambda s: mean_redshift(base.replace(shift=s))))(jnp.array([-0.1, 0.0, 0.1]))
    np.testing.assert_allclose(means, [0.9, 1.0, 1.1], atol=1e-7)


def test_photoz_bins_partition_the_parent(x64):
    # edges far beyond both ends: every object lands in some bin, so the bins' counts add
    # up to the parent, bin by bin weighted by its share of objects
    parent = SmailNZ(0.4, z_max=5.0)
    bins = photoz_bins(parent, [0.0, 0.4, 0.8, 1.2, 50.0], sigma_z=0.05)
    z = jnp.asarray(np.linspace(0.0, 5.0, 5001))
    grid = np.linspace(0.0, 5.0, 200001)
    total = np.zeros(z.shape)
    for b in bins:
        share = np.trapezoid(np.asarray(b.shape(jnp.asarray(grid))), grid) / np.trapezoid(np.asarray(parent.shape(jnp.asarray(grid))), grid)
        total += share * np.asarray(redshift_density(b, z))
    # objects scattered below z_ph = 0 are in no bin: compare where that share is negligible
    inside = np.asarray(z) > 0.3
    np.testing.assert_allclose(total[inside], np.asarray(redshift_density(parent, z))[inside], rtol=1e-4)


def test_tabulated_matches_the_function_it_samples(x64):
    z = np.linspace(0.0, 3.0, 3001)
    exact = GaussianNZ(1.0, 0.2, z_max=3.0)
    table = tabulated_nz(z, np.exp(-0.5 * ((z - 1.0) / 0.2) ** 2))
    q = jnp.asarray(np.linspace(0.1, 2.9, 57))
    np.testing.assert_allclose(redshift_density(table, q), redshift_density(exact, q), rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("make, match", [
    (lambda: tabulated_nz([0.0, 1.0, 2.0], [1.0, -1.0, 1.0]), "n must be >= 0"),
    (lambda: tabulated_nz([0.0, 1.0, 2.0], [0.0, 0.0, 0.0]), "cannot be normalised"),
    (lambda: tabulated_nz([0.0, 2.0, 1.0], [1.0, 1.0, 1.0]), "z"),
    (lambda: redshift_density(GaussianNZ(1.0, -0.1), 0.5), "nz.sigma must be > 0"),
    (lambda: redshift_density(SmailNZ(0.3, stretch=0.0), 0.5), "nz.stretch must be > 0"),
    (lambda: redshift_density(PhotozBinNZ(SmailNZ(0.3), 0.9, 0.5), 0.5), "z_lo must be < z_hi"),
    (lambda: redshift_density(GaussianNZ(10.0, 0.1, z_max=3.0), 0.5), "no objects"),
    (lambda: redshift_density(GaussianNZ(1.0, 0.1, z_max=float("nan")), 0.5), "z_max"),
    (lambda: redshift_density(GaussianNZ(float("nan"), 0.1), 0.5), "nz.mean"),
])
def test_bad_distributions_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_non_distribution_is_a_type_error():
    with pytest.raises(TypeError, match="nz must be a redshift distribution"):
        redshift_density(np.ones(3), 0.5)

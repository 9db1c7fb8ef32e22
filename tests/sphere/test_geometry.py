"""Ring geometry and reordering against healpy."""

import healpy as hp
import jax
import numpy as np
import pytest

from cosmojax.sphere import pixel_rings, reorder, ring_geometry


@pytest.mark.parametrize("nside", [1, 8, 32])
def test_ring_geometry_matches_pixel_centres(nside):
    geom = ring_geometry(nside)
    assert geom.nrings == 4 * nside - 1 and geom.nphi.sum() == geom.npix
    ring, pos = pixel_rings(nside)
    theta, phi = hp.pix2ang(nside, np.arange(geom.npix))
    np.testing.assert_allclose(geom.theta[ring], theta, atol=1e-12)
    expected_phi = geom.phi0[ring] + 2 * np.pi * pos / geom.nphi[ring]
    np.testing.assert_allclose(expected_phi, phi, atol=1e-12)
    np.testing.assert_array_equal(geom.start[ring] + pos, np.arange(geom.npix))


def test_reorder_matches_healpy():
    nside = 8
    values = np.random.default_rng(0).normal(size=(2, 12 * nside**2)).astype(np.float32)
    nest = reorder(values, "ring", "nest")
    np.testing.assert_array_equal(np.asarray(nest), hp.reorder(values, r2n=True))
    back = jax.jit(lambda m: reorder(m, "nest", "ring"))(nest)
    np.testing.assert_array_equal(np.asarray(back), values)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="nside"):
        ring_geometry(6)
    with pytest.raises(ValueError, match="pixels"):
        reorder(np.zeros(100), "ring", "nest")
    with pytest.raises(ValueError, match="order_in"):
        reorder(np.zeros(768), "rings", "nest")

"""HEALPix on the sphere: geometry, differentiable spherical-harmonic transforms, power
spectra and spherical convolutions.

Maps are RING ordered for the transforms (``reorder`` converts from/to NESTED) and NESTED
for the convolution layers; alms use healpy's layout (``alm_index``).
"""

from cosmojax.sphere.conv import (
    ChebConv,
    HealpixGraph,
    HealpixPool,
    HealpixUnpool,
    base_rotation_permutation,
    chebyshev_basis,
    healpix_graph,
    healpix_pool,
    healpix_unpool,
    rescaled_laplacian,
)
from cosmojax.sphere.geometry import RingGeometry, check_nside, npix_to_nside, pixel_rings, reorder, ring_geometry
from cosmojax.sphere.legendre import legendre_table
from cosmojax.sphere.spectra import almxfl, alm2cl, anafast, fsky_w2, gaussian_beam
from cosmojax.sphere.transforms import (
    alm2map,
    alm2map_spin,
    alm_index,
    alm_lm,
    alm_size,
    lmax_from_size,
    map2alm,
    map2alm_spin,
)

__all__ = [
    "ChebConv",
    "HealpixGraph",
    "HealpixPool",
    "HealpixUnpool",
    "RingGeometry",
    "alm2cl",
    "alm2map",
    "alm2map_spin",
    "alm_index",
    "alm_lm",
    "alm_size",
    "almxfl",
    "anafast",
    "base_rotation_permutation",
    "chebyshev_basis",
    "check_nside",
    "fsky_w2",
    "gaussian_beam",
    "healpix_graph",
    "healpix_pool",
    "healpix_unpool",
    "legendre_table",
    "lmax_from_size",
    "map2alm",
    "map2alm_spin",
    "npix_to_nside",
    "pixel_rings",
    "rescaled_laplacian",
    "reorder",
    "ring_geometry",
]

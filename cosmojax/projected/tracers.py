"""Tracers of the projected matter field: weak lensing, galaxy number counts, CMB lensing.

A tracer turns the matter power into its angular spectrum through radial kernels
W(chi) (1 / (Mpc/h)) in the Limber integral (``cosmojax.projected.limber``),

.. math::

    C^{ab}_\\ell = \\sum_{c \\in a,\\, d \\in b} F_c(\\ell) F_d(\\ell)
        \\int d\\chi\\, \\frac{W_c(\\chi) W_d(\\chi)}{f_K(\\chi)^2}\\,
        P\\!\\left(\\frac{\\ell + 1/2}{f_K(\\chi)}, z(\\chi)\\right),

where each tracer has one or two components c with an ell factor F_c (LSST DESC's CCL,
Chisari et al. 2019, ApJS 242, 2, section 2.4; its conventions are followed so that the
spectra agree with CCL's):

- ``WeakLensing``: the lensing efficiency of a source distribution p(z),

  .. math:: q(\\chi) = \\frac{3}{2}\\, \\Omega_m \\frac{f_K(\\chi)}{a D_H^2}
            \\int_\\chi d\\chi'\\, p(\\chi') \\frac{f_K(\\chi' - \\chi)}{f_K(\\chi')},

  plus the nonlinear-alignment intrinsic alignments (NLA; Hirata & Seljak 2004, Bridle &
  King 2007) W_IA = -A_IA(z) C_1 rho_crit Omega_m / D(z) p(z) H(z)/c with
  A_IA(z) = A ((1 + z) / (1 + z_pivot))^eta and C_1 rho_crit = 5e-14 x 2.775e11 = 0.0139;
  both scaled by (1 + m) for a multiplicative shear bias m. Shear has
  F = sqrt((l+2)!/(l-2)!) / (l+1/2)^2, convergence F = l (l+1) / (l+1/2)^2.
- ``NumberCounts``: W = b p(z) H(z)/c with a linear bias b (F = 1); with a magnification
  bias s (the logarithmic slope of the number counts), a second component
  -(2 - 5 s) q(chi) with F = l (l+1) / (l+1/2)^2. Redshift-space distortions need the
  non-Limber integral and are not included.
- ``CMBLensing``: the lensing efficiency of a single source plane at ``z_source``
  (default 1100), F = l (l+1) / (l+1/2)^2.

Every tracer is a pytree: its numbers (biases, amplitudes, the n(z)'s parameters) may be
traced, so jit, vmap and grad go through them; the choices (shear or convergence, with or
without magnification) and redshift supports are static. Distances are in Mpc/h.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._pytree import pytree_dataclass
from cosmojax._validate import check_finite
from cosmojax.cosmology import HUBBLE_DISTANCE, comoving_distance, transverse_from_comoving
from cosmojax.projected.redshift import check_distribution, redshift_density

__all__ = ["WeakLensing", "NumberCounts", "CMBLensing", "RadialGrid", "check_tracer", "curvature_cosine", "IA_NORMALISATION"]

#: C_1 rho_crit of the NLA model: 5e-14 (h^2 M_sun / Mpc^3)^-1 (Brown et al. 2002) times the
#: critical density 2.775e11 h^2 M_sun / Mpc^3, the normalisation CCL uses.
IA_NORMALISATION = 5e-14 * 2.77536627e11


class RadialGrid(NamedTuple):
    """The line-of-sight nodes of the projected integrals, each field (N,).

    z, a : redshift and scale factor; chi : comoving distance, Mpc/h; r : f_K(chi), Mpc/h;
    hubble : E(z) = H / H0; growth : D(a) (D(1) = 1);
    dchi : Simpson weights of an integral over chi, Mpc/h (sum f dchi ~ int f dchi);
    dz : trapezoid weights of an integral over z (for integrals whose lower limit moves
    from node to node, where Simpson's alternating weights lose their order);
    c_k : ``curvature_cosine`` of each node (1 when flat), for the lensing kernels.
    """

    z: jax.Array
    a: jax.Array
    chi: jax.Array
    r: jax.Array
    hubble: jax.Array
    growth: jax.Array
    dchi: jax.Array
    dz: jax.Array
    c_k: jax.Array


def _density_kernel(grid, density):
    """p(z) dz/dchi = p(z) E(z) / D_H on the grid, 1 / (Mpc/h); ``density``: p on the grid."""
    return density * grid.hubble / HUBBLE_DISTANCE


def curvature_cosine(cosmo, r):
    """c_K = sqrt(1 + Omega_k (f_K / D_H)^2): cosh(sqrt(Omega_k) chi / D_H) for an open
    universe, cos(...) for a closed one (on its near side, chi < pi D_H / (2 sqrt|Omega_k|),
    beyond any horizon for |Omega_k| < 1), 1 when flat. ``r`` = f_K(chi), Mpc/h, any shape."""
    return jnp.sqrt(1.0 + cosmo.Omega_k * (r / HUBBLE_DISTANCE) ** 2)


def _lensing_efficiency(cosmo, grid, source_weight):
    """q(chi_i) of sources with weight w_j per node (``_source_weight``):
    (3/2) Omega_m f_K(chi_i) / (a_i D_H^2) sum_{j >= i} w_j f_K(chi_j - chi_i) / f_K(chi_j).

    The addition theorem f_K(chi_j - chi_i) = f_K(chi_j) c_K(chi_i) - c_K(chi_j) f_K(chi_i)
    makes the sum separable, c_K(chi_i) sum w_j - f_K(chi_i) sum w_j c_K(chi_j) / f_K(chi_j),
    two cumulative sums from the far end: O(N) instead of an (N, N) matrix (the j = i
    terms cancel exactly)."""
    far = jnp.cumsum(source_weight[::-1])[::-1]
    far_over_r = jnp.cumsum((source_weight * grid.c_k / grid.r)[::-1])[::-1]
    integral = grid.c_k * far - grid.r * far_over_r
    return 1.5 * cosmo.Omega_m * grid.r / (grid.a * HUBBLE_DISTANCE**2) * integral


def _source_weight(grid, density):
    """Weight of each node in an integral over a source's p(z) dz (``density``: p on the grid)."""
    return grid.dz * density


def ell_factor(kind: str, ell):
    """The ell factor F(l) of a component: "one", "spin2" or "laplacian" (module docstring)."""
    half = (ell + 0.5) ** 2
    if kind == "spin2":
        return jnp.sqrt((ell + 2.0) * (ell + 1.0) * ell * (ell - 1.0)) / half
    if kind == "laplacian":
        return ell * (ell + 1.0) / half
    return jnp.ones_like(ell)


@pytree_dataclass(static=("field",))
class WeakLensing:
    """Galaxy shapes of a source sample: lensing shear (or convergence) and NLA alignments.

    nz : the sources' redshift distribution (``cosmojax.projected.redshift``)
    ia_amplitude : A of the NLA model (0: no intrinsic alignments)
    ia_eta : redshift slope eta of A_IA(z) = A ((1 + z) / (1 + ia_z_pivot))^eta
    ia_z_pivot : pivot redshift (0.62, DES Y1's)
    multiplicative_bias : m, shear measured as (1 + m) gamma
    field : static, "shear" (spin-2 ell factor) or "convergence"
    """

    nz: object
    ia_amplitude: float = 0.0
    ia_eta: float = 0.0
    ia_z_pivot: float = 0.62
    multiplicative_bias: float = 0.0
    field: str = "shear"

    @property
    def z_max(self) -> float:
        return self.nz.z_max

    def kinds(self) -> list[str]:
        """The ell-factor kind of each component (static)."""
        return ["spin2" if self.field == "shear" else "laplacian"]

    def kernels(self, cosmo, grid) -> list:
        """The radial kernel (N,) of each component on ``grid``, h/Mpc."""
        density = redshift_density(self.nz, grid.z)
        lensing = _lensing_efficiency(cosmo, grid, _source_weight(grid, density))
        amplitude = self.ia_amplitude * ((1.0 + grid.z) / (1.0 + self.ia_z_pivot)) ** self.ia_eta
        alignment = -amplitude * IA_NORMALISATION * cosmo.Omega_m / grid.growth * _density_kernel(grid, density)
        return [(1.0 + self.multiplicative_bias) * (lensing + alignment)]


@pytree_dataclass
class NumberCounts:
    """Galaxy number counts of a lens sample: linear bias, optional magnification.

    nz : the sample's redshift distribution
    bias : linear galaxy bias b (constant over the bin)
    magnification_bias : None (no magnification) or s = d log10 N / d m, the slope of the
        cumulative counts with magnitude (the magnification term is -(2 - 5 s) q)
    """

    nz: object
    bias: float = 1.0
    magnification_bias: Optional[float] = None

    @property
    def z_max(self) -> float:
        return self.nz.z_max

    def kinds(self) -> list[str]:
        """The ell-factor kind of each component (static)."""
        return ["one"] if self.magnification_bias is None else ["one", "laplacian"]

    def kernels(self, cosmo, grid) -> list:
        """The radial kernel (N,) of each component on ``grid``, h/Mpc."""
        density = redshift_density(self.nz, grid.z)
        parts = [self.bias * _density_kernel(grid, density)]
        if self.magnification_bias is not None:
            lensing = _lensing_efficiency(cosmo, grid, _source_weight(grid, density))
            parts.append(-(2.0 - 5.0 * self.magnification_bias) * lensing)
        return parts


@pytree_dataclass(static=("z_source",))
class CMBLensing:
    """The CMB lensing convergence: a single source plane at ``z_source`` (static, > 0)."""

    z_source: float = 1100.0

    @property
    def z_max(self) -> float:
        return self.z_source

    def kinds(self) -> list[str]:
        """The ell-factor kind of each component (static)."""
        return ["laplacian"]

    def kernels(self, cosmo, grid) -> list:
        """[the lensing efficiency (N,) of one source plane, h/Mpc]."""
        chi_s = comoving_distance(cosmo, jnp.asarray(1.0 / (1.0 + self.z_source), dtype=grid.chi.dtype))
        r_s = transverse_from_comoving(cosmo, chi_s)
        behind = grid.chi < chi_s
        # f_K(chi_s - chi) / f_K(chi_s) by the addition theorem (``_lensing_efficiency``)
        ratio = grid.c_k - grid.r * curvature_cosine(cosmo, r_s) / r_s
        kernel = 1.5 * cosmo.Omega_m * grid.r / (grid.a * HUBBLE_DISTANCE**2) * jnp.where(behind, ratio, 0.0)
        return [kernel]


_TRACERS = (WeakLensing, NumberCounts, CMBLensing)


def check_tracer(tracer, name: str = "tracer") -> None:
    """Raise unless ``tracer`` is a valid tracer: ``TypeError`` for another kind,
    ``ValueError`` naming the field for NaN numbers, a bad ``field`` or ``z_source``, or a
    bad redshift distribution (``check_distribution``). Traced numbers are skipped."""
    if not isinstance(tracer, _TRACERS):
        raise TypeError(f"{name} must be a WeakLensing, NumberCounts or CMBLensing tracer; got {type(tracer).__name__}.")
    if isinstance(tracer, CMBLensing):
        z = tracer.z_source
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not (np.isfinite(z) and z > 0):
            raise ValueError(f"{name}.z_source must be a Python number > 0 (static); got {z!r}.")
        return
    check_distribution(tracer.nz, f"{name}.nz")
    if isinstance(tracer, WeakLensing):
        if tracer.field not in ("shear", "convergence"):
            raise ValueError(f"{name}.field must be 'shear' or 'convergence'; got {tracer.field!r}.")
        fields = ("ia_amplitude", "ia_eta", "ia_z_pivot", "multiplicative_bias")
    else:
        fields = ("bias", "magnification_bias")
    for field in fields:
        check_finite(f"{name}.{field}", getattr(tracer, field))

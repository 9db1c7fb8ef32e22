"""Redshift distributions n(z) of galaxy samples: normalised, differentiable, with nuisances.

Each distribution is a pytree whose numbers may be traced (jit, vmap and grad go through
them); its support ``0 <= z <= z_max`` is static, because it sets the redshift grid of
the projected integrals. ``redshift_density(nz, z)`` returns the normalised density

.. math::

    p(z) = \\frac{n(\\bar z + (z - \\Delta z - \\bar z) / s)}
                {\\int_0^{z_{max}} n(\\bar z + (z' - \\Delta z - \\bar z) / s)\\, dz'},

with the photometric-redshift nuisances of DES and KiDS analyses: the shift ``shift``
(Delta z, added to every redshift) and the stretch ``stretch`` (s, widening about the
mean z-bar of the unshifted distribution). Both default to no change. The normalising
integral is a trapezoid sum over ``NORM_NODES`` points on [0, z_max]; outside the support
the density is zero.

Shapes:

- ``SmailNZ``: n(z) = z^alpha exp(-(z / z0)^beta) (Smail et al. 1994), the LSST
  science-book form with alpha = 2, beta = 1.5.
- ``GaussianNZ``: a Gaussian of ``mean`` and ``sigma`` truncated to the support.
- ``TabulatedNZ``: a histogram or table (z, n), read linearly, zero outside its nodes;
  build it with ``tabulated_nz`` (which checks the table).
- ``PhotozBinNZ``: a tomographic bin of a parent distribution: the objects whose
  photometric redshift falls in [z_lo, z_hi) for a Gaussian scatter sigma_z (1 + z),

  .. math:: n_i(z) = n(z)\\, \\tfrac12 \\left[\\mathrm{erf}\\frac{z_{hi} - z}{\\sqrt2 \\sigma_z (1+z)}
            - \\mathrm{erf}\\frac{z_{lo} - z}{\\sqrt2 \\sigma_z (1+z)}\\right].

``check_distribution`` (called by ``redshift_density`` and every tracer) checks concrete
numbers (``ValueError`` naming the field: z0, sigma, widths and stretch > 0, finite values,
z_lo < z_hi); ``tabulated_nz`` checks its table (increasing nodes, values >= 0 and not all
zero). Under jit/vmap/grad traced out-of-range values give NaN densities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from cosmojax._pytree import pytree_dataclass
from cosmojax._validate import check_edges, check_finite, is_concrete, nan_unless

__all__ = [
    "SmailNZ",
    "GaussianNZ",
    "TabulatedNZ",
    "PhotozBinNZ",
    "tabulated_nz",
    "redshift_density",
    "mean_redshift",
    "NORM_NODES",
    "check_distribution",
    "photoz_bins",
]

#: Trapezoid nodes of the normalising integral and of the mean over [0, z_max].
NORM_NODES = 4096


def _check_z_max(z_max) -> float:
    if isinstance(z_max, bool) or not isinstance(z_max, (int, float, np.floating, np.integer)):
        raise TypeError(f"z_max must be a Python number (a static support); got {type(z_max).__name__}.")
    z_max = float(z_max)
    if not (np.isfinite(z_max) and z_max > 0):
        raise ValueError(f"z_max must be finite and > 0; got {z_max}.")
    return z_max


_CHECKS = {
    # class name: (fields that must be > 0, fields that must only be finite)
    "SmailNZ": (("z0", "beta"), ("alpha",)),
    "GaussianNZ": (("sigma",), ("mean",)),
    "TabulatedNZ": ((), ()),
    "PhotozBinNZ": (("sigma_z",), ("z_lo", "z_hi")),
}


def check_distribution(nz, name: str = "nz") -> None:
    """Raise unless ``nz`` is a redshift distribution with valid concrete numbers.

    ``TypeError`` for anything else; ``ValueError`` naming the field for NaN or infinite
    numbers, z0, beta, sigma, sigma_z or stretch <= 0, z_lo >= z_hi, a bad z_max, or,
    called outside jit/vmap/grad, nothing to normalise on the support.
    Traced numbers are skipped (they give NaN densities instead). A photo-z bin's parent
    is checked too.
    """
    kind = type(nz).__name__
    if kind not in _CHECKS or not hasattr(nz, "shape"):
        raise TypeError(
            f"{name} must be a redshift distribution (SmailNZ, GaussianNZ, TabulatedNZ, PhotozBinNZ); "
            f"got {kind}."
        )
    positive, finite = _CHECKS[kind]
    for field in positive + finite + ("shift", "stretch"):
        value = getattr(nz, field)
        check_finite(f"{name}.{field}", value)
        if field in positive + ("stretch",) and is_concrete(value) and np.any(np.asarray(value) <= 0):
            raise ValueError(f"{name}.{field} must be > 0; got {np.asarray(value)}.")
    _check_z_max(nz.z_max)
    if kind == "PhotozBinNZ":
        check_distribution(nz.parent, f"{name}.parent")
        if is_concrete((nz.z_lo, nz.z_hi)) and not np.all(np.asarray(nz.z_lo) < np.asarray(nz.z_hi)):
            raise ValueError(f"{name}: z_lo must be < z_hi; got z_lo={nz.z_lo}, z_hi={nz.z_hi}.")
    if is_concrete(nz):
        grid = _grid(nz)
        norm = jnp.trapezoid(_transformed(nz, grid), grid)  # staged, not concrete, inside a trace
        if is_concrete(norm) and not float(norm) > 0:
            raise ValueError(
                f"{name} has no objects on its support [0, z_max]: an empty bin, or a shift that moves "
                "it outside; widen the bin or check shift and z_max."
            )


@pytree_dataclass(static=("z_max",))
class SmailNZ:
    """n(z) proportional to z^alpha exp(-(z / z0)^beta) on [0, z_max].

    z0 : scale redshift, > 0; alpha, beta : exponents (beta > 0)
    shift, stretch : photo-z nuisances (module docstring); z_max : static support
    """

    z0: float
    alpha: float = 2.0
    beta: float = 1.5
    shift: float = 0.0
    stretch: float = 1.0
    z_max: float = 4.0

    def shape(self, z):
        """Unnormalised n(z) at redshifts ``z`` >= 0 (any shape)."""
        zs = jnp.where(z > 0, z, 1.0)
        value = zs**self.alpha * jnp.exp(-((zs / self.z0) ** self.beta))
        return nan_unless((self.z0 > 0) & (self.beta > 0), jnp.where(z > 0, value, 0.0))


@pytree_dataclass(static=("z_max",))
class GaussianNZ:
    """n(z) proportional to exp(-(z - mean)^2 / (2 sigma^2)) on [0, z_max].

    mean : redshift; sigma : width, > 0; shift, stretch : photo-z nuisances;
    z_max : static support
    """

    mean: float
    sigma: float
    shift: float = 0.0
    stretch: float = 1.0
    z_max: float = 4.0

    def shape(self, z):
        """Unnormalised n(z) at redshifts ``z`` (any shape)."""
        return nan_unless(self.sigma > 0, jnp.exp(-0.5 * ((z - self.mean) / self.sigma) ** 2))


@pytree_dataclass(static=("z_max",))
class TabulatedNZ:
    """n(z) read linearly from a table, zero outside its nodes. Build with ``tabulated_nz``.

    z : (M,) increasing redshifts >= 0; n : (M,) values >= 0 (any normalisation)
    shift, stretch : photo-z nuisances; z_max : static support (the last node)
    """

    z: jax.Array
    n: jax.Array
    shift: float = 0.0
    stretch: float = 1.0
    z_max: float = 4.0

    def shape(self, z):
        """Unnormalised n(z): linear between the nodes, zero outside them."""
        inside = (z >= self.z[0]) & (z <= self.z[-1])
        return jnp.where(inside, jnp.interp(z, self.z, self.n), 0.0)


def tabulated_nz(z, n, shift=0.0, stretch=1.0) -> TabulatedNZ:
    """A ``TabulatedNZ`` from a table (a histogram's bin centres and counts, a photo-z stack).

    Parameters
    ----------
    z : (M,) strictly increasing redshifts >= 0, M >= 2
    n : (M,) values >= 0, not all zero (any normalisation)
    shift, stretch : photo-z nuisances (module docstring)

    Returns ``TabulatedNZ`` with static support z_max = z[-1]. Raises ``ValueError`` for a
    bad table (NaN, decreasing nodes, negative or all-zero values, mismatched shapes).
    The values ``n`` may be traced (differentiable); the nodes ``z`` must be concrete.
    """
    z_np = check_edges("z", z, min_value=0.0)
    if not is_concrete(n):
        n = jnp.asarray(n)
    else:
        n_np = np.asarray(n, dtype=float)
        if n_np.shape != z_np.shape:
            raise ValueError(f"n must have the shape of z {z_np.shape}; got {n_np.shape}.")
        check_finite("n", n_np)
        if np.any(n_np < 0):
            raise ValueError("n must be >= 0 everywhere: a redshift distribution cannot be negative.")
        if not np.any(n_np > 0):
            raise ValueError("n is zero everywhere: the distribution cannot be normalised.")
        n = jnp.asarray(n_np)
    if n.shape != z_np.shape:
        raise ValueError(f"n must have the shape of z {z_np.shape}; got {n.shape}.")
    return TabulatedNZ(jnp.asarray(z_np), n, shift, stretch, float(z_np[-1]))


@pytree_dataclass(static=("z_max",))
class PhotozBinNZ:
    """The part of ``parent`` whose photometric redshift lies in [z_lo, z_hi).

    parent : a distribution (its own shift/stretch apply first)
    z_lo, z_hi : photometric bin edges, z_lo < z_hi
    sigma_z : photo-z scatter at z = 0, > 0; the scatter is sigma_z (1 + z)
    shift, stretch : this bin's nuisances; z_max : static support (the parent's)
    """

    parent: object
    z_lo: float
    z_hi: float
    sigma_z: float = 0.05
    shift: float = 0.0
    stretch: float = 1.0
    z_max: float = 4.0

    def shape(self, z):
        """Unnormalised n(z): the parent times the probability of landing in the bin."""
        width = jnp.sqrt(2.0) * self.sigma_z * (1.0 + z)
        inside = 0.5 * (jsp.erf((self.z_hi - z) / width) - jsp.erf((self.z_lo - z) / width))
        return nan_unless(self.sigma_z > 0, _transformed(self.parent, z) * inside)


def photoz_bins(parent, edges, sigma_z=0.05):
    """Tomographic bins of ``parent`` between photometric edges: a list of ``PhotozBinNZ``.

    ``edges``: (B + 1,) increasing redshifts; ``sigma_z`` the scatter at z = 0 (> 0).
    """
    edges = check_edges("edges", edges, min_value=0.0)
    return [PhotozBinNZ(parent, float(lo), float(hi), sigma_z, z_max=parent.z_max) for lo, hi in zip(edges[:-1], edges[1:])]


def _grid(nz):
    return jnp.linspace(0.0, nz.z_max, NORM_NODES, dtype=jnp.result_type(float))


def _shape_mean(nz):
    """Mean redshift of the unshifted, unstretched shape on [0, z_max] (the stretch's pivot)."""
    grid = _grid(nz)
    base = nz.shape(grid)
    return jnp.trapezoid(base * grid, grid) / jnp.trapezoid(base, grid)


def _transformed(nz, z, mean=None):
    """The shape of ``nz`` with its shift and stretch applied, zero outside [0, z_max];
    ``mean``: ``_shape_mean(nz)`` when already known."""
    mean = _shape_mean(nz) if mean is None else mean
    source = mean + (z - nz.shift - mean) / nz.stretch
    inside = (source >= 0.0) & (source <= nz.z_max) & (z >= 0.0) & (z <= nz.z_max)
    value = jnp.where(inside, nz.shape(jnp.clip(source, 0.0, nz.z_max)), 0.0)
    return nan_unless(nz.stretch > 0, value)


def _density(nz, z):
    """The normalised density, unchecked."""
    grid = _grid(nz)
    mean = _shape_mean(nz)
    norm = jnp.trapezoid(_transformed(nz, grid, mean), grid)
    return _transformed(nz, jnp.asarray(z, dtype=grid.dtype), mean) / norm


def redshift_density(nz, z):
    """The normalised density p(z) of a distribution, 1 / unit redshift.

    Parameters
    ----------
    nz : SmailNZ, GaussianNZ, TabulatedNZ or PhotozBinNZ
    z : array, any shape, redshift

    Returns
    -------
    array, shape of ``z``; integrates to 1 over [0, nz.z_max] (zero outside). jit, vmap
    and grad safe in the distribution's numbers and in ``z``. Raises ``ValueError`` for a
    bad concrete distribution (``check_distribution``), including one that vanishes on
    its support (an empty photo-z bin, a shift that moves every object past z_max).
    """
    check_distribution(nz)
    return _density(nz, z)


def mean_redshift(nz):
    """Mean redshift of the normalised distribution (scalar). jit, vmap and grad safe."""
    grid = _grid(nz)
    return jnp.trapezoid(redshift_density(nz, grid) * grid, grid)

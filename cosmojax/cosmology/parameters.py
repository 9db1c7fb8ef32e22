"""The ``Cosmology`` parameter pytree and its presets."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct

from cosmojax._validate import check_finite, check_positive, is_concrete


@struct.dataclass
class Cosmology:
    """Cosmological parameters, a pytree whose every field may be traced.

    Attributes
    ----------
    Omega_c : cold dark matter density today, in units of the critical density.
    Omega_b : baryon density today.
    h : H0 / (100 km/s/Mpc).
    n_s : primordial scalar spectral index.
    sigma8 : rms linear density contrast in spheres of 8 Mpc/h today.
    w0, wa : dark-energy equation of state w(a) = w0 + wa (1 - a) (Chevallier-Polarski-Linder).
    Omega_k : curvature density today (> 0 open). Dark energy fills the rest:
        Omega_de = 1 - Omega_m - Omega_k.
    T_cmb : CMB temperature today, K (enters the Eisenstein-Hu transfer function).

    Radiation is neglected in the background, which is accurate to ~1e-4 for a < 1e-2 and
    better after. Build with keywords, change with ``cosmo.replace(sigma8=0.9)``.
    ``jax.grad`` with respect to a ``Cosmology`` returns a ``Cosmology`` of derivatives.
    """

    Omega_c: float
    Omega_b: float
    h: float
    n_s: float
    sigma8: float
    w0: float = -1.0
    wa: float = 0.0
    Omega_k: float = 0.0
    T_cmb: float = 2.7255

    @property
    def Omega_m(self):
        """Total matter density today, Omega_c + Omega_b."""
        return self.Omega_c + self.Omega_b

    @property
    def Omega_de(self):
        """Dark-energy density today, 1 - Omega_m - Omega_k."""
        return 1.0 - self.Omega_m - self.Omega_k


def planck2018() -> Cosmology:
    """Planck 2018 best fit (TT,TE,EE+lowE+lensing+BAO; Planck Collaboration 2020, A&A 641, A6,
    Table 2, last column), flat LambdaCDM, from the physical densities omega_c = 0.11933
    and omega_b = 0.02242. Massive neutrinos (0.06 eV, Omega_nu = 0.0014) are not modelled,
    so Omega_m = 0.3096 rather than Planck's 0.3111.
    Returns a ``Cosmology`` pytree of Python floats: jit, vmap (over stacked fields) and grad
    all accept it.
    """
    h = 0.6766
    return Cosmology(
        Omega_c=0.11933 / h**2,
        Omega_b=0.02242 / h**2,
        h=h,
        n_s=0.9665,
        sigma8=0.8102,
    )


def check_cosmology(cosmo) -> None:
    """Raise ``ValueError`` for unphysical concrete parameters; skip traced ones."""
    if not isinstance(cosmo, Cosmology):
        raise ValueError(f"cosmo must be a cosmojax.cosmology.Cosmology; got {type(cosmo).__name__}.")
    for name in ("Omega_c", "Omega_b", "h", "n_s", "sigma8", "w0", "wa", "Omega_k", "T_cmb"):
        check_finite(f"cosmo.{name}", getattr(cosmo, name))
    check_positive("cosmo.Omega_c", cosmo.Omega_c, strict=False)
    check_positive("cosmo.Omega_b", cosmo.Omega_b, strict=False)
    check_positive("cosmo.h", cosmo.h)
    check_positive("cosmo.sigma8", cosmo.sigma8)
    check_positive("cosmo.T_cmb", cosmo.T_cmb)
    if is_concrete((cosmo.Omega_c, cosmo.Omega_b)) and np.any(np.asarray(cosmo.Omega_m) <= 0):
        raise ValueError("cosmo.Omega_c + cosmo.Omega_b must be > 0.")


def check_scale_factor(name: str, a) -> None:
    """Raise unless every concrete scale factor is > 0.

    Host-side; traced values are skipped, so it is safe under jit, vmap and grad.
    """
    check_positive(name, a)


def as_float_array(x):
    """``x`` as a floating JAX array of the default float dtype (float64 under x64).

    jit, vmap and grad safe.
    """
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))

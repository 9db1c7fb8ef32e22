"""The ``Cosmology`` parameter pytree and its presets."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from cosmojax._pytree import pytree_dataclass
from cosmojax._validate import check_finite, check_real, is_concrete, nan_unless, positive_or_nan


@pytree_dataclass
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


_FIELDS = ("Omega_c", "Omega_b", "h", "n_s", "sigma8", "w0", "wa", "Omega_k", "T_cmb")

#: The background must expand, E^2(a) > 0, on this range of scale factors (the growth
#: tables span 1e-4 <= a <= 2): a closed universe that recollapses, or a bounce, inside it
#: has no distances or growth there.
A_EXPANDING = (1e-4, 2.0)
_A_GRID = np.geomspace(*A_EXPANDING, 97)

# (field, strict, range shown in messages); fields absent here need only be finite.
_POSITIVE = (
    ("Omega_c", False, ">= 0"),
    ("Omega_b", False, ">= 0"),
    ("h", True, "> 0"),
    ("sigma8", True, "> 0"),
    ("T_cmb", True, "> 0 (kelvin)"),
)


def _e2_on_grid(cosmo, xp):
    """E^2(a) on ``_A_GRID`` (leading axis), broadcast against the parameters' shape."""
    fields = [xp.asarray(getattr(cosmo, f)) for f in _FIELDS]
    ndim = max(f.ndim for f in fields)
    a = xp.asarray(_A_GRID).reshape((-1,) + (1,) * ndim)
    om = fields[0] + fields[1]
    w0, wa, ok = fields[5], fields[6], fields[7]
    de = xp.exp(-3.0 * (1.0 + w0 + wa) * xp.log(a) - 3.0 * wa * (1.0 - a))
    return om / a**3 + ok / a**2 + (1.0 - om - ok) * de


def _valid(cosmo, baryons: bool):
    """Traced boolean: every parameter in its range (see ``check_cosmology``)."""
    fields = {f: jnp.asarray(getattr(cosmo, f)) for f in _FIELDS}
    ok = jnp.all(jnp.stack(jnp.broadcast_arrays(*[jnp.isfinite(v) for v in fields.values()])), axis=0)
    for field, strict, _ in _POSITIVE:
        ok = ok & ((fields[field] > 0) if strict else (fields[field] >= 0))
    ok = ok & (fields["Omega_c"] + fields["Omega_b"] > 0)
    if baryons:
        ok = ok & (fields["Omega_b"] > 0) & (fields["Omega_c"] > 0)
    return ok


def check_cosmology(cosmo, *, baryons: bool = False):
    """Check a ``Cosmology`` and return it, NaN-poisoned where it is traced and invalid.

    Valid parameters: all finite and real; Omega_c >= 0, Omega_b >= 0, Omega_m > 0, h > 0,
    sigma8 > 0, T_cmb > 0; the background expands, E^2(a) > 0, for 1e-4 <= a <= 2
    (``A_EXPANDING``), which refuses e.g. Omega_k = 5 (recollapse at a = 1.1). With
    ``baryons=True`` (the Eisenstein-Hu transfer functions and everything built on them)
    also Omega_b > 0 and Omega_c > 0: the fitting formulae divide by both.

    Concrete parameters out of range raise ``ValueError`` naming the parameter and its
    range; complex ones raise ``TypeError``. Under jit/vmap/grad (traced parameters) nothing
    can raise: every field of the returned cosmology is NaN where a parameter is out of its
    range (per member of a batch), so all results and gradients computed from it are NaN,
    never plausible numbers. Callers must use the returned cosmology. The expansion
    condition is not tested here under tracing (it costs a grid of E(a)); instead the
    background functions return NaN wherever they meet E^2(a) <= 0 (see ``background``).
    """
    if not isinstance(cosmo, Cosmology):
        raise ValueError(f"cosmo must be a cosmojax.cosmology.Cosmology; got {type(cosmo).__name__}.")
    for name in _FIELDS:
        check_real(f"cosmo.{name}", getattr(cosmo, name))
        check_finite(f"cosmo.{name}", getattr(cosmo, name))
    for field, strict, need in _POSITIVE:
        value = getattr(cosmo, field)
        if is_concrete(value) and np.any(np.asarray(value) <= 0 if strict else np.asarray(value) < 0):
            raise ValueError(f"cosmo.{field} must be {need}; got {value!r}.")
    if is_concrete((cosmo.Omega_c, cosmo.Omega_b)):
        if np.any(np.asarray(cosmo.Omega_m) <= 0):
            raise ValueError("cosmo.Omega_c + cosmo.Omega_b must be > 0 (no matter, no structure).")
        if baryons:
            for field in ("Omega_b", "Omega_c"):
                if np.any(np.asarray(getattr(cosmo, field)) <= 0):
                    raise ValueError(
                        f"cosmo.{field} must be > 0 for the Eisenstein-Hu transfer function (its fit "
                        f"divides by it); got {getattr(cosmo, field)!r}. Use a small positive value, "
                        "or a PowerTable from a Boltzmann code."
                    )
    if is_concrete(cosmo):
        e2 = _e2_on_grid(cosmo, np)
        if np.any(~(e2 > 0)):
            a_bad = _A_GRID[np.argmax(np.any(~(e2 > 0), axis=tuple(range(1, e2.ndim))))]
            raise ValueError(
                f"cosmo.Omega_k, cosmo.w0, cosmo.wa: the universe must expand (E^2(a) > 0) for "
                f"{A_EXPANDING[0]} <= a <= {A_EXPANDING[1]}; these parameters give E^2 <= 0 near a = {a_bad:.3g} "
                f"(Omega_k = {cosmo.Omega_k!r}, Omega_de = {cosmo.Omega_de!r}). Reduce |Omega_k| or |Omega_de|."
            )
        return cosmo
    valid = _valid(cosmo, baryons)
    # 0 * (sum of all fields) ties every field to every other, so that the derivative with
    # respect to any parameter of an invalid cosmology is NaN (0 * NaN), not 0.
    tie = 0.0 * sum(jnp.asarray(getattr(cosmo, f)) for f in _FIELDS)
    return cosmo.replace(**{f: nan_unless(valid, getattr(cosmo, f)) + tie for f in _FIELDS})


def check_scale_factor(name: str, a):
    """Check scale factors ``a`` > 0 and return them, NaN where traced and invalid.

    Concrete values that are not finite or not > 0 raise ``ValueError``; complex ones
    ``TypeError``. Under jit/vmap/grad (traced ``a``) each entry that is <= 0 or not finite
    becomes NaN in the returned array, so results and gradients built from it are NaN.
    Callers must use the returned value.
    """
    return positive_or_nan(name, a)


def as_float_array(x):
    """``x`` as a floating JAX array of the default float dtype (float64 under x64).

    jit, vmap and grad safe.
    """
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))

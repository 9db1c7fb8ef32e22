"""Background expansion and distances for w0/wa dark energy with curvature.

.. math::

    E^2(a) = \\Omega_m a^{-3} + \\Omega_k a^{-2} + \\Omega_{de}\\, a^{-3(1+w_0+w_a)}
             e^{-3 w_a (1-a)}

Distances are in Mpc/h; the Hubble distance c/H0 is 2997.92458 Mpc/h.

Every public function checks its cosmology (``parameters.check_cosmology``: finite, real,
Omega_m > 0, h > 0, an expanding background E^2 > 0 for 1e-4 <= a <= 2, ...) and its scale
factors (finite, > 0), raising ``ValueError`` on concrete input. Under jit/vmap/grad the
checks cannot raise: an out-of-range traced parameter or scale factor makes the result
(and its gradient) NaN, entry by entry, instead of a plausible number; so does any
E^2(a) <= 0 met on the way (a recollapse or bounce), on every path.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import nan_unless
from cosmojax.cosmology.parameters import as_float_array, check_cosmology, check_scale_factor

#: c / (100 km/s/Mpc) in Mpc, i.e. the Hubble distance in Mpc/h.
HUBBLE_DISTANCE = 2997.92458

# Gauss-Legendre nodes for the line-of-sight integrals; the integrand is smooth in ln a.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(96)


def dark_energy_density(cosmo, a):
    """Dark-energy density relative to today, rho_de(a) / rho_de(1) (dimensionless).

    ``a``: scale factor > 0, any shape; returns its shape. jit, vmap and grad safe; under
    jit/vmap/grad an invalid traced cosmology or ``a`` gives NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    return _de_density(cosmo, a)


def dark_energy_w(cosmo, a):
    """Equation of state w(a) = w0 + wa (1 - a), shape of ``a`` (scale factor > 0).

    jit, vmap and grad safe; under jit/vmap/grad an invalid traced cosmology or ``a`` gives
    NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    return cosmo.w0 + cosmo.wa * (1.0 - a)


def _de_density(cosmo, a):
    w_sum = 1.0 + cosmo.w0 + cosmo.wa
    return jnp.exp(-3.0 * w_sum * jnp.log(a) - 3.0 * cosmo.wa * (1.0 - a))


def _e2(cosmo, a):
    """E^2(a), NaN where it is <= 0 (no expanding background there)."""
    e2 = cosmo.Omega_m / a**3 + cosmo.Omega_k / a**2 + cosmo.Omega_de * _de_density(cosmo, a)
    return nan_unless(e2 > 0, e2)


def hubble(cosmo, a):
    """Dimensionless Hubble rate E(a) = H(a) / H0.

    Parameters
    ----------
    cosmo : Cosmology
    a : array, any shape, scale factor > 0

    Returns
    -------
    array, shape of ``a``. jit, vmap and grad safe (in ``cosmo`` and ``a``); under
    jit/vmap/grad an invalid traced cosmology or ``a`` gives NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    return jnp.sqrt(_e2(cosmo, a))


def dlnhubble_dlna(cosmo, a):
    """Logarithmic derivative d ln E / d ln a (dimensionless), shape of ``a``.

    jit, vmap and grad safe; under jit/vmap/grad an invalid traced cosmology or ``a`` gives
    NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    w = cosmo.w0 + cosmo.wa * (1.0 - a)
    de = cosmo.Omega_de * _de_density(cosmo, a) * (-3.0 * (1.0 + w))
    de2_dlna = -3.0 * cosmo.Omega_m / a**3 - 2.0 * cosmo.Omega_k / a**2 + de
    return 0.5 * de2_dlna / _e2(cosmo, a)


def omega_m_a(cosmo, a):
    """Matter density parameter at ``a``: Omega_m a^-3 / E^2(a), dimensionless.

    ``a``: scale factor > 0, any shape; returns its shape. Raises ``ValueError`` for an
    invalid concrete cosmology or ``a``. jit, vmap and grad safe; under jit/vmap/grad an
    invalid traced cosmology or ``a`` gives NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    return cosmo.Omega_m / a**3 / _e2(cosmo, a)


def comoving_distance(cosmo, a):
    """Line-of-sight comoving distance to scale factor ``a``, Mpc/h.

    .. math:: \\chi(a) = \\frac{c}{H_0} \\int_a^1 \\frac{da'}{a'^2 E(a')}

    evaluated by 96-point Gauss-Legendre quadrature in ln a (relative error < 1e-10 in
    float64 for 1e-3 <= a <= 1).

    Parameters
    ----------
    cosmo : Cosmology
    a : array, any shape, 0 < a (a > 1 gives negative distances)

    Returns
    -------
    array, shape of ``a``, Mpc/h. jit, vmap and grad safe; under jit/vmap/grad an invalid
    traced cosmology or ``a`` gives NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    a = as_float_array(check_scale_factor("a", a))
    lna = jnp.log(a)[..., None]
    t = jnp.asarray(_GL_NODES, dtype=a.dtype)
    w = jnp.asarray(_GL_WEIGHTS, dtype=a.dtype)
    u = 0.5 * lna * (1.0 - t)  # from ln a (t = -1) to 0 (t = 1)
    ap = jnp.exp(u)
    integrand = 1.0 / (ap * jnp.sqrt(_e2(cosmo, ap)))
    return HUBBLE_DISTANCE * (-0.5 * lna[..., 0]) * jnp.sum(w * integrand, axis=-1)


def _sinn_ratio(x):
    """S(x) = sinh(sqrt x)/sqrt x for x > 0, sin(sqrt -x)/sqrt -x for x < 0, smooth at 0."""
    small = jnp.abs(x) < 1e-4
    xp = jnp.where(x > 1e-4, x, 1.0)
    xn = jnp.where(x < -1e-4, -x, 1.0)
    pos = jnp.sinh(jnp.sqrt(xp)) / jnp.sqrt(xp)
    neg = jnp.sin(jnp.sqrt(xn)) / jnp.sqrt(xn)
    series = 1.0 + x / 6.0 + x * x / 120.0
    return jnp.where(small, series, jnp.where(x > 0, pos, neg))


def transverse_comoving_distance(cosmo, a):
    """Transverse comoving distance f_K(chi), Mpc/h; equals ``comoving_distance`` when flat.

    Shape of ``a``. jit, vmap and grad safe (including through Omega_k = 0); under
    jit/vmap/grad an invalid traced cosmology or ``a`` gives NaN (module docstring).
    """
    cosmo = check_cosmology(cosmo)
    return transverse_from_comoving(cosmo, comoving_distance(cosmo, a))


def transverse_from_comoving(cosmo, chi):
    """f_K(chi): the transverse comoving distance of a comoving separation ``chi``, Mpc/h.

    .. math:: f_K(\\chi) = \\chi\\, \\frac{\\sinh(\\sqrt{\\Omega_k}\\, \\chi / D_H)}{\\sqrt{\\Omega_k}\\, \\chi / D_H}

    (sin for Omega_k < 0, chi itself when flat), with D_H = c/H0. Use it for distances
    between two points on one line of sight, e.g. f_K(chi_s - chi) in lensing kernels.
    ``chi``: any shape, Mpc/h; returns its shape. jit, vmap and grad safe (including
    through Omega_k = 0); ``chi`` is not checked.
    """
    cosmo = check_cosmology(cosmo)
    chi = as_float_array(chi)
    x = cosmo.Omega_k * (chi / HUBBLE_DISTANCE) ** 2
    return chi * _sinn_ratio(x)


def angular_diameter_distance(cosmo, a):
    """Angular diameter distance a f_K(chi), Mpc/h, shape of ``a``.

    jit, vmap and grad safe; under jit/vmap/grad an invalid traced cosmology or ``a`` gives
    NaN (module docstring).
    """
    a = as_float_array(check_scale_factor("a", a))
    return a * transverse_comoving_distance(cosmo, a)


def luminosity_distance(cosmo, a):
    """Luminosity distance f_K(chi) / a, Mpc/h, shape of ``a``.

    jit, vmap and grad safe; under jit/vmap/grad an invalid traced cosmology or ``a`` gives
    NaN (module docstring).
    """
    a = as_float_array(check_scale_factor("a", a))
    return transverse_comoving_distance(cosmo, a) / a

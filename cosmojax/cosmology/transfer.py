"""Eisenstein & Hu (1998, ApJ 496, 605) matter transfer functions.

``eisenstein_hu`` is the full fitting formula with baryon acoustic oscillations (their
eqs. 2-24); ``eisenstein_hu_nowiggle`` is the zero-baryon form with the baryon-suppressed
shape parameter (their eqs. 26, 28-31). Wavenumbers are in h/Mpc on input; the formulae
work internally in 1/Mpc. Both are jit, vmap and grad safe in the cosmology and in k > 0.

The fits divide by the baryon and cold dark matter densities, so besides the general
cosmology checks they need Omega_b > 0 and Omega_c > 0 (``check_cosmology(baryons=True)``).
Concrete bad input raises ``ValueError``; under jit/vmap/grad a traced cosmology out of
range, or a traced k <= 0 or not finite, gives NaN values and gradients instead.
"""

from __future__ import annotations

import jax.numpy as jnp

from cosmojax._validate import positive_or_nan
from cosmojax.cosmology.parameters import as_float_array, check_cosmology


def _densities(cosmo):
    theta = cosmo.T_cmb / 2.7
    om = cosmo.Omega_m * cosmo.h**2
    ob = cosmo.Omega_b * cosmo.h**2
    return theta, om, ob, cosmo.Omega_b / cosmo.Omega_m


def _t0_tilde(q, alpha, beta):
    """EH98 eqs. 19-20: the pressureless transfer shape."""
    log_term = jnp.log(jnp.e + 1.8 * beta * q)
    c = 14.2 / alpha + 386.0 / (1.0 + 69.9 * q**1.08)
    return log_term / (log_term + c * q * q)


def sound_horizon(cosmo):
    """Sound horizon at the drag epoch from EH98 eq. 6, in Mpc/h.

    Returns a scalar (or the shape of a batched cosmology's fields). Needs Omega_b > 0 and
    Omega_c > 0 besides the general checks; raises ``ValueError`` otherwise. jit, vmap and
    grad safe; under jit/vmap/grad a traced cosmology out of range gives NaN.
    """
    cosmo = check_cosmology(cosmo, baryons=True)
    return _scales(cosmo)["s"] * cosmo.h


def _scales(cosmo):
    theta, om, ob, _ = _densities(cosmo)
    z_eq = 2.50e4 * om * theta**-4
    k_eq = 7.46e-2 * om * theta**-2  # 1/Mpc
    b1 = 0.313 * om**-0.419 * (1.0 + 0.607 * om**0.674)
    b2 = 0.238 * om**0.223
    z_d = 1291.0 * om**0.251 / (1.0 + 0.659 * om**0.828) * (1.0 + b1 * ob**b2)
    r_d = 31.5 * ob * theta**-4 * (1.0e3 / z_d)
    r_eq = 31.5 * ob * theta**-4 * (1.0e3 / z_eq)
    s = (
        2.0 / (3.0 * k_eq) * jnp.sqrt(6.0 / r_eq)
        * jnp.log((jnp.sqrt(1.0 + r_d) + jnp.sqrt(r_d + r_eq)) / (1.0 + jnp.sqrt(r_eq)))
    )
    k_silk = 1.6 * ob**0.52 * om**0.73 * (1.0 + (10.4 * om) ** -0.95)
    return dict(z_eq=z_eq, k_eq=k_eq, z_d=z_d, r_d=r_d, s=s, k_silk=k_silk)


def eisenstein_hu(cosmo, k):
    """Full Eisenstein-Hu transfer function T(k) with baryon wiggles (EH98 eqs. 2-24).

    Parameters
    ----------
    cosmo : Cosmology
    k : array, any shape, h/Mpc, > 0

    Returns
    -------
    array, shape of ``k``, dimensionless, T -> 1 as k -> 0. Needs Omega_b > 0 and
    Omega_c > 0; raises ``ValueError`` for a bad concrete cosmology or k. jit, vmap and grad
    safe; under jit/vmap/grad a traced cosmology out of range or k <= 0 gives NaN.
    """
    cosmo = check_cosmology(cosmo, baryons=True)
    return _eisenstein_hu(cosmo, as_float_array(positive_or_nan("k", k)))


def _eisenstein_hu(cosmo, k):
    theta, om, ob, fb = _densities(cosmo)
    fc = cosmo.Omega_c / cosmo.Omega_m
    sc = _scales(cosmo)
    s, k_eq, k_silk = sc["s"], sc["k_eq"], sc["k_silk"]
    kk = k * cosmo.h  # 1/Mpc
    q = kk / (13.41 * k_eq)
    ks = kk * s

    # Cold dark matter (eqs. 9-12, 17-18)
    a1 = (46.9 * om) ** 0.670 * (1.0 + (32.1 * om) ** -0.532)
    a2 = (12.0 * om) ** 0.424 * (1.0 + (45.0 * om) ** -0.582)
    alpha_c = a1 ** (-fb) * a2 ** (-(fb**3))
    bb1 = 0.944 / (1.0 + (458.0 * om) ** -0.708)
    bb2 = (0.395 * om) ** -0.0266
    beta_c = 1.0 / (1.0 + bb1 * (fc**bb2 - 1.0))
    f = 1.0 / (1.0 + (ks / 5.4) ** 4)
    t_c = f * _t0_tilde(q, 1.0, beta_c) + (1.0 - f) * _t0_tilde(q, alpha_c, beta_c)

    # Baryons (eqs. 13-15, 21-24)
    y = (1.0 + sc["z_eq"]) / (1.0 + sc["z_d"])
    sq = jnp.sqrt(1.0 + y)
    g = y * (-6.0 * sq + (2.0 + 3.0 * y) * jnp.log((sq + 1.0) / (sq - 1.0)))
    alpha_b = 2.07 * k_eq * s * (1.0 + sc["r_d"]) ** -0.75 * g
    beta_b = 0.5 + fb + (3.0 - 2.0 * fb) * jnp.sqrt((17.2 * om) ** 2 + 1.0)
    beta_node = 8.41 * om**0.435
    s_tilde = s / (1.0 + (beta_node / ks) ** 3) ** (1.0 / 3.0)
    x = kk * s_tilde
    j0 = jnp.sinc(x / jnp.pi)
    t_b = (
        _t0_tilde(q, 1.0, 1.0) / (1.0 + (ks / 5.2) ** 2)
        + alpha_b / (1.0 + (beta_b / ks) ** 3) * jnp.exp(-((kk / k_silk) ** 1.4))
    ) * j0
    return fb * t_b + fc * t_c


def eisenstein_hu_nowiggle(cosmo, k):
    """Eisenstein-Hu zero-baryon transfer function with the baryon shape suppression
    (EH98 eqs. 26, 28-31): the smooth, no-wiggle spectrum.

    Parameters
    ----------
    cosmo : Cosmology
    k : array, any shape, h/Mpc, > 0

    Returns
    -------
    array, shape of ``k``, dimensionless. Needs Omega_b > 0 and Omega_c > 0; raises
    ``ValueError`` for a bad concrete cosmology or k. jit, vmap and grad safe; under
    jit/vmap/grad a traced cosmology out of range or k <= 0 gives NaN.
    """
    cosmo = check_cosmology(cosmo, baryons=True)
    return _eisenstein_hu_nowiggle(cosmo, as_float_array(positive_or_nan("k", k)))


def _eisenstein_hu_nowiggle(cosmo, k):
    theta, om, ob, fb = _densities(cosmo)
    s = 44.5 * jnp.log(9.83 / om) / jnp.sqrt(1.0 + 10.0 * ob**0.75)  # Mpc, eq. 26
    alpha_gamma = 1.0 - 0.328 * jnp.log(431.0 * om) * fb + 0.38 * jnp.log(22.3 * om) * fb**2
    kk = k * cosmo.h
    gamma_eff = cosmo.Omega_m * cosmo.h * (alpha_gamma + (1.0 - alpha_gamma) / (1.0 + (0.43 * kk * s) ** 4))
    q = k * theta**2 / gamma_eff
    l0 = jnp.log(2.0 * jnp.e + 1.8 * q)
    c0 = 14.2 + 731.0 / (1.0 + 62.5 * q)
    return l0 / (l0 + c0 * q * q)

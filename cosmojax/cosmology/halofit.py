"""Halofit nonlinear matter power spectrum (Takahashi et al. 2012).

The nonlinear dimensionless power is the sum of a quasi-linear and a one-halo term
(Smith et al. 2003, with the revised coefficients of Takahashi et al. 2012, ApJ 761, 152,
eqs. A1-A13; no massive neutrinos, so the Bird et al. 2012 terms vanish):

.. math::

    \\Delta^2_{NL} = \\Delta^2_L \\frac{(1 + \\Delta^2_L)^{\\beta_n}}{1 + \\alpha_n \\Delta^2_L}
        e^{-y/4 - y^2/8}
      + \\frac{a_n y^{3 f_1}}{1 + b_n y^{f_2} + (c_n f_3 y)^{3 - \\gamma_n}}
        \\frac{1}{1 + \\nu_n / y^2},

with Delta^2 = k^3 P / (2 pi^2), y = k / k_sigma. The nonlinear scale k_sigma = 1 / R_sigma
solves sigma^2(R_sigma) = 1 for the Gaussian-filtered linear variance
sigma^2(R) = int dln k Delta^2_L(k) exp(-k^2 R^2); the effective index n and curvature C are
its first two logarithmic derivatives there,

.. math::

    n_{eff} = -3 - \\frac{d \\ln \\sigma^2}{d \\ln R}, \\qquad
    C = -\\frac{d^2 \\ln \\sigma^2}{d \\ln R^2}.

The coefficients depend on Omega_m(a), Omega_de(a) and w(a) = w0 + wa (1 - a) at the
output time (for wa != 0 this is the instantaneous w, not the w0-matched cosmology that
CCL uses). sigma^2 and its derivatives are trapezoid sums over a fixed log-spaced k grid;
R_sigma comes from a fixed number of bisection steps in ln R (no gradient flows through
them) followed by one Newton step, whose gradient is that of the implicit function
sigma^2(R_sigma; params) = 1, so the result is differentiable in the cosmology and in the
linear power.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology.background import dark_energy_density, hubble, omega_m_a
from cosmojax.cosmology.parameters import check_cosmology, check_scale_factor
from cosmojax.cosmology.power import linear_power

__all__ = ["halofit_power", "halofit_parameters", "halofit_from_parameters"]

#: ln k grid of the sigma(R) integrals, h/Mpc: 1e-5 to 1e4, 2048 points.
_LNK = np.linspace(np.log(1e-5), np.log(1e4), 2048)
#: bracket of the nonlinear scale R_sigma, Mpc/h, and the number of bisection steps.
_LNR_BRACKET = (np.log(1e-4), np.log(1e3))
_BISECTIONS = 48


def _moments(lnr, delta2):
    """sigma^2(R) and the two Gaussian-filter moments I1 = int D2 y^2 e^-y^2 and
    I2 = int D2 y^4 e^-y^2 (dln k), y = k R, on the ``_LNK`` grid."""
    y2 = jnp.exp(2.0 * (jnp.asarray(_LNK) + lnr))
    w = delta2 * jnp.exp(-y2)
    dlnk = float(_LNK[1] - _LNK[0])

    def trapezoid(f):
        return dlnk * (jnp.sum(f) - 0.5 * (f[0] + f[-1]))

    return trapezoid(w), trapezoid(w * y2), trapezoid(w * y2 * y2)


def _nonlinear_scale(delta2):
    """ln R_sigma with sigma^2(R_sigma) = 1: bisection in ln R, then one Newton step."""
    lo, hi = (jnp.asarray(v, delta2.dtype) for v in _LNR_BRACKET)
    frozen = jax.lax.stop_gradient(delta2)

    def bisect(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        above = _moments(mid, frozen)[0] > 1.0  # sigma^2 falls with R: the root is above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _BISECTIONS, bisect, (lo, hi))
    lnr0 = jax.lax.stop_gradient(0.5 * (lo + hi))
    s2, i1, _ = _moments(lnr0, delta2)
    # d ln sigma^2 / d ln R = -2 I1 / sigma^2; Newton on ln sigma^2 = 0 carries the
    # implicit-function gradient of R_sigma
    return lnr0 + jnp.log(s2) * s2 / (2.0 * i1)


def halofit_parameters(cosmo, a=1.0, linear: Optional[Callable] = None, transfer="eisenstein_hu"):
    """Nonlinear wavenumber, effective index and curvature of halofit at one time.

    Parameters
    ----------
    cosmo : Cosmology
    a : float, scale factor > 0 (a scalar)
    linear : callable k -> P_lin(k, a) in (Mpc/h)^3 for k in h/Mpc (any shape), or None for
        ``linear_power(cosmo, k, a, transfer)``. It is evaluated on k from 1e-5 to 1e4 h/Mpc.
    transfer : used only when ``linear`` is None (see ``linear_power``)

    Returns
    -------
    (k_sigma h/Mpc, n_eff, C): three scalars. jit, vmap and grad safe (in ``cosmo``, ``a`` and
    whatever ``linear`` closes over). Raises ``ValueError`` when the linear variance never
    reaches 1 between R = 1e-4 and 1e3 Mpc/h (a concrete ``a`` far too early).
    """
    delta2 = _delta2_on_grid(cosmo, a, linear, transfer)
    lnr = _nonlinear_scale(delta2)
    s2, i1, i2 = _moments(lnr, delta2)
    n_eff = -3.0 + 2.0 * i1 / s2
    c = (3.0 + n_eff) ** 2 + 4.0 * (i1 - i2) / s2
    return jnp.exp(-lnr), n_eff, c


def _delta2_on_grid(cosmo, a, linear, transfer):
    k = jnp.exp(jnp.asarray(_LNK, dtype=jnp.result_type(float)))
    if linear is None:
        p = linear_power(cosmo, k, a, transfer)
    elif callable(linear):
        p = jnp.asarray(linear(k))
        if p.shape != k.shape:
            raise ValueError(f"linear must map k of shape {k.shape} to P of the same shape; got {p.shape}.")
    else:
        raise TypeError(f"linear must be a callable k -> P_lin(k) or None; got {type(linear).__name__}.")
    delta2 = k**3 * p / (2.0 * np.pi**2)
    if not isinstance(delta2, jax.core.Tracer):
        s2_small = float(_moments(_LNR_BRACKET[0], delta2)[0])
        s2_large = float(_moments(_LNR_BRACKET[1], delta2)[0])
        if not (np.isfinite(s2_small) and s2_small > 1.0 > s2_large):
            raise ValueError(
                "the linear power never reaches sigma^2(R) = 1 for R in [1e-4, 1e3] Mpc/h "
                f"(sigma^2 = {s2_small:.3g} at 1e-4, {s2_large:.3g} at 1e3): halofit needs a later "
                "scale factor a or a linear power with nonlinear scales."
            )
    return delta2


def halofit_power(cosmo, k, a=1.0, linear: Optional[Callable] = None, transfer="eisenstein_hu"):
    """Halofit nonlinear matter power spectrum P_NL(k, a) (Takahashi et al. 2012).

    Parameters
    ----------
    cosmo : Cosmology (massless neutrinos; w0, wa, Omega_k used at ``a``)
    k : array, any shape, h/Mpc, > 0
    a : float, scale factor > 0 (a scalar: one output time per call; vmap over ``a``)
    linear : callable k -> P_lin(k, a) in (Mpc/h)^3 for k in h/Mpc (any shape), or None for
        ``linear_power(cosmo, k, a, transfer)``; e.g. a tabulated CAMB spectrum
    transfer : used only when ``linear`` is None (see ``linear_power``)

    Returns
    -------
    array, shape of ``k``, (Mpc/h)^3. jit, vmap and grad safe (in ``cosmo``, ``k``, ``a`` and
    whatever ``linear`` closes over). Agrees with CCL's halofit to about 1e-3 for the same
    linear input (tests/cosmology/test_halofit.py).

    Raises ``ValueError`` for a bad concrete cosmology, k <= 0, a non-scalar ``a``, or a
    linear power that never becomes nonlinear (see ``halofit_parameters``); ``TypeError``
    for a ``linear`` that is not callable.
    """
    cosmo = check_cosmology(cosmo, baryons=linear is None)
    if np.ndim(a) != 0:
        raise ValueError(f"a must be a scalar scale factor; got shape {np.shape(a)}. vmap over a instead.")
    a = check_scale_factor("a", a)
    if not isinstance(k, jax.core.Tracer):
        k_np = np.asarray(k)
        if np.iscomplexobj(k_np):
            raise TypeError("k must be real (h/Mpc); got a complex array.")
        if not np.all(np.isfinite(k_np)) or np.any(k_np <= 0):
            raise ValueError("k must be finite and > 0 (h/Mpc).")
    k = jnp.asarray(k, dtype=jnp.result_type(float))
    k_sigma, n, c = halofit_parameters(cosmo, a, linear, transfer)
    p_lin = linear_power(cosmo, k, a, transfer) if linear is None else jnp.asarray(linear(k))
    return halofit_from_parameters(cosmo, k, a, p_lin, k_sigma, n, c)


def halofit_from_parameters(cosmo, k, a, p_lin, k_sigma, n_eff, curvature):
    """Halofit's P_NL from the linear power and the halofit parameters, at any (k, a).

    The formula of ``halofit_power`` with its three parameters given instead of solved
    for: use it to evaluate many times from parameters tabulated once (e.g. interpolated
    in a, as the projected spectra do), or with parameters from another linear power.

    Parameters
    ----------
    cosmo : Cosmology (Omega_m(a), Omega_de(a) and w(a) enter the coefficients)
    k : array, h/Mpc, > 0
    a : array broadcastable with ``k``, scale factor > 0
    p_lin : array broadcastable with ``k``, the linear P(k, a), (Mpc/h)^3
    k_sigma, n_eff, curvature : arrays broadcastable with ``k``, the nonlinear wavenumber
        (h/Mpc), effective index and curvature at ``a`` (``halofit_parameters``)

    Returns
    -------
    array, the broadcast shape, (Mpc/h)^3. jit, vmap and grad safe in every argument. The
    inputs are not checked here (``halofit_power`` checks its own): pass valid values.
    """
    n, c = n_eff, curvature
    a = jnp.asarray(a, dtype=jnp.result_type(k))
    om = omega_m_a(cosmo, a)
    ode = cosmo.Omega_de * dark_energy_density(cosmo, a) / hubble(cosmo, a) ** 2
    w = cosmo.w0 + cosmo.wa * (1.0 - a)
    n2, n3, n4 = n**2, n**3, n**4
    an = 10.0 ** (1.5222 + 2.8553 * n + 2.3706 * n2 + 0.9903 * n3 + 0.2250 * n4 - 0.6038 * c
                  + 0.1749 * ode * (1.0 + w))
    bn = 10.0 ** (-0.5642 + 0.5864 * n + 0.5716 * n2 - 1.5474 * c + 0.2279 * ode * (1.0 + w))
    cn = 10.0 ** (0.3698 + 2.0404 * n + 0.8161 * n2 + 0.5869 * c)
    gamma = 0.1971 - 0.0843 * n + 0.8460 * c
    alpha = jnp.abs(6.0835 + 1.3373 * n - 0.1959 * n2 - 5.5274 * c)
    beta = 2.0379 - 0.7354 * n + 0.3157 * n2 + 1.2490 * n3 + 0.3980 * n4 - 0.1682 * c
    nu = 10.0 ** (5.2105 + 3.6902 * n)
    # Smith et al. 2003 eq. C17-C18: interpolate between open (a) and flat (b) fits
    not_eds = jnp.abs(1.0 - om) > 1e-6
    frac = jnp.where(not_eds, ode / jnp.where(not_eds, 1.0 - om, 1.0), 1.0)
    f1 = frac * om**-0.0307 + (1.0 - frac) * om**-0.0732
    f2 = frac * om**-0.0585 + (1.0 - frac) * om**-0.1423
    f3 = frac * om**0.0743 + (1.0 - frac) * om**0.0725
    y = k / k_sigma
    d2l = k**3 * p_lin / (2.0 * np.pi**2)
    d2q = d2l * (1.0 + d2l) ** beta / (1.0 + alpha * d2l) * jnp.exp(-(y / 4.0 + y**2 / 8.0))
    d2h = an * y ** (3.0 * f1) / (1.0 + bn * y**f2 + (cn * f3 * y) ** (3.0 - gamma)) / (1.0 + nu / y**2)
    return (d2q + d2h) * 2.0 * np.pi**2 / k**3

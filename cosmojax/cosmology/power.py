"""Linear matter power spectrum, normalised to sigma8.

.. math::

    P(k, a) = A\\, k^{n_s} T^2(k) D^2(a), \\qquad
    \\sigma^2(R) = \\int \\frac{dk\\, k^2}{2\\pi^2} P(k)\\, W^2(kR),\\quad
    W(x) = \\frac{3(\\sin x - x\\cos x)}{x^3},

with A fixed by sigma(8 Mpc/h, a=1) = sigma8 (real-space top hat). k in h/Mpc, P in (Mpc/h)^3.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._interp import interp_loglog
from cosmojax._validate import check_edges, check_positive, positive_or_nan
from cosmojax.cosmology.growth import growth_factor
from cosmojax.cosmology.parameters import as_float_array, check_cosmology, check_scale_factor
from cosmojax.cosmology.transfer import _eisenstein_hu, _eisenstein_hu_nowiggle

# Integration grid for sigma(R): uniform in ln k, where the trapezoid rule is spectrally
# accurate for integrands that vanish at both ends.
_LNK = np.linspace(np.log(1e-5), np.log(1e3), 2048)


class PowerTable(NamedTuple):
    """A tabulated power spectrum shape, e.g. from CAMB, used as ``transfer=PowerTable(k, p)``.

    k : (M,) increasing array, h/Mpc, > 0
    power : (M,) array, (Mpc/h)^3, > 0; only its shape matters, the amplitude is set by sigma8.
    Read by linear interpolation in log-log, extended as power laws beyond the ends.
    """

    k: jax.Array
    power: jax.Array


TRANSFERS = ("eisenstein_hu", "eisenstein_hu_nowiggle")


def _check_table(table: PowerTable) -> None:
    k = check_edges("transfer.k", table.k, min_value=0.0)
    check_positive("transfer.k", k)  # the table is read in log-log
    if np.shape(table.power) != k.shape:
        raise ValueError(f"transfer.power must have the shape of transfer.k {k.shape}; got {np.shape(table.power)}.")
    check_positive("transfer.power", table.power)


def _shape(cosmo, k, transfer):
    """Unnormalised P(k) at a = 1."""
    if isinstance(transfer, PowerTable):
        return interp_loglog(k, jnp.asarray(transfer.k), jnp.asarray(transfer.power))
    fn = _eisenstein_hu if transfer == "eisenstein_hu" else _eisenstein_hu_nowiggle
    return k**cosmo.n_s * fn(cosmo, k) ** 2


def _check_transfer(transfer) -> None:
    if isinstance(transfer, PowerTable):
        _check_table(transfer)
    elif transfer not in TRANSFERS:
        raise ValueError(f"transfer must be one of {list(TRANSFERS)} or a PowerTable; got {transfer!r}.")


def tophat_window(x):
    """Fourier transform of a real-space spherical top hat, 3(sin x - x cos x)/x^3.

    Series-expanded below x = 0.1 so it is accurate in float32 and smooth at 0.
    ``x``: any shape, dimensionless; returns its shape. jit, vmap and grad safe.
    """
    small = x < 0.1
    xs = jnp.where(small, 1.0, x)
    exact = 3.0 * (jnp.sin(xs) - xs * jnp.cos(xs)) / xs**3
    x2 = x * x
    return jnp.where(small, 1.0 - x2 / 10.0 + x2 * x2 / 280.0, exact)


def _sigma2_of_samples(lnk, k, pk, r):
    """sigma^2(r) of a power sampled at ``k`` on the uniform ``lnk`` grid (trapezoid in ln k)."""
    w = tophat_window(k * r[..., None])
    integrand = k**3 * pk * w**2 / (2.0 * jnp.pi**2)
    return jnp.trapezoid(integrand, lnk, axis=-1)


def _sigma2_unnormalised(cosmo, r, transfer):
    dtype = jnp.result_type(float)
    lnk = jnp.asarray(_LNK, dtype=dtype)
    k = jnp.exp(lnk)
    return _sigma2_of_samples(lnk, k, _shape(cosmo, k, transfer), jnp.asarray(r, dtype=dtype))


@functools.partial(jax.jit, static_argnames="name")
def _amplitude_compiled(cosmo, name, table):
    return cosmo.sigma8**2 / _sigma2_unnormalised(cosmo, 8.0, name if table is None else table)


def _amplitude(cosmo, transfer):
    """A of P = A k^n_s T^2 (or A P_table) so that sigma(8 Mpc/h) = sigma8; compiled once."""
    if isinstance(transfer, PowerTable):
        return _amplitude_compiled(cosmo, None, PowerTable(jnp.asarray(transfer.k), jnp.asarray(transfer.power)))
    return _amplitude_compiled(cosmo, transfer, None)


def linear_power(cosmo, k, a=1.0, transfer="eisenstein_hu"):
    """Linear matter power spectrum P(k, a), normalised to ``cosmo.sigma8`` at a = 1.

    Parameters
    ----------
    cosmo : Cosmology
    k : array, any shape, h/Mpc, > 0
    a : float or array broadcastable with ``k``, scale factor > 0
    transfer : "eisenstein_hu" (with baryon wiggles), "eisenstein_hu_nowiggle", or a
        ``PowerTable`` (tabulated shape, e.g. from CAMB, renormalised to sigma8)

    Returns
    -------
    array, broadcast shape of ``k`` and ``a``, (Mpc/h)^3.
    jit, vmap and grad safe with respect to ``cosmo``, ``k``, ``a`` and a table's power.

    Raises ``ValueError`` for a bad concrete cosmology (the Eisenstein-Hu transfers also need
    Omega_b > 0 and Omega_c > 0), k or a, ``TypeError`` for complex input. Under
    jit/vmap/grad a traced cosmology out of range, k <= 0 or a <= 0 (or NaN) gives NaN
    values and gradients in the entries concerned, never a plausible number.
    """
    _check_transfer(transfer)
    cosmo = check_cosmology(cosmo, baryons=not isinstance(transfer, PowerTable))
    a = check_scale_factor("a", a)
    k = as_float_array(positive_or_nan("k", k))
    shape = _amplitude(cosmo, transfer) * _shape(cosmo, k, transfer)
    if isinstance(a, (int, float)) and a == 1.0:
        return shape  # D(1) = 1 by definition: no growth ODE to solve
    return shape * growth_factor(cosmo, a) ** 2


def sigma_r(cosmo, r, a=1.0, transfer="eisenstein_hu"):
    """rms linear density contrast in real-space top-hat spheres of radius ``r``.

    Parameters
    ----------
    cosmo : Cosmology
    r : array, any shape, Mpc/h, > 0 (accurate for 0.01 <= r <= 1000)
    a : float, scale factor > 0
    transfer : as in ``linear_power``

    Returns
    -------
    array, shape of ``r``, dimensionless; ``sigma_r(cosmo, 8.0) == cosmo.sigma8``.
    jit, vmap and grad safe. Checks as ``linear_power`` (``r`` in place of ``k``): under
    jit/vmap/grad a traced cosmology out of range, r <= 0 or a <= 0 gives NaN.
    """
    _check_transfer(transfer)
    cosmo = check_cosmology(cosmo, baryons=not isinstance(transfer, PowerTable))
    r = as_float_array(positive_or_nan("r", r))
    a = check_scale_factor("a", a)
    sigma2 = _amplitude(cosmo, transfer) * _sigma2_unnormalised(cosmo, r, transfer)
    return jnp.sqrt(sigma2) * growth_factor(cosmo, a)


def linear_power_table(cosmo, transfer="eisenstein_hu") -> PowerTable:
    """The linear P(k, a = 1) on the fixed grid of the sigma(R) integrals, from one
    evaluation of the transfer function.

    The grid is 2048 points uniform in ln k from 1e-5 to 1e3 h/Mpc; the amplitude is
    normalised to ``cosmo.sigma8`` with the same samples, so the table equals
    ``linear_power(cosmo, k, 1.0, transfer)`` at its nodes. Programs that read the linear
    power at many (k, a) (the projected spectra) interpolate it instead of evaluating,
    and compiling, the transfer function again.

    Returns ``PowerTable(k (2048,) h/Mpc, power (2048,) (Mpc/h)^3)``. jit, vmap and grad
    safe in ``cosmo`` (and a table transfer's power). Checks as ``linear_power``.
    """
    _check_transfer(transfer)
    cosmo = check_cosmology(cosmo, baryons=not isinstance(transfer, PowerTable))
    dtype = jnp.result_type(float)
    lnk = jnp.asarray(_LNK, dtype=dtype)
    k = jnp.exp(lnk)
    shape = _shape(cosmo, k, transfer)
    sigma2 = _sigma2_of_samples(lnk, k, shape, jnp.asarray(8.0, dtype=dtype))
    return PowerTable(k, cosmo.sigma8**2 / sigma2 * shape)

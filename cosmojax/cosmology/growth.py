"""Linear growth of structure from the growth ODE, first and second order.

With primes denoting d/d ln a,

.. math::

    D_1'' + \\left(2 + \\frac{d\\ln E}{d\\ln a}\\right) D_1' - \\frac{3}{2}\\Omega_m(a) D_1 = 0,

    D_2'' + \\left(2 + \\frac{d\\ln E}{d\\ln a}\\right) D_2' - \\frac{3}{2}\\Omega_m(a) D_2
        = -\\frac{3}{2}\\Omega_m(a) D_1^2,

valid for w0/wa dark energy and curvature (e.g. Linder & Jenkins 2003; Bouchet et al. 1995
for the second order). The ODE is integrated by RK4 on a uniform ln a grid from a = 1e-4
(growing mode, D1 = a, D2 = -3/7 D1^2) to a = 2 and read by cubic Hermite interpolation,
so values agree with the integral solution of LambdaCDM to ~1e-7. ``D1(1) = 1`` and ``D2``
shares its normalisation squared, so ``D2 -> -3/7 D1^2`` at early times.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._interp import hermite_uniform
from cosmojax.cosmology.background import dlnhubble_dlna, omega_m_a
from cosmojax.cosmology.parameters import as_float_array, check_cosmology, check_scale_factor
from cosmojax.cosmology.primed import LinearTheory, cosmology_of

A_MIN = 1e-4
A_MAX = 2.0
_STEPS_TO_TODAY = 448
_DLNA = -np.log(A_MIN) / _STEPS_TO_TODAY
_N_NODES = _STEPS_TO_TODAY + int(np.ceil(np.log(A_MAX) / _DLNA)) + 1
_LNA0 = np.log(A_MIN)


class GrowthTable(NamedTuple):
    """Growth factors on the uniform grid ln a = ln(1e-4) + i * dlna, i < n_nodes.

    Each field is an (n_nodes,) array; primes are derivatives with respect to ln a.
    """

    d1: jax.Array
    d1_prime: jax.Array
    d1_second: jax.Array
    d2: jax.Array
    d2_prime: jax.Array
    d2_second: jax.Array


def _coefficients(cosmo, lna):
    """The growth ODE's friction 2 + dlnE/dlna and source 3/2 Omega_m(a) at ``lna``."""
    a = jnp.exp(lna)
    return 2.0 + dlnhubble_dlna(cosmo, a), 1.5 * omega_m_a(cosmo, a)


def _rhs(coefficients, y):
    friction, source = coefficients
    d1, d1p, d2, d2p = y
    return jnp.stack([d1p, -friction * d1p + source * d1, d2p, -friction * d2p + source * (d2 - d1 * d1)])


def growth_table(cosmo) -> GrowthTable:
    """Solve the first- and second-order growth ODEs; normalised so that D1(a=1) = 1.

    Returns a ``GrowthTable`` of (n_nodes,) arrays. jit, vmap and grad safe in ``cosmo``.
    ``prime(cosmo)`` wraps it in a ``LinearTheory`` that the growth readers and the
    simulators accept in place of ``cosmo``, so the ODE is solved once per program.
    """
    return _solve_growth(check_cosmology(cosmo))


@jax.jit
def _solve_growth(cosmo) -> GrowthTable:
    dtype = jnp.result_type(float)
    a0 = jnp.asarray(A_MIN, dtype=dtype)
    f0 = omega_m_a(cosmo, a0) ** 0.55
    d2_0 = -3.0 / 7.0 * a0 * a0
    y0 = jnp.stack([a0, f0 * a0, d2_0, 2.0 * f0 * d2_0]).astype(dtype)
    h = jnp.asarray(_DLNA, dtype=dtype)
    # The background enters only through two coefficients: evaluate them on every node and
    # half-node at once, so the RK4 loop (and its gradient) is a small linear recurrence.
    friction, source = _coefficients(cosmo, _LNA0 + 0.5 * h * jnp.arange(2 * _N_NODES - 1, dtype=dtype))

    def at(nodes):
        return friction[nodes], source[nodes]

    def step(y, c):
        c0, c_half, c1 = c  # the coefficients at the step's start, middle and end
        k1 = _rhs(c0, y)
        k2 = _rhs(c_half, y + 0.5 * h * k1)
        k3 = _rhs(c_half, y + 0.5 * h * k2)
        k4 = _rhs(c1, y + h * k3)
        y_next = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y_next, y_next

    _, ys = jax.lax.scan(step, y0, (at(slice(0, -1, 2)), at(slice(1, None, 2)), at(slice(2, None, 2))))
    ys = jnp.concatenate([y0[None], ys], axis=0)
    second = jax.vmap(_rhs)(at(slice(None, None, 2)), ys)
    norm = ys[_STEPS_TO_TODAY, 0]
    return GrowthTable(
        d1=ys[:, 0] / norm,
        d1_prime=ys[:, 1] / norm,
        d1_second=second[:, 1] / norm,
        d2=ys[:, 2] / norm**2,
        d2_prime=ys[:, 3] / norm**2,
        d2_second=second[:, 3] / norm**2,
    )


def _rate(values, slopes, seconds, lna):
    lna_in = jnp.clip(lna, _LNA0, _LNA0 + _DLNA * (_N_NODES - 1))
    y = hermite_uniform(lna_in, _LNA0, _DLNA, values, slopes)
    dy = hermite_uniform(lna_in, _LNA0, _DLNA, slopes, seconds)
    return dy / y


def _factor(values, slopes, seconds, a):
    """Hermite read of a growth factor, continued as a power law beyond the table."""
    lna = jnp.log(as_float_array(a))
    lna_in = jnp.clip(lna, _LNA0, _LNA0 + _DLNA * (_N_NODES - 1))
    d = hermite_uniform(lna_in, _LNA0, _DLNA, values, slopes)
    return d * jnp.exp(_rate(values, slopes, seconds, lna) * (lna - lna_in))


_READ = {
    "growth_factor": lambda t, a: _factor(t.d1, t.d1_prime, t.d1_second, a),
    "growth_rate": lambda t, a: _rate(t.d1, t.d1_prime, t.d1_second, jnp.log(as_float_array(a))),
    "growth_factor_second": lambda t, a: _factor(t.d2, t.d2_prime, t.d2_second, a),
    "growth_rate_second": lambda t, a: _rate(t.d2, t.d2_prime, t.d2_second, jnp.log(as_float_array(a))),
}


def _table_of(cosmo) -> GrowthTable:
    """The growth table of a primed ``LinearTheory``, or solved now for a ``Cosmology``."""
    if isinstance(cosmo, LinearTheory):
        return cosmo.growth
    return growth_table(cosmology_of(cosmo))


def growth_factor(cosmo, a):
    """Linear growth factor D(a), normalised to D(1) = 1.

    Parameters
    ----------
    cosmo : Cosmology (the growth ODE is solved in this call) or a LinearTheory from
        ``prime(cosmo)`` (its table is read: the cheap choice inside a loop or a gradient)
    a : array, any shape, scale factor > 0 (checked when concrete). Accurate for
        1e-4 <= a <= 2; below, D grows as a power law with the local rate (matter
        domination: D = a).

    Returns
    -------
    array, shape of ``a``, dimensionless. jit, vmap and grad safe (in ``cosmo``, through
    the ODE or the primed table, and in ``a``). Primed and unprimed agree exactly.
    """
    a = check_scale_factor("a", a)
    return _READ["growth_factor"](_table_of(cosmo), a)


def growth_rate(cosmo, a):
    """Linear growth rate f(a) = d ln D / d ln a, dimensionless, shape of ``a``.

    ``cosmo``: a Cosmology or a primed LinearTheory (as ``growth_factor``); ``a`` > 0.
    jit, vmap and grad safe.
    """
    a = check_scale_factor("a", a)
    return _READ["growth_rate"](_table_of(cosmo), a)


def growth_factor_second(cosmo, a):
    """Second-order (2LPT) growth factor D2(a); D2 -> -3/7 D1^2 early, shape of ``a``.

    ``cosmo``: a Cosmology or a primed LinearTheory (as ``growth_factor``); ``a`` > 0.
    Dimensionless (normalised with D1(1) = 1). jit, vmap and grad safe.
    """
    a = check_scale_factor("a", a)
    return _READ["growth_factor_second"](_table_of(cosmo), a)


def growth_rate_second(cosmo, a):
    """Second-order growth rate f2(a) = d ln D2 / d ln a (-> 2 f1 early), shape of ``a``.

    ``cosmo``: a Cosmology or a primed LinearTheory (as ``growth_factor``); ``a`` > 0.
    jit, vmap and grad safe.
    """
    a = check_scale_factor("a", a)
    return _READ["growth_rate_second"](_table_of(cosmo), a)


def _deprecated_from_table(reader):
    name = reader.__name__ + "_from_table"

    def from_table(table: GrowthTable, a):
        warnings.warn(
            f"{name}(table, a) is deprecated; use {reader.__name__}(prime(cosmo), a) with "
            "cosmojax.cosmology.prime.",
            DeprecationWarning,
            stacklevel=2,
        )
        if not isinstance(table, GrowthTable):
            raise TypeError(f"table must be a GrowthTable from growth_table(cosmo); got {type(table).__name__}.")
        a = check_scale_factor("a", a)
        return _READ[reader.__name__](table, a)

    from_table.__name__ = from_table.__qualname__ = name
    from_table.__doc__ = (
        f"Deprecated alias: ``{reader.__name__}(prime(cosmo), a)``. Reads a ``GrowthTable``;\n"
        "    same result, shape of ``a``; jit, vmap and grad safe. Emits a DeprecationWarning."
    )
    return from_table


growth_factor_from_table = _deprecated_from_table(growth_factor)
growth_rate_from_table = _deprecated_from_table(growth_rate)
growth_factor_second_from_table = _deprecated_from_table(growth_factor_second)
growth_rate_second_from_table = _deprecated_from_table(growth_rate_second)

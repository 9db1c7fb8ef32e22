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

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._interp import hermite_uniform
from cosmojax.cosmology.background import dlnhubble_dlna, omega_m_a
from cosmojax.cosmology.parameters import as_float_array, check_cosmology, check_scale_factor

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


def _rhs(cosmo, lna, y):
    d1, d1p, d2, d2p = y
    a = jnp.exp(lna)
    friction = 2.0 + dlnhubble_dlna(cosmo, a)
    source = 1.5 * omega_m_a(cosmo, a)
    return jnp.stack([d1p, -friction * d1p + source * d1, d2p, -friction * d2p + source * (d2 - d1 * d1)])


def growth_table(cosmo) -> GrowthTable:
    """Solve the first- and second-order growth ODEs; normalised so that D1(a=1) = 1.

    Returns a ``GrowthTable`` of (n_nodes,) arrays. jit, vmap and grad safe in ``cosmo``.
    Compute it once and pass it to the ``*_from_table`` readers when evaluating growth
    many times inside one program.
    """
    check_cosmology(cosmo)
    return _solve_growth(cosmo)


@jax.jit
def _solve_growth(cosmo) -> GrowthTable:
    dtype = jnp.result_type(float)
    lna = jnp.asarray(_LNA0 + _DLNA * np.arange(_N_NODES), dtype=dtype)
    a0 = jnp.asarray(A_MIN, dtype=dtype)
    f0 = omega_m_a(cosmo, a0) ** 0.55
    d2_0 = -3.0 / 7.0 * a0 * a0
    y0 = jnp.stack([a0, f0 * a0, d2_0, 2.0 * f0 * d2_0]).astype(dtype)
    h = jnp.asarray(_DLNA, dtype=dtype)

    def step(y, x):
        k1 = _rhs(cosmo, x, y)
        k2 = _rhs(cosmo, x + 0.5 * h, y + 0.5 * h * k1)
        k3 = _rhs(cosmo, x + 0.5 * h, y + 0.5 * h * k2)
        k4 = _rhs(cosmo, x + h, y + h * k3)
        y_next = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y_next, y_next

    _, ys = jax.lax.scan(step, y0, lna[:-1])
    ys = jnp.concatenate([y0[None], ys], axis=0)
    second = jax.vmap(lambda x, y: _rhs(cosmo, x, y))(lna, ys)
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


def growth_factor_from_table(table: GrowthTable, a):
    """First-order growth D1(a) read from a ``GrowthTable``; shape of ``a``. jit, vmap and grad safe."""
    return _factor(table.d1, table.d1_prime, table.d1_second, a)


def growth_rate_from_table(table: GrowthTable, a):
    """First-order growth rate f1 = dlnD1/dlna from a ``GrowthTable``; shape of ``a``. jit, vmap, grad safe."""
    return _rate(table.d1, table.d1_prime, table.d1_second, jnp.log(as_float_array(a)))


def growth_factor_second_from_table(table: GrowthTable, a):
    """Second-order growth D2(a) (negative, ~ -3/7 D1^2) from a ``GrowthTable``. jit, vmap, grad safe."""
    return _factor(table.d2, table.d2_prime, table.d2_second, a)


def growth_rate_second_from_table(table: GrowthTable, a):
    """Second-order growth rate f2 = dlnD2/dlna (2 f1 early) from a ``GrowthTable``. jit, vmap, grad safe."""
    return _rate(table.d2, table.d2_prime, table.d2_second, jnp.log(as_float_array(a)))


def growth_factor(cosmo, a):
    """Linear growth factor D(a), normalised to D(1) = 1.

    Parameters
    ----------
    cosmo : Cosmology
    a : array, any shape, scale factor > 0. Accurate for 1e-4 <= a <= 2; below, D grows
        as a power law with the local rate (matter domination: D = a).

    Returns
    -------
    array, shape of ``a``, dimensionless. jit, vmap and grad safe (in ``cosmo`` and ``a``).
    """
    check_scale_factor("a", a)
    return growth_factor_from_table(growth_table(cosmo), a)


def growth_rate(cosmo, a):
    """Linear growth rate f(a) = d ln D / d ln a, shape of ``a``. jit, vmap and grad safe."""
    check_scale_factor("a", a)
    return growth_rate_from_table(growth_table(cosmo), a)


def growth_factor_second(cosmo, a):
    """Second-order (2LPT) growth factor D2(a); D2 -> -3/7 D1^2 early, shape of ``a``.

    jit, vmap and grad safe.
    """
    check_scale_factor("a", a)
    return growth_factor_second_from_table(growth_table(cosmo), a)


def growth_rate_second(cosmo, a):
    """Second-order growth rate f2(a) = d ln D2 / d ln a, shape of ``a``. jit, vmap and grad safe."""
    check_scale_factor("a", a)
    return growth_rate_second_from_table(growth_table(cosmo), a)

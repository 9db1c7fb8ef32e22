"""Interpolation helpers shared by the cosmology tables (private)."""

from __future__ import annotations

import jax.numpy as jnp


def hermite_uniform(x, x0, dx, values, slopes):
    """Cubic Hermite interpolation on a uniform grid.

    Parameters
    ----------
    x : array, any shape
        Points to interpolate at; clipped to the grid range.
    x0, dx : float
        First grid node and the spacing.
    values, slopes : (M,) arrays
        The function and its derivative at the M nodes.

    Returns
    -------
    array, shape of ``x``. Error O(dx^4); smooth, so differentiable in ``x`` and in the
    tabulated values.
    """
    n = values.shape[0]
    s = jnp.clip((x - x0) / dx, 0.0, n - 1.0)
    i = jnp.clip(jnp.floor(s).astype(jnp.int32), 0, n - 2)
    t = s - i
    t2, t3 = t * t, t * t * t
    h00 = 2 * t3 - 3 * t2 + 1
    h10 = t3 - 2 * t2 + t
    h01 = -2 * t3 + 3 * t2
    h11 = t3 - t2
    return h00 * values[i] + h10 * dx * slopes[i] + h01 * values[i + 1] + h11 * dx * slopes[i + 1]


def interp_loglog(x, xp, fp):
    """Interpolate a positive function linearly in log-log, extrapolating as a power law.

    Parameters
    ----------
    x : array, any shape, > 0
    xp : (M,) increasing array, > 0
    fp : (M,) array, > 0

    Returns
    -------
    array, shape of ``x``. Beyond the ends the first/last log-log slope continues.
    jit, vmap and grad safe (in ``x`` and ``fp``).
    """
    lx, lxp, lfp = jnp.log(x), jnp.log(xp), jnp.log(fp)
    i = jnp.clip(jnp.searchsorted(lxp, lx, side="right") - 1, 0, lxp.shape[0] - 2)
    slope = (lfp[i + 1] - lfp[i]) / (lxp[i + 1] - lxp[i])
    return jnp.exp(lfp[i] + slope * (lx - lxp[i]))

"""Discrete tracers (haloes, galaxies) sampled from a biased density.

The expected number of tracers in a cell of volume V_c is

.. math:: \\lambda = \\bar n V_c \\max(1 + \\delta_t, 0),

the tracer overdensity delta_t being floored at -1 (a local bias expansion can dip below;
the floor is applied here and only here). ``poisson_counts`` draws independent Poisson
numbers per cell; ``fixed_number_tracers`` draws exactly N tracers, cells chosen with
probability proportional to lambda (a multinomial). Positions are uniform inside their cell
(the cell of mesh point i spans (i - 1/2, i + 1/2) cell sizes, as nearest-grid-point
assignment sees it).
Counts are integers, so nothing here is differentiable in the density; the rates are.

Guards: ``key`` must be a PRNG key (``jax.random.key(seed)``; an integer seed raises
``TypeError`` on every path); a complex ``delta_t`` raises ``TypeError``; sizes such as
``n_tracers`` must be whole numbers. NaN checks of arrays run on concrete values only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import (
    check_finite,
    check_int,
    check_key,
    check_mesh_shape,
    check_positive,
    check_real,
    is_concrete,
)
from cosmojax.mesh import cell_size, paint


def _check(delta_t, box_size):
    shape = check_mesh_shape("delta_t.shape", np.shape(delta_t), ndims=(3,))
    check_real("delta_t", delta_t)
    check_finite("delta_t", delta_t)
    return shape, cell_size(shape, box_size)


def poisson_rate(delta_t, box_size, number_density):
    """Expected tracer count per cell, n V_c max(1 + delta_t, 0), shape of ``delta_t``.

    number_density : mean tracer density, (h/Mpc)^3, > 0. jit, vmap and grad safe.
    """
    _, cells = _check(delta_t, box_size)
    check_real("number_density", number_density)
    check_positive("number_density", number_density)
    return number_density * float(np.prod(cells)) * jnp.maximum(1.0 + delta_t, 0.0)


def poisson_counts(key, delta_t, box_size, number_density):
    """Halo-count field: Poisson numbers of tracers per cell.

    Parameters
    ----------
    key : jax.random key
    delta_t : (n1, n2, n3) tracer overdensity (floored at -1)
    box_size : float, Mpc/h
    number_density : float, (h/Mpc)^3

    Returns
    -------
    (n1, n2, n3) int32 counts; mean number_density * volume. jit and vmap safe; not
    differentiable (integer output).
    """
    check_key("key", key)
    rate = poisson_rate(delta_t, box_size, number_density)
    return jax.random.poisson(key, rate).astype(jnp.int32)


def _uniform_in_cells(key, flat_index, shape, cells, dtype):
    idx = jnp.stack(jnp.unravel_index(flat_index, shape), axis=-1).astype(dtype)
    jitter = jax.random.uniform(key, idx.shape, dtype, minval=-0.5, maxval=0.5)
    box = jnp.asarray(cells, dtype) * jnp.asarray(shape, dtype)
    return jnp.mod((idx + jitter) * jnp.asarray(cells, dtype), box)


def counts_to_positions(key, counts, box_size, max_tracers: int):
    """Positions of the tracers of a count field, uniform inside their cells.

    Parameters
    ----------
    key : jax.random key
    counts : (n1, n2, n3) non-negative integer counts
    box_size : float, Mpc/h
    max_tracers : static output size; must be >= counts.sum() (checked when concrete)

    Returns
    -------
    (pos, valid): (max_tracers, 3) float positions in Mpc/h and a (max_tracers,) bool mask,
    True for the first counts.sum() rows. jit and vmap safe (static ``max_tracers``).
    """
    check_key("key", key)
    shape = check_mesh_shape("counts.shape", np.shape(counts), ndims=(3,))
    cells = cell_size(shape, box_size)
    if is_concrete(counts):
        total = int(np.sum(counts))
        check_positive("counts", counts, strict=False)
        if total > max_tracers:
            raise ValueError(f"max_tracers ({max_tracers}) is below the number of tracers ({total}); raise it.")
    flat = jnp.asarray(counts).reshape(-1)
    ends = jnp.cumsum(flat)
    rows = jnp.arange(max_tracers)
    cell = jnp.searchsorted(ends, rows, side="right")
    valid = rows < ends[-1]
    cell = jnp.where(valid, cell, 0)
    pos = _uniform_in_cells(key, cell, shape, cells, jnp.result_type(float))
    return pos, valid


def fixed_number_tracers(key, delta_t, box_size, n_tracers: int):
    """Exactly ``n_tracers`` tracers, cells drawn with probability proportional to
    max(1 + delta_t, 0) (with replacement), positions uniform within the cell.

    Parameters
    ----------
    key : jax.random key
    delta_t : (n1, n2, n3) tracer overdensity
    box_size : float, Mpc/h
    n_tracers : static int > 0

    Returns
    -------
    (n_tracers, 3) positions, Mpc/h. jit and vmap safe; not differentiable.
    """
    check_key("key", key)
    shape, cells = _check(delta_t, box_size)
    n_tracers = check_int("n_tracers", n_tracers)
    weight = jnp.maximum(1.0 + delta_t, 0.0).reshape(-1)
    logits = jnp.log(jnp.where(weight > 0, weight, 1.0)) + jnp.where(weight > 0, 0.0, -jnp.inf)
    key_cell, key_pos = jax.random.split(key)
    cell = jax.random.categorical(key_cell, logits, shape=(n_tracers,))
    return _uniform_in_cells(key_pos, cell, shape, cells, jnp.result_type(float))


def count_field(pos, mesh_shape, box_size, weights=None):
    """Number of tracers in each cell (nearest-grid-point assignment).

    pos : (N, 3) Mpc/h (wrapped periodically); weights : (N,) or None (a mask works).
    Returns a (mesh_shape) float mesh of counts summing to weights.sum(). jit and vmap safe.
    """
    return paint(pos, mesh_shape, box_size, weights=weights, scheme="ngp")

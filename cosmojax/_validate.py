"""Input checks at the API boundary.

Every check runs on concrete values only: when an argument is a JAX tracer (inside
``jit``, ``vmap`` or ``grad``) its value is unknown and the check is skipped, so the
checks never break tracing. Each failure raises ``ValueError`` naming the argument and
saying how to fix it.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import jax
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds values known now (not a tracer inside jit/vmap/grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def _values(x):
    return np.asarray(x)


def check_finite(name: str, x) -> None:
    """Raise if a concrete array (or any leaf of a pytree of arrays) holds NaN or infinity.

    Host-side; traced values are skipped, so it is safe to call under jit, vmap and grad.
    """
    if x is None or not is_concrete(x):
        return
    if not all(np.all(np.isfinite(_values(leaf))) for leaf in jax.tree_util.tree_leaves(x)):
        raise ValueError(f"{name} contains NaN or infinite values; remove or replace them.")


def check_symmetric_positive_definite(name: str, matrix, hint: str = "") -> None:
    """Raise unless a concrete (d, d) matrix is finite, symmetric (to a relative 1e-6) and
    positive definite; ``hint`` ends the message (e.g. " (e.g. a Fisher matrix)").

    Host-side; traced values are skipped, so it is safe to call under jit, vmap and grad.
    """
    if not is_concrete(matrix):
        return
    check_finite(name, matrix)
    m = np.asarray(matrix, dtype=float)
    if not np.allclose(m, m.T, rtol=1e-6, atol=0.0) or np.linalg.eigvalsh(m).min() <= 0:
        raise ValueError(f"{name} must be symmetric positive definite{hint}.")


def check_positive(name: str, x, *, strict: bool = True) -> None:
    """Raise unless every concrete value of ``x`` is > 0 (or >= 0 when not strict).

    Host-side; traced values are skipped, so it is safe to call under jit, vmap and grad.
    """
    if x is None or not is_concrete(x):
        return
    values = _values(x)
    check_finite(name, values)
    bad = values <= 0 if strict else values < 0
    if np.any(bad):
        need = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be {need}; got {values[bad].ravel()[:3]}.")


def check_int(name: str, value, minimum: int = 1, *, allow_none: bool = False) -> int | None:
    """Return ``value`` as a Python int after checking it is a whole number >= ``minimum``.

    For sizes and counts that shape arrays (static, never traced). ``None`` passes through
    when ``allow_none``.
    """
    if value is None and allow_none:
        return None
    try:
        whole = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer())
    except (TypeError, ValueError, OverflowError):
        whole = False
    if isinstance(value, bool) or not whole or int(value) < minimum:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{extra}; got {value!r}.")
    return int(value)


def check_mesh_shape(name: str, shape, ndims: Sequence[int] = (2, 3)) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints after checking its length and sizes.

    Host-side, on static sizes (not traced).
    """
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError as err:
        raise ValueError(f"{name} must be a tuple of ints such as (64, 64, 64); got {shape!r}.") from err
    if len(shape) not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} entries; got {shape}.")
    if any(n < 2 for n in shape):
        raise ValueError(f"{name} entries must be >= 2; got {shape}.")
    return shape


def check_box_size(name: str, box_size, ndim: int) -> tuple[float, ...]:
    """Return the box side lengths as a tuple of ``ndim`` positive floats (Mpc/h).

    Host-side, on static sizes; a traced ``box_size`` is refused.
    """
    if isinstance(box_size, numbers.Real):
        sizes = (float(box_size),) * ndim
    else:
        if not is_concrete(box_size):
            raise ValueError(f"{name} must be a Python number or tuple, not a traced array.")
        sizes = tuple(float(v) for v in np.ravel(np.asarray(box_size)))
        if len(sizes) == 1:
            sizes = sizes * ndim
    if len(sizes) != ndim:
        raise ValueError(f"{name} must be a number or {ndim} numbers; got {box_size!r}.")
    if not all(np.isfinite(s) and s > 0 for s in sizes):
        raise ValueError(f"{name} must be positive and finite; got {box_size!r}.")
    return sizes


def check_edges(name: str, edges, *, min_value: float | None = None) -> np.ndarray:
    """Return concrete, strictly increasing bin edges as a float numpy array.

    Host-side; edges set array shapes, so traced edges are refused.
    """
    if not is_concrete(edges):
        raise ValueError(f"{name} sets the number of bins, so it must be concrete (numpy), not traced.")
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"{name} must be a 1D array of at least 2 bin edges; got shape {edges.shape}.")
    check_finite(name, edges)
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"{name} must be strictly increasing; got {edges}.")
    if min_value is not None and edges[0] < min_value:
        raise ValueError(f"{name} must start at >= {min_value}; got {edges[0]}.")
    return edges


def check_ndim(name: str, x, ndim: int | Sequence[int]) -> None:
    """Raise unless ``x`` has the given number of dimensions.

    Host-side, on the static shape: safe under jit, vmap and grad.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if np.ndim(x) not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions; got shape {np.shape(x)}.")


def check_positions(name: str, pos, ndim: int | None = None) -> None:
    """Raise unless ``pos`` is an (N, d) array of finite coordinates.

    Host-side; the shape check is static and the NaN check skips traced values, so it is safe
    under jit, vmap and grad.
    """
    shape = np.shape(pos)
    if len(shape) != 2 or (ndim is not None and shape[1] != ndim):
        want = f"(N, {ndim})" if ndim is not None else "(N, d)"
        raise ValueError(f"{name} must have shape {want}; got {shape}.")
    check_finite(name, pos)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Raise unless ``value`` is one of ``choices``.

    Host-side, on static strings.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}.")
    return value

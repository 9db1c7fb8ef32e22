"""Input checks at the API boundary.

Each failure raises ``ValueError`` (a bad value: NaN, out of range, wrong shape) or
``TypeError`` (a bad kind: complex where a real is meant, an integer seed where a key is
meant), naming the argument and saying how to fix it.

What is checked under ``jit``, ``vmap`` and ``grad`` (the contract every public docstring
refers to as "Under jit/vmap/grad"):

- Static properties (shapes, dtypes, integer sizes, string choices, PRNG keys, bin edges)
  are known while tracing, so they are checked, and raise, on every path.
- Value checks (NaN, infinity, ranges) raise on concrete values. A traced value is unknown
  when the check runs, so it cannot raise there; instead:

  * the cheap scalar checks on cosmological parameters and scale factors
    (``cosmology.parameters.check_cosmology`` and ``check_scale_factor``) turn the result
    into NaN through :func:`nan_unless`: an out-of-range traced value gives NaN values and
    NaN gradients, never a plausible number;
  * the other value checks (on whole arrays: positions, fields, maps) are skipped. Check
    such data eagerly, once, before handing it to a compiled program.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import jax
import jax.numpy as jnp
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

    Each entry must be a whole number >= 2 (8.0 is accepted, 8.5 and "8" are refused, never
    truncated). Host-side, on static sizes (not traced).
    """
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)):
        raise ValueError(f"{name} must be a tuple of ints such as (64, 64, 64); got {shape!r}.")
    if len(shape) not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} entries; got {tuple(shape)}.")
    return tuple(check_int(f"{name}[{i}]", n, 2) for i, n in enumerate(shape))


def check_box_size(name: str, box_size, ndim: int) -> tuple[float, ...]:
    """Return the box side lengths as a tuple of ``ndim`` positive floats (Mpc/h).

    Host-side, on static sizes; a traced ``box_size`` is refused, so is a complex one.
    """
    check_real(name, box_size)
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


def check_real(name: str, x) -> None:
    """Raise ``TypeError`` unless ``x`` (or every leaf of a pytree) holds real numbers.

    Complex values are refused rather than cast to real (which would drop the imaginary
    part silently); so are strings, objects and booleans. Host-side, on the static dtype:
    safe under jit, vmap and grad.
    """
    for leaf in jax.tree_util.tree_leaves(x):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            try:
                dtype = np.asarray(leaf).dtype
            except Exception as err:  # noqa: BLE001 - any failure means "not numbers"
                raise TypeError(f"{name} must be a real number or array; got {type(leaf).__name__}.") from err
        if jax.dtypes.issubdtype(dtype, jax.dtypes.extended):
            raise TypeError(f"{name} must be a real number or array; got {dtype}.")
        kind = np.dtype(dtype).kind
        if kind == "c":
            raise TypeError(f"{name} must be real; got complex values. Pass their .real or abs() explicitly.")
        if kind not in "iuf":
            raise TypeError(f"{name} must be a real number or array; got dtype {np.dtype(dtype)}.")


def nan_unless(valid, x):
    """``x`` where ``valid`` holds and NaN elsewhere, with NaN gradients where it fails.

    The poison multiplies (``x * where(valid, 1, nan)``) rather than selects, so derivatives
    through an invalid entry are NaN too, never a plausible 0. ``valid``
    broadcasts against ``x``; floating ``x`` keeps its dtype. jit, vmap and grad safe; this is
    how value checks act on traced inputs (see the module docstring).
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x * jnp.where(valid, jnp.ones((), x.dtype), jnp.asarray(jnp.nan, x.dtype))


def check_key(name: str, key) -> None:
    """Raise ``TypeError`` unless ``key`` is one JAX PRNG key.

    Accepts a typed key (``jax.random.key(seed)``, shape ``()``) and a legacy raw key
    (``jax.random.PRNGKey(seed)``, uint32 of shape ``(2,)``). An integer seed, a float, or a
    batch of keys where one is meant is refused with a message saying what to pass.
    Host-side, on the static dtype and shape: checked under jit, vmap and grad as well.
    """
    dtype = getattr(key, "dtype", None)
    shape = np.shape(key) if dtype is not None else None
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return
        raise TypeError(f"{name} must be a single PRNG key; got an array of keys with shape {shape}. "
                        f"Pass one key, e.g. {name}[0], or split it with jax.random.split.")
    if dtype is not None and np.dtype(dtype) == np.uint32 and shape == (2,):
        return
    if isinstance(key, numbers.Integral) or (dtype is not None and np.issubdtype(np.dtype(dtype), np.integer) and shape == ()):
        got = f"the integer seed {key!r}" if is_concrete(key) else "an integer"
    else:
        got = f"{type(key).__name__}" + (f" of dtype {dtype} and shape {shape}" if dtype is not None else "")
    raise TypeError(f"{name} must be a JAX PRNG key; got {got}. Pass jax.random.key(seed) instead.")


def positive_or_nan(name: str, x, *, strict: bool = True):
    """Return ``x`` after checking every value is finite and > 0 (>= 0 when not strict).

    Concrete values: raises ``ValueError`` (bad value) or ``TypeError`` (complex) naming
    ``name``, and returns ``x`` unchanged. Traced values (under jit, vmap, grad): returns
    ``x`` as a float array with NaN in every entry that fails (see :func:`nan_unless`), so a
    bad value gives NaN results and gradients, never a plausible number.
    """
    check_real(name, x)
    if is_concrete(x):
        check_positive(name, x, strict=strict)
        return x
    x = jnp.asarray(x)
    ok = jnp.isfinite(x) & ((x > 0) if strict else (x >= 0))
    return nan_unless(ok, x)

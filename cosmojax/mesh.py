"""Mesh tools: wavenumber grids, mass assignment, window compensation, gradients.

The grid and window functions take only static sizes (Python ints and floats) and return
constants, so they are free to call inside jit; ``paint``, ``readout``, ``compensate`` and
``gradient`` act on traced arrays and say what they are safe for.

Conventions
-----------
- A mesh of shape ``(n_1, ..., n_d)`` (d = 2 or 3) covers a periodic box of side lengths
  ``box_size`` (Mpc/h, a number or one per axis). Mesh point ``i`` sits at ``i * cell_size``.
- Fourier meshes are ``jnp.fft.rfftn`` layouts: shape ``(n_1, ..., n_d // 2 + 1)``.
- Wavenumbers are in h/Mpc: ``k_i = 2 pi m_i / L_i`` with integer frequency ``m_i``.
- Mass assignment: ``"ngp"``, ``"cic"`` or ``"tsc"`` (B-spline kernels of order 1, 2, 3;
  Hockney & Eastwood 1988). Painting sums weights (mass) onto the mesh; readout
  interpolates a mesh at positions with the same kernel, so the two are adjoint.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import (
    check_box_size,
    check_choice,
    check_finite,
    check_int,
    check_mesh_shape,
    check_positions,
    check_real,
)

__all__ = [
    "SCHEMES",
    "GRADIENT_KINDS",
    "cell_size",
    "rfftn_shape",
    "frequencies",
    "rfftn_kvec",
    "kvec_numpy",
    "rfftn_kmag",
    "hermitian_weights",
    "hermitian_weights_numpy",
    "window",
    "compensate",
    "paint",
    "readout",
    "gradient_kernel",
    "gradient_kernel_numpy",
    "gradient",
    "inverse_laplacian_kernel",
]

SCHEMES = ("ngp", "cic", "tsc")
_ORDER = {"ngp": 1, "cic": 2, "tsc": 3}
GRADIENT_KINDS = ("exact", "fd2", "fd4")


def cell_size(mesh_shape: Sequence[int], box_size) -> tuple[float, ...]:
    """Side lengths of one cell, Mpc/h, one per axis.

    Host-side, from static sizes: Python floats, not traced.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    return tuple(s / n for s, n in zip(sizes, shape))


def rfftn_shape(mesh_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of ``jnp.fft.rfftn`` of a real mesh: the last axis becomes n // 2 + 1.

    Host-side, from static sizes; entries must be whole numbers >= 2 (``ValueError``).
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape, ndims=range(1, 8))
    return shape[:-1] + (shape[-1] // 2 + 1,)


def frequencies(mesh_shape: Sequence[int]) -> list[np.ndarray]:
    """Integer frequencies m_i of an rfftn mesh, one broadcastable numpy array per axis.

    Host-side numpy from static sizes (a constant under jit; nothing to differentiate).
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    d = len(shape)
    out = []
    for axis, n in enumerate(shape):
        m = np.fft.rfftfreq(n, 1.0 / n) if axis == d - 1 else np.fft.fftfreq(n, 1.0 / n)
        view = [1] * d
        view[axis] = m.size
        out.append(m.reshape(view))
    return out


def rfftn_kvec(mesh_shape: Sequence[int], box_size) -> list[jax.Array]:
    """Wavevector components of an rfftn mesh, h/Mpc.

    Parameters
    ----------
    mesh_shape : tuple of 2 or 3 ints
    box_size : float or tuple of floats, Mpc/h

    Returns
    -------
    list of d arrays, the i-th of shape 1 everywhere but axis i, broadcasting to
    ``rfftn_shape(mesh_shape)``. Default float dtype.
    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    dtype = jnp.result_type(float)
    return [jnp.asarray(k, dtype=dtype) for k in kvec_numpy(mesh_shape, box_size)]


def kvec_numpy(mesh_shape: Sequence[int], box_size) -> list[np.ndarray]:
    """``rfftn_kvec`` as float64 numpy arrays: constants for static set-up under jit."""
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    return [2 * np.pi * m / L for m, L in zip(frequencies(shape), sizes)]


def rfftn_kmag(mesh_shape: Sequence[int], box_size) -> jax.Array:
    """|k| on an rfftn mesh, h/Mpc, shape ``rfftn_shape(mesh_shape)``.

    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    kvec = rfftn_kvec(mesh_shape, box_size)
    return jnp.sqrt(sum(k**2 for k in kvec))


def hermitian_weights(mesh_shape: Sequence[int]) -> jax.Array:
    """How many full-FFT modes each rfftn cell stands for (1 or 2).

    Cells on the planes m_d = 0 and (for even n_d) m_d = n_d / 2 are their own mirror and
    count once; the others also stand for their complex conjugate at -k and count twice.
    Shape ``rfftn_shape(mesh_shape)``, float.
    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    return jnp.asarray(hermitian_weights_numpy(mesh_shape), dtype=jnp.result_type(float))


def hermitian_weights_numpy(mesh_shape: Sequence[int]) -> np.ndarray:
    """``hermitian_weights`` as a float64 numpy array (a constant under jit)."""
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    n = shape[-1]
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return np.broadcast_to(w, rfftn_shape(shape))


def window(mesh_shape: Sequence[int], scheme: str = "cic") -> jax.Array:
    """Fourier window of a mass-assignment scheme on an rfftn mesh.

    .. math:: W(\\mathbf k) = \\prod_i \\left[\\mathrm{sinc}(m_i / n_i)\\right]^p,

    p = 1, 2, 3 for NGP, CIC, TSC (Hockney & Eastwood 1988). Shape
    ``rfftn_shape(mesh_shape)``, dimensionless, in (0, 1].
    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    check_choice("scheme", scheme, SCHEMES)
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    w = 1.0
    for m, n in zip(frequencies(shape), shape):
        w = w * np.sinc(m / n) ** _ORDER[scheme]
    return jnp.asarray(np.broadcast_to(w, rfftn_shape(shape)), dtype=jnp.result_type(float))


def compensate(field_k, mesh_shape: Sequence[int], scheme: str = "cic"):
    """Divide an rfftn field by the mass-assignment window (deconvolve painting).

    ``field_k``: complex array of shape ``rfftn_shape(mesh_shape)``; returns the same shape.
    jit, vmap and grad safe (``mesh_shape`` and ``scheme`` static).
    """
    return field_k / window(mesh_shape, scheme)


def _stencil(pos_grid, order: int):
    """Per-axis base indices and weights of the B-spline kernel of ``order`` (1, 2, 3).

    pos_grid: (N, d) positions in units of cells. Returns a list over axes of
    (index (N, order) int, weight (N, order) float).
    """
    out = []
    for axis in range(pos_grid.shape[1]):
        s = pos_grid[:, axis]
        if order == 1:
            base = jnp.floor(s + 0.5)
            weights = jnp.ones_like(s)[:, None]
        elif order == 2:
            base = jnp.floor(s)
            t = s - base
            weights = jnp.stack([1.0 - t, t], axis=-1)
        else:
            centre = jnp.floor(s + 0.5)
            t = s - centre
            weights = jnp.stack([0.5 * (0.5 - t) ** 2, 0.75 - t**2, 0.5 * (0.5 + t) ** 2], axis=-1)
            base = centre - 1.0
        index = base.astype(jnp.int32)[:, None] + jnp.arange(order, dtype=jnp.int32)[None, :]
        out.append((index, weights))
    return out


def _stencil_and_strides(pos, shape, cells, order):
    """``_stencil`` of positions ``pos`` (N, d), Mpc/h, and the row-major strides of ``shape``."""
    strides = np.cumprod((1,) + tuple(shape[::-1]))[:-1][::-1]
    return _stencil(pos / jnp.asarray(cells, dtype=pos.dtype), order), strides


def _flat_indices_and_weights(pos, shape, cells, order):
    """Yield (flat index (N,), weight (N,)) for every point of the d-dimensional stencil."""
    stencil, strides = _stencil_and_strides(pos, shape, cells, order)
    for offsets in itertools.product(range(order), repeat=len(shape)):
        flat = 0
        weight = 1.0
        for axis, o in enumerate(offsets):
            index, w = stencil[axis]
            flat = flat + (index[:, o] % shape[axis]) * int(strides[axis])
            weight = weight * w[:, o]
        yield flat, weight


def _stencil_slabs(pos, shape, cells, order):
    """Yield, for each offset along the first axis, (flat index (N, order^(d-1)), weight
    (N, order^(d-1))): the stencil's other axes broadcast together.

    Painting scatters one slab at a time: ``order`` scatters instead of ``order^d``, which
    XLA compiles several times faster (TSC: 3 instead of 27) and whose gradient runs faster.
    """
    stencil, strides = _stencil_and_strides(pos, shape, cells, order)
    n, d = pos.shape[0], len(shape)
    inner, inner_weight = jnp.zeros((n,) + (1,) * (d - 1), jnp.int32), 1.0
    for axis in range(1, d):
        index, w = stencil[axis]
        expand = (slice(None),) + tuple(slice(None) if a == axis else None for a in range(1, d))
        inner = inner + ((index % shape[axis]) * int(strides[axis]))[expand]
        inner_weight = inner_weight * w[expand]
    index, w = stencil[0]
    lead = (slice(None),) + (None,) * (d - 1)
    for o in range(order):
        flat = inner + ((index[:, o] % shape[0]) * int(strides[0]))[lead]
        yield flat.reshape(n, -1), (inner_weight * w[:, o][lead]).reshape(n, -1)


def _check_particles(pos, weights, ndim):
    check_real("pos", pos)
    check_positions("pos", pos, ndim)
    if weights is not None:
        if np.shape(weights) != (np.shape(pos)[0],):
            raise ValueError(f"weights must have shape ({np.shape(pos)[0]},) to match pos; got {np.shape(weights)}.")
        check_real("weights", weights)
        check_finite("weights", weights)


def paint(pos, mesh_shape: Sequence[int], box_size, weights=None, scheme: str = "cic", chunk_size: int | None = None):
    """Assign particle mass to a periodic mesh.

    Parameters
    ----------
    pos : (N, d) array, Mpc/h. Positions are wrapped periodically into the box.
    mesh_shape : tuple of d ints (d = 2 or 3)
    box_size : float or tuple of d floats, Mpc/h
    weights : (N,) array or None, mass of each particle (1 when None)
    scheme : "ngp", "cic" or "tsc"
    chunk_size : particles assigned per pass (all at once when None); bounds the memory of
        the stencil arrays at large N

    Returns
    -------
    (mesh_shape) array: the mass in each cell; ``mesh.sum() == weights.sum()`` to round-off.
    jit and vmap safe; differentiable in ``pos`` (piecewise, for CIC/TSC) and ``weights``.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    check_choice("scheme", scheme, SCHEMES)
    _check_particles(pos, weights, len(shape))
    cells = cell_size(shape, box_size)
    pos = jnp.asarray(pos)
    if not jnp.issubdtype(pos.dtype, jnp.floating):
        pos = pos.astype(jnp.result_type(float))
    mass = jnp.ones(pos.shape[0], pos.dtype) if weights is None else jnp.asarray(weights, pos.dtype)

    def paint_all(p, m):
        mesh = jnp.zeros(int(np.prod(shape)), pos.dtype)
        for flat, w in _stencil_slabs(p, shape, cells, _ORDER[scheme]):
            # in range by construction (every index is reduced modulo the mesh)
            mesh = mesh.at[flat.reshape(-1)].add((w * m[:, None]).reshape(-1), mode="promise_in_bounds")
        return mesh

    if chunk_size is None or chunk_size >= pos.shape[0]:
        return paint_all(pos, mass).reshape(shape)
    pos_c, mass_c = _chunks(pos, chunk_size), _chunks(mass, chunk_size)  # padding has zero mass
    mesh, _ = jax.lax.scan(lambda acc, xs: (acc + paint_all(*xs), None), jnp.zeros(int(np.prod(shape)), pos.dtype), (pos_c, mass_c))
    return mesh.reshape(shape)


def _chunks(x, chunk_size: int):
    """(N, ...) -> (n_chunks, chunk_size, ...), zero-padded at the end."""
    chunk_size = check_int("chunk_size", chunk_size, allow_none=True)
    n_chunks = -(-x.shape[0] // chunk_size)
    pad = n_chunks * chunk_size - x.shape[0]
    x = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)])
    return x.reshape((n_chunks, chunk_size) + x.shape[1:])


def readout(mesh, pos, box_size, scheme: str = "cic", chunk_size: int | None = None):
    """Interpolate a periodic mesh at particle positions (the adjoint of ``paint``).

    Parameters
    ----------
    mesh : (n_1, ..., n_d) array
    pos : (N, d) array, Mpc/h, wrapped periodically
    box_size : float or tuple of d floats, Mpc/h
    scheme : "ngp", "cic" or "tsc"
    chunk_size : particles read per pass (all at once when None)

    Returns
    -------
    (N,) array of interpolated values. jit and vmap safe; differentiable in ``mesh`` and
    (piecewise) in ``pos``.
    """
    shape = check_mesh_shape("mesh.shape", np.shape(mesh))
    check_real("mesh", mesh)
    check_choice("scheme", scheme, SCHEMES)
    _check_particles(pos, None, len(shape))
    cells = cell_size(shape, box_size)
    pos = jnp.asarray(pos)
    flat_mesh = jnp.asarray(mesh).reshape(-1)

    def read_all(p):
        values = 0.0
        for flat, w in _flat_indices_and_weights(p, shape, cells, _ORDER[scheme]):
            values = values + w * flat_mesh[flat]
        return values

    if chunk_size is None or chunk_size >= pos.shape[0]:
        return read_all(pos)
    return jax.lax.map(read_all, _chunks(pos, chunk_size)).reshape(-1)[: pos.shape[0]]


def gradient_kernel(mesh_shape: Sequence[int], box_size, kind: str = "exact") -> list[jax.Array]:
    """Fourier multipliers D_i(k) of d/dx_i on an rfftn mesh, one per axis (complex).

    kind : "exact" (i k), "fd2" (2-point central difference, i sin(k h) / h) or "fd4"
        (4-point, i (8 sin(k h) - sin(2 k h)) / (6 h)); h is the cell size.
    The Nyquist plane of "exact" is set to 0, so the derivative of a real field stays real.
    Each array broadcasts to ``rfftn_shape(mesh_shape)``; units h/Mpc.
    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    check_choice("kind", kind, GRADIENT_KINDS)
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    cells = cell_size(shape, box_size)
    dtype = jnp.result_type(float)
    return [
        1j * jnp.asarray(gradient_kernel_numpy(m / n, h, kind), dtype)
        for m, n, h in zip(frequencies(shape), shape, cells)
    ]


def gradient_kernel_numpy(u, cell: float, kind: str = "exact") -> np.ndarray:
    """Imaginary part of the d/dx multiplier of ``gradient_kernel`` along one axis.

    Parameters
    ----------
    u : array, any shape, frequencies in cycles per cell, in [-1/2, 1/2]
    cell : float, the cell size h, Mpc/h
    kind : "exact" (k = 2 pi u / h, 0 on the Nyquist frequencies |u| = 1/2), "fd2"
        (sin(k h) / h) or "fd4" ((8 sin(k h) - sin(2 k h)) / (6 h))

    Returns
    -------
    float64 numpy array, shape of ``u``, h/Mpc: a constant for static set-up under jit
    (not traced, so not differentiable).
    """
    check_choice("kind", kind, GRADIENT_KINDS)
    u = np.asarray(u, dtype=float)
    k = 2 * np.pi * u / cell
    if kind == "exact":
        return np.where(np.isclose(np.abs(u), 0.5), 0.0, k)
    if kind == "fd2":
        return np.sin(k * cell) / cell
    return (8.0 * np.sin(k * cell) - np.sin(2.0 * k * cell)) / (6.0 * cell)


def gradient(field, box_size, kind: str = "exact"):
    """Spatial gradient of a real periodic mesh field, computed in Fourier space.

    Parameters
    ----------
    field : (n_1, ..., n_d) real array, any units U
    box_size : float or tuple of d floats, Mpc/h
    kind : "exact", "fd2" or "fd4" (see ``gradient_kernel``)

    Returns
    -------
    (d, n_1, ..., n_d) real array, U h/Mpc. jit, vmap and grad safe.
    """
    shape = check_mesh_shape("field.shape", np.shape(field))
    check_real("field", field)
    field_k = jnp.fft.rfftn(field)
    kernels = gradient_kernel(shape, box_size, kind)
    return jnp.stack([jnp.fft.irfftn(d * field_k, s=shape) for d in kernels])


def inverse_laplacian_kernel(mesh_shape: Sequence[int], box_size) -> jax.Array:
    """Fourier multiplier of the inverse Laplacian, -1/k^2 ((Mpc/h)^2), 0 at k = 0.

    Shape ``rfftn_shape(mesh_shape)``.
    Built from static sizes: a constant under jit; nothing to differentiate.
    """
    k2 = rfftn_kmag(mesh_shape, box_size) ** 2
    safe = jnp.where(k2 > 0, k2, 1.0)
    return jnp.where(k2 > 0, -1.0 / safe, 0.0)

"""Device meshes and sharding: the one place cosmojax spreads work over devices.

One convention: a one-dimensional :class:`jax.sharding.Mesh` from :func:`device_mesh`
whose axis is named :data:`AXIS` (``"devices"``). Work is split along the leading axis of
its arrays:

- :func:`shard_leading` places (or, inside ``jit``, constrains) an array split along one axis;
- :func:`sharded_map` maps a function over the leading axis of a batch, sharded over the
  mesh and optionally in sequential chunks (the IMNN's simulations use it);
- :func:`map_sum` evaluates a function on each device's share and adds the results with
  ``psum`` (the n-point counters use it: their work items, pairs, triples or quadruples of
  cell blocks, are split evenly; integer counts are identical on one and on many devices).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from cosmojax._validate import check_int

#: Name of the mesh axis used by :func:`device_mesh`.
AXIS = "devices"


def local_devices(devices: Sequence | int | None = None) -> list:
    """Resolve a device choice into a list of devices.

    Parameters
    ----------
    devices : None, int or sequence of jax devices
        ``None``: every local device of the default backend. An ``int`` ``n``: the first
        ``n`` local devices. A sequence: those devices.

    Returns
    -------
    list of ``jax.Device``. Raises ``ValueError`` for an impossible request.
    """
    available = jax.local_devices()
    if devices is None:
        return list(available)
    if isinstance(devices, (bool, np.bool_)):
        raise ValueError(f"devices must be None, a number of devices or a list of devices; got {devices!r}.")
    if isinstance(devices, (int, np.integer, float, np.floating)):
        n = check_int("devices", devices, 1)
        if n < 1 or n > len(available):
            raise ValueError(f"devices must be between 1 and {len(available)} (local devices); got {n}.")
        return list(available[:n])
    devices = list(devices)
    if not devices:
        raise ValueError("devices must name at least one device; pass None for all local devices.")
    return devices


def device_mesh(devices: Sequence | int | None = None) -> Mesh:
    """A one-dimensional :class:`jax.sharding.Mesh` over ``devices`` with axis name ``AXIS``.

    Parameters
    ----------
    devices : None (every local device), int (the first n local devices) or a sequence of
        devices; see :func:`local_devices`.

    Returns
    -------
    Mesh with one axis, ``AXIS``. Host-side set-up: not traced.
    """
    return Mesh(np.array(local_devices(devices)), (AXIS,))


def shard_leading(x, mesh: Mesh | None, axis: int = 0):
    """``x`` split along ``axis`` over the devices of ``mesh``.

    Parameters
    ----------
    x : array whose ``axis`` has a length that is a multiple of the mesh size.
    mesh : Mesh from :func:`device_mesh`, or None (``x`` is returned unchanged).
    axis : int, the axis to split (default the leading one).

    Returns
    -------
    ``x`` with a :class:`NamedSharding` over ``AXIS``: placed with ``jax.device_put`` when
    concrete, constrained with ``jax.lax.with_sharding_constraint`` when traced (inside
    ``jit``), so the same call serves both. Values are unchanged: jit, vmap and grad safe.
    """
    if mesh is None:
        return x
    spec = [None] * np.ndim(x)
    spec[axis] = AXIS
    sharding = NamedSharding(mesh, PartitionSpec(*spec))
    if isinstance(x, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(x, sharding)
    return jax.device_put(x, sharding)


def sharded_map(f: Callable, xs, mesh: Mesh | None = None, chunk_size: int | None = None):
    """``jax.vmap(f)(xs)`` over the leading axis, sharded over ``mesh`` and run in chunks.

    Parameters
    ----------
    f : callable mapping one member of ``xs`` to a pytree of arrays.
    xs : pytree of arrays with a common leading axis of length n.
    mesh : Mesh from :func:`device_mesh`, or None (no sharding).
    chunk_size : int dividing n, or None. With it, ``lax.map`` runs n / chunk_size vmapped
        chunks in sequence (memory of one chunk), each split over the devices.

    Returns
    -------
    pytree of arrays with leading axis n, equal to ``jax.vmap(f)(xs)``. jit safe (the
    sharding becomes a constraint under ``jit``); differentiable through ``f``.
    Raises ValueError when ``chunk_size`` is not a whole number >= 1 dividing n.
    """
    n = jax.tree_util.tree_leaves(xs)[0].shape[0]
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, 1)
    if chunk_size is None or chunk_size >= n:
        return jax.vmap(f)(jax.tree_util.tree_map(lambda a: shard_leading(a, mesh), xs))
    if n % chunk_size:
        raise ValueError(f"chunk_size must divide the length of the mapped axis, {n}; got {chunk_size}.")
    n_chunks = n // chunk_size
    xs = jax.tree_util.tree_map(lambda a: shard_leading(a.reshape((n_chunks, chunk_size) + a.shape[1:]), mesh, 1),
                                xs)
    ys = jax.lax.map(jax.vmap(f), xs)
    return jax.tree_util.tree_map(lambda a: a.reshape((n,) + a.shape[2:]), ys)


def replicate(x, mesh: Mesh):
    """Place a copy of ``x`` on every device of ``mesh``."""
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec()))


def map_sum(fn: Callable, mesh: Mesh | None) -> Callable:
    """Turn ``fn(shard, *shared)`` into a function summing it over device shards.

    Parameters
    ----------
    fn : callable
        ``fn(shard, *shared) -> pytree of arrays``; ``shard`` is a pytree whose leaves have
        a leading axis of length 1 per device (the device's share), ``shared`` are
        replicated arguments.
    mesh : Mesh or None
        Mesh from :func:`device_mesh`. ``None`` or a one-device mesh evaluates ``fn``
        directly on the single share.

    Returns
    -------
    callable ``g(stacked, *shared)`` where the leaves of ``stacked`` have leading axis equal
    to the number of devices; returns the sum over devices of ``fn``. The returned function
    is not jitted (wrap it in ``jax.jit``); it is jit-, vmap- and grad-safe when ``fn`` is.
    """
    if mesh is None or mesh.size == 1:

        def single(stacked, *shared):
            return fn(stacked, *shared)

        return single

    def per_device(stacked, *shared):
        out = fn(stacked, *shared)
        return jax.tree_util.tree_map(lambda v: jax.lax.psum(v, AXIS), out)

    def spread(stacked, *shared):
        in_specs = (PartitionSpec(AXIS),) + tuple(PartitionSpec() for _ in shared)
        return jax.shard_map(per_device, mesh=mesh, in_specs=in_specs, out_specs=PartitionSpec(),
                             check_vma=False)(stacked, *shared)

    return spread

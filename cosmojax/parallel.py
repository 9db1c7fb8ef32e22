"""Spreading work over the local devices with ``jax.sharding`` and ``jax.shard_map``.

The n-point counters split their list of work items (pairs, triples or quadruples of
cell blocks) evenly over a one-dimensional device mesh; every device evaluates its share
and the partial sums are added with ``psum``. Because the items are integer counts or sums
whose split does not depend on the number of devices except through the order of float
additions, integer counts are identical on one and on many devices.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

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
    if isinstance(devices, (int, np.integer)):
        n = int(devices)
        if n < 1 or n > len(available):
            raise ValueError(f"devices must be between 1 and {len(available)} (local devices); got {n}.")
        return list(available[:n])
    devices = list(devices)
    if not devices:
        raise ValueError("devices must name at least one device; pass None for all local devices.")
    return devices


def device_mesh(devices: Sequence | int | None = None) -> Mesh:
    """A one-dimensional :class:`jax.sharding.Mesh` over ``devices`` with axis name ``AXIS``."""
    return Mesh(np.array(local_devices(devices)), (AXIS,))


def shard_leading(x, mesh: Mesh):
    """Place ``x`` (leading axis a multiple of the mesh size) split along its leading axis."""
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(AXIS)))


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

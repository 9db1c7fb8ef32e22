"""Driver shared by the n-point kernels: chunked, scanned, sharded evaluation of block tuples.

A kernel is a module-level function ``kernel(items, data, static) -> dict`` mapping a chunk
of ``C`` block tuples ``items (C, k) int32`` and device-resident ``data`` (block-arranged
positions, weights, ...) to per-chunk sums (integer counts and float sums). The driver

* pads the item list (M, k) with empty-block tuples to a multiple of ``D * S * C``
  (``D`` devices, ``S`` chunks scanned per call, both powers of two or fixed), so a kernel
  compiles once per size class;
* calls a jitted step that splits its ``(D, S, C, k)`` items over the devices with
  ``shard_map``, scans over ``S`` chunks on each (rematerialising each chunk under
  ``grad`` so memory stays at one chunk) and adds the results with ``psum``;
* adds the steps' integer counts on the host in int64 (no overflow even without x64) and
  the float sums as JAX arrays, so gradients flow back to the data.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax import parallel
from cosmojax.stats._cells import next_pow2, pad_items

#: Upper bound on the number of k-tuples a single step evaluates, so int32 counts cannot wrap.
_MAX_TUPLES_PER_STEP = 1 << 30


@functools.lru_cache(maxsize=128)
def _step(kernel, static, mesh):
    def shard_fn(items, data):
        items = items[0]  # this device's (S, C, k)

        body_kernel = jax.checkpoint(lambda it, d: kernel(it, d, static))
        zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype),
                                      jax.eval_shape(body_kernel, items[0], data))

        def body(carry, it):
            out = body_kernel(it, data)
            return jax.tree_util.tree_map(jnp.add, carry, out), None

        total, _ = jax.lax.scan(body, zero, items)
        return total

    return jax.jit(parallel.map_sum(shard_fn, mesh))


def _is_tracer(tree) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(tree))


def execute(kernel, static, items: np.ndarray, empty_block: np.ndarray, data, *, chunk_items: int,
            tuple_volume: int, devices=None):
    """Evaluate ``kernel`` over every item and return the summed outputs.

    Parameters
    ----------
    kernel : module-level function ``kernel(items, data, static)``.
    static : hashable configuration passed through to ``kernel``.
    items : (M, k) int32 block tuples.
    empty_block : (k,) int32 tuple of empty blocks used for padding.
    data : pytree of JAX arrays, replicated on every device.
    chunk_items : block tuples evaluated at once per device (memory bound).
    tuple_volume : point tuples per block tuple (``B ** k``), to keep int32 sums exact.
    devices : None, int or list of devices (see :func:`cosmojax.parallel.local_devices`).

    Returns
    -------
    dict with the kernel's keys; integer entries are int64 numpy arrays when concrete.
    """
    mesh = parallel.device_mesh(devices)
    n_dev = mesh.size
    chunk_items = max(int(chunk_items), 1)
    max_scan = max(1, _MAX_TUPLES_PER_STEP // (chunk_items * tuple_volume))
    want = -(-max(len(items), 1) // (n_dev * chunk_items))
    scan = max(1, min(next_pow2(want), 1 << int(np.floor(np.log2(max_scan))), 64))
    per_step = n_dev * scan * chunk_items
    items = pad_items(np.asarray(items, np.int32).reshape(-1, len(empty_block)), per_step,
                      np.asarray(empty_block, np.int32))
    step = _step(kernel, static, mesh if n_dev > 1 else None)
    if n_dev > 1:
        data = parallel.replicate(data, mesh) if not _is_tracer(data) else data
    total = None
    for start in range(0, len(items), per_step):
        block = items[start:start + per_step].reshape(n_dev, scan, chunk_items, -1)
        if n_dev > 1:
            block = parallel.shard_leading(block, mesh)
        out = step(block, data)
        out = {name: (np.asarray(v).astype(np.int64) if jnp.issubdtype(v.dtype, jnp.integer) and not _is_tracer(v)
                      else v) for name, v in out.items()}
        total = out if total is None else {name: total[name] + out[name] for name in out}
    return total

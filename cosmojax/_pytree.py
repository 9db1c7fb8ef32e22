"""Frozen dataclasses that are JAX pytrees, without importing a network library.

``pytree_dataclass`` plays the part of ``flax.struct.dataclass`` for the parameter
containers of the lower floors (``Cosmology``, ``BiasParams``): every field is a pytree
leaf (or subtree) that jit, vmap and grad may trace, and ``.replace(**changes)`` returns a
copy. Importing it costs only ``dataclasses`` and ``jax.tree_util``.
"""

from __future__ import annotations

import dataclasses

import jax


def pytree_dataclass(cls=None, *, static=()):
    """Make ``cls`` a frozen dataclass registered as a pytree.

    Every field is data (traced by jit, batched by vmap, differentiated by grad) except
    those named in ``static``, which are hashable metadata (a choice, a support, a size).
    Use as ``@pytree_dataclass`` or ``@pytree_dataclass(static=("z_max",))``. Adds
    ``replace(**changes)`` (``dataclasses.replace``). Field order is the flattening
    order, so ``jax.tree_util.tree_leaves`` lists the data fields as declared.
    """
    if cls is None:
        return lambda c: pytree_dataclass(c, static=static)
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.replace = lambda self, **changes: dataclasses.replace(self, **changes)
    names = [f.name for f in dataclasses.fields(cls)]
    data = [n for n in names if n not in static]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=list(static))

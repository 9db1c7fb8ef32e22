"""Frozen dataclasses that are JAX pytrees, without importing a network library.

``pytree_dataclass`` plays the part of ``flax.struct.dataclass`` for the parameter
containers of the lower floors (``Cosmology``, ``BiasParams``): every field is a pytree
leaf (or subtree) that jit, vmap and grad may trace, and ``.replace(**changes)`` returns a
copy. Importing it costs only ``dataclasses`` and ``jax.tree_util``.
"""

from __future__ import annotations

import dataclasses

import jax


def pytree_dataclass(cls):
    """Make ``cls`` a frozen dataclass registered as a pytree whose fields are all data.

    Adds ``replace(**changes)`` (``dataclasses.replace``). Field order is the flattening
    order, so ``jax.tree_util.tree_leaves`` lists the fields as declared.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.replace = lambda self, **changes: dataclasses.replace(self, **changes)
    names = [f.name for f in dataclasses.fields(cls)]
    return jax.tree_util.register_dataclass(cls, data_fields=names, meta_fields=[])

"""Helper shared by the network modules: activation look-up by name."""

from __future__ import annotations

from typing import Callable

import flax.linen as nn

ACTIVATIONS: dict[str, Callable] = {
    "relu": nn.relu,
    "leaky_relu": nn.leaky_relu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "tanh": nn.tanh,
    "softplus": nn.softplus,
    "elu": nn.elu,
}


def activation(name_or_fn) -> Callable:
    """Return an activation function from its name (see ``ACTIVATIONS``) or pass a callable through."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in ACTIVATIONS:
        raise ValueError(f"activation must be a callable or one of {sorted(ACTIVATIONS)}; got {name_or_fn!r}.")
    return ACTIVATIONS[name_or_fn]


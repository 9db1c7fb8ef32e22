"""Pre-activated bottleneck ResNet for image classification (e.g. strong-lens finders).

Each bottleneck unit is norm -> act -> 1x1 conv (f) -> norm -> act -> 3x3 conv (f, stride)
-> norm -> act -> 1x1 conv (4f), added to the input; when the shape changes the shortcut
is a strided 1x1 conv (4f) of the pre-activated input (He et al. 2016, "Identity mappings in
deep residual networks", arXiv:1603.05027; Lanusse et al. 2018 CMU DeepLens).

Normalisation is GroupNorm (or LayerNorm, or none) rather than BatchNorm, so the
parameters stay one plain pytree with no running statistics.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cosmojax._validate import check_choice
from cosmojax.nn._common import activation

NORMS = ("group", "layer", "none")


def _norm(kind: str, groups: int, name: str | None = None):
    if kind == "group":
        return nn.GroupNorm(num_groups=groups, name=name)
    if kind == "layer":
        return nn.LayerNorm(name=name)
    return lambda x: x


def _norm_act(module, x, name: str | None = None):
    """Pre-activation act(norm(x)) with ``module``'s norm, groups and activation; called
    inside its compact ``__call__``, so the norm's parameters belong to ``module``."""
    return activation(module.activation)(_norm(module.norm, module.groups, name=name)(x))


class PreActBottleneck(nn.Module):
    """One pre-activated bottleneck unit; output channels ``4 * features``.

    Input ``(batch, H, W, C)``, output ``(batch, H/stride, W/stride, 4 features)``.
    jit, vmap and grad safe.
    """

    features: int
    stride: int = 1
    norm: str = "group"
    groups: int = 4
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x):
        out_ch = 4 * self.features
        pre = _norm_act(self, x)
        if self.stride != 1 or x.shape[-1] != out_ch:
            shortcut = nn.Conv(out_ch, (1, 1), strides=(self.stride,) * 2, use_bias=False, name="shortcut")(pre)
        else:
            shortcut = x
        y = nn.Conv(self.features, (1, 1), use_bias=False)(pre)
        y = _norm_act(self, y)
        y = nn.Conv(self.features, (3, 3), strides=(self.stride,) * 2, padding="SAME", use_bias=False)(y)
        y = _norm_act(self, y)
        y = nn.Conv(out_ch, (1, 1), use_bias=False)(y)
        return y + shortcut


class PreActResNet(nn.Module):
    """Pre-activated bottleneck ResNet classifier.

    Attributes
    ----------
    stage_sizes : sequence of int
        Number of bottleneck units per stage, e.g. (3, 4, 6, 3) for ResNet-50.
    num_classes : int
        Number of output logits.
    base_features : int
        Bottleneck width of the first stage; doubled at each later stage.
    stem_features : int
        Channels of the 3x3 stem convolution.
    norm : {"group", "layer", "none"}
    groups : int
        Groups for GroupNorm (every width must be divisible by it).
    activation : str or callable

    The first unit of every stage after the first has stride 2. Input ``(batch, H, W, C)``,
    output logits ``(batch, num_classes)`` (final norm, activation and global average
    pooling before the linear classifier). jit, vmap and grad safe.
    """

    stage_sizes: Sequence[int]
    num_classes: int
    base_features: int = 16
    stem_features: int = 16
    norm: str = "group"
    groups: int = 4
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x):
        check_choice("norm", self.norm, NORMS)
        if x.ndim != 4:
            raise ValueError(f"x must have shape (batch, H, W, channels); got shape {x.shape}.")
        x = nn.Conv(self.stem_features, (3, 3), padding="SAME", use_bias=False, name="stem")(x)
        for stage, n_units in enumerate(self.stage_sizes):
            for unit in range(n_units):
                stride = 2 if (stage > 0 and unit == 0) else 1
                x = PreActBottleneck(
                    self.base_features * 2**stage, stride, self.norm, self.groups, self.activation
                )(x)
        x = _norm_act(self, x, name="final_norm")
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="classifier")(x)

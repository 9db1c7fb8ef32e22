"""3D U-Net for field-to-field maps (e.g. LPT density to halo counts).

Encoder: at each level two 3^3 convolutions, then 2x max pooling; decoder: a stride-2
transposed convolution, concatenation with the encoder features of the same level, two
3^3 convolutions; a final 1^3 convolution gives the output channels (Ronneberger et al.
2015; Cicek et al. 2016 for 3D; He et al. 2019, arXiv:1811.06533, for LPT -> N-body).

Convolutions use "SAME" zero padding; for periodic boxes pad the input periodically
(``jnp.pad(x, ..., mode="wrap")``) and crop the output if the boundary matters.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cosmojax.nn._common import activation


class UNet3D(nn.Module):
    """3D U-Net.

    Attributes
    ----------
    features : sequence of int
        Channels at each resolution level, finest first, e.g. (16, 32, 64): three levels,
        two poolings.
    out_channels : int
    kernel_size : int
    activation : str or callable

    Input ``(batch, D, H, W, C)`` with D, H, W divisible by ``2 ** (len(features) - 1)``;
    output ``(batch, D, H, W, out_channels)``. jit, vmap and grad safe.
    """

    features: Sequence[int]
    out_channels: int = 1
    kernel_size: int = 3
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x):
        if x.ndim != 5:
            raise ValueError(f"x must have shape (batch, D, H, W, channels); got shape {x.shape}.")
        factor = 2 ** (len(self.features) - 1)
        if any(n % factor for n in x.shape[1:4]):
            raise ValueError(
                f"x spatial shape {x.shape[1:4]} must be divisible by 2**(len(features) - 1) = {factor}."
            )
        act = activation(self.activation)
        kernel = (self.kernel_size,) * 3

        def double_conv(h, width):
            h = act(nn.Conv(width, kernel, padding="SAME")(h))
            return act(nn.Conv(width, kernel, padding="SAME")(h))

        skips = []
        for width in self.features[:-1]:
            x = double_conv(x, width)
            skips.append(x)
            x = nn.max_pool(x, (2, 2, 2), strides=(2, 2, 2))
        x = double_conv(x, self.features[-1])
        for width, skip in zip(reversed(self.features[:-1]), reversed(skips)):
            x = nn.ConvTranspose(width, (2, 2, 2), strides=(2, 2, 2))(x)
            x = jnp.concatenate([x, skip], axis=-1)
            x = double_conv(x, width)
        return nn.Conv(self.out_channels, (1, 1, 1))(x)

"""Convolutional regressors for 2D maps and 3D density sub-cubes.

Inputs are channels-last: ``(batch, H, W, C)`` for maps, ``(batch, D, H, W, C)`` for cubes.
Each block is ``convs_per_block`` convolutions (``kernel_size`` per axis, "SAME" padding,
activation after each) followed by a 2x pooling (max or average) on every spatial axis;
the result is flattened (or globally averaged) and fed through a dense head.

References
----------
Ravanbakhsh et al. 2017 (arXiv:1711.02033) and Pan et al. 2020 regress Omega_m and sigma8
from 32^3-voxel density sub-cubes with this kind of network (``density_cube_cnn``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice, check_int
from cosmojax.nn._common import activation

POOLING = ("max", "avg", "none")


class CNN(nn.Module):
    """Convolutional regressor for 2D maps or 3D cubes.

    Attributes
    ----------
    features : sequence of int
        Channels of the convolutions in each block (one block per entry).
    out_features : int
        Size of the output (e.g. number of parameters to regress).
    spatial_dims : int
        2 for maps ``(batch, H, W, C)``, 3 for cubes ``(batch, D, H, W, C)``.
    kernel_size : int
        Convolution width along every spatial axis.
    convs_per_block : int
        Convolutions before each pooling.
    pooling : {"max", "avg", "none"}
        2x pooling after each block ("none" keeps the resolution).
    dense : sequence of int
        Hidden widths of the dense head.
    global_pool : bool
        Average over the remaining spatial positions instead of flattening them.
    activation : str or callable

    Each spatial size must be divisible by ``2 ** len(features)`` when pooling. Output
    ``(batch, out_features)``. jit, vmap and grad safe (inputs and parameters).
    """

    features: Sequence[int]
    out_features: int
    spatial_dims: int = 2
    kernel_size: int = 3
    convs_per_block: int = 1
    pooling: str = "max"
    dense: Sequence[int] = (64,)
    global_pool: bool = False
    activation: str | Callable = "leaky_relu"

    @nn.compact
    def __call__(self, x):
        check_choice("pooling", self.pooling, POOLING)
        if self.spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3; got {self.spatial_dims}.")
        if x.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"x must have shape (batch, {'D, ' if self.spatial_dims == 3 else ''}H, W, channels) for "
                f"spatial_dims={self.spatial_dims}; got shape {x.shape}. Add a channel axis with x[..., None]."
            )
        if self.pooling != "none":
            factor = 2 ** len(self.features)
            if any(n % factor for n in x.shape[1:-1]):
                raise ValueError(
                    f"x spatial shape {x.shape[1:-1]} must be divisible by 2**len(features) = {factor}; "
                    "crop or pad the input, use fewer blocks, or pooling='none'."
                )
        act = activation(self.activation)
        kernel = (self.kernel_size,) * self.spatial_dims
        window = (2,) * self.spatial_dims
        for width in self.features:
            for _ in range(self.convs_per_block):
                x = act(nn.Conv(width, kernel, padding="SAME")(x))
            if self.pooling == "max":
                x = nn.max_pool(x, window, strides=window)
            elif self.pooling == "avg":
                x = nn.avg_pool(x, window, strides=window)
        if self.global_pool:
            x = jnp.mean(x, axis=tuple(range(1, 1 + self.spatial_dims)))
        else:
            x = x.reshape(x.shape[0], -1)
        for width in self.dense:
            x = act(nn.Dense(width)(x))
        return nn.Dense(self.out_features)(x)


def density_cube_cnn(out_features: int = 2) -> CNN:
    """CNN for 32^3-voxel density sub-cubes regressing e.g. (Omega_m, sigma8).

    Three blocks of two 3^3 convolutions (16, 32, 64 channels) with 2x average pooling,
    then dense layers of 256 and 64 units and a linear output. Input ``(batch, 32, 32, 32, 1)``
    (density contrast), output ``(batch, out_features)``.
    The module's ``apply`` is jit, vmap and grad safe.
    """
    return CNN(
        features=(16, 32, 64),
        out_features=out_features,
        spatial_dims=3,
        kernel_size=3,
        convs_per_block=2,
        pooling="avg",
        dense=(256, 64),
    )


def conv_output_size(spatial_shape: Sequence[int], n_blocks: int, pooling: str = "max") -> int:
    """Number of spatial positions left after ``n_blocks`` blocks (for parameter counting).

    Host-side integer arithmetic on static sizes; non-integer sizes raise ``ValueError``.
    """
    shape = np.asarray([check_int(f"spatial_shape[{i}]", n) for i, n in enumerate(spatial_shape)])
    n_blocks = check_int("n_blocks", n_blocks, 0)
    check_choice("pooling", pooling, POOLING)
    if pooling != "none":
        shape = shape // 2**n_blocks
    return int(np.prod(shape))

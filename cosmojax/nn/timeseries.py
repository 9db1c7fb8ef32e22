"""1D convolutional network for irregularly sampled time series (light curves) with a mask.

Series are padded to a common length T; ``mask`` marks the real samples. Values and times
at masked-out positions are zeroed before the first convolution and the mask itself and the
time step since the previous sample are fed as extra channels, so the network knows where
the gaps are. After the convolutions a masked average over time (the mask is max-pooled
alongside the features) gives one vector per series, which a dense head maps to the output.
The output never depends on what is stored at masked-out positions.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cosmojax.nn._common import activation


class TimeSeriesCNN(nn.Module):
    """Masked 1D CNN.

    Attributes
    ----------
    features : sequence of int
        Channels of the convolution blocks (one 1D conv + optional 2x max pool each).
    out_features : int
    kernel_size : int
    pool : bool
        2x max pooling after every block (T must then be divisible by 2**len(features)).
    dense : sequence of int
        Hidden widths of the head.
    activation : str or callable

    Call arguments
    --------------
    x : (batch, T, C) array, the measured values (e.g. flux, its error)
    mask : (batch, T) bool or {0, 1} array, True where a sample exists
    times : (batch, T) array or None, observation times (any unit); when given, the step
        t[i] - t[i-1] (0 unless samples i and i-1 are both real) is an extra input channel.

    Returns ``(batch, out_features)``. jit, vmap and grad safe.
    """

    features: Sequence[int]
    out_features: int
    kernel_size: int = 5
    pool: bool = True
    dense: Sequence[int] = (64,)
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x, mask, times=None):
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, T, channels); got shape {x.shape}.")
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask must have shape (batch, T) = {x.shape[:2]}; got {mask.shape}.")
        if self.pool and x.shape[1] % 2 ** len(self.features):
            raise ValueError(
                f"T = {x.shape[1]} must be divisible by 2**len(features) = {2 ** len(self.features)}; pad the series."
            )
        act = activation(self.activation)
        m = mask.astype(x.dtype)[..., None]
        channels = [x * m, m]
        if times is not None:
            if times.shape != x.shape[:2]:
                raise ValueError(f"times must have shape (batch, T) = {x.shape[:2]}; got {times.shape}.")
            t = times[..., None] * m
            # step from the previous position when both are real samples, else 0
            prev = jnp.concatenate([t[:, :1], t[:, :-1]], axis=1)
            prev_m = jnp.concatenate([m[:, :1], m[:, :-1]], axis=1)
            channels.append((t - prev) * m * prev_m)
        h = jnp.concatenate(channels, axis=-1)
        for width in self.features:
            h = act(nn.Conv(width, (self.kernel_size,), padding="SAME")(h)) * m
            if self.pool:
                h = nn.max_pool(h, (2,), strides=(2,))
                m = nn.max_pool(m, (2,), strides=(2,))
        pooled = jnp.sum(h * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1.0)
        for width in self.dense:
            pooled = act(nn.Dense(width)(pooled))
        return nn.Dense(self.out_features)(pooled)

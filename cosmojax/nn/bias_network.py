"""Neural bias model: a tiny network from the matter density to the mean tracer count.

Following Charnock et al. (2020, arXiv:1909.06379), the network sees the matter density
through a single 3x3x3 convolution whose kernel is rotationally invariant (one weight per
shell of the stencil: centre, 6 faces, 12 edges, 8 corners), then a pointwise head whose
softplus output is the expected number of haloes in each voxel. With the default three
filters it has 19 parameters, few enough to sample with HMC.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.nn._common import activation

# Shell of each of the 27 stencil cells: 0 centre, 1 face, 2 edge, 3 corner.
_OFFSETS = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1)
SHELL_INDEX = np.sum(np.abs(_OFFSETS), axis=-1)


def isotropic_kernel(shell_weights):
    """Expand (4, c_in, c_out) shell weights into a (3, 3, 3, c_in, c_out) kernel."""
    return shell_weights[SHELL_INDEX]


def shell_sums(x):
    """Sums of a periodic field over the four shells of the 3x3x3 stencil around each cell.

    x : (..., n1, n2, n3, c) field; returns (..., n1, n2, n3, 4, c): the cell itself, the
    sum of its 6 face neighbours, 12 edge neighbours and 8 corner neighbours, with periodic
    wrap-around. With P_a the sum of the two neighbours along axis a, these are x,
    (P_1 + P_2 + P_3) x, (P_1 P_2 + P_1 P_3 + P_2 P_3) x and P_1 P_2 P_3 x: nine rolls in
    all, much cheaper than a dense 27-tap convolution. jit, vmap and grad safe.
    """

    def pair(y, axis):
        return jnp.roll(y, 1, axis) + jnp.roll(y, -1, axis)

    axes = (-4, -3, -2)
    p1, p2 = pair(x, axes[0]), pair(x, axes[1])
    p12 = pair(p1, axes[1])
    faces = p1 + p2 + pair(x, axes[2])
    edges = p12 + pair(p1 + p2, axes[2])
    corners = pair(p12, axes[2])
    return jnp.stack([x, faces, edges, corners], axis=-2)


class IsotropicConv3D(nn.Module):
    """Periodic 3x3x3 convolution with a rotationally invariant kernel.

    Input (B, n1, n2, n3, c_in), output (B, n1, n2, n3, features). The kernel has
    4 * c_in * features weights (one per shell) plus ``features`` biases; its result is
    invariant under the 48 rotations and reflections of the cube, and the boundary is
    periodic. It is evaluated as a weighted sum of ``shell_sums``, the same result as a
    dense convolution with ``isotropic_kernel(shells)``. jit, vmap and grad safe.
    """

    features: int

    @nn.compact
    def __call__(self, x):
        c_in = x.shape[-1]
        fan_in = 27 * c_in
        shells = self.param("shells", nn.initializers.normal(1.0 / np.sqrt(fan_in)), (4, c_in, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        y = jnp.einsum("...sc,scf->...f", shell_sums(x), shells.astype(x.dtype))
        return y + bias


class NeuralBias(nn.Module):
    """Mean tracer count per voxel from a matter overdensity mesh.

    Attributes
    ----------
    features : filters of the isotropic convolution (default 3: 19 parameters in all)
    act : activation between the convolution and the head (name or callable). The
        default, softplus, suits sampling the weights: with a positively homogeneous
        activation (relu, leaky_relu) scaling a filter by c and its head weight by 1/c
        leaves the rate unchanged, an exact ridge in the likelihood that only the prior
        bounds
    floor : the input feature is ln(1 + delta + floor), finite in empty cells

    Call with ``delta`` of shape (n1, n2, n3) or (B, n1, n2, n3) (dimensionless, >= -1);
    returns the expected counts, same shape, > 0. jit, vmap and grad safe in the
    parameters and in ``delta``.
    """

    features: int = 3
    act: str = "softplus"
    floor: float = 1e-3

    @nn.compact
    def __call__(self, delta):
        delta = jnp.asarray(delta)
        if delta.ndim not in (3, 4):
            raise ValueError(f"delta must have shape (n1, n2, n3) or (B, n1, n2, n3); got {delta.shape}.")
        single = delta.ndim == 3
        x = delta[None] if single else delta
        feature = jnp.log(jnp.maximum(1.0 + x + self.floor, self.floor))[..., None]
        h = activation(self.act)(IsotropicConv3D(self.features)(feature))
        rate = nn.softplus(nn.Dense(1)(h))[..., 0]
        return rate[0] if single else rate

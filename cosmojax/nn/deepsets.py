"""Deep Sets: permutation-invariant networks on sets (Zaheer et al. 2017, arXiv:1703.06114).

f(X) = rho( pool_i phi(x_i) ) with pool a (masked) sum or mean, so the output does not
depend on the order of the elements (e.g. the stars of a stellar stream).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cosmojax._validate import check_choice
from cosmojax.nn.heads import MLP

POOLS = ("sum", "mean", "max")


class DeepSets(nn.Module):
    """Permutation-invariant set network.

    Attributes
    ----------
    phi_features : sequence of int
        Widths of the per-element MLP phi (last entry: embedding size).
    rho_features : sequence of int
        Widths of the MLP rho on the pooled embedding (last entry: output size).
    pool : {"sum", "mean", "max"}
    activation : str or callable

    Call arguments
    --------------
    x : (batch, n, d) array, n elements of d features each
    mask : (batch, n) bool or {0, 1} array or None, True for real elements (padding excluded)

    Returns ``(batch, rho_features[-1])``. Invariant under any permutation of the n axis
    (applied to x and mask together). jit, vmap and grad safe.
    """

    phi_features: Sequence[int]
    rho_features: Sequence[int]
    pool: str = "sum"
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, x, mask=None):
        check_choice("pool", self.pool, POOLS)
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, n, d); got shape {x.shape}.")
        emb = MLP(self.phi_features, self.activation, name="phi")(x)
        m = jnp.ones(x.shape[:2], x.dtype) if mask is None else mask.astype(x.dtype)
        if m.shape != x.shape[:2]:
            raise ValueError(f"mask must have shape (batch, n) = {x.shape[:2]}; got {m.shape}.")
        if self.pool == "sum":
            pooled = jnp.sum(emb * m[..., None], axis=1)
        elif self.pool == "mean":
            pooled = jnp.sum(emb * m[..., None], axis=1) / jnp.maximum(jnp.sum(m, axis=1, keepdims=True), 1.0)
        else:
            pooled = jnp.max(jnp.where(m[..., None] > 0, emb, -jnp.inf), axis=1)
        return MLP(self.rho_features, self.activation, name="rho")(pooled)

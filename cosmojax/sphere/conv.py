"""Spherical convolutions on HEALPix: Chebyshev graph convolution and nested pooling.

The graph joins each pixel to its (7 or) 8 neighbours from ``healpy.get_all_neighbours``
in NESTED ordering, with edge weights either 1 or a Gaussian kernel of the angular
distance, :math:`w_{ij} = \\exp(-d_{ij}^2/\\rho^2)` with :math:`\\rho` the mean neighbour
distance (Perraudin et al. 2019, Astron. Comput. 27, 130, "DeepSphere"). A layer applies
a polynomial of the rescaled combinatorial Laplacian (Defferrard et al. 2016, NeurIPS):

.. math::

    L = D - W,\\qquad \\tilde L = \\frac{2}{\\lambda_{\\max}} L - I,\\qquad
    y = \\sum_{k=0}^{K-1} T_k(\\tilde L)\\, x\\, \\Theta_k,

with Chebyshev polynomials :math:`T_0 = I, T_1 = \\tilde L,
T_k = 2\\tilde L T_{k-1} - T_{k-2}`. Being a function of the graph, the layer commutes with
every permutation of pixels that preserves the weighted graph, e.g. the rotations by
multiples of 90 degrees about the polar axis (which permute the base pixels).

Pooling by 4 uses the NESTED hierarchy: the children of pixel ``p`` at ``nside`` are
``4p .. 4p + 3`` at ``2 nside``. All maps here are NESTED, shape (..., npix, channels).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import flax.linen as nn
import healpy as hp
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice
from cosmojax.sphere.geometry import check_nside

GRAPH_WEIGHTS = ("gaussian", "binary")
POOL_REDUCTIONS = ("mean", "max")


class HealpixGraph(NamedTuple):
    """Pixel-neighbour graph of a NESTED HEALPix grid (static numpy arrays).

    neighbours : (npix, max_degree) int, neighbour indices; padded with ``npix``
    weights : (npix, max_degree) float64, edge weights (0 on padding)
    degree : (npix,) float64, weighted degree sum_j w_ij
    lmax_eig : float, largest eigenvalue of L = D - W (power iteration, slightly inflated)
    """

    neighbours: np.ndarray
    weights: np.ndarray
    degree: np.ndarray
    lmax_eig: float


@functools.lru_cache(maxsize=16)
def healpix_graph(nside: int, weights: str = "gaussian") -> HealpixGraph:
    """Build the symmetric neighbour graph of a NESTED HEALPix grid.

    Parameters
    ----------
    nside : int, power of 2
    weights : {"gaussian", "binary"}

    Returns
    -------
    HealpixGraph (numpy; static set-up, not traced).
    """
    nside = check_nside(nside)
    check_choice("weights", weights, GRAPH_WEIGHTS)
    npix = 12 * nside * nside
    nbrs = hp.get_all_neighbours(nside, np.arange(npix), nest=True).T  # (npix, 8), -1 if none
    rows = np.repeat(np.arange(npix), nbrs.shape[1])
    cols = nbrs.ravel()
    keep = (cols >= 0) & (cols != rows)
    pairs = np.unique(np.stack([rows[keep], cols[keep]], axis=1), axis=0)
    # symmetrise: union of (i, j) and (j, i)
    pairs = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)
    i, j = pairs[:, 0], pairs[:, 1]
    if weights == "gaussian":
        vec = np.stack(hp.pix2vec(nside, np.arange(npix), nest=True), axis=1)
        dist = np.arccos(np.clip(np.sum(vec[i] * vec[j], axis=1), -1.0, 1.0))
        w = np.exp(-(dist**2) / np.mean(dist) ** 2)
    else:
        w = np.ones(len(i))
    count = np.bincount(i, minlength=npix)
    width = int(count.max())
    slot = np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count)
    neighbours = np.full((npix, width), npix, dtype=np.int32)
    table = np.zeros((npix, width))
    neighbours[i, slot] = j
    table[i, slot] = w
    degree = table.sum(axis=1)
    # power iteration for the largest eigenvalue of L = D - W
    v = np.random.default_rng(0).normal(size=npix)
    lam = 0.0
    for _ in range(200):
        padded = np.append(v, 0.0)
        u = degree * v - np.sum(table * padded[neighbours], axis=1)
        lam = float(np.linalg.norm(u) / np.linalg.norm(v))
        v = u / np.linalg.norm(u)
    return HealpixGraph(neighbours=neighbours, weights=table, degree=degree, lmax_eig=1.01 * lam)


def rescaled_laplacian(x, graph: HealpixGraph):
    """Apply the rescaled Laplacian 2 (D - W) / lambda_max - I to maps.

    Parameters
    ----------
    x : (..., npix, channels) array, NESTED ordering
    graph : HealpixGraph of the same nside

    Returns
    -------
    (..., npix, channels) array. jit, vmap and grad safe (in ``x``).
    """
    npix = graph.degree.shape[0]
    if x.shape[-2] != npix:
        raise ValueError(f"x must have {npix} pixels on its last-but-one axis; got shape {x.shape}.")
    dtype = x.dtype
    padded = jnp.concatenate([x, jnp.zeros(x.shape[:-2] + (1, x.shape[-1]), dtype)], axis=-2)
    gathered = jnp.take(padded, jnp.asarray(graph.neighbours), axis=-2)  # (..., npix, deg, C)
    wx = jnp.sum(jnp.asarray(graph.weights, dtype)[..., None] * gathered, axis=-2)
    lap = jnp.asarray(graph.degree, dtype)[:, None] * x - wx
    return (2.0 / graph.lmax_eig) * lap - x


def chebyshev_basis(x, graph: HealpixGraph, order: int):
    """The ``order`` terms T_k(L~) x, k = 0..order-1, stacked on a new last axis.

    x : (..., npix, channels) -> (..., npix, channels, order). jit, vmap and grad safe.
    """
    terms = [x]
    if order > 1:
        terms.append(rescaled_laplacian(x, graph))
    for _ in range(2, order):
        terms.append(2.0 * rescaled_laplacian(terms[-1], graph) - terms[-2])
    return jnp.stack(terms, axis=-1)


class ChebConv(nn.Module):
    """Chebyshev graph convolution on a NESTED HEALPix map.

    Attributes
    ----------
    nside : int, resolution of the input maps
    features : int, output channels
    order : int, number of Chebyshev terms K (polynomial degree K - 1; receptive field
        K - 1 neighbour rings)
    use_bias : bool
    weights : {"gaussian", "binary"}, graph edge weights

    Call with x : (..., npix, channels_in) -> (..., npix, features). Parameters: a kernel of
    shape (channels_in * order, features) and a bias (features,). jit, vmap and grad safe.
    """

    nside: int
    features: int
    order: int = 3
    use_bias: bool = True
    weights: str = "gaussian"

    @nn.compact
    def __call__(self, x):
        if self.order < 1:
            raise ValueError(f"order must be >= 1; got {self.order}.")
        graph = healpix_graph(self.nside, self.weights)
        npix = 12 * self.nside * self.nside
        if x.ndim < 2 or x.shape[-2] != npix:
            raise ValueError(f"x must have shape (..., {npix}, channels) for nside {self.nside}; got {x.shape}.")
        basis = chebyshev_basis(x, graph, self.order)
        basis = basis.reshape(basis.shape[:-2] + (-1,))
        fan_in = basis.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (fan_in, self.features), x.dtype)
        y = basis @ kernel
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), x.dtype)
        return y


def _check_pool_input(x, name):
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., npix, channels); got {x.shape}.")
    npix = x.shape[-2]
    nside = int(round(np.sqrt(npix / 12)))
    if 12 * nside * nside != npix or nside & (nside - 1):
        raise ValueError(f"{name} has {npix} pixels on its last-but-one axis; need 12 nside^2 (nside a power of 2).")
    return nside


def healpix_pool(x, reduce: str = "mean"):
    """Pool a NESTED map by 4 (nside -> nside / 2).

    Parameters
    ----------
    x : (..., npix, channels) array, NESTED, nside >= 2
    reduce : {"mean", "max"}

    Returns
    -------
    (..., npix / 4, channels) array. jit, vmap and grad safe.
    """
    check_choice("reduce", reduce, POOL_REDUCTIONS)
    x = jnp.asarray(x)
    if _check_pool_input(x, "x") < 2:
        raise ValueError("x must have nside >= 2 to be pooled.")
    groups = x.reshape(x.shape[:-2] + (x.shape[-2] // 4, 4, x.shape[-1]))
    return groups.mean(axis=-2) if reduce == "mean" else groups.max(axis=-2)


def healpix_unpool(x):
    """Unpool a NESTED map by 4 (nside -> 2 nside), each child copying its parent.

    x : (..., npix, channels) -> (..., 4 npix, channels). jit, vmap and grad safe.
    """
    x = jnp.asarray(x)
    _check_pool_input(x, "x")
    return jnp.repeat(x, 4, axis=-2)


class HealpixPool(nn.Module):
    """Flax wrapper of ``healpix_pool``: (..., npix, C) -> (..., npix / 4, C), NESTED."""

    reduce: str = "mean"

    @nn.compact
    def __call__(self, x):
        return healpix_pool(x, self.reduce)


class HealpixUnpool(nn.Module):
    """Flax wrapper of ``healpix_unpool``: (..., npix, C) -> (..., 4 npix, C), NESTED."""

    @nn.compact
    def __call__(self, x):
        return healpix_unpool(x)


def base_rotation_permutation(nside: int, quarter_turns: int = 1) -> np.ndarray:
    """NESTED pixel permutation of a rotation by ``quarter_turns`` x 90 degrees about the z axis.

    It moves base pixel f to the next one in its row (0-3, 4-7, 8-11) and keeps the index
    inside the base pixel. Returns (npix,) int array ``perm`` with
    ``rotated_map[perm] = map``.
    """
    nside = check_nside(nside)
    npix = 12 * nside * nside
    p = np.arange(npix)
    face, sub = p // (nside * nside), p % (nside * nside)
    face = (face // 4) * 4 + (face % 4 + quarter_turns) % 4
    return face * nside * nside + sub

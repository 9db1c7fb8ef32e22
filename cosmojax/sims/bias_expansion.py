"""Local bias models: linear, quadratic and tidal, in Lagrangian or Eulerian space.

The tracer field is expanded in the matter overdensity delta and the tidal invariant
s^2 = s_ij s_ij, s_ij = (d_i d_j / d^2 - delta_ij / 3) delta (McDonald & Roy 2009;
Desjacques, Jeong & Schmidt 2018):

.. math:: F[\\delta] = b_1 \\delta + \\frac{b_2}{2}\\left(\\delta^2 - \\langle\\delta^2\\rangle\\right)
          + b_{s^2}\\left(s^2 - \\langle s^2\\rangle\\right).

Eulerian bias applies F to the evolved density mesh: delta_t = F[delta]. Lagrangian bias
weights each particle by 1 + F[delta_L](q) at its initial (lattice) position and paints the
weights at the evolved positions (Matsubara 2008; Modi, Chen & White 2020), so the
Eulerian linear bias is 1 + b_1.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from cosmojax._pytree import pytree_dataclass
from cosmojax._validate import check_finite, check_mesh_shape, check_real
from cosmojax.mesh import kvec_numpy, paint
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import positions


@pytree_dataclass
class BiasParams:
    """Bias coefficients, a pytree (every field may be traced).

    b1 : linear bias; b2 : quadratic bias; bs2 : tidal bias. Dimensionless.
    """

    b1: float = 1.0
    b2: float = 0.0
    bs2: float = 0.0


def _check_mesh(name, field):
    check_mesh_shape(f"{name}.shape", np.shape(field), ndims=(3,))
    check_real(name, field)
    check_finite(name, field)


def smooth(field, box_size, scale):
    """Gaussian smoothing exp(-k^2 R^2 / 2) of a real 3D mesh; ``scale`` R in Mpc/h.

    Returns the mesh shape. jit and grad safe (also in ``scale``).
    """
    shape = np.shape(field)
    k2 = sum(k**2 for k in kvec_numpy(shape, box_size))
    return jnp.fft.irfftn(jnp.fft.rfftn(field) * jnp.exp(-0.5 * k2 * scale**2), s=shape)


def tidal_squared(delta, box_size):
    """Tidal invariant s^2 = sum_ij s_ij^2 of a real 3D overdensity mesh.

    delta : (n1, n2, n3) array; box_size : float, Mpc/h. Returns a mesh of the same
    shape, dimensionless. jit, vmap and grad safe.
    """
    _check_mesh("delta", delta)
    shape = np.shape(delta)
    kvec = kvec_numpy(shape, box_size)
    k2 = sum(k**2 for k in kvec)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_k2 = np.where(k2 > 0, 1.0 / k2, 0.0)
    delta_k = jnp.fft.rfftn(delta)
    total = 0.0
    for i in range(3):
        for j in range(i, 3):
            kernel = kvec[i] * kvec[j] * inv_k2 - (1.0 / 3.0 if i == j else 0.0)
            kernel = np.where(k2 > 0, kernel, 0.0)
            sij = jnp.fft.irfftn(delta_k * jnp.asarray(kernel, delta_k.real.dtype), s=shape)
            total = total + (1.0 if i == j else 2.0) * sij**2
    return total


def bias_expansion(delta, bias: BiasParams, box_size):
    """F[delta] = b1 delta + b2/2 (delta^2 - <delta^2>) + bs2 (s^2 - <s^2>) on a mesh.

    delta : (n1, n2, n3) real overdensity; box_size : Mpc/h. Returns the same shape; mean
    zero. jit, vmap and grad safe (in ``delta`` and ``bias``).
    """
    d2 = delta**2
    s2 = tidal_squared(delta, box_size)
    return bias.b1 * delta + 0.5 * bias.b2 * (d2 - d2.mean()) + bias.bs2 * (s2 - s2.mean())


def eulerian_bias(delta, bias: BiasParams, box_size, *, smoothing: float | None = None):
    """Eulerian local bias: tracer overdensity F[delta] of an evolved density mesh.

    Parameters
    ----------
    delta : (n1, n2, n3) real array, matter overdensity
    bias : BiasParams
    box_size : float, Mpc/h
    smoothing : Gaussian scale R (Mpc/h) applied to delta first, or None

    Returns
    -------
    (n1, n2, n3) array, tracer overdensity (may be < -1; see ``tracers``).
    jit, vmap and grad safe.
    """
    _check_mesh("delta", delta)
    if smoothing is not None:
        delta = smooth(delta, box_size, smoothing)
    return bias_expansion(delta, bias, box_size)


def lagrangian_weights(delta_lin, bias: BiasParams, box_size):
    """Per-particle weights 1 + F[delta_L](q) on the particle lattice.

    delta_lin : (n, n, n) linear overdensity at the particles' lattice points (e.g.
    ``linear_density(noise, cosmo, config, a)``). Returns (n^3,) in the particles' C order.
    jit, vmap and grad safe.
    """
    _check_mesh("delta_lin", delta_lin)
    return (1.0 + bias_expansion(delta_lin, bias, box_size)).reshape(-1)


def lagrangian_bias(disp, delta_lin, bias: BiasParams, config: SimConfig, mesh_shape=None):
    """Lagrangian local bias: paint the weighted particles at their evolved positions.

    Parameters
    ----------
    disp : (N, 3) displacements from the lattice, Mpc/h (an LPT or N-body snapshot)
    delta_lin : (n, n, n) linear overdensity on the particle lattice
    bias : BiasParams (Lagrangian coefficients; Eulerian b1 = 1 + b1_L on large scales)
    config : SimConfig (box, scheme)
    mesh_shape : output mesh, default the particle grid

    Returns
    -------
    (mesh_shape) tracer overdensity, mean zero. jit and vmap safe; differentiable in
    ``disp`` (piecewise), ``delta_lin`` and ``bias``.
    """
    if np.shape(delta_lin) != config.mesh_shape:
        raise ValueError(f"delta_lin must have the particle-grid shape {config.mesh_shape}; got {np.shape(delta_lin)}.")
    shape = config.mesh_shape if mesh_shape is None else tuple(mesh_shape)
    weights = lagrangian_weights(delta_lin, bias, config.box_size).astype(disp.dtype)
    pos = positions(disp, config)
    mesh = paint(pos, shape, config.box_size, weights=weights, scheme=config.scheme, chunk_size=config.chunk_size)
    return mesh / jnp.mean(mesh) - 1.0


__all__ = [
    "BiasParams",
    "smooth",
    "tidal_squared",
    "bias_expansion",
    "eulerian_bias",
    "lagrangian_weights",
    "lagrangian_bias",
]


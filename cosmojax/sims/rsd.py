"""Redshift-space distortions: move particles along the line of sight by their velocity.

.. math:: \\mathbf s = \\mathbf x + \\frac{\\mathbf v \\cdot \\hat{\\mathbf n}}{a H(a)}\\,
          \\hat{\\mathbf n} \\qquad (\\text{Kaiser 1987}),

with comoving x in Mpc/h, peculiar velocity v in km/s and aH = 100 a E(a) km/s per Mpc/h.
The line of sight n is either one fixed direction (plane-parallel, distant observer) or
the direction from an observer to each particle.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, check_positions, check_positive, check_real
from cosmojax.cosmology import hubble
from cosmojax.cosmology.parameters import check_cosmology, check_scale_factor

#: H0 in km/s per Mpc/h.
H0_KMS = 100.0


def peculiar_velocity(mom, a):
    """Peculiar velocity v = 100 p / a km/s from the canonical momentum p = a^3 E dx/da.

    mom : (N, 3) array, Mpc/h; a : scale factor > 0. Returns (N, 3), km/s. jit, vmap, grad
    safe; under jit/vmap/grad a traced ``a`` <= 0 or NaN gives NaN velocities.
    """
    check_real("mom", mom)
    a = check_scale_factor("a", a)
    return H0_KMS * jnp.asarray(mom) / a


def _unit(vector, name):
    v = np.asarray(vector, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise ValueError(f"{name} must be a non-zero 3-vector; got {vector!r}.")
    return v / np.linalg.norm(v)


def redshift_space(pos, vel, cosmo, a, box_size=None, *, los=(0.0, 0.0, 1.0), observer=None):
    """Redshift-space positions.

    Parameters
    ----------
    pos : (N, 3) array, comoving positions, Mpc/h
    vel : (N, 3) array, peculiar velocities, km/s (``peculiar_velocity(mom, a)``)
    cosmo : Cosmology
    a : float, scale factor of the snapshot
    box_size : float or None, Mpc/h. When given, the shifted positions are wrapped
        periodically into [0, box_size) (plane-parallel case only); when None they are
        returned unwrapped.
    los : 3-vector, the fixed line of sight (normalised here); ignored with ``observer``
    observer : 3-vector or None, Mpc/h: use the radial direction from this point to
        each particle instead (no wrapping)

    Returns
    -------
    (N, 3) array, Mpc/h. jit and vmap safe; differentiable in ``pos``, ``vel``, ``cosmo``
    and ``a``. Bad concrete input raises ``ValueError`` (``TypeError`` if complex); under
    jit/vmap/grad a traced cosmology out of range or ``a`` <= 0 gives NaN positions (the
    contract of ``cosmojax.cosmology.parameters.check_cosmology``).
    """
    check_real("pos", pos)
    check_real("vel", vel)
    check_positions("pos", pos, 3)
    check_positions("vel", vel, 3)
    if np.shape(vel) != np.shape(pos):
        raise ValueError(f"vel must have the shape of pos {np.shape(pos)}; got {np.shape(vel)}.")
    cosmo = check_cosmology(cosmo)
    a = check_scale_factor("a", a)
    pos = jnp.asarray(pos)
    vel = jnp.asarray(vel, pos.dtype)
    scale = 1.0 / (H0_KMS * a * hubble(cosmo, a))
    if observer is not None:
        obs = np.asarray(observer, dtype=float)
        if obs.shape != (3,) or not np.all(np.isfinite(obs)):
            raise ValueError(f"observer must be a finite 3-vector (Mpc/h); got {observer!r}.")
        r = pos - jnp.asarray(obs, pos.dtype)
        dist = jnp.linalg.norm(r, axis=-1, keepdims=True)
        n = r / jnp.where(dist > 0, dist, 1.0)
        return pos + (scale * jnp.sum(vel * n, axis=-1, keepdims=True)) * n
    n = jnp.asarray(_unit(los, "los"), pos.dtype)
    shifted = pos + (scale * jnp.matmul(vel, n, precision=jax.lax.Precision.HIGHEST))[:, None] * n
    if box_size is None:
        return shifted
    check_positive("box_size", box_size)
    check_finite("box_size", box_size)
    return jnp.mod(shifted, box_size)

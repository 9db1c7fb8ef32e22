"""Laplace approximation of a log density at a maximum: covariance and evidence.

Matrix products run at full float32 precision on every backend (no TF32 on GPUs).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


class Laplace(NamedTuple):
    """Gaussian approximation N(mode, covariance) of exp(log_density) near ``mode``.

    covariance, precision : (d, d) over the position raveled by ``ravel_pytree`` (sorted
        keys for a dict); precision = inverse(covariance) = minus the Hessian, with its
        eigenvalues floored (see ``laplace_approximation``)
    log_peak : () log_density(mode)
    log_evidence : () ln of the integral of exp(log_density) under the approximation,
        log_peak + d/2 ln(2 pi) - 1/2 ln det(precision)
    is_maximum : () bool, whether every curvature was above the floor (minus the Hessian
        positive definite and not nearly singular); where not, ``log_evidence`` is
        meaningless
    """

    covariance: jax.Array
    precision: jax.Array
    log_peak: jax.Array
    log_evidence: jax.Array
    is_maximum: jax.Array


def laplace_approximation(log_density: Callable[[Any], jax.Array], mode, floor: float = 1e-10) -> Laplace:
    """Laplace approximation of ``log_density`` at ``mode`` (a maximum, e.g. from ``adam_ascent``).

    .. math:: \\int e^{L(x)} dx \\approx e^{L(x_0)} (2\\pi)^{d/2} |-\\nabla\\nabla L(x_0)|^{-1/2}

    Curvatures below ``floor`` times the largest (flat or convex directions, away from a
    maximum) are raised to it, so the covariance is always positive definite; then
    ``is_maximum`` is False and the evidence is not meaningful. ``mode`` is any pytree of
    arrays. Returns a ``Laplace``. jit and vmap safe (the Hessian is dense: d up to a few
    hundred).
    """
    flat, unravel = ravel_pytree(mode)
    hessian = jax.hessian(lambda x: -log_density(unravel(x)))(flat)
    values, vectors = jnp.linalg.eigh(0.5 * (hessian + hessian.T))
    tiny = jnp.finfo(values.dtype).tiny
    lowest = floor * jnp.maximum(values.max(), 0.0) + tiny
    is_maximum = values.min() > lowest
    values = jnp.maximum(values, lowest)
    covariance = jnp.matmul(vectors / values, vectors.T, precision=jax.lax.Precision.HIGHEST)
    precision = jnp.matmul(vectors * values, vectors.T, precision=jax.lax.Precision.HIGHEST)
    covariance, precision = 0.5 * (covariance + covariance.T), 0.5 * (precision + precision.T)
    log_peak = log_density(mode)
    log_evidence = log_peak + 0.5 * flat.size * math.log(2.0 * math.pi) - 0.5 * jnp.sum(jnp.log(values))
    return Laplace(covariance, precision, log_peak, log_evidence, is_maximum)

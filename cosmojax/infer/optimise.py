"""Ascent of a log density to its maximum: Adam (optax), then Newton steps to polish."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from cosmojax._validate import check_int


def adam_ascent(log_density: Callable[[Any], jax.Array], init_position, *, steps: int = 500, learning_rate: float = 0.02):
    """Maximise ``log_density`` by ``steps`` Adam steps from ``init_position``.

    Parameters
    ----------
    log_density : callable position -> scalar, differentiable
    init_position : a pytree of arrays (its units are the step's units)
    steps : int >= 1 (static); learning_rate : Adam's step size

    Returns
    -------
    (position, history): the final position (same pytree) and the (steps,) log density
    before each step. A pure ``lax.scan``: jit and vmap safe (e.g. over data sets that
    ``log_density`` takes from vmapped arguments).
    """
    import optax

    steps = check_int("steps", steps)
    opt = optax.adam(learning_rate)

    def body(carry, _):
        p, state = carry
        value, grad = jax.value_and_grad(lambda q: -log_density(q))(p)
        updates, state = opt.update(grad, state, p)
        return (optax.apply_updates(p, updates), state), -value

    (position, _), history = jax.lax.scan(body, (init_position, opt.init(init_position)), None, length=steps)
    return position, history


def newton_ascent(log_density: Callable[[Any], jax.Array], position, *, steps: int = 5):
    """Polish a point near a maximum of ``log_density`` by Newton steps.

    Each step solves -H dx = grad with the dense Hessian H of the raveled position and is
    taken only where -H is positive definite and the step raises the log density, so a
    point away from a concave region stays where it is. Converges quadratically where
    Adam creeps (ill-conditioned maxima). ``steps`` >= 1, static. Returns the position
    (same pytree). jit and vmap safe; costs one Hessian per step (d up to a few hundred).
    """
    steps = check_int("steps", steps)
    flat, unravel = ravel_pytree(position)

    def f(x):
        return log_density(unravel(x))

    def body(x, _):
        value, grad = jax.value_and_grad(f)(x)
        curvature, vectors = jnp.linalg.eigh(-jax.hessian(f)(x))
        trial = x + vectors @ ((vectors.T @ grad) / curvature)
        better = jnp.all(curvature > 0) & (f(trial) > value)
        return jnp.where(better, trial, x), None

    flat, _ = jax.lax.scan(body, flat, None, length=steps)
    return unravel(flat)

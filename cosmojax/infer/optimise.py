"""Gradient ascent of a log density: maximum a posteriori points by Adam (optax)."""

from __future__ import annotations

from typing import Any, Callable

import jax

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

"""Minibatch training shared by the tests that check a network can learn."""

import jax
import jax.numpy as jnp
import optax


def fit_minibatches(loss, params, key, n, batch, steps, learning_rate=3e-3):
    """Adam on ``loss(params, idx)`` over ``steps`` random minibatches of ``batch`` of the
    ``n`` examples (the i-th from ``fold_in(key, i)``), as one jitted scan.

    Returns the trained parameters and the (steps,) minibatch losses before each update.
    """
    opt = optax.adam(learning_rate)

    @jax.jit
    def train(p):
        def one(c, i):
            p, s = c
            idx = jax.random.permutation(jax.random.fold_in(key, i), n)[:batch]
            val, g = jax.value_and_grad(loss)(p, idx)
            u, s = opt.update(g, s)
            return (optax.apply_updates(p, u), s), val

        (p, _), vals = jax.lax.scan(one, (p, opt.init(p)), jnp.arange(steps))
        return p, vals

    return train(params)

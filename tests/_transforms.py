"""Checks of the jit and vmap claims of docstrings: vmap over a batch equals a Python
loop over its members, and jit equals eager evaluation."""

import jax
import jax.numpy as jnp
import numpy as np


def _member(batch, i):
    return jax.tree_util.tree_map(lambda a: a[i], batch)


def _assert_trees_close(got, want, rtol, atol):
    got_leaves, got_def = jax.tree_util.tree_flatten(got)
    want_leaves, want_def = jax.tree_util.tree_flatten(want)
    assert got_def == want_def
    for g, w in zip(got_leaves, want_leaves):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def assert_vmap_and_jit(f, *batched, rtol=1e-5, atol=1e-6):
    """``jax.jit(jax.vmap(f))`` over the leading axis of every argument equals ``f`` run
    eagerly on each member of the batch in a Python loop.

    One compilation checks both claims: vmap gives the loop's answer, and the compiled
    program gives the eager one. Both sides run with float32 matmuls at full precision:
    on GPUs the default float32 matmul is TF32, whose rounding differs between batched and
    unbatched products.
    """
    n = jax.tree_util.tree_leaves(batched)[0].shape[0]
    with jax.default_matmul_precision("highest"):
        loop = [f(*_member(batched, i)) for i in range(n)]
        stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *loop)
        batch = jax.jit(jax.vmap(f))(*batched)
    _assert_trees_close(batch, stacked, rtol, atol)


def keys(n, seed=0):
    """``n`` keys for a batch of random calls."""
    return jax.random.split(jax.random.key(seed), n)

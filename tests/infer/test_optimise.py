"""Adam ascent of a log density: the maximum, and the jit(vmap) claim."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.infer.optimise import adam_ascent


def test_adam_ascent_finds_the_maximum_and_vmaps_over_targets():
    centres = jnp.array([[1.0, -2.0], [0.5, 3.0], [-4.0, 0.0]])

    def ascend(c):
        return adam_ascent(lambda p: -jnp.sum((p["x"] - c) ** 2), {"x": jnp.zeros(2)}, steps=400, learning_rate=0.1)

    best, history = jax.jit(jax.vmap(ascend))(centres)
    np.testing.assert_allclose(best["x"], centres, atol=1e-3)
    assert history.shape == (3, 400)
    assert np.all(np.asarray(history[:, -1]) > -1e-5)
    for c, b in zip(centres, best["x"]):
        np.testing.assert_allclose(ascend(c)[0]["x"], b, atol=1e-5)


def test_adam_ascent_rejects_bad_steps():
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        adam_ascent(lambda p: -jnp.sum(p**2), jnp.zeros(2), steps=0)

"""Adam and Newton ascent of a log density: the maximum, and the jit(vmap) claims."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.infer.optimise import adam_ascent, newton_ascent


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


def test_newton_ascent_converges_on_a_stiff_maximum_and_stays_off_concave_regions(x64):
    precision = jnp.array([[1e4, 99.0], [99.0, 1.0]])  # condition number about 5e4
    centre = jnp.array([0.3, -1.0])

    def stiff(p):
        d = p["x"] - centre
        return -0.5 * d @ precision @ d - 0.1 * jnp.sum(d**4)

    near = {"x": centre + jnp.array([0.01, 0.5])}
    polished = jax.jit(lambda p: newton_ascent(stiff, p, steps=6))(near)
    np.testing.assert_allclose(polished["x"], centre, atol=1e-10)
    # at a minimum of cos (x = pi) minus the Hessian is not positive definite: no step
    at_minimum = jax.vmap(lambda x: newton_ascent(lambda y: jnp.cos(y), x))(jnp.array([jnp.pi, 0.2]))
    np.testing.assert_allclose(at_minimum, [np.pi, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        newton_ascent(stiff, near, steps=0)

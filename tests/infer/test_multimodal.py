import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm

from cosmojax.infer import distinct_modes, sample_modes, weighted_draws

LEFT, RIGHT = jnp.array([-4.0, 0.0]), jnp.array([4.0, 1.0])
LEFT_SD, RIGHT_SD = jnp.array([0.5, 0.5]), jnp.array([1.0, 0.3])
# eight starts on both sides: six fall to the right mode, two to the left
STARTS = jnp.array([[-6.0, -1.0], [-3.0, 1.0], [2.0, -1.0], [3.0, 1.0], [5.0, -1.0], [6.0, 1.0], [3.0, 3.0], [7.0, 0.0]])


def mixture(right_weight):
    """ln density of (1 - w) N(LEFT, LEFT_SD^2) + w N(RIGHT, RIGHT_SD^2): two well-separated modes."""

    def log_density(x):
        left = jnp.log1p(-right_weight) + jnp.sum(norm.logpdf(x, LEFT, LEFT_SD))
        right = jnp.log(right_weight) + jnp.sum(norm.logpdf(x, RIGHT, RIGHT_SD))
        return jnp.logaddexp(left, right)

    return log_density


def test_distinct_modes_merges_repeats_and_keeps_the_best():
    optima = jnp.array([[0.0, 0.0], [1e-3, 0.0], [5.0, 5.0], [5.0, 5.0], [9.0, 9.0]])
    precisions = jnp.broadcast_to(jnp.eye(2), (5, 2, 2))
    evidence = jnp.array([1.0, 1.5, 0.0, 0.0, jnp.nan])
    keep = jax.jit(distinct_modes)(optima, precisions, evidence)
    assert keep.tolist() == [False, True, True, False, False]  # tie: the lower index; NaN never
    # the distance is in posterior widths: a tight mode separates what a wide one merges
    assert distinct_modes(optima[:2], 1e8 * precisions[:2], evidence[:2]).tolist() == [True, True]


def test_chains_from_every_mode_get_the_modes_masses():
    weights = jnp.array([0.75, 0.4])

    def run(key, w):
        return sample_modes(
            key, mixture(w), STARTS, num_modes=3, num_warmup=200, num_samples=400, steps=400, learning_rate=0.05
        )

    samples = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 2), weights)
    assert samples.n_distinct.tolist() == [2, 2]
    np.testing.assert_allclose(samples.unsampled_mass, 0.0, atol=1e-6)
    for i, w in enumerate(np.asarray(weights)):
        one = jax.tree_util.tree_map(lambda x: x[i], samples)
        x, p = jax.jit(weighted_draws)(one)
        np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
        right = float(jnp.sum(p * (x[:, 0] > 0)))
        assert abs(right - w) < 0.03, (w, right)
        mean = (1 - w) * np.asarray(LEFT) + w * np.asarray(RIGHT)
        np.testing.assert_allclose(jnp.sum(p[:, None] * x, axis=0), mean, atol=0.2)
        assert int(one.is_divergent.sum()) == 0
    # the third chain went back to the better mode and shares its weight
    best = samples.positions[0][:, :, 0].mean(axis=1) > 0
    assert best.tolist() == [True, False, True] and samples.mode_rank[0].tolist() == [0, 1, 0]
    np.testing.assert_allclose(np.exp(samples.log_weights[0]), [0.375, 0.25, 0.375], atol=1e-4)


def test_bad_options_raise():
    log_density = mixture(0.5)
    with pytest.raises(ValueError, match="num_modes must be at most"):
        sample_modes(jax.random.key(0), log_density, STARTS[:2], num_modes=3, num_warmup=10, num_samples=10)
    with pytest.raises(ValueError, match="starts must be"):
        sample_modes(jax.random.key(0), log_density, jnp.array(1.0), num_modes=1, num_warmup=10, num_samples=10)
    with pytest.raises(ValueError, match="merge_distance"):
        sample_modes(jax.random.key(0), log_density, STARTS, num_modes=1, num_warmup=10, num_samples=10,
                     merge_distance=0.0)


def test_saddle_points_are_not_modes():
    # 0.5 N(-3, 1) + 0.5 N(3, 1) has a saddle at 0 where the gradient vanishes; floored
    # curvature there would give it a huge Laplace evidence
    def log_density(x):
        return jnp.logaddexp(jnp.sum(norm.logpdf(x, -3.0, 1.0)), jnp.sum(norm.logpdf(x, 3.0, 1.0)))

    starts = jnp.array([[-5.0], [0.0], [5.0]])
    samples = sample_modes(jax.random.key(1), log_density, starts, num_modes=3, num_warmup=10, num_samples=10,
                           steps=300, learning_rate=0.05)
    assert int(samples.n_distinct) == 2 and not bool(samples.fallback)
    np.testing.assert_allclose(np.sort(np.abs(samples.modes[:2, 0])), [3.0, 3.0], atol=1e-3)
    assert float(jnp.min(jnp.abs(samples.modes[:, 0]))) > 2.9  # no chain starts at the saddle


def test_without_a_clean_maximum_the_chains_start_at_the_highest_point():
    # exp(-x^4 - y^2) from starts with x = 0: the gradient in x stays 0 and the Hessian is
    # singular there, so no end point has a Laplace evidence and the fallback starts the chains
    def log_density(p):
        return -p[0] ** 4 - p[1] ** 2

    starts = jnp.array([[0.0, -1.0], [0.0, 0.5], [0.0, 2.0]])
    samples = sample_modes(jax.random.key(2), log_density, starts, num_modes=2, num_warmup=200, num_samples=1000,
                           steps=300, learning_rate=0.05)
    assert bool(samples.fallback) and int(samples.n_distinct) == 1
    x, p = weighted_draws(samples)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    # E[x^2] under exp(-x^4) is Gamma(3/4) / Gamma(1/4) = 0.338; E[y^2] under exp(-y^2) is 0.5
    np.testing.assert_allclose(jnp.sum(p[:, None] * x**2, axis=0), [0.338, 0.5], atol=0.05)


def test_chains_from_a_saddle_with_a_stiff_rotated_hessian_are_not_frozen():
    # 0.5 u0^2 - u0^4 - 5000 |u_1:|^2 in rotated coordinates u = Q x: every start at 0 stays at
    # the saddle, whose floored Laplace covariance (condition number 1e10) has no float32
    # Cholesky factor; started there, NUTS chains never moved. They start at the identity now.
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    rotation = jnp.asarray(q, jnp.float32)

    def log_density(x):
        u = rotation @ x
        return 0.5 * u[0] ** 2 - u[0] ** 4 - 5000.0 * jnp.sum(u[1:] ** 2)

    run = jax.jit(lambda k, s: sample_modes(k, log_density, s, num_modes=2, num_warmup=300, num_samples=500, steps=100))
    samples = run(jax.random.key(0), jnp.zeros((3, 4)))
    assert bool(samples.fallback)
    x, p = weighted_draws(samples)
    u2 = jnp.sum(p[:, None] * (x @ rotation.T) ** 2, axis=0)
    grid = np.linspace(-3.0, 3.0, 20001)
    density = np.exp(0.5 * grid**2 - grid**4)
    np.testing.assert_allclose(u2[0], np.sum(grid**2 * density) / np.sum(density), rtol=0.1)  # 0.417
    np.testing.assert_allclose(u2[1:], 1e-4, rtol=0.1)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax.infer import (
    effective_sample_size,
    importance_sample_size,
    make_distance,
    pmc_abc,
    rejection_abc,
    run_pmc_abc,
)

# Toy: 10 draws from N(mu, 1), summary = sample mean; flat prior on [-5, 5].
# The exact posterior is N(xbar, 1/10).
N_DATA = 10
XBAR = 0.7


def simulator(key, theta):
    return jnp.mean(theta[0] + jax.random.normal(key, (N_DATA,)))[None]


def prior_sample(key, n):
    return jax.random.uniform(key, (n, 1), minval=-5.0, maxval=5.0)


def prior_log_prob(theta):
    inside = jnp.all(jnp.abs(theta) <= 5.0)
    return jnp.where(inside, -jnp.log(10.0), -jnp.inf)


def test_rejection_abc_recovers_the_analytic_posterior():
    res = rejection_abc(jax.random.key(0), simulator, prior_sample, jnp.array([XBAR]), n_simulations=40_000, quantile=0.02)
    assert res.samples.shape == (800, 1)
    mean = float(jnp.mean(res.samples))
    std = float(jnp.std(res.samples))
    assert mean == pytest.approx(XBAR, abs=0.05)
    # the tolerance widens the posterior a little: var = 1/10 + eps^2 / 3
    expected = np.sqrt(0.1 + float(res.epsilon) ** 2 / 3)
    assert std == pytest.approx(expected, rel=0.1)
    assert float(res.ess) == pytest.approx(800)
    assert float(jnp.max(res.distances)) == pytest.approx(float(res.epsilon))


def test_pmc_abc_shrinks_the_tolerance_and_matches_the_posterior():
    algo = pmc_abc(simulator, prior_sample, prior_log_prob, jnp.array([XBAR]), n_particles=500, quantile=0.5, batch_size=512)
    result, infos = run_pmc_abc(jax.random.key(1), algo, n_rounds=6, progress=False)
    eps = [float(i.epsilon) for i in infos]
    assert all(b < a for a, b in zip(eps, eps[1:]))
    assert all(bool(i.filled) for i in infos)
    w = np.asarray(result.weights)
    x = np.asarray(result.samples[:, 0])
    mean = np.sum(w * x)
    std = np.sqrt(np.sum(w * (x - mean) ** 2))
    assert mean == pytest.approx(XBAR, abs=0.06)
    assert std == pytest.approx(np.sqrt(0.1 + eps[-1] ** 2 / 3), rel=0.15)
    assert float(result.ess) > 150
    assert int(result.n_simulations) > 2000
    assert w.sum() == pytest.approx(1.0, rel=1e-5)


def test_distance_with_a_metric_and_ess():
    d = make_distance(jnp.array([1.0, 2.0]), metric=jnp.diag(jnp.array([4.0, 1.0])))
    assert float(d(jnp.array([2.0, 2.0]))) == pytest.approx(2.0)
    assert float(importance_sample_size(jnp.array([1.0, 1.0, 0.0, 0.0]))) == pytest.approx(2.0)
    assert float(importance_sample_size(jnp.array([0.5, 0.25, 0.25]))) == pytest.approx(1.0 / 0.375)
    assert float(jax.jit(importance_sample_size)(jnp.full(7, 3.0))) == pytest.approx(7.0)
    # d/dw_i (sum w)^2 / sum w^2 = 2 S / Q - 2 S^2 w_i / Q^2: (0, 0, 2) at w = (1, 1, 0)
    np.testing.assert_allclose(jax.grad(importance_sample_size)(jnp.array([1.0, 1.0, 0.0])), [0.0, 0.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(jax.vmap(importance_sample_size)(jnp.array([[1.0, 0.0], [1.0, 1.0]])), [1.0, 2.0])
    with pytest.warns(DeprecationWarning, match="importance_sample_size"):
        assert float(effective_sample_size(jnp.array([1.0, 1.0, 0.0, 0.0]))) == pytest.approx(2.0)


def test_bad_abc_inputs_raise():
    obs = jnp.array([0.0])
    with pytest.raises(ValueError, match="quantile must be in"):
        rejection_abc(jax.random.key(0), simulator, prior_sample, obs, n_simulations=100, quantile=0.0)
    with pytest.raises(ValueError, match="n_simulations must be an integer >= 1"):
        rejection_abc(jax.random.key(0), simulator, prior_sample, obs, n_simulations=0)
    with pytest.raises(ValueError, match="observed must be a .p,. summary of the simulator's shape .1,."):
        rejection_abc(jax.random.key(0), simulator, prior_sample, jnp.zeros(2), n_simulations=10)
    with pytest.raises(ValueError, match="metric must be symmetric positive definite"):
        make_distance(obs, metric=-jnp.eye(1))
    with pytest.raises(ValueError, match="observed contains NaN"):
        rejection_abc(jax.random.key(0), simulator, prior_sample, jnp.array([jnp.nan]), n_simulations=10)
    with pytest.raises(ValueError, match="metric must have shape"):
        make_distance(obs, metric=jnp.eye(2))
    with pytest.raises(ValueError, match="initial_simulations must be"):
        pmc_abc(simulator, prior_sample, prior_log_prob, obs, n_particles=100, initial_simulations=50)
    with pytest.raises(ValueError, match="initial_simulations must be an integer >= 100"):
        pmc_abc(simulator, prior_sample, prior_log_prob, obs, n_particles=100, initial_simulations=0)


def test_simulations_come_in_equal_batches_and_are_all_counted():
    # 1025 draws in batches of at most 1024: two batches of 513, every one of them used
    res = rejection_abc(jax.random.key(0), simulator, prior_sample, jnp.array([XBAR]), n_simulations=1025,
                        quantile=0.1, batch_size=1024)
    assert int(res.n_simulations) == 1026
    assert res.samples.shape == (103, 1)
    algo = pmc_abc(simulator, prior_sample, prior_log_prob, jnp.array([XBAR]), n_particles=50,
                   initial_simulations=300, batch_size=128)
    assert int(algo.init(jax.random.key(1)).n_simulations) == 300


def test_pmc_abc_resumed_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    algo = pmc_abc(simulator, prior_sample, prior_log_prob, jnp.array([XBAR]), n_particles=100, quantile=0.5,
                   batch_size=128)
    key = jax.random.key(4)
    whole, whole_infos = run_pmc_abc(key, algo, n_rounds=4, progress=False)
    path = tmp_path / "pmc.ckpt"
    run_pmc_abc(key, algo, n_rounds=2, progress=False, checkpoint_path=path)
    resumed, infos = run_pmc_abc(key, algo, n_rounds=4, progress=False, checkpoint_path=path)
    np.testing.assert_array_equal(resumed.samples, whole.samples)
    np.testing.assert_array_equal(resumed.weights, whole.weights)
    assert int(resumed.n_simulations) == int(whole.n_simulations)
    assert len(infos) == 4
    np.testing.assert_array_equal([float(i.epsilon) for i in infos], [float(i.epsilon) for i in whole_infos])
    assert [bool(i.filled) for i in infos] == [bool(i.filled) for i in whole_infos]
    # a damaged file is refused, naming it, rather than resumed
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="pmc.ckpt.*truncated.*resume=False"):
        run_pmc_abc(key, algo, n_rounds=5, progress=False, checkpoint_path=path)
    fresh, _ = run_pmc_abc(key, algo, n_rounds=4, progress=False, checkpoint_path=path, resume=False)
    np.testing.assert_array_equal(fresh.samples, whole.samples)
    with pytest.raises(ValueError, match="checkpoint_path .* does not exist; create it first"):
        run_pmc_abc(key, algo, n_rounds=4, progress=False, checkpoint_path=tmp_path / "no" / "pmc.ckpt")

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from cosmojax.infer import (
    NUTSCheckpoint,
    chain_diagnostics,
    chain_starts,
    concatenate_draws,
    resume_nuts_blackjax,
    interval_coverage,
    laplace_inverse_mass,
    nuts_blackjax,
    nuts_chain,
    nuts_numpyro,
    sbc_ranks,
)

# A correlated 2D Gaussian target with known moments.
MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PREC = np.linalg.inv(COV)


def log_density(position):
    r = position["theta"] - MEAN
    return -0.5 * r @ PREC @ r


def model():
    numpyro.sample("theta", dist.MultivariateNormal(jnp.asarray(MEAN), jnp.asarray(COV)))


def check_moments(draws, tol_sigma=5):
    draws = draws.reshape(-1, 2)
    n_eff = draws.shape[0] / 4  # conservative: NUTS chains are mildly autocorrelated
    err = np.sqrt(np.diag(COV) / n_eff)
    assert np.all(np.abs(draws.mean(0) - MEAN) < tol_sigma * err)
    np.testing.assert_allclose(np.cov(draws.T), COV, rtol=0.15, atol=0.1)


def test_numpyro_nuts_recovers_the_target():
    res = nuts_numpyro(jax.random.key(0), model, num_warmup=300, num_samples=1000, num_chains=2)
    assert res.samples["theta"].shape == (2, 1000, 2)
    check_moments(res.samples["theta"])
    assert res.max_rhat < 1.01
    assert res.min_ess > 200
    assert res.divergences == 0
    assert 0.6 < res.acceptance < 1.0


def test_blackjax_nuts_recovers_the_target_and_agrees_with_numpyro():
    res = nuts_blackjax(jax.random.key(1), log_density, {"theta": jnp.zeros(2)}, num_warmup=300, num_samples=1000, num_chains=2)
    assert res.samples["theta"].shape == (2, 1000, 2)
    check_moments(res.samples["theta"])
    assert res.max_rhat < 1.01 and res.min_ess > 200
    other = nuts_numpyro(jax.random.key(2), model, num_warmup=300, num_samples=500, num_chains=2)
    a, b = res.flat("theta"), other.flat("theta")
    se = np.sqrt(np.diag(COV) * (4 / a.shape[0] + 4 / b.shape[0]))
    assert np.all(np.abs(a.mean(0) - b.mean(0)) < 4 * se)
    # leapfrog steps per transition: both backends adapt to one acceptance on one target,
    # so their trajectories are alike; a tree depth (1-2 here) or a constant would not be
    assert res.num_steps.shape == (2, 1000) and other.num_steps.shape == (2, 500)
    assert res.gradient_evaluations == res.num_steps.sum() > 2000
    mean_steps = res.num_steps.mean(), other.num_steps.mean()
    assert all(2.0 < m < 8.0 for m in mean_steps), mean_steps
    assert abs(mean_steps[0] - mean_steps[1]) < 0.3 * mean_steps[1]
    assert np.isclose(res.ess_per_gradient, res.min_ess / res.gradient_evaluations)


def test_sequential_chains_are_the_vectorised_chains(x64):
    """Same keys, same chains: only the schedule differs (in float32 the last bits of a
    batched gradient differ, and over many transitions the trajectories then part)."""
    mean, precision = jnp.asarray(MEAN), jnp.asarray(PREC)  # float64 here

    def target(position):
        r = position["theta"] - mean
        return -0.5 * r @ precision @ r

    start = {"theta": jnp.zeros(2)}
    options = dict(num_warmup=100, num_samples=200, num_chains=2)
    together = nuts_blackjax(jax.random.key(1), target, start, **options)
    alone = nuts_blackjax(jax.random.key(1), target, start, chain_method="sequential", **options)
    np.testing.assert_allclose(alone.samples["theta"], together.samples["theta"], atol=1e-8)
    np.testing.assert_array_equal(alone.num_steps, together.num_steps)
    assert together.samples["theta"].std() > 0.5  # the draws move


def test_max_tree_depth_caps_the_reported_leapfrog_steps():
    res = nuts_blackjax(jax.random.key(1), log_density, {"theta": jnp.zeros(2)}, num_warmup=50, num_samples=100,
                        num_chains=2, max_tree_depth=2)
    assert res.num_steps.min() >= 1 and res.num_steps.max() <= 3  # 2^2 - 1
    assert np.any(res.num_steps == 3)


def test_rhat_detects_chains_that_disagree():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 200))
    bad = good + np.array([0, 0, 0, 3.0])[:, None]
    rhat, ess = chain_diagnostics({"good": good, "bad": bad})
    assert float(rhat["good"]) < 1.02
    assert float(rhat["bad"]) > 1.2
    assert 500 < float(ess["good"]) < 1200


def test_ess_of_antithetic_chains_is_capped_at_s_log10_s():
    # x_t = (-1)^t z_t-ish: lag-1 autocorrelation -0.9, integrated time about 0.05, so the
    # raw estimate is negative or far above the number of draws
    rng = np.random.default_rng(1)
    x = np.empty((2, 400))
    x[:, 0] = rng.normal(size=2)
    for t in range(1, 400):
        x[:, t] = -0.9 * x[:, t - 1] + np.sqrt(1 - 0.81) * rng.normal(size=2)
    _, ess = chain_diagnostics({"x": x})
    assert float(ess["x"]) == pytest.approx(800 * np.log10(800))
    # ordinary chains keep their estimate below the cap
    _, ess = chain_diagnostics({"x": rng.normal(size=(2, 400))})
    assert 500 < float(ess["x"]) < 800 * np.log10(800)


def test_coverage_in_repeated_synthetic_trials():
    # Simulation-based-calibration style: draw mu from its N(0, 2^2) prior, data given mu,
    # and check that central posterior intervals cover the true mu at their nominal rates.
    # All trials run as one vmapped program.
    n_trials, n_data = 200, 8
    k_mu, k_y, k_w, k_s = jax.random.split(jax.random.key(3), 4)
    mu_true = 2.0 * jax.random.normal(k_mu, (n_trials,))
    ys = mu_true[:, None] + jax.random.normal(k_y, (n_trials, n_data))

    def posterior_draws(kw, ks, y):
        def log_density(p):
            return -0.5 * (p["mu"] / 2.0) ** 2 - 0.5 * jnp.sum((y - p["mu"]) ** 2)

        return nuts_chain(kw, ks, log_density, {"mu": jnp.zeros(())}, num_warmup=200, num_samples=400).positions["mu"]

    draws = np.asarray(
        jax.jit(jax.vmap(posterior_draws))(jax.random.split(k_w, n_trials), jax.random.split(k_s, n_trials), ys)
    )
    mu = np.asarray(mu_true)
    for level, (rate, err) in interval_coverage(mu, draws, (0.5, 0.68, 0.9)).items():
        assert abs(rate - level) < 3 * err + 0.02, (level, rate)
    # ranks of the truth among 40 thinned draws: uniform on 0..40 (chi-square over 8 bins)
    ranks = sbc_ranks(mu, draws[:, ::10])
    counts = np.bincount(ranks * 8 // 41, minlength=8)
    assert np.sum((counts - n_trials / 8) ** 2 / (n_trials / 8)) < 20.3  # 99.5% of chi2(7)
    # the posterior means match the conjugate answer
    exact = ys.sum(1) / (n_data + 0.25)
    np.testing.assert_allclose(draws.mean(1), exact, atol=0.12)


def test_laplace_inverse_mass_is_the_covariance_of_a_gaussian(x64):
    # a stiff, strongly correlated target over two sites; the Laplace covariance is exact
    scales = np.array([1e-2, 1.0, 10.0])
    corr = np.array([[1.0, 0.9, -0.5], [0.9, 1.0, -0.3], [-0.5, -0.3, 1.0]])
    cov = corr * np.outer(scales, scales)
    prec = np.linalg.inv(cov)

    def stiff(p):
        x = jnp.concatenate([p["a"][None], p["b"]])  # ravel order: sorted keys, a then b
        return -0.5 * x @ prec @ x

    start = {"b": jnp.array([5.0, -3.0]), "a": jnp.asarray(0.1)}  # far from the mode: no matter
    np.testing.assert_allclose(laplace_inverse_mass(stiff, start), cov, rtol=1e-8, atol=1e-16)
    # a flat direction is floored, not inverted into inf
    flat = laplace_inverse_mass(lambda p: -0.5 * p["x"][0] ** 2, {"x": jnp.zeros(2)})
    assert np.all(np.isfinite(flat)) and np.linalg.eigvalsh(flat).min() > 0

    # both samplers start their dense adaptation from it and recover the target
    res = nuts_blackjax(jax.random.key(5), stiff, start, num_warmup=150, num_samples=600, num_chains=2,
                        dense_mass=True, inverse_mass_matrix=laplace_inverse_mass(stiff, start), jitter=0.0)
    draws = np.concatenate([res.flat("a")[:, None], res.flat("b")], axis=1)
    np.testing.assert_allclose(np.cov(draws.T) / np.outer(scales, scales), corr, atol=0.15)
    np.testing.assert_allclose(draws.std(0) / scales, 1.0, atol=0.15)
    assert res.max_rhat < 1.02

    def stiff_model():
        a = numpyro.sample("a", dist.ImproperUniform(dist.constraints.real, (), ()))
        b = numpyro.sample("b", dist.ImproperUniform(dist.constraints.real_vector, (), (2,)))
        numpyro.factor("target", stiff({"a": a, "b": b}))

    res = nuts_numpyro(jax.random.key(6), stiff_model, num_warmup=150, num_samples=600, num_chains=2,
                       dense_mass=True, inverse_mass_matrix=laplace_inverse_mass(stiff, start),
                       init_params={"a": jnp.zeros(2), "b": jnp.zeros((2, 2))})
    draws = np.concatenate([res.flat("a")[:, None], res.flat("b")], axis=1)
    np.testing.assert_allclose(draws.std(0) / scales, 1.0, atol=0.15)
    assert res.max_rhat < 1.02


def test_bad_inverse_mass_matrix_raises():
    with pytest.raises(ValueError, match="inverse_mass_matrix must be a symmetric"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, dense_mass=True, inverse_mass_matrix=np.ones(2))
    with pytest.raises(ValueError, match="positive definite"):
        nuts_numpyro(jax.random.key(0), model, dense_mass=True, inverse_mass_matrix=-np.eye(2))
    with pytest.raises(ValueError, match="positive"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, inverse_mass_matrix=np.array([1.0, -1.0]))


def test_calibration_helpers_on_known_cases():
    rng = np.random.default_rng(1)
    centre = rng.normal(size=4000)
    truth = centre + rng.normal(size=4000)  # truth and draws exchangeable: calibrated
    calibrated = centre[:, None] + rng.normal(size=(4000, 200))
    over = centre[:, None] + 0.5 * rng.normal(size=(4000, 200))  # too narrow: 90% covers 59%
    for level, (rate, err) in interval_coverage(truth, calibrated).items():
        assert abs(rate - level) < 4 * err + 0.01
    assert interval_coverage(truth, over, (0.9,))[0.9][0] < 0.7
    ranks = sbc_ranks(np.array([0.0, 10.0]), np.array([[-1.0, 1.0, 2.0], [1.0, 2.0, 3.0]]))
    assert ranks.tolist() == [1, 3]
    with pytest.raises(ValueError, match="truth must be"):
        sbc_ranks(np.zeros(3), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="levels"):
        interval_coverage(truth, calibrated, (1.5,))


def test_weighted_calibration_helpers_use_the_weights():
    rng = np.random.default_rng(2)
    centre = rng.normal(size=4000)
    truth = centre + rng.normal(size=4000)  # posterior N(centre, 1)
    wide = rng.normal(size=(4000, 400))
    draws = centre[:, None] + 2.0 * wide  # proposals N(centre, 2^2), importance weights to N(centre, 1)
    weights = np.exp(-0.5 * wide**2 * 3.0)
    for level, (rate, err) in interval_coverage(truth, draws, weights=weights).items():
        assert abs(rate - level) < 4 * err + 0.01
    assert interval_coverage(truth, draws, (0.9,))[0.9][0] > 0.99  # unweighted: too wide
    ranks = sbc_ranks(truth, draws, weights=weights)
    hist = np.bincount(ranks * 8 // 401, minlength=8)
    assert np.sum((hist - 500) ** 2 / 500) < 24.3  # chi2, 7 dof, 99.9%
    equal = np.ones_like(draws)
    np.testing.assert_array_equal(sbc_ranks(truth, draws, weights=equal), sbc_ranks(truth, draws))
    for level, (rate, _) in interval_coverage(truth, draws, weights=equal).items():
        assert abs(rate - interval_coverage(truth, draws, (level,))[level][0]) < 0.005
    with pytest.raises(ValueError, match="weights must have the shape"):
        sbc_ranks(truth, draws, weights=np.ones(400))
    with pytest.raises(ValueError, match="weights must be finite"):
        interval_coverage(truth, draws, weights=-equal)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="num_samples must be an integer >= 4"):
        nuts_numpyro(jax.random.key(0), model, num_samples=2)
    with pytest.raises(ValueError, match="num_chains must be an integer >= 1"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, num_chains=0)
    with pytest.raises(ValueError, match="num_warmup must be an integer >= 1"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, num_warmup=2.5)
    with pytest.raises(ValueError, match="target_accept must be in"):
        nuts_numpyro(jax.random.key(0), model, target_accept=1.2)
    with pytest.raises(ValueError, match="jitter must be finite and >= 0"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.zeros(2)}, jitter=-0.1)
    with pytest.raises(ValueError, match="initial_position contains NaN"):
        nuts_blackjax(jax.random.key(0), log_density, {"theta": jnp.array([0.0, jnp.nan])})
    with pytest.raises(ValueError, match="init_params\\['theta'\\] must have a leading axis of num_chains = 2"):
        nuts_numpyro(jax.random.key(0), model, num_chains=2, init_params={"theta": jnp.zeros((3, 2))})
    for run, args in ((nuts_numpyro, (model,)), (nuts_blackjax, (log_density, {"theta": jnp.zeros(2)}))):
        with pytest.raises(ValueError, match="chain_method must be one of"):
            run(jax.random.key(0), *args, chain_method="parallel")
    with pytest.raises(ValueError, match="must have shape"):
        chain_diagnostics({"x": np.zeros((2, 2))})


def test_chain_starts_jitter_every_component_independently():
    starts = chain_starts(jax.random.key(0), {"a": jnp.ones(3), "b": jnp.zeros(())}, 4000, 0.5)
    a, b = np.asarray(starts["a"]), np.asarray(starts["b"])
    assert a.shape == (4000, 3) and b.shape == (4000,)
    np.testing.assert_allclose(a.mean(0), 1.0, atol=0.03)
    np.testing.assert_allclose(np.r_[a.std(0), b.std()], 0.5, rtol=0.05)
    # a key per leaf: no component repeats another's draws (4000 draws: |r| < 0.06 by 4 sigma)
    r = np.corrcoef(np.c_[a, b].T)
    assert np.max(np.abs(r - np.eye(4))) < 0.06
    jitted = jax.jit(lambda k, p: chain_starts(k, p, 4000, 0.5))(jax.random.key(0), {"a": jnp.ones(3), "b": jnp.zeros(())})
    np.testing.assert_allclose(jitted["a"], a, rtol=0, atol=1e-6)  # float32 round-off of 1 + 0.5 z
    np.testing.assert_allclose(jitted["b"], b, rtol=1e-6, atol=1e-7)
    keys = jax.random.split(jax.random.key(1), 2)
    batch = jax.vmap(lambda k: chain_starts(k, {"a": jnp.ones(3)}, 5, 0.5))(keys)
    np.testing.assert_allclose(batch["a"][1], chain_starts(keys[1], {"a": jnp.ones(3)}, 5, 0.5)["a"], rtol=1e-6)


def test_resumed_chains_continue_exactly_and_progress_blocks_do_not_change_draws(x64):
    def target(position):  # defined here: float64 under x64 whatever ran before
        r = position["theta"] - jnp.array([1.0, -2.0])
        return -0.5 * r @ jnp.linalg.solve(jnp.array([[1.0, 0.8], [0.8, 2.0]]), r)

    options = dict(num_warmup=50, num_chains=2, chain_method="vectorized")
    start = {"theta": jnp.zeros(2)}
    whole = nuts_blackjax(jax.random.key(3), target, start, num_samples=40, **options)
    first = nuts_blackjax(jax.random.key(3), target, start, num_samples=16, progress=True, block=8, **options)
    second = resume_nuts_blackjax(target, first.checkpoint, num_samples=24, chain_method="sequential")
    joined = concatenate_draws(first, second)
    np.testing.assert_allclose(joined.samples["theta"], whole.samples["theta"], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(joined.num_steps, whole.num_steps)
    assert joined.samples["theta"].shape == (2, 40, 2) and joined.checkpoint.draws == 40
    assert joined.divergences == whole.divergences
    assert joined.acceptance == pytest.approx(whole.acceptance, rel=1e-10)
    np.testing.assert_allclose(joined.rhat["theta"], whole.rhat["theta"], rtol=1e-10)
    # the checkpoint is the state after the last draw: its position is that draw
    np.testing.assert_allclose(whole.checkpoint.state.position["theta"], whole.samples["theta"][:, -1], rtol=1e-12)
    with pytest.raises(ValueError, match="checkpoint must be the NUTSCheckpoint"):
        resume_nuts_blackjax(target, whole.checkpoint._asdict())
    with pytest.raises(ValueError, match="second must have first's sites"):
        concatenate_draws(first, first._replace(samples={"x": first.samples["theta"]}))
    assert isinstance(whole.checkpoint, NUTSCheckpoint)


def test_nuts_checkpoint_written_to_disk_resumes_the_same_chains(tmp_path):
    """The chains' checkpoint goes through the one checkpoint format (cosmojax.io) and
    continues exactly as the in-memory one does; a damaged file is refused."""
    from cosmojax.io import load_checkpoint, save_checkpoint

    start = {"theta": jnp.zeros(2)}
    first = nuts_blackjax(jax.random.key(8), log_density, start, num_warmup=30, num_samples=8, num_chains=2)
    path = tmp_path / "nuts.ckpt"
    save_checkpoint(path, first.checkpoint)
    # any checkpoint of the same run's structure is a target (here: a short run's)
    template = nuts_blackjax(jax.random.key(0), log_density, start, num_warmup=1, num_samples=4, num_chains=2)
    loaded = load_checkpoint(path, template.checkpoint)
    assert isinstance(loaded, NUTSCheckpoint) and loaded.draws == 8 and loaded.max_tree_depth == 10
    in_memory = resume_nuts_blackjax(log_density, first.checkpoint, num_samples=12)
    from_disk = resume_nuts_blackjax(log_density, loaded, num_samples=12)
    np.testing.assert_array_equal(from_disk.samples["theta"], in_memory.samples["theta"])
    np.testing.assert_array_equal(from_disk.num_steps, in_memory.num_steps)
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="nuts.ckpt.*checksum"):
        load_checkpoint(path, template.checkpoint)


def test_nuts_numpyro_progress_keyword_and_its_deprecated_name():
    options = dict(num_warmup=5, num_samples=4, num_chains=1)
    quiet = nuts_numpyro(jax.random.key(0), model, progress=False, **options)
    with pytest.warns(DeprecationWarning, match="progress=... instead"):
        old = nuts_numpyro(jax.random.key(0), model, progress_bar=False, **options)
    np.testing.assert_array_equal(old.samples["theta"], quiet.samples["theta"])

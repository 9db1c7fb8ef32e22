"""IMNN training: the Gaussian-variance toy of Charnock et al. 2018, the mean-and-variance
toy, a 2D Gaussian random field with P(k) = A k^n against the analytic Fisher bound, a
Gaussian-covariance head on the same fields, and the driver's jit/resume/early-stop logic."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cosmojax import mesh
from cosmojax.imnn import (
    autodiff,
    fisher_statistics,
    fit_imnn,
    imnn,
    precomputed,
    score_compression,
    simulate_dataset,
)
from cosmojax.stats import gaussian_field_fisher
from cosmojax.nn import MLP, DeepSets, GaussianHead, gaussian_covariance, gaussian_nll

# ---------------------------------------------------------------- toys: 10 points from N(mu, v)


def variance_sim(key, theta):
    return jnp.sqrt(theta[0]) * jax.random.normal(key, (10,))


def mean_variance_sim(key, theta):
    return theta[0] + jnp.sqrt(theta[1]) * jax.random.normal(key, (10,))


def data_derivatives(key, simulator, theta, n):
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n, dtype=jnp.uint32))
    return jax.vmap(lambda k: jnp.moveaxis(jax.jacfwd(lambda t: simulator(k, t))(theta), -1, 0))(keys)


def set_network(n_out):
    """Deep Sets over the 10 exchangeable points with a linear readout of the pooled embedding.

    The element network sees (x, x^2), the per-point moments; it is a nonlinear MLP, so the
    IMNN still has to learn which combination of them carries the information.
    """
    model = DeepSets((32, 32, 8), (n_out,), activation="gelu")
    params = model.init(jax.random.key(1), jnp.zeros((1, 10, 2)))
    return params, lambda w, d: model.apply(w, jnp.stack([d, d**2], -1)[None])[0]


def test_variance_toy_reaches_fisher_5(key):
    """theta_fid = 1: F = n / (2 theta^2) = 5 (DESIGN reference). Fixed training set, exact
    data derivatives; the trained F, measured on 10000 fresh simulations, is within 5% of 5."""
    theta = jnp.array([1.0])
    k_data, k_fit, k_test = jax.random.split(key, 3)
    fid, _, _ = simulate_dataset(k_data, variance_sim, theta, 2000)
    source = precomputed(fid, data_derivatives=data_derivatives(k_data, variance_sim, theta, 2000))
    params, apply_fn = set_network(1)
    model = imnn(apply_fn, optax.adam(optax.cosine_decay_schedule(1e-2, 300)), source)
    before = float(model.fisher(params, k_test, autodiff(variance_sim, theta, 10000)).F[0, 0])
    result = fit_imnn(
        k_fit, model, params, n_steps=300, validate_every=50, patience=3,
        validation=autodiff(variance_sim, theta, 1000), progress=False,
    )
    F = float(model.fisher(result.params, k_test, autodiff(variance_sim, theta, 10000)).F[0, 0])
    assert before < 4.0  # the untrained network is far from optimal
    assert abs(F - 5.0) < 0.05 * 5.0
    assert result.history["val_logdet_F"].shape == result.history["step"].shape


def test_mean_variance_toy_reaches_det_50(key):
    """Mean and variance free at (0, 1): F = diag(n / v, n / (2 v^2)) = diag(10, 5), det 50.
    Derivatives from seed-matched simulations at theta +- delta (finite differences)."""
    theta = jnp.array([0.0, 1.0])
    delta = jnp.array([0.05, 0.05])
    k_data, k_fit, k_test = jax.random.split(key, 3)
    fid, plus, minus = simulate_dataset(k_data, mean_variance_sim, theta, 2000, 2000, delta)
    source = precomputed(fid, plus=plus, minus=minus, delta=delta)
    params, apply_fn = set_network(2)
    model = imnn(apply_fn, optax.adam(optax.cosine_decay_schedule(1e-2, 400)), source)
    result = fit_imnn(
        k_fit, model, params, n_steps=400, validate_every=50, patience=3,
        validation=autodiff(mean_variance_sim, theta, 1000), progress=False,
    )
    stats = model.fisher(result.params, k_test, autodiff(mean_variance_sim, theta, 10000))
    det = float(jnp.linalg.det(stats.F))
    assert abs(det - 50.0) < 0.05 * 50.0
    np.testing.assert_allclose(jnp.diag(stats.F), [10.0, 5.0], rtol=0.06)
    # the score-compressed estimates of fresh data have covariance ~ F^-1 and mean ~ theta
    test = jax.vmap(lambda i: mean_variance_sim(jax.random.fold_in(k_test, 10**6 + i), theta))(jnp.arange(4000))
    est = score_compression(jax.vmap(lambda d: apply_fn(result.params, d))(test), stats, theta)
    np.testing.assert_allclose(jnp.mean(est, 0), theta, atol=0.03)
    np.testing.assert_allclose(jnp.diag(jnp.cov(est.T)), jnp.diag(jnp.linalg.inv(stats.F)), rtol=0.1)


# ------------------------------------------------- 2D Gaussian random field, P(k) = A k^n

SHAPE = (16, 16)
BOX = 8 * np.pi  # Mpc/h: fundamental mode 0.25 h/Mpc, so ln k spans both signs
FIDUCIAL = jnp.array([1.0, -1.5])


def power(theta, k):
    return theta[0] * jnp.where(k > 0, k, 1.0) ** theta[1] * (k > 0)


def amplitude(theta, k):
    """sqrt(P), written so that its theta-derivative at k = 0 is 0 rather than NaN."""
    return jnp.sqrt(theta[0]) * jnp.where(k > 0, k, 1.0) ** (0.5 * theta[1]) * (k > 0)


def field_sim(key, theta):
    """delta_k = FFT(white noise) sqrt(P(k) / V_cell), so <|rfftn(delta)|^2> = P N_cells^2 / V."""
    kmag = mesh.rfftn_kmag(SHAPE, BOX)
    cell_volume = BOX**2 / np.prod(SHAPE)
    noise_k = jnp.fft.rfftn(jax.random.normal(key, SHAPE))
    return jnp.fft.irfftn(noise_k * amplitude(theta, kmag) / np.sqrt(cell_volume), s=SHAPE)


def shells():
    """Shell index of every rfft cell (-1 for k = 0) by exact |m|^2, the Hermitian weights."""
    m2 = sum(np.asarray(m) ** 2 for m in mesh.frequencies(SHAPE)).astype(int)
    values = np.unique(m2[m2 > 0])
    index = np.where(m2 > 0, np.searchsorted(values, m2), -1)
    kshell = 2 * np.pi * np.sqrt(values) / BOX
    weight = np.full(SHAPE[-1] // 2 + 1, 2.0)
    weight[0] = weight[-1] = 1.0  # planes m_y = 0 and m_y = N/2 are their own mirror
    return index, kshell, np.broadcast_to(weight, index.shape)


SHELLS = shells()


class BandPowerNet(nn.Module):
    """Field -> band powers in |k| shells relative to the fiducial model -> dense layers.

    With ``hidden`` empty the readout is linear in the band powers.
    """

    n_out: int = 2
    hidden: tuple = ()

    @nn.compact
    def __call__(self, field):
        index, kshell, weight = SHELLS
        n_shells = kshell.size
        p_k = jnp.abs(jnp.fft.rfftn(field)) ** 2 * BOX**2 / np.prod(SHAPE) ** 2
        w = jnp.where(index >= 0, weight, 0.0).ravel()
        seg = np.where(index >= 0, index, 0).ravel()
        band = jax.ops.segment_sum(w * p_k.ravel(), seg, n_shells) / jax.ops.segment_sum(w, seg, n_shells)
        x = band / power(FIDUCIAL, jnp.asarray(kshell)) - 1.0
        return MLP(tuple(self.hidden) + (self.n_out,), "gelu")(x)


def analytic_field_fisher(theta):
    """1/2 sum over modes of dlnP dlnP for P = A k^n (dlnP/dA = 1/A, dlnP/dn = ln k)."""
    return np.asarray(gaussian_field_fisher(lambda t, k: jnp.log(power(t, k)), jnp.asarray(theta), SHAPE, BOX))


def test_field_fisher_reaches_analytic_bound(key):
    """The IMNN Fisher for (A, n) reaches >= 90% of 1/2 sum_modes dlnP dlnP in every direction
    and exceeds it by no more than three times the estimate's own noise."""
    F_true = analytic_field_fisher(FIDUCIAL)
    k_fit, k_test = jax.random.split(key)
    net = BandPowerNet()
    params = net.init(jax.random.key(2), jnp.zeros(SHAPE))
    # fresh simulations every step, derivatives by autodiff through the simulator
    source = autodiff(field_sim, FIDUCIAL, 1000)
    model = imnn(net.apply, optax.adam(optax.cosine_decay_schedule(5e-2, 300)), source)
    result = fit_imnn(
        k_fit, model, params, n_steps=300, validate_every=100, patience=3,
        validation=autodiff(field_sim, FIDUCIAL, 1000), progress=False,
    )
    # Fisher on 8000 fresh fields, whitened by the analytic matrix; its noise from the scatter
    # of 8 disjoint sets of 1000 (the pooled estimate's O(1/n) upward bias is then ~0.3%)
    evals = np.linalg.eigh(F_true)
    root_inv = evals.eigenvectors @ np.diag(evals.eigenvalues**-0.5) @ evals.eigenvectors.T
    x, dx = jax.jit(lambda k: autodiff(field_sim, FIDUCIAL, 8000, chunk_size=1000).compute(net.apply, result.params, k))(k_test)
    pooled = np.linalg.eigvalsh(root_inv @ np.asarray(fisher_statistics(x, dx).F) @ root_inv)
    subsets = np.asarray(
        [np.linalg.eigvalsh(root_inv @ np.asarray(fisher_statistics(x[i::8], dx[i::8]).F) @ root_inv) for i in range(8)]
    )
    noise = subsets.std(0, ddof=1) / np.sqrt(8)
    assert np.all(pooled >= 0.9), (pooled, noise)
    assert np.all(pooled <= 1.0 + 3 * noise), (pooled, noise)


def test_gaussian_head_on_fields_is_calibrated(key):
    """A Gaussian head regressing (A, n) from band powers: 68% intervals cover 68% +- 5% of
    held-out fields, and its errors near the fiducial point are close to the Fisher bound."""
    n_train, n_test = 6000, 2000
    k_t, k_s, k_i, k_o = jax.random.split(key, 4)
    lo, hi = jnp.array([0.6, -2.0]), jnp.array([1.4, -1.0])
    thetas = lo + (hi - lo) * jax.random.uniform(k_t, (n_train + n_test, 2))
    fields = jax.vmap(field_sim)(jax.random.split(k_s, n_train + n_test), thetas)

    class Regressor(nn.Module):
        @nn.compact
        def __call__(self, f):
            h = nn.gelu(BandPowerNet(n_out=16)(f))
            return GaussianHead(2)(h)

    model = Regressor()
    params = model.init(k_i, fields[0])
    scale = (hi - lo) / 2
    apply_b = jax.vmap(model.apply, (None, 0))

    def loss(p, idx):
        mean, chol = apply_b(p, fields[idx])
        return jnp.mean(gaussian_nll(mean, chol, (thetas[idx] - (lo + hi) / 2) / scale))

    opt = optax.adam(optax.cosine_decay_schedule(1e-2, 1000))

    @jax.jit
    def train(p):
        def one(c, i):
            p, s = c
            idx = jax.random.permutation(jax.random.fold_in(k_o, i), n_train)[:200]
            g = jax.grad(loss)(p, idx)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.lax.scan(one, (p, opt.init(p)), jnp.arange(1000))[0][0]

    params = train(params)
    mean, chol = apply_b(params, fields[n_train:])
    sigma = jnp.sqrt(jnp.diagonal(gaussian_covariance(chol), axis1=-2, axis2=-1)) * scale
    truth = thetas[n_train:]
    pred = (lo + hi) / 2 + mean * scale
    coverage = jnp.mean(jnp.abs(pred - truth) < sigma, axis=0)
    assert np.all(np.abs(np.asarray(coverage) - 0.6827) < 0.05), coverage
    # near the fiducial point the predicted errors approach the Fisher bound sqrt((F^-1)_ii)
    near = jnp.all(jnp.abs(truth - FIDUCIAL) < jnp.array([0.15, 0.15]), axis=1)
    bound = np.sqrt(np.diag(np.linalg.inv(analytic_field_fisher(FIDUCIAL))))
    ratio = np.asarray(jnp.sqrt(jnp.mean(sigma[near] ** 2, axis=0))) / bound
    assert np.all(ratio > 0.85) and np.all(ratio < 1.5), ratio


# ------------------------------------------------------------------------ driver mechanics


def test_step_jit_resume_and_early_stop(key, tmp_path):
    theta = jnp.array([1.0])
    source = autodiff(variance_sim, theta, 100)
    net = MLP((8, 1), "tanh")
    params = net.init(jax.random.key(1), jnp.zeros(10))
    apply_fn = net.apply
    model = imnn(apply_fn, optax.adam(1e-3), source)
    state = model.init(params)
    state2, info = jax.jit(model.step)(state, key)
    assert int(state2.step) == 1 and info.F.shape == (1, 1) and np.isfinite(float(info.loss))
    loss, (stats, parts) = model.loss(params, key)
    np.testing.assert_allclose(loss, -parts.logdet_F + parts.r * parts.Lambda2, rtol=1e-5)
    full = fit_imnn(key, model, params, n_steps=40, validate_every=10, patience=100, progress=False)
    path = str(tmp_path / "imnn.ckpt")
    fit_imnn(key, model, params, n_steps=20, validate_every=10, patience=100, progress=False, checkpoint_path=path)
    resumed = fit_imnn(key, model, params, n_steps=40, validate_every=10, patience=100, progress=False, checkpoint_path=path)
    for a, b in zip(jax.tree_util.tree_leaves(full.params), jax.tree_util.tree_leaves(resumed.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(full.history["val_logdet_F"], resumed.history["val_logdet_F"])
    assert full.history["step"].tolist() == [10, 20, 30, 40]
    # with a learning rate of zero nothing improves after the first block: stop after patience
    frozen = imnn(apply_fn, optax.sgd(0.0), source)
    stopped = fit_imnn(key, frozen, params, n_steps=1000, validate_every=10, patience=2, progress=False)
    assert stopped.stopped_early and stopped.best_step == 10 and stopped.history["step"][-1] == 30
    with pytest.raises(ValueError, match="lam must be > 0"):
        imnn(apply_fn, optax.adam(1e-3), source, lam=0.0)


def test_repeated_fit_imnn_reuses_the_compiled_block(key):
    """The second call with the same model and settings traces nothing: the network is
    traced (a Python side effect) only while compiling, and another key or other
    parameters of the same shapes reuse the compilation of the block and the validation."""
    from cosmojax.imnn import trainer

    theta = jnp.array([1.0])
    net = MLP((8, 1), "tanh")
    traces = []

    def counted_apply(w, d):
        traces.append(1)  # runs once per trace, never in compiled code
        return net.apply(w, d)

    source = autodiff(variance_sim, theta, 50)
    model = imnn(counted_apply, optax.adam(1e-3), source)
    params = net.init(jax.random.key(1), jnp.zeros(10))
    options = dict(n_steps=20, validate_every=10, patience=100, progress=False)
    first = fit_imnn(key, model, params, **options)
    n_first = len(traces)
    compiled = trainer._train_block._cache_size(), trainer._validate._cache_size()
    assert n_first > 0
    again = fit_imnn(key, model, params, **options)
    other_params = net.init(jax.random.key(2), jnp.zeros(10))
    fit_imnn(jax.random.key(7), model, other_params, **dict(options, n_steps=30))
    assert len(traces) == n_first
    assert (trainer._train_block._cache_size(), trainer._validate._cache_size()) == compiled
    np.testing.assert_array_equal(first.history["val_logdet_F"], again.history["val_logdet_F"])
    # the counters do see a new program: a new model is traced and compiled afresh
    fit_imnn(key, imnn(counted_apply, optax.adam(1e-3), source), params, **options)
    assert len(traces) > n_first
    assert trainer._train_block._cache_size() > compiled[0] and trainer._validate._cache_size() > compiled[1]


def test_nan_loss_stops_fit_imnn_with_an_error(key, tmp_path):
    theta = jnp.array([1.0])
    net = MLP((8, 1), "tanh")
    params = net.init(jax.random.key(1), jnp.zeros(10))

    def nan_after_ten(w, d):  # summaries turn NaN once the network has moved far enough
        return net.apply(w, d) + jnp.where(jnp.abs(w["params"]["Dense_0"]["bias"][0]) > 0.05, jnp.nan, 0.0)

    model = imnn(nan_after_ten, optax.sgd(1.0), autodiff(variance_sim, theta, 50))
    path = str(tmp_path / "imnn.ckpt")
    with pytest.raises(FloatingPointError, match=r"fit_imnn: the training loss is (nan|inf) by step \d+.*Lower the learning"):
        fit_imnn(key, model, params, n_steps=200, validate_every=5, patience=100, progress=False, checkpoint_path=path)
    with pytest.raises(ValueError, match="checkpoint_path .* does not exist; create it first"):
        fit_imnn(key, model, params, n_steps=20, progress=False, checkpoint_path=str(tmp_path / "no" / "x.ckpt"))


def test_device_mesh_comes_from_parallel(key):
    from cosmojax import imnn as imnn_module
    from cosmojax.imnn import derivatives

    with pytest.warns(DeprecationWarning, match="cosmojax.parallel.device_mesh"):
        mesh = imnn_module.device_mesh()
    assert mesh.devices.size == len(jax.local_devices()) and mesh.axis_names == (derivatives.SIM_AXIS,)
    theta = jnp.array([1.0])
    net = MLP((4, 1), "tanh")
    model = imnn(net.apply, optax.adam(1e-3), autodiff(variance_sim, theta, 20), devices=1)
    assert model.mesh.devices.size == 1
    with pytest.raises(ValueError, match="devices must be between 1 and"):
        imnn(net.apply, optax.adam(1e-3), autodiff(variance_sim, theta, 20), devices=len(jax.local_devices()) + 1)

"""Tests for cosmojax.nn.heads: shapes, parameter counts, loss values and a calibration run."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

from cosmojax.nn import (
    MLP,
    GaussianHead,
    MixtureDensityHead,
    gaussian_covariance,
    gaussian_nll,
    mdn_crps,
    mdn_log_prob,
    mdn_nll,
)

from tests._transforms import assert_vmap_and_jit


def n_params(p):
    return sum(x.size for x in jax.tree_util.tree_leaves(p))


def test_mlp_shape_and_count(key):
    model = MLP((16, 8, 3))
    params = model.init(key, jnp.zeros((5, 4)))
    assert model.apply(params, jnp.ones((5, 4))).shape == (5, 3)
    assert n_params(params) == (4 + 1) * 16 + (16 + 1) * 8 + (8 + 1) * 3


def test_mdn_head_shapes_and_count(key):
    head = MixtureDensityHead(n_components=3, n_targets=2)
    x = jax.random.normal(key, (7, 5))
    params = head.init(key, x)
    w, mu, sig = head.apply(params, x)
    assert w.shape == (7, 3) and mu.shape == (7, 3, 2) and sig.shape == (7, 3, 2)
    np.testing.assert_allclose(jnp.sum(w, -1), 1.0, rtol=1e-6)
    assert jnp.all(sig > 0)
    assert n_params(params) == (5 + 1) * 3 * (1 + 2 * 2)


def test_mdn_nll_matches_scipy(x64):
    w = jnp.array([0.3, 0.7])
    mu = jnp.array([[-1.0, 0.5], [2.0, -0.5]])
    sig = jnp.array([[0.5, 1.0], [1.5, 0.3]])
    y = jnp.array([0.2, -0.1])
    ref = sum(
        wi * stats.norm.pdf(y[0], mi[0], si[0]) * stats.norm.pdf(y[1], mi[1], si[1]) for wi, mi, si in zip(w, mu, sig)
    )
    np.testing.assert_allclose(mdn_nll(w, mu, sig, y), -np.log(ref), rtol=1e-10)
    np.testing.assert_allclose(mdn_log_prob(w, mu, sig, y), np.log(ref), rtol=1e-10)


def test_mdn_crps_matches_quadrature(x64):
    w = jnp.array([0.25, 0.75])
    mu = jnp.array([[-1.0], [1.5]])
    sig = jnp.array([[0.4], [0.8]])
    y = 0.3

    def cdf(t):
        return sum(float(wi) * stats.norm.cdf(t, float(m[0]), float(s[0])) for wi, m, s in zip(w, mu, sig))

    below, _ = integrate.quad(lambda t: cdf(t) ** 2, -20, y, limit=200)
    above, _ = integrate.quad(lambda t: (1 - cdf(t)) ** 2, y, 20, limit=200)
    np.testing.assert_allclose(mdn_crps(w, mu, sig, jnp.array([y])), below + above, rtol=1e-7)
    # a narrow single component tends to the absolute error
    narrow = mdn_crps(jnp.array([1.0]), jnp.array([[2.0]]), jnp.array([[1e-6]]), jnp.array([0.5]))
    np.testing.assert_allclose(narrow, 1.5, rtol=1e-5)


def test_gaussian_head_and_loss(key, x64):
    head = GaussianHead(n_targets=3)
    x = jax.random.normal(key, (4, 6))
    params = head.init(key, x)
    mean, chol = head.apply(params, x)
    assert mean.shape == (4, 3) and chol.shape == (4, 3, 3)
    assert n_params(params) == (6 + 1) * (3 + 6)
    assert jnp.all(jnp.triu(chol, 1) == 0) and jnp.all(jnp.diagonal(chol, axis1=-2, axis2=-1) > 0)
    y = jax.random.normal(jax.random.fold_in(key, 1), (4, 3))
    cov = gaussian_covariance(chol)
    r = y - mean
    ref = 0.5 * (jnp.linalg.slogdet(cov)[1] + jnp.einsum("bi,bij,bj->b", r, jnp.linalg.inv(cov), r))
    np.testing.assert_allclose(gaussian_nll(mean, chol, y), ref, rtol=1e-10)
    # jit and grad run and agree with a central difference along one parameter direction
    f = jax.jit(lambda p: jnp.sum(gaussian_nll(*head.apply(p, x), y)))
    g = jax.grad(f)(params)
    leaf = params["params"]["cholesky"]["bias"]
    e = jnp.zeros_like(leaf).at[0].set(1.0)
    shift = lambda s: {"params": {**params["params"], "cholesky": {**params["params"]["cholesky"], "bias": leaf + s * e}}}  # noqa: E731
    fd = (f(shift(1e-6)) - f(shift(-1e-6))) / 2e-6
    np.testing.assert_allclose(g["params"]["cholesky"]["bias"][0], fd, rtol=1e-5)


def test_heads_train_and_calibrate(key):
    """Heteroscedastic regression y ~ N(sin x, (0.1 + 0.2 |x|)^2): both heads learn it.

    The Gaussian head's 68% intervals cover 68% +- 5% of held-out samples and the MDN's
    NLL falls well below its starting value.
    """
    kx, ky, kinit, kt = jax.random.split(key, 4)
    n = 4096
    x = jax.random.uniform(kx, (2 * n, 1), minval=-2.0, maxval=2.0)
    sd = 0.1 + 0.2 * jnp.abs(x)
    y = jnp.sin(x) + sd * jax.random.normal(ky, x.shape)

    body = MLP((32, 32), "tanh")
    head = GaussianHead(1)
    mdn = MixtureDensityHead(2, 1)

    def forward(p, xb):
        h = jnp.tanh(body.apply(p["body"], xb))
        return head.apply(p["head"], h), mdn.apply(p["mdn"], h)

    params = {
        "body": body.init(kinit, x[:1]),
        "head": head.init(kinit, jnp.zeros((1, 32))),
        "mdn": mdn.init(kinit, jnp.zeros((1, 32))),
    }

    def loss(p, xb, yb):
        (m, c), (w, mu, s) = forward(p, xb)
        return jnp.mean(gaussian_nll(m, c, yb)) + jnp.mean(mdn_nll(w, mu, s, yb))

    opt = optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def epoch(carry, k):
        p, s = carry
        perm = jax.random.permutation(k, n).reshape(32, -1)

        def one(c, idx):
            p, s = c
            val, g = jax.value_and_grad(loss)(p, x[idx], y[idx])
            u, s = opt.update(g, s)
            return (optax.apply_updates(p, u), s), val

        (p, s), vals = jax.lax.scan(one, (p, s), perm)
        return (p, s), jnp.mean(vals)

    first = float(loss(params, x[:n], y[:n]))
    (params, state), losses = jax.lax.scan(epoch, (params, state), jax.random.split(kt, 60))
    assert float(losses[-1]) < first - 1.0
    (m, c), (w, mu, s) = forward(params, x[n:])
    sigma = jnp.sqrt(gaussian_covariance(c)[:, 0, 0])
    inside = jnp.abs(y[n:, 0] - m[:, 0]) < sigma
    assert abs(float(jnp.mean(inside)) - 0.6827) < 0.05
    # predicted widths follow the true ones
    assert float(jnp.corrcoef(sigma, sd[n:, 0])[0, 1]) > 0.9
    assert float(jnp.mean(mdn_nll(w, mu, s, y[n:]))) < float(jnp.mean(jnp.log(sd[n:]) + 0.5 * jnp.log(2 * jnp.pi) + 0.5)) + 0.1


@pytest.mark.parametrize("x", [jnp.zeros((3,)), jnp.zeros((2, 2, 2, 2))])
def test_mlp_accepts_any_leading_shape(key, x):
    model = MLP((4, 2))
    params = model.init(key, x)
    assert model.apply(params, x).shape == x.shape[:-1] + (2,)


@pytest.mark.parametrize("loss", [mdn_log_prob, mdn_nll, mdn_crps])
def test_mixture_losses_vmap_over_a_batch_and_jit(key, loss):
    k_w, k_m, k_s, k_y = jax.random.split(key, 4)
    weights = jax.nn.softmax(jax.random.normal(k_w, (2, 5, 4)))
    means = jax.random.normal(k_m, (2, 5, 4, 2))
    sigmas = jnp.exp(0.3 * jax.random.normal(k_s, (2, 5, 4, 2)))
    y = jax.random.normal(k_y, (2, 5, 2))
    assert_vmap_and_jit(loss, weights, means, sigmas, y, rtol=1e-4)


def test_gaussian_loss_and_covariance_vmap_over_a_batch_and_jit(key):
    k_m, k_l, k_y = jax.random.split(key, 3)
    chol = jnp.tril(0.3 * jax.random.normal(k_l, (2, 5, 2, 2))) + 1.5 * jnp.eye(2)
    mean, y = jax.random.normal(k_m, (2, 5, 2)), jax.random.normal(k_y, (2, 5, 2))
    assert_vmap_and_jit(gaussian_nll, mean, chol, y, rtol=1e-4)
    assert_vmap_and_jit(gaussian_covariance, chol, rtol=1e-4)


@pytest.mark.parametrize("model", [MLP((8, 2)), MixtureDensityHead(3, 2), GaussianHead(2)],
                         ids=lambda m: type(m).__name__)
def test_head_apply_vmaps_over_batches_and_jits(key, model):
    x = jax.random.normal(key, (2, 5, 6))
    params = model.init(key, x[0])
    assert_vmap_and_jit(lambda xb: model.apply(params, xb), x, rtol=1e-4)

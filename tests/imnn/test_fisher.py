"""Tests for cosmojax.imnn.fisher: Fisher of linear-Gaussian summaries, score compression,
and the Gaussian-field Fisher bound against a brute-force full-FFT mode count."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmojax.stats as cstats
from cosmojax.imnn import fisher_matrix, fisher_statistics, gaussian_field_fisher, score_compression, summary_moments
from cosmojax.stats import summary_fisher

from tests._transforms import assert_vmap_and_jit


def test_moments_and_fisher_of_linear_gaussian_model(key, x64):
    """x = A theta + noise, noise ~ N(0, S): F = A^T S^-1 A exactly when dmu = A."""
    p, s, n = 2, 3, 200000
    A = jnp.array([[1.0, 0.5], [0.0, 2.0], [-1.0, 1.0]])  # (s, p)
    L = jnp.array([[1.0, 0.0, 0.0], [0.3, 0.5, 0.0], [-0.2, 0.1, 2.0]])
    S = L @ L.T
    noise = jax.random.normal(key, (n, s)) @ L.T
    theta = jnp.array([0.3, -0.7])
    x = theta @ A.T + noise
    dx = jnp.broadcast_to(A.T, (10, p, s))
    stats = fisher_statistics(x, dx)
    np.testing.assert_allclose(stats.mu, A @ theta, atol=0.01)
    np.testing.assert_allclose(stats.C, S, atol=0.02)
    expect = A.T @ jnp.linalg.inv(S) @ A
    np.testing.assert_allclose(stats.F, expect, rtol=0.02)
    np.testing.assert_allclose(summary_fisher(A.T, jnp.linalg.inv(S)), expect, rtol=1e-12)
    with pytest.warns(DeprecationWarning, match="summary_fisher"):
        np.testing.assert_allclose(fisher_matrix(A.T, jnp.linalg.inv(S)), expect, rtol=1e-12)
    mu, C = summary_moments(x[:5])
    np.testing.assert_allclose(C, np.cov(np.asarray(x[:5]).T, ddof=1), rtol=1e-10)
    # score compression is unbiased with covariance F^-1
    est = score_compression(x, stats, theta)
    np.testing.assert_allclose(jnp.mean(est, 0), theta, atol=0.01)
    np.testing.assert_allclose(jnp.cov(est.T), jnp.linalg.inv(expect), rtol=0.03)


def test_fisher_statistics_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same s"):
        fisher_statistics(jnp.zeros((10, 3)), jnp.zeros((5, 2, 4)))


def test_fisher_is_differentiable(key):
    x = jax.random.normal(key, (50, 2))
    dx = jax.random.normal(jax.random.fold_in(key, 1), (20, 1, 2)) + 1.0

    def logdet(scale):
        return jnp.linalg.slogdet(fisher_statistics(x * scale, dx * scale).F)[1]

    # F is invariant under rescaling of the summaries
    np.testing.assert_allclose(jax.grad(logdet)(2.0), 0.0, atol=1e-4)


@pytest.mark.parametrize("shape", [(16, 16), (8, 6, 10), (9, 12)])
def test_gaussian_field_fisher_counts_independent_modes(shape, x64):
    """rfft-grid sum with Hermitian weights equals 1/2 sum over the full FFT grid, k != 0."""
    box = 100.0
    A, n = 2.0, -1.5

    def dlnp(k):
        return np.stack([np.full_like(k, 1.0 / A), np.log(k)])

    with pytest.warns(DeprecationWarning, match="cosmojax.stats.gaussian_field_fisher"):
        F = gaussian_field_fisher(shape, box, dlnp)
    assert isinstance(F, np.ndarray) and F.dtype == np.float64
    axes = [2 * np.pi * np.fft.fftfreq(m, 1.0 / m) / box for m in shape]
    k = np.sqrt(sum(g**2 for g in np.meshgrid(*axes, indexing="ij"))).ravel()
    k = k[k > 0]
    g = np.stack([np.full_like(k, 1.0 / A), np.log(k)])
    np.testing.assert_allclose(F, 0.5 * g @ g.T, rtol=1e-12)
    # the amplitude block is (N_cells - 1) / (2 A^2): one half per real degree of freedom
    np.testing.assert_allclose(F[0, 0], (np.prod(shape) - 1) / (2 * A**2), rtol=1e-12)


def test_fisher_functions_vmap_over_a_batch_and_jit():
    summaries = jax.random.normal(jax.random.key(0), (3, 40, 2))
    derivatives = jnp.array([[1.0, 0.2], [0.1, 0.8]]) + 0.05 * jax.random.normal(jax.random.key(1), (3, 10, 2, 2))
    assert_vmap_and_jit(summary_moments, summaries)
    assert_vmap_and_jit(fisher_statistics, summaries, derivatives, rtol=1e-4)
    batch = jax.vmap(fisher_statistics)(summaries, derivatives)
    assert_vmap_and_jit(summary_fisher, batch.dmu, batch.invC, rtol=1e-4)
    assert_vmap_and_jit(lambda x, s: score_compression(x, s, jnp.array([1.0, 0.5])), summaries, batch, rtol=1e-4,
                        atol=1e-5)


def test_imnn_fisher_names_are_the_stats_module_ones():
    """One implementation: the IMNN's Fisher statistics are those of cosmojax.stats.fisher."""
    import cosmojax.imnn as imnn_pkg

    for name in ["FisherStats", "summary_moments", "fisher_statistics", "score_compression"]:
        assert getattr(imnn_pkg, name) is getattr(cstats, name)


def test_summary_fisher_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="invC"):
        summary_fisher(jnp.ones((2, 3)), jnp.eye(4))

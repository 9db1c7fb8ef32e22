"""Linear theory and Fourier-mode diagnostics of the field-level posterior.

Linearising the forward model of ``make_field_posterior`` about w = 0 (the density
responds to each white-noise mode through a transfer T_k that holds the growth,
sqrt(P(k)) and the mass-assignment window) gives the Wiener-filter posterior variance of
each orthonormal Fourier mode of w,

.. math:: V_k = \\left(1 + |T_k|^2 / \\sigma^2\\right)^{-1}

(``linear_mode_variance``), the preconditioner of the whitened sampler
(``cosmojax.infer.field_hmc``). ``mode_variance`` and ``large_scale_modes`` measure draws
in the same Fourier basis; the private helpers whiten (w = F^-1[V_k^1/2 F[z]]) and rescale
V_k shell by shell in |k|.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.infer.field_posterior import FieldPosterior, _check_posterior
from cosmojax.mesh import frequencies, hermitian_weights_numpy, kvec_numpy, rfftn_shape


def linear_transfer(posterior: FieldPosterior):
    """Linear response of the model density to each Fourier mode of the white noise.

    The forward model linearised about w = 0 is translation invariant on the lattice, so
    it is diagonal in Fourier space: ``rfftn(J t) = T_k rfftn(t)``. T_k is read off as
    the rfftn of the response to a unit impulse (one forward-mode product, ``jax.jvp``).

    Returns
    -------
    complex (n, n, n // 2 + 1) array, dimensionless (overdensity per unit white noise).
    jit safe; not meant to be differentiated.
    """
    _check_posterior(posterior)
    return _impulse_response(posterior)


@partial(jax.jit, static_argnums=0)
def _impulse_response(posterior):
    shape = tuple(posterior.config.mesh_shape)
    zeros = jnp.zeros(shape, posterior.config.float_dtype)
    impulse = zeros.at[(0,) * len(shape)].set(1.0)
    return jnp.fft.rfftn(jax.jvp(posterior.forward, (zeros,), (impulse,))[1])


def linear_mode_variance(posterior: FieldPosterior):
    """Wiener-filter posterior variance of each orthonormal Fourier mode of the white noise.

    .. math:: V_k = \\left(1 + |T_k|^2 / \\sigma^2\\right)^{-1},

    with T_k from ``linear_transfer`` and sigma the pixel noise: the exact posterior variance
    of the linearised (Zel'dovich-order) model painted with ``config.scheme``, where the prior gives 1. A mode
    measured with signal-to-noise |T_k|^2 / sigma^2 >> 1 has V_k << 1.

    Returns
    -------
    (n, n, n // 2 + 1) float array in (0, 1], dimensionless; the k = 0 mode, which the
    model does not see, has V = 1. jit safe.
    """
    t2 = jnp.abs(linear_transfer(posterior)) ** 2
    return 1.0 / (1.0 + t2 / posterior.noise_sigma**2)


def mode_variance(samples, mean=None):
    """Sample variance of each orthonormal Fourier mode of white-noise draws.

    Parameters
    ----------
    samples : (..., m, n, n, n) draws of the white noise (leading axes, e.g. chains, are
        merged with the m draws)
    mean : optional (n, n, n) field to subtract instead of the draws' own mean

    Returns
    -------
    (n, n, n // 2 + 1) array: the mean of |w_k - <w_k>|^2 over the draws with
    w_k = rfftn(w) / sqrt(n^3), so that unit white noise gives 1 per mode. To compare with
    ``linear_mode_variance``. jit and vmap safe.
    """
    x = jnp.asarray(samples)
    if x.ndim < 4:
        raise ValueError(f"samples must have shape (..., m, n, n, n); got {x.shape}.")
    shape = x.shape[-3:]
    x = x.reshape((-1,) + shape)
    centre = x.mean(0) if mean is None else jnp.asarray(mean)
    modes = jnp.fft.rfftn(x - centre, axes=(-3, -2, -1)) / np.sqrt(np.prod(shape))
    return jnp.mean(jnp.abs(modes) ** 2, axis=0)


def large_scale_modes(samples, box_size, kmax: float = 0.1):
    """Real and imaginary parts of the large-scale Fourier modes of white-noise draws.

    The convergence of a field-level chain is best judged where the data constrain it:
    pass the result to ``chain_diagnostics`` for the split R-hat and effective sample size
    of every mode with 0 < |k| < kmax (the per-cell ones mix all scales).

    Parameters
    ----------
    samples : (..., n, n, n) draws of the white noise, e.g. (n_chains, n_draws, n, n, n)
    box_size : float, Mpc/h, the side of the cubic box
    kmax : float > 0, h/Mpc

    Returns
    -------
    (..., m) array: the real parts of the orthonormal modes w_k = rfftn(w) / sqrt(n^3) with
    0 < |k| < kmax, then their imaginary parts (those that are not identically zero: a
    self-conjugate mode is real). Unit white noise gives variance 1/2 per component.
    jit safe with ``box_size`` and ``kmax`` static (they fix the mode set), vmap safe;
    linear in ``samples``, so grad safe.
    """
    x = jnp.asarray(samples)
    if x.ndim < 3 or len(set(x.shape[-3:])) != 1:
        raise ValueError(f"samples must have shape (..., n, n, n); got {x.shape}.")
    shape = x.shape[-3:]
    kmag = np.sqrt(sum(k**2 for k in kvec_numpy(shape, box_size)))
    inside = (kmag > 0) & (kmag < kmax)
    if not inside.any():
        fundamental = 2 * np.pi / box_size
        raise ValueError(f"kmax must exceed the fundamental 2 pi / box_size = {fundamental:.4g} h/Mpc; got {kmax!r}.")
    # a mode is its own conjugate when every index is 0 or n/2
    index = np.indices(rfftn_shape(shape))
    real_mode = np.all([(2 * i) % n == 0 for i, n in zip(index, shape)], axis=0)
    modes = jnp.fft.rfftn(x, axes=(-3, -2, -1)) / np.sqrt(np.prod(shape))
    return jnp.concatenate([modes.real[..., inside], modes.imag[..., inside & ~real_mode]], axis=-1)


def _shell_index(shape):
    """Integer shell round(|m|) of every rfftn cell (|m| in units of the fundamental)."""
    m2 = sum(np.asarray(m, dtype=float) ** 2 for m in frequencies(shape))
    return np.rint(np.sqrt(m2)).astype(int)


def _whitening(variance, shape):
    """w = A z and z = A^-1 w with A = F^-1 diag(sqrt(V_k)) F (real, symmetric)."""
    scale = jnp.sqrt(variance)

    def to_noise(z):
        return jnp.fft.irfftn(jnp.fft.rfftn(z.reshape(shape)) * scale, s=shape)

    def to_white(w):
        return jnp.fft.irfftn(jnp.fft.rfftn(w) / scale, s=shape).reshape(-1)

    return to_noise, to_white


def _shell_groups(shape, min_modes: int = 32):
    """Group index of every rfftn cell: integer |k| shells, merged outward from |k| = k_f
    until each group holds at least ``min_modes`` full-grid modes (the innermost shells hold
    a handful, too few to measure a variance from); the k = 0 mode is a group of its own."""
    index = _shell_index(shape)
    counts = np.bincount(index.ravel(), weights=hermitian_weights_numpy(shape).ravel())
    group = np.zeros(counts.size, dtype=int)
    current, filled = 1, 0.0
    for shell in range(1, counts.size):
        if filled >= min_modes:
            current, filled = current + 1, 0.0
        group[shell], filled = current, filled + counts[shell]
    if filled < min_modes and current > 1:  # a short outermost group joins the one inside it
        group[group == current] = current - 1
    return group[index]


def _shell_rescale(variance, measured, shape):
    """V_k times the mean, over each group of |k| shells (``_shell_groups``), of the measured
    over the assumed variance of its modes (held within [1/100, 100], so a shell a stuck
    chain never moved keeps V > 0)."""
    group = _shell_groups(shape)
    weights = hermitian_weights_numpy(shape).ravel()
    n_groups = int(group.max()) + 1
    flat = jnp.asarray(group.ravel())
    num = jax.ops.segment_sum(weights * (measured / variance).ravel(), flat, n_groups)
    den = jax.ops.segment_sum(jnp.asarray(weights, variance.dtype), flat, n_groups)
    return variance * jnp.clip(num / den, 0.01, 100.0)[group]

"""The field-level posterior of the initial white noise, synthetic data and its MAP.

Model: the observed overdensity is the LPT density of the initial white noise plus
Gaussian pixel noise,

.. math:: \\delta_{obs} = \\delta_{LPT}[w](x) + n(x), \\quad n \\sim N(0, \\sigma^2), \\quad w \\sim N(0, 1),

so the log posterior of the white noise w (one number per particle, n^3 of them) is
-1/2 |delta_obs - delta_LPT[w]|^2 / sigma^2 - 1/2 |w|^2. The forward model is
``cosmojax.sims.lpt_density`` of the primed theory ``cosmojax.sims.prime(cosmo, config)``;
its gradient comes from reverse-mode autodiff through LPT and mass assignment.
``reconstruct_initial_conditions`` maximises it with Adam.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite
from cosmojax.infer.optimise import adam_ascent
from cosmojax.sims import SimConfig, lpt_density, prime


class FieldPosterior(NamedTuple):
    """The field-level model of ``make_field_posterior``.

    log_density : callable (n, n, n) white noise -> scalar unnormalised log posterior
    forward : callable (n, n, n) white noise -> (n, n, n) model overdensity
    noise_sigma : float, rms of the Gaussian pixel noise (dimensionless overdensity)
    config : SimConfig of the particle grid (mesh shape and box size, Mpc/h)
    """

    log_density: Callable
    forward: Callable
    noise_sigma: float | None = None
    config: Any = None


def make_field_posterior(data, noise_sigma: float, cosmo, config: SimConfig, *, a: float = 1.0, order: int = 2) -> FieldPosterior:
    """Log posterior of the initial white noise given an observed final overdensity.

    Parameters
    ----------
    data : (n, n, n) observed overdensity on the particle grid's mesh (dimensionless)
    noise_sigma : float > 0, the rms of the Gaussian pixel noise (dimensionless)
    cosmo : Cosmology or LinearTheory (``cosmojax.sims.prime``), held fixed
    config : SimConfig of the particle grid (n per side, box size in Mpc/h)
    a : scale factor of the observation; order : 1 or 2 (LPT order)

    The density is painted with ``config.scheme``; choose "tsc" for sampling (module
    docstring: CIC's kinks make HMC take steps three times smaller).

    Returns
    -------
    FieldPosterior; ``log_density`` maps (n, n, n) noise to a scalar and is jit, vmap and
    grad safe (differentiable in the noise); ``forward`` maps (n, n, n) noise to the
    (n, n, n) overdensity painted with ``config.scheme`` (``cosmojax.sims.lpt_density``),
    jit, vmap and grad safe. The growth ODE and P(k) on the mesh are evaluated once, here
    (``cosmojax.sims.prime``), not in every gradient.
    """
    data = jnp.asarray(data)
    if data.shape != tuple(config.mesh_shape):
        raise ValueError(f"data must have shape {tuple(config.mesh_shape)}; got {data.shape}.")
    check_finite("data", data)
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"a must be a scale factor > 0; got {a!r}.")
    if not np.isfinite(noise_sigma) or noise_sigma <= 0:
        raise ValueError(f"noise_sigma must be > 0; got {noise_sigma}.")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    # cosmo is fixed: prime it (growth ODE and P(k) on the mesh) once, here. Left inside
    # forward, the ODE's sequential scan would run in every gradient (on a GPU, hundreds
    # of tiny kernels that cost more than the LPT and painting themselves).
    theory = prime(cosmo, config)

    def forward(noise):
        return lpt_density(noise, theory, config, a, order=order)

    def log_density(noise):
        r = (data - forward(noise)) / noise_sigma
        return -0.5 * jnp.sum(r**2) - 0.5 * jnp.sum(noise**2)

    return FieldPosterior(log_density, forward, float(noise_sigma), config)


def noisy_observation(key, noise, cosmo, config: SimConfig, noise_level: float, *, a: float = 1.0,
                      order: int = 2) -> tuple[Any, float]:
    """Synthetic data for field-level inference: the LPT density of a known white noise plus pixel noise.

    The clean overdensity is the forward model of ``make_field_posterior`` (LPT of order
    ``order`` at scale factor ``a``, painted with ``config.scheme``) applied to the true
    white noise w; the pixel noise is Gaussian, white, with an rms set relative to the
    clean field's,

    .. math:: \\delta_{obs} = \\delta_{LPT}[w] + \\sigma\\, n, \\quad n \\sim N(0, 1), \\quad
              \\sigma = \\ell \\, \\mathrm{std}(\\delta_{LPT}[w]),

    with the std taken over the n^3 cells and l = ``noise_level``.

    Parameters
    ----------
    key : jax.random key, draws the pixel noise n (one N(0, 1) number per cell)
    noise : (n, n, n) float array, the true initial white noise w on the particle grid
        (unit variance per cell), e.g. ``white_noise(key, config.mesh_shape)``
    cosmo : Cosmology
    config : SimConfig of the particle grid (n per side, box size in Mpc/h, paint scheme)
    noise_level : float > 0, the pixel-noise rms in units of the clean overdensity's rms
    a : scale factor of the observation; order : 1 or 2 (LPT order)

    Returns
    -------
    (data, noise_sigma): data, the (n, n, n) observed overdensity (dimensionless, the dtype
    of the forward model's output), and noise_sigma, the pixel-noise rms sigma as a Python
    float (dimensionless): pass both to ``make_field_posterior``. The forward model is
    jit-compiled once per call; the function itself is a driver, not meant to be traced
    (it calls ``float``), vmapped or differentiated. Same key and noise, same data.
    """
    shape = tuple(config.mesh_shape)
    if np.shape(noise) != shape:
        raise ValueError(f"noise must have shape config.mesh_shape = {shape}; got {np.shape(noise)}.")
    if not np.all(np.isfinite(np.asarray(noise))):
        raise ValueError("noise must be finite (unit white noise, e.g. white_noise(key, config.mesh_shape)).")
    if np.ndim(noise_level) != 0 or not np.isfinite(noise_level) or noise_level <= 0:
        raise ValueError(f"noise_level must be a finite float > 0 (pixel rms over clean rms); got {noise_level!r}.")
    noise = jnp.asarray(noise)
    forward = make_field_posterior(jnp.zeros(shape, noise.dtype), 1.0, cosmo, config, a=a, order=order).forward
    clean = jax.jit(forward)(noise)
    sigma = noise_level * float(clean.std())
    return clean + sigma * jax.random.normal(key, clean.shape, clean.dtype), sigma


def reconstruct_initial_conditions(
    posterior: FieldPosterior, init, *, steps: int = 300, learning_rate: float = 0.1
):
    """Maximum a posteriori white noise by Adam.

    Parameters
    ----------
    posterior : FieldPosterior
    init : (n, n, n) starting white noise (zeros is a fine start)
    steps : int >= 1, Adam steps; learning_rate : float, Adam's step (white-noise units)

    Returns
    -------
    (noise, history): the (n, n, n) MAP estimate and the (steps,) log density before each
    step (``adam_ascent``, jit-compiled here); not itself meant to be traced.
    """
    run = jax.jit(lambda w: adam_ascent(posterior.log_density, w, steps=steps, learning_rate=learning_rate))
    return run(jnp.asarray(init))


def _check_posterior(posterior) -> tuple[int, ...]:
    if not isinstance(posterior, FieldPosterior) or posterior.noise_sigma is None or posterior.config is None:
        raise ValueError("posterior must be a FieldPosterior from make_field_posterior (with noise_sigma and config).")
    return tuple(posterior.config.mesh_shape)

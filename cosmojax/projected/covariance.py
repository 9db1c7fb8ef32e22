"""Data vectors of angular spectra and their Gaussian covariance.

A data vector stacks the spectra of the T (T + 1) / 2 distinct tracer pairs (a, b), a <= b,
in ``pair_indices`` order, each over the L multipoles (pair-major). Its Gaussian
covariance for a survey covering the fraction ``f_sky`` of the sky, with band powers of
width Delta l around each l (Knox 1995; Hu & Jain 2004),

.. math::

    \\mathrm{Cov}[\\hat C^{ab}_\\ell, \\hat C^{cd}_{\\ell'}] = \\delta_{\\ell\\ell'}
      \\frac{\\tilde C^{ac}_\\ell \\tilde C^{bd}_\\ell + \\tilde C^{ad}_\\ell \\tilde C^{bc}_\\ell}
           {(2\\ell + 1)\\, \\Delta\\ell\\, f_{sky}},
    \\qquad \\tilde C^{ab}_\\ell = C^{ab}_\\ell + \\delta_{ab} N^a_\\ell,

with the noise N of each tracer: ``shape_noise`` sigma_e^2 / n for shear (sigma_e per
component), ``shot_noise`` 1 / n for counts, both with n in galaxies per steradian from a
density per square arcminute, or a noise spectrum for CMB lensing.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_finite, is_concrete

__all__ = ["pair_indices", "data_vector", "gaussian_covariance", "shape_noise", "shot_noise", "STERADIAN_ARCMIN2"]

#: Square arcminutes in one steradian.
STERADIAN_ARCMIN2 = (180.0 * 60.0 / np.pi) ** 2


def pair_indices(n_tracers: int) -> list[tuple[int, int]]:
    """The distinct pairs (a, b), a <= b, in data-vector order: (0,0), (0,1), ..., (1,1), ..."""
    return [(a, b) for a in range(n_tracers) for b in range(a, n_tracers)]


def data_vector(cl):
    """(P L,) data vector of the distinct pairs of a (T, T, L) spectrum array (pair-major).

    jit, vmap and grad safe.
    """
    cl = jnp.asarray(cl)
    if cl.ndim != 3 or cl.shape[0] != cl.shape[1]:
        raise ValueError(f"cl must have shape (T, T, L); got {cl.shape}.")
    a, b = np.triu_indices(cl.shape[0])
    return cl[a, b].reshape(-1)


def _density_per_steradian(name, density):
    check_finite(name, density)
    if is_concrete(density) and np.any(np.asarray(density) <= 0):
        raise ValueError(f"{name} must be > 0 (galaxies per square arcminute).")
    return jnp.asarray(density) * STERADIAN_ARCMIN2


def shape_noise(sigma_e, density):
    """Shear noise power sigma_e^2 / n (steradian); ``sigma_e`` per component (e.g. 0.26),
    ``density`` in galaxies per square arcminute (> 0). jit, vmap and grad safe."""
    return jnp.asarray(sigma_e) ** 2 / _density_per_steradian("density", density)


def shot_noise(density):
    """Galaxy shot noise 1 / n (steradian) for ``density`` galaxies per square arcminute."""
    return 1.0 / _density_per_steradian("density", density)


def gaussian_covariance(cl, ell, delta_ell, f_sky, noise):
    """Gaussian covariance of the data vector of ``cl`` (module docstring).

    Parameters
    ----------
    cl : (T, T, L) signal spectra (``angular_cl``)
    ell : (L,) multipoles; delta_ell : scalar or (L,) band widths (> 0)
    f_sky : observed sky fraction, 0 < f_sky <= 1
    noise : (T,) white noise per tracer, or (T, L) noise spectra (0 for none)

    Returns
    -------
    (P L, P L) symmetric matrix, P = T (T + 1) / 2, in ``data_vector`` order; block
    diagonal in ell. jit, vmap and grad safe. Raises ``ValueError`` for mismatched
    shapes, f_sky outside (0, 1], widths <= 0 or negative noise (concrete values).
    """
    cl = jnp.asarray(cl)
    if cl.ndim != 3 or cl.shape[0] != cl.shape[1]:
        raise ValueError(f"cl must have shape (T, T, L); got {cl.shape}.")
    t, _, n_ell = cl.shape
    if np.shape(ell) != (n_ell,):
        raise ValueError(f"ell must have shape ({n_ell},) to match cl; got {np.shape(ell)}.")
    if np.ndim(delta_ell) not in (0, 1) or (np.ndim(delta_ell) == 1 and np.shape(delta_ell) != (n_ell,)):
        raise ValueError(f"delta_ell must be a scalar or shape ({n_ell},); got {np.shape(delta_ell)}.")
    if np.shape(noise) not in ((t,), (t, n_ell)):
        raise ValueError(f"noise must have shape ({t},) or ({t}, {n_ell}); got {np.shape(noise)}.")
    for name, value, low in (("delta_ell", delta_ell, 0.0), ("f_sky", f_sky, 0.0)):
        check_finite(name, value)
        if is_concrete(value) and np.any(np.asarray(value) <= low):
            raise ValueError(f"{name} must be > 0; got {value}.")
    if is_concrete(f_sky) and float(f_sky) > 1.0:
        raise ValueError(f"f_sky must be <= 1; got {f_sky}.")
    check_finite("noise", noise)
    if is_concrete(noise) and np.any(np.asarray(noise) < 0):
        raise ValueError("noise must be >= 0.")
    noise = jnp.asarray(noise, dtype=cl.dtype)
    noise = noise[:, None] * jnp.ones(n_ell, cl.dtype) if noise.ndim == 1 else noise
    total = cl + jnp.eye(t, dtype=cl.dtype)[:, :, None] * noise[:, None, :]
    a, b = np.triu_indices(t)
    # (P, P, L): C~_ac C~_bd + C~_ad C~_bc for pairs (a, b) and (c, d)
    blocks = (total[a[:, None], a[None, :]] * total[b[:, None], b[None, :]]
              + total[a[:, None], b[None, :]] * total[b[:, None], a[None, :]])
    modes = (2.0 * jnp.asarray(ell, cl.dtype) + 1.0) * jnp.asarray(delta_ell, cl.dtype) * f_sky
    blocks = blocks / modes
    p = a.size
    eye = jnp.eye(n_ell, dtype=cl.dtype)
    return (blocks[:, None, :, :] * eye[None, :, None, :]).reshape(p * n_ell, p * n_ell)

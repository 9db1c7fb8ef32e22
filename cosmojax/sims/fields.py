"""Gaussian and lognormal random fields on periodic meshes, in 2D and 3D.

Normalisation: with V the box volume, N the number of cells and V_c = V / N the cell
volume, the Fourier modes of a field with power spectrum P(k) are

.. math:: \\delta_{\\mathbf k} = w_{\\mathbf k} \\sqrt{P(k) / V_c}, \\qquad
          \\langle |\\delta_{\\mathbf k}|^2 \\rangle = P(k) N^2 / V,

where w_k = rfftn(w) of real unit white noise w. So ``cosmojax.stats.power_spectrum``
(which estimates P = V |delta_k|^2 / N^2) recovers P(k) on average, and the field variance
is sum_k P(k) / V, the discrete form of the integral of P d^dk / (2 pi)^d. The k = 0 mode
is zero (the field has zero mean).

``power`` is either a callable ``k -> P(k)`` (k in h/Mpc, P in (Mpc/h)^d; it receives only
k > 0) or an array of P already on the rfftn mesh. A closure over a traced cosmology such
as ``lambda k: linear_power(cosmo, k)`` makes every field differentiable in ``cosmo``.

Guards: ``key`` must be a PRNG key (``jax.random.key(seed)``; an integer seed raises
``TypeError``, on every path); mesh shapes must be whole numbers >= 2 (8.5 is refused, not
truncated); complex noise or power raises ``TypeError``. NaN checks of arrays run on concrete
values only (under jit/vmap/grad they are skipped; see ``cosmojax._validate``).
"""

from __future__ import annotations

from typing import Callable, Union

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_box_size, check_finite, check_key, check_mesh_shape, check_real
from cosmojax.mesh import hermitian_weights, rfftn_kmag, rfftn_shape

Power = Union[Callable[[jax.Array], jax.Array], jax.Array]


def white_noise(key, mesh_shape, dtype=None):
    """Real white noise, independent N(0, 1) values on a mesh.

    Parameters
    ----------
    key : jax.random key
    mesh_shape : tuple of 2 or 3 ints
    dtype : float dtype, default float32 (float64 under x64)

    Returns
    -------
    (mesh_shape) array. jit and vmap safe (``mesh_shape`` static).
    """
    check_key("key", key)
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    return jax.random.normal(key, shape, dtype or jnp.result_type(float))


def _cell_volume(shape, sizes):
    return float(np.prod(sizes) / np.prod(shape))


def power_on_mesh(power: Power, mesh_shape, box_size):
    """Evaluate ``power`` on an rfftn mesh, (Mpc/h)^d, zero at k = 0.

    Returns an array of shape ``rfftn_shape(mesh_shape)``. jit and grad safe in whatever
    ``power`` closes over.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    if callable(power):
        k = rfftn_kmag(shape, box_size)
        positive = k > 0
        p = power(jnp.where(positive, k, 1.0))
        return jnp.where(positive, p, 0.0)
    if np.shape(power) != rfftn_shape(shape):
        raise ValueError(
            f"power must be a callable k -> P(k) or an array of shape {rfftn_shape(shape)}; got shape {np.shape(power)}."
        )
    check_real("power", power)
    check_finite("power", power)
    return jnp.asarray(power)


def noise_to_modes(noise, box_size, power: Power, *, fixed_amplitude: bool = False):
    """Colour real white noise into the Fourier modes of a Gaussian field.

    Parameters
    ----------
    noise : (n_1, ..., n_d) real array of unit white noise (d = 2 or 3)
    box_size : float or tuple of d floats, Mpc/h
    power : callable k -> P(k) or an rfftn-shaped array, (Mpc/h)^d
    fixed_amplitude : if True, every |delta_k| is set to its rms sqrt(P N^2 / V) and only
        the phases stay random ("fixed" fields, Angulo & Pontzen 2016)

    Returns
    -------
    complex array of shape ``rfftn_shape(noise.shape)``: delta_k with the module's
    normalisation. jit, vmap and grad safe (in ``noise`` and anything ``power`` closes over;
    with ``fixed_amplitude`` the gradient in ``noise`` is that of the phase only).
    """
    shape = check_mesh_shape("noise.shape", np.shape(noise))
    sizes = check_box_size("box_size", box_size, len(shape))
    check_real("noise", noise)
    check_finite("noise", noise)
    pk = power_on_mesh(power, shape, sizes)
    modes = jnp.fft.rfftn(noise)
    if fixed_amplitude:
        amp = jnp.abs(modes)
        safe = jnp.where(amp > 0, amp, 1.0)
        modes = jnp.where(amp > 0, modes / safe, 1.0) * np.sqrt(np.prod(shape))
    return modes * jnp.sqrt(pk / _cell_volume(shape, sizes))


def gaussian_field_from_noise(noise, box_size, power: Power, *, fixed_amplitude: bool = False):
    """Real Gaussian field with power spectrum ``power`` from given white noise.

    Same arguments as ``noise_to_modes``; returns the real (n_1, ..., n_d) field, the
    inverse rfftn of its modes. jit, vmap and grad safe.
    """
    modes = noise_to_modes(noise, box_size, power, fixed_amplitude=fixed_amplitude)
    return jnp.fft.irfftn(modes, s=np.shape(noise))


def gaussian_field(
    key,
    mesh_shape,
    box_size,
    power: Power,
    *,
    fixed_amplitude: bool = False,
    flip_phase: bool = False,
):
    """Gaussian random field whose measured power spectrum matches ``power``.

    Parameters
    ----------
    key : jax.random key
    mesh_shape : tuple of 2 or 3 ints
    box_size : float or tuple, Mpc/h
    power : callable k -> P(k) (h/Mpc -> (Mpc/h)^d) or an rfftn-shaped array
    fixed_amplitude : set |delta_k| to its rms, keeping random phases
    flip_phase : shift every phase by pi (the field's sign flips); with the same key this
        gives the partner of a "paired" simulation (Angulo & Pontzen 2016)

    Returns
    -------
    (mesh_shape) real array, zero mean, dimensionless overdensity.
    jit and vmap safe (``mesh_shape``, ``box_size`` and the flags static); differentiable
    in anything ``power`` closes over.
    """
    check_key("key", key)
    noise = white_noise(key, mesh_shape)
    field = gaussian_field_from_noise(noise, box_size, power, fixed_amplitude=fixed_amplitude)
    return -field if flip_phase else field


def paired_gaussian_fields(key, mesh_shape, box_size, power: Power, *, fixed_amplitude: bool = True):
    """The two fields of a "paired-fixed" pair: same amplitudes, phases shifted by pi.

    Returns a (2, *mesh_shape) array. Averaging statistics over the pair cancels the
    leading cosmic variance of odd-order terms (Angulo & Pontzen 2016).
    jit and vmap safe; differentiable in what ``power`` closes over.
    """
    check_key("key", key)
    field = gaussian_field(key, mesh_shape, box_size, power, fixed_amplitude=fixed_amplitude)
    return jnp.stack([field, -field])


def lognormal_gaussian_power(power: Power, mesh_shape, box_size):
    """Power spectrum of the Gaussian field g whose lognormal transform has ``power``.

    On the mesh: xi(r) = irfftn(P) / V_c, xi_G = ln(1 + xi), P_G = rfftn(xi_G) V_c, with
    negative P_G (a target spectrum no lognormal field can have) set to zero. Returns
    P_G on the rfftn mesh, (Mpc/h)^d. Requires xi > -1 everywhere. jit and grad safe.
    """
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    vc = _cell_volume(shape, sizes)
    xi = jnp.fft.irfftn(power_on_mesh(power, shape, sizes), s=shape) / vc
    p_gauss = jnp.real(jnp.fft.rfftn(jnp.log1p(xi))) * vc
    k = rfftn_kmag(shape, sizes)
    return jnp.where(k > 0, jnp.maximum(p_gauss, 0.0), 0.0)


def lognormal_transform(gaussian, variance):
    """delta = exp(g - variance / 2) - 1: a zero-mean lognormal field from a Gaussian g.

    ``gaussian``: real mesh; ``variance``: the variance of g (scalar). Shape of ``gaussian``;
    values > -1. jit, vmap and grad safe.
    """
    return jnp.exp(gaussian - 0.5 * variance) - 1.0


def lognormal_field(
    key,
    mesh_shape,
    box_size,
    power: Power,
    *,
    fixed_amplitude: bool = False,
    flip_phase: bool = False,
):
    """Lognormal random field (Coles & Jones 1991) whose power spectrum is ``power``.

    The Gaussian field g has the spectrum from ``lognormal_gaussian_power``; the returned
    overdensity is delta = exp(g - sigma_G^2 / 2) - 1 with sigma_G^2 the mesh variance of g,
    so delta > -1, <delta> = 0 and its measured P(k) matches ``power`` (up to the modes
    set to zero in P_G, which are rare for cosmological spectra).

    Arguments as ``gaussian_field``. Returns the (mesh_shape) real overdensity.
    jit and vmap safe (static shapes and flags); differentiable in what ``power`` closes over.
    """
    check_key("key", key)
    shape = check_mesh_shape("mesh_shape", mesh_shape)
    sizes = check_box_size("box_size", box_size, len(shape))
    p_gauss = lognormal_gaussian_power(power, shape, sizes)
    g = gaussian_field(key, shape, sizes, p_gauss, fixed_amplitude=fixed_amplitude, flip_phase=flip_phase)
    variance = jnp.sum(hermitian_weights(shape) * p_gauss) / float(np.prod(sizes))
    return lognormal_transform(g, variance)

"""Initial conditions: linear density from white noise, Zel'dovich (1LPT) and 2LPT.

Particles start on a cubic lattice ``q = i * box_size / n`` (one per cell of the particle
grid) and move to ``x = q + Psi(q, a)`` with (Scoccimarro 1998; Bouchet et al. 1995)

.. math::

    \\Psi = -D_1(a) \\nabla\\phi^{(1)} + D_2(a) \\nabla\\phi^{(2)}, \\qquad
    \\nabla^2\\phi^{(1)} = \\delta_L, \\qquad
    \\nabla^2\\phi^{(2)} = \\sum_{i<j} \\left[\\phi^{(1)}_{,ii}\\phi^{(1)}_{,jj}
        - (\\phi^{(1)}_{,ij})^2\\right],

where delta_L is the linear density at a = 1 and D2 ~ -3/7 D1^2 is the second-order growth
factor of ``cosmojax.cosmology``. Momenta are the canonical ``p = a^3 E(a) dx/da`` (Mpc/h),
so the peculiar velocity is ``v = 100 p / a`` km/s and, for the growing mode,

.. math:: p = a^2 E(a) \\left[f_1 D_1 \\Psi^{(1)} + f_2 D_2 \\Psi^{(2)}\\right].
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology import (
    GrowthTable,
    LinearTheory,
    growth_factor,
    growth_factor_second,
    growth_rate,
    growth_rate_second,
    hubble,
    linear_power,
    prime,
)
from cosmojax.cosmology.parameters import check_cosmology
from cosmojax.cosmology.primed import cosmology_of
from cosmojax.mesh import gradient_kernel, inverse_laplacian_kernel, rfftn_shape
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import noise_to_modes, power_on_mesh


class Particles(NamedTuple):
    """Particles of an LPT or N-body state.

    disp : (N, 3) array, Mpc/h, displacement from the lattice point (not wrapped)
    mom : (N, 3) array, Mpc/h, canonical momentum p = a^3 E(a) dx/da
        (peculiar velocity v = 100 p / a km/s)
    """

    disp: jax.Array
    mom: jax.Array


def check_noise(noise, config: SimConfig) -> None:
    """Raise ``ValueError`` unless ``noise`` has the particle-grid shape of ``config``.

    Host-side, on the static shape: safe to call under jit and vmap.
    """
    if np.shape(noise) != config.mesh_shape:
        raise ValueError(
            f"noise must have the particle-grid shape {config.mesh_shape} of config.mesh_shape; got {np.shape(noise)}."
        )


def lattice(config: SimConfig, dtype=None) -> jax.Array:
    """Lattice (Lagrangian) positions q of the particles, (N, 3), Mpc/h, in C order of the grid.

    A constant from the static ``config`` (not traced, nothing to differentiate).
    """
    n = config.n
    i = jnp.arange(n, dtype=dtype or config.float_dtype) * config.spacing
    q = jnp.meshgrid(i, i, i, indexing="ij")
    return jnp.stack([c.reshape(-1) for c in q], axis=-1)


def positions(disp, config: SimConfig) -> jax.Array:
    """Eulerian positions ``(q + disp) mod box_size``, (N, 3), Mpc/h. jit and grad safe."""
    return jnp.mod(lattice(config, disp.dtype) + disp, config.box_size)


def linear_power_on_mesh(cosmo, config: SimConfig):
    """Linear P(k, a = 1) on the rfftn mesh of the particle grid, (Mpc/h)^3.

    ``cosmo``: a Cosmology or LinearTheory (its parameters are used; the power is computed
    here). Returns an (n, n, n // 2 + 1) array, zero at k = 0. To compute it once for many
    calls, prime the theory with it: ``cosmojax.sims.prime(cosmo, config)`` (the sigma8
    normalisation and growth are then not re-evaluated in every gradient). jit and grad
    safe in ``cosmo``.
    """
    cosmo = check_cosmology(cosmology_of(cosmo))
    return power_on_mesh(lambda k: linear_power(cosmo, k, 1.0, transfer=config.transfer),
                         config.mesh_shape, config.box_size)


def mesh_power(cosmo, config: SimConfig):
    """The linear power on the particle mesh that a simulation of ``cosmo`` uses.

    The ``power`` of a primed ``LinearTheory`` when it has one (``ValueError`` when it was
    primed for another mesh, box or transfer function than ``config``'s), computed by
    ``linear_power_on_mesh`` otherwise. (n, n, n // 2 + 1), (Mpc/h)^3. jit, vmap and grad safe.
    """
    if isinstance(cosmo, LinearTheory) and cosmo.power is not None:
        if cosmo.mesh != config.power_mesh:
            raise ValueError(
                f"cosmo was primed for the mesh (mesh_shape, box_size, transfer) = {cosmo.mesh}, not for "
                f"config's {config.power_mesh}; prime its cosmology for this config: "
                "cosmojax.sims.prime(cosmo.cosmo, config)."
            )
        return cosmo.power
    return linear_power_on_mesh(cosmo, config)


def _legacy_theory(cosmo, config: SimConfig, table=None, power=None, where: str = "lpt"):
    """A LinearTheory from the deprecated ``table=`` / ``power=`` keywords (warns)."""
    if table is None and power is None:
        return cosmo
    warnings.warn(
        f"{where}(..., table=, power=) is deprecated; pass cosmojax.sims.prime(cosmo, config) as cosmo "
        "instead (one primed pytree holds the growth table and the power on the mesh).",
        DeprecationWarning,
        stacklevel=3,
    )
    base = cosmology_of(cosmo)
    if table is not None and not isinstance(table, GrowthTable):
        raise TypeError(f"table must be a GrowthTable from growth_table(cosmo); got {type(table).__name__}.")
    growth = table if table is not None else prime(cosmo).growth
    if power is None:
        return LinearTheory(base, growth)
    if np.shape(power) != rfftn_shape(config.mesh_shape):
        raise ValueError(f"power must have the rfftn mesh shape {rfftn_shape(config.mesh_shape)}; got {np.shape(power)}.")
    return LinearTheory(base, growth, jnp.asarray(power), config.power_mesh)


def linear_modes(noise, cosmo, config: SimConfig, *, fixed_amplitude: bool = False, power=None):
    """Fourier modes of the linear density at a = 1 on the particle grid.

    Parameters
    ----------
    noise : (n, n, n) real array of unit white noise (``cosmojax.sims.fields.white_noise``)
    cosmo : Cosmology, or a LinearTheory from ``cosmojax.sims.prime(cosmo, config)``
        (its power on the mesh is read instead of computed)
    config : SimConfig (particle grid, box size, transfer function)
    fixed_amplitude : set each |delta_k| to its rms (only phases random)
    power : deprecated; pass ``cosmojax.sims.prime(cosmo, config)`` as ``cosmo``

    Returns
    -------
    complex (n, n, n // 2 + 1) array, the rfftn of delta_L(a=1), normalised as in
    ``cosmojax.sims.fields``. jit and vmap safe; differentiable in ``noise`` and ``cosmo``
    (through the primed power when it is given).
    """
    check_noise(noise, config)
    cosmo = _legacy_theory(cosmo, config, power=power, where="linear_modes")
    check_cosmology(cosmology_of(cosmo))
    noise = jnp.asarray(noise, config.float_dtype)
    return noise_to_modes(noise, config.box_size, mesh_power(cosmo, config), fixed_amplitude=fixed_amplitude)


def linear_density(noise, cosmo, config: SimConfig, a=None, *, fixed_amplitude: bool = False):
    """Linear overdensity delta_L(x, a) on the particle grid, (n, n, n), dimensionless.

    ``cosmo``: a Cosmology or a primed LinearTheory. ``a`` defaults to ``config.a_init``.
    jit and vmap safe; differentiable in ``noise``, ``cosmo`` and ``a``.
    """
    a = config.a_init if a is None else a
    modes = linear_modes(noise, cosmo, config, fixed_amplitude=fixed_amplitude)
    d1 = growth_factor(cosmo, a)
    return jnp.fft.irfftn(modes, s=config.mesh_shape) * d1.astype(config.float_dtype)


def _grid_to_particles(field):
    return field.reshape(-1)


def lpt_potentials(modes, config: SimConfig, order: int = 2):
    """First- and second-order displacement fields at unit growth.

    Parameters
    ----------
    modes : complex (n, n, n // 2 + 1) array, linear density modes (``linear_modes``)
    config : SimConfig
    order : 1 or 2

    Returns
    -------
    (psi1, psi2): (N, 3) arrays, Mpc/h, with Psi = D1 psi1 + D2 psi2; psi1 = -grad phi1,
    psi2 = +grad phi2 (zero when ``order == 1``). jit, vmap and grad safe.
    """
    shape = config.mesh_shape
    grad = gradient_kernel(shape, config.box_size, "exact")
    inv_lap = inverse_laplacian_kernel(shape, config.box_size)
    phi1 = modes * inv_lap

    def real(field_k):
        return _grid_to_particles(jnp.fft.irfftn(field_k, s=shape))

    psi1 = jnp.stack([real(-g * phi1) for g in grad], axis=-1)
    if order == 1:
        return psi1, jnp.zeros_like(psi1)
    hessian = {}
    for i in range(3):
        for j in range(i, 3):
            hessian[i, j] = jnp.fft.irfftn(grad[i] * grad[j] * phi1, s=shape)
    source = (
        hessian[0, 0] * hessian[1, 1]
        + hessian[0, 0] * hessian[2, 2]
        + hessian[1, 1] * hessian[2, 2]
        - hessian[0, 1] ** 2
        - hessian[0, 2] ** 2
        - hessian[1, 2] ** 2
    )
    phi2 = jnp.fft.rfftn(source) * inv_lap
    psi2 = jnp.stack([real(g * phi2) for g in grad], axis=-1)
    return psi1, psi2


def lpt(noise, cosmo, config: SimConfig, a=None, *, order=None, fixed_amplitude: bool = False, table=None,
        power=None):
    """LPT particles at scale factor ``a`` from white noise.

    Parameters
    ----------
    noise : (n, n, n) real array, unit white noise on the particle grid
    cosmo : Cosmology, or a LinearTheory from ``cosmojax.sims.prime(cosmo, config)``
        (growth table and power on the mesh computed once, then read)
    config : SimConfig
    a : float, scale factor (default ``config.a_init``)
    order : 1 (Zel'dovich) or 2 (2LPT); default ``config.lpt_order``
    fixed_amplitude : set each |delta_k| to its rms (only phases random)
    table, power : deprecated; pass ``cosmojax.sims.prime(cosmo, config)`` as ``cosmo``

    Returns
    -------
    Particles(disp (N, 3), mom (N, 3)), Mpc/h; N = n^3 in C order of the lattice.
    jit and vmap safe (``config``, ``order`` static); differentiable in ``noise``, ``cosmo``
    and ``a``.
    """
    order = config.lpt_order if order is None else order
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    a = config.a_init if a is None else a
    cosmo = _legacy_theory(cosmo, config, table, power, where="lpt")
    modes = linear_modes(noise, cosmo, config, fixed_amplitude=fixed_amplitude)
    psi1, psi2 = lpt_potentials(modes, config, order)
    return lpt_from_potentials(psi1, psi2, cosmo, a, config)


def lpt_from_potentials(psi1, psi2, cosmo, a, config: SimConfig, table=None) -> Particles:
    """Particles at ``a`` from unit-growth displacement fields (``lpt_potentials``).

    psi1, psi2 : (N, 3) arrays, Mpc/h; cosmo : Cosmology or a primed LinearTheory (its
    growth table is read; a Cosmology solves the growth ODE here); a : scale factor;
    table : deprecated (pass ``prime(cosmo)`` as ``cosmo``).
    Returns Particles with (N, 3) ``disp`` and ``mom``, Mpc/h. jit, vmap and grad safe (in the
    potentials, ``cosmo`` and ``a``).
    """
    theory = prime(_legacy_theory(cosmo, config, table, where="lpt_from_potentials"))
    dtype = config.float_dtype
    d1 = growth_factor(theory, a)
    d2 = growth_factor_second(theory, a)
    f1 = growth_rate(theory, a)
    f2 = growth_rate_second(theory, a)
    scale = a**2 * hubble(theory.cosmo, a)
    disp = d1.astype(dtype) * psi1 + d2.astype(dtype) * psi2
    mom = (scale * f1 * d1).astype(dtype) * psi1 + (scale * f2 * d2).astype(dtype) * psi2
    return Particles(disp, mom)

"""The forward model, assembled once: white noise -> linear modes -> LPT -> PM -> snapshots.

.. code-block:: text

    noise (n, n, n) --linear_modes--> delta_L(k, a=1) --lpt_potentials--> psi1, psi2
        --lpt_from_potentials--> particles at a_init --evolve (KDK steps)--> Snapshots

Every caller goes through these functions: ``nbody`` (``simulate`` without a hook), the
neural-bias and field-level posteriors of ``cosmojax.infer`` (``initial_displacements``,
``evolve``, ``lpt_density``) and the ``cosmojax simulate`` command (``simulate`` with a
per-snapshot hook and a progress bar). The cosmology enters as a ``Cosmology`` or as the
primed ``LinearTheory`` of ``prime(cosmo, config)``, which holds the growth table and the
linear power on the mesh, computed once.

With ``config.steps == 0`` there is no particle mesh: the snapshots are the LPT particles
at each of ``config.a_snapshots``.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology import LinearTheory
from cosmojax.cosmology import prime as prime_growth
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import (
    Particles,
    lattice,
    linear_modes,
    linear_power_on_mesh,
    lpt_from_potentials,
    lpt_potentials,
    mesh_power,
)
from cosmojax.sims.nbody import Snapshots, density, initial_state, integrate, run_steps, step_factors


def _check_config(config) -> SimConfig:
    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a cosmojax.sims.SimConfig; got {type(config).__name__}.")
    return config


def prime(cosmo, config: SimConfig) -> LinearTheory:
    """The linear theory a simulation on ``config``'s mesh reads: growth table and P(k) on the mesh.

    Parameters
    ----------
    cosmo : Cosmology, or a LinearTheory (its growth table is kept; one already primed
        for this mesh is returned as it is, one primed for another mesh raises
        ``ValueError``: prime ``theory.cosmo`` instead)
    config : SimConfig (mesh shape, box size in Mpc/h and transfer function fix the mesh)

    Returns
    -------
    LinearTheory with ``growth`` and ``power`` ((n, n, n // 2 + 1), (Mpc/h)^3, the linear
    P(k, a = 1) of ``linear_power_on_mesh``) filled and ``mesh = config.power_mesh``. Pass
    it as ``cosmo`` to every function of the forward model; the growth ODE and the sigma8
    normalisation are then evaluated once, not in every call or gradient. jit, vmap and grad
    safe in ``cosmo`` (prime inside the differentiated function to differentiate through
    the tables). Concrete parameters are checked (``ValueError``).
    """
    config = _check_config(config)
    if isinstance(cosmo, LinearTheory) and cosmo.power is not None:
        mesh_power(cosmo, config)  # ValueError when primed for another mesh
        return cosmo
    theory = prime_growth(cosmo)  # its cosmo is checked (NaN-poisoned where traced and invalid)
    return theory.replace(power=linear_power_on_mesh(theory.cosmo, config), mesh=config.power_mesh)


def initial_displacements(noise, cosmo, config: SimConfig, *, order: Optional[int] = None,
                          fixed_amplitude: bool = False):
    """Unit-growth LPT displacement fields of white noise: the initial conditions of every run.

    Parameters
    ----------
    noise : (n, n, n) real array, unit white noise on the particle grid
    cosmo : Cosmology or LinearTheory (``prime(cosmo, config)``: power on the mesh read)
    config : SimConfig
    order : 1 (Zel'dovich) or 2 (2LPT), default ``config.lpt_order``
    fixed_amplitude : set each |delta_k| to its rms (only phases random)

    Returns
    -------
    (psi1, psi2): (N, 3) arrays, Mpc/h, with the displacement Psi(a) = D1(a) psi1 + D2(a) psi2
    (``lpt_from_potentials``); psi1 is linear in the amplitude of the power (sigma8),
    psi2 quadratic. jit and vmap safe (``config``, ``order`` static); differentiable in
    ``noise`` and ``cosmo``.
    """
    config = _check_config(config)
    order = config.lpt_order if order is None else order
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}.")
    modes = linear_modes(noise, cosmo, config, fixed_amplitude=fixed_amplitude)
    return lpt_potentials(modes, config, order)


def lpt_density(noise, cosmo, config: SimConfig, a: Optional[float] = None, *, order: Optional[int] = None,
                fixed_amplitude: bool = False):
    """Overdensity of the LPT particles at scale factor ``a``, painted with ``config.scheme``.

    Parameters
    ----------
    noise : (n, n, n) real array, unit white noise on the particle grid
    cosmo : Cosmology or LinearTheory (``prime(cosmo, config)``)
    config : SimConfig; a : scale factor (default ``config.a_final``);
    order : 1 or 2 (default ``config.lpt_order``); fixed_amplitude : as ``simulate``

    Returns
    -------
    (n, n, n) array, dimensionless, mean 0. jit, vmap and grad safe (in ``noise``,
    ``cosmo`` and ``a``; piecewise smooth in ``noise`` through mass assignment).
    """
    config = _check_config(config)
    a = config.a_final if a is None else a
    theory = prime_growth(cosmo)
    psi1, psi2 = initial_displacements(noise, theory, config, order=order, fixed_amplitude=fixed_amplitude)
    return density(lpt_from_potentials(psi1, psi2, theory, a, config).disp, config)


def _snapshot(disp, mom, a, config: SimConfig) -> Snapshots:
    """One snapshot (fields without the leading S axis) of (N, 3) particles at ``a``."""
    pos = jnp.mod(lattice(config, disp.dtype) + disp, config.box_size)
    return Snapshots(jnp.asarray(a, disp.dtype), pos, disp, mom, density(disp, config))


def _stacked(disp, mom, config: SimConfig) -> Snapshots:
    a = jnp.asarray(config.a_snapshots, dtype=disp.dtype)
    dens = jnp.stack([density(d, config) for d in disp])
    pos = jnp.mod(lattice(config, disp.dtype)[None] + disp, config.box_size)
    return Snapshots(a, pos, disp, mom, dens)


def _check_hook(on_snapshot):
    if on_snapshot is not None and not callable(on_snapshot):
        raise TypeError(f"on_snapshot must be a callable f(snapshot) or None; got {type(on_snapshot).__name__}.")


def evolve(particles: Particles, factors, config: SimConfig, *, on_snapshot: Optional[Callable] = None,
           progress: bool = False):
    """Particle-mesh integration from ``config.a_init`` through every snapshot, with densities.

    Parameters
    ----------
    particles : Particles at ``config.a_init`` (disp, mom: (N, 3), Mpc/h), e.g.
        ``lpt_from_potentials(psi1, psi2, theory, config.a_init, config)``
    factors : (n_steps, 3) array, ``step_factors(cosmo, config)`` (computed once, reused)
    config : SimConfig; ``config.gradient`` picks the reverse-mode strategy
    on_snapshot : None, or a callable ``f(snapshot)`` called in Python, in order, with each
        snapshot as it is reached: a ``Snapshots`` whose fields have no leading S axis
        (a scalar, pos/disp/mom (N, 3), density (n, n, n))
    progress : with ``on_snapshot``, show a tqdm bar over the steps

    Returns
    -------
    Without ``on_snapshot``: ``Snapshots`` at ``config.a_snapshots`` (stacked, leading
    axis S), from one ``lax.scan`` over all steps (``integrate``): jit and vmap safe,
    differentiable in ``particles`` and ``factors`` (adjoint gradient when
    ``config.gradient == "adjoint"``). With ``on_snapshot``: the list of its return values,
    one per snapshot; the steps between snapshots run as compiled ``lax.scan`` segments and
    only the current state is held, so memory does not grow with the number of snapshots.
    That path is a driver: not jit, vmap or grad safe.
    """
    config = _check_config(config)
    _check_hook(on_snapshot)
    if np.shape(factors) != (len(config.a_steps) - 1, 3):
        raise ValueError(
            f"factors must have shape (n_steps, 3) = {(len(config.a_steps) - 1, 3)}: step_factors(cosmo, config) "
            f"for this config; got {np.shape(factors)}."
        )
    if on_snapshot is None:
        disp, mom = integrate(particles, factors, config)
        return _stacked(disp, mom, config)
    return _evolve_with_hook(particles, factors, config, on_snapshot, progress)


def _evolve_with_hook(particles, factors, config, on_snapshot, progress):
    from tqdm.auto import tqdm

    factors = jnp.asarray(factors)
    start = jax.jit(initial_state, static_argnums=1)
    segment = jax.jit(run_steps, static_argnums=2)
    snapshot = jax.jit(_snapshot, static_argnums=3)
    state = start(Particles(*particles), config)
    results, done = [], 0
    with tqdm(total=len(config.a_steps) - 1, desc="steps", unit="step", disable=not progress) as bar:
        for a, edge in zip(config.a_snapshots, config.snapshot_steps):
            if edge > done:
                state = segment(state, factors[done:edge], config)
                bar.update(edge - done)
                done = edge
            results.append(on_snapshot(snapshot(state.disp, state.mom, a, config)))
    return results


def simulate(noise, cosmo, config: SimConfig, *, fixed_amplitude: bool = False,
             on_snapshot: Optional[Callable] = None, progress: bool = False):
    """The forward model: white noise -> LPT at ``a_init`` -> particle mesh -> snapshots.

    Parameters
    ----------
    noise : (n, n, n) real array, unit white noise on the particle grid
        (``white_noise(key, config.mesh_shape)``)
    cosmo : Cosmology, or a LinearTheory from ``prime(cosmo, config)`` (primed once here
        when it is not; ``ValueError`` when it was primed for another mesh)
    config : SimConfig (static). ``config.steps == 0``: no particle mesh, the snapshots
        are the LPT particles (order ``config.lpt_order``) at each of ``config.a_snapshots``.
    fixed_amplitude : set each initial |delta_k| to its rms (only phases random)
    on_snapshot, progress : a per-snapshot hook and a progress bar (``evolve``)

    Returns
    -------
    Without ``on_snapshot``: ``Snapshots`` at ``config.a_snapshots`` (a (S,), pos/disp/mom
    (S, N, 3) Mpc/h, density (S, n, n, n)); jit and vmap safe, differentiable in ``noise``
    and ``cosmo`` (memory independent of ``config.steps`` when ``config.gradient ==
    "adjoint"``). With ``on_snapshot``: the list of its return values, one per snapshot, in
    order (a driver: not jit, vmap or grad safe).
    """
    config = _check_config(config)
    _check_hook(on_snapshot)
    theory = prime(cosmo, config)
    run = jax.jit(_initial, static_argnums=(2, 3)) if on_snapshot is not None else _initial
    psi1, psi2, init = run(noise, theory, config, fixed_amplitude)
    if config.steps > 0:
        return evolve(init, step_factors(theory, config), config, on_snapshot=on_snapshot, progress=progress)
    a = jnp.asarray(config.a_snapshots, dtype=jnp.result_type(float))
    if on_snapshot is None:
        disp, mom = jax.vmap(lambda x: lpt_from_potentials(psi1, psi2, theory, x, config))(a)
        return _stacked(disp, mom, config)
    at = jax.jit(lambda x: _snapshot(*lpt_from_potentials(psi1, psi2, theory, x, config), x, config))
    return [on_snapshot(at(x)) for x in a]


def _initial(noise, theory, config, fixed_amplitude):
    psi1, psi2 = initial_displacements(noise, theory, config, fixed_amplitude=fixed_amplitude)
    return psi1, psi2, lpt_from_potentials(psi1, psi2, theory, config.a_init, config)


"""Particle-mesh N-body: kick-drift-kick with FastPM growth-corrected factors.

Equations of motion, with the canonical momentum ``p = a^3 E dx/da`` (Mpc/h) and the
unit force ``F = -grad inv_laplacian(delta)`` (Mpc/h) of the particles' overdensity:

.. math::

    \\frac{dx}{da} = \\frac{p}{a^3 E(a)}, \\qquad
    \\frac{dp}{da} = \\frac{3 \\Omega_m}{2 a^2 E(a)} F.

In linear theory x = q + D(a) s, p = G(a) s and F = D(a) s with G = a^3 E dD/da, and
dG/da = 3 Omega_m D / (2 a^2 E) is the growth equation. FastPM (Feng et al. 2016) chooses
the step factors so that this solution is integrated exactly whatever the step size: a
step from a_0 to a_1 with a_c = (a_0 + a_1) / 2 is

.. math::

    p \\mathrel{+}= \\frac{G(a_c) - G(a_0)}{D(a_0)} F(a_0), \\quad
    x \\mathrel{+}= \\frac{D(a_1) - D(a_0)}{G(a_c)} p, \\quad
    p \\mathrel{+}= \\frac{G(a_1) - G(a_c)}{D(a_1)} F(a_1).

The step is time-reversible, which gives the memory-flat gradient: ``gradient="adjoint"``
back-integrates the particles while propagating the adjoint (pmwd; Li et al. 2022,
arXiv:2211.09958), so reverse mode keeps only the final state whatever the number of steps.

Force band and compensation (``SimConfig.force_band``, ``SimConfig.compensate``). The mesh
force of a small longitudinal displacement s(k) is r(k) s(k), not s(k), and r depends on
where the particles sit. On a random, clustered load the aliased images of the wave are
incoherent and the mean response is the paint x readout window times the gradient
kernel's, W(k)^2 d.k / k^2 (``random_load_response``). On the lattice the images add
coherently (``force_response``). With ``force_factor`` 2 the force mesh resolves the
lattice's Bragg peak at 2 pi / spacing, and a displaced lattice puts sidebands of every
wave just below the mesh Nyquist. Those modes are discreteness, not structure, and the
force they carry changes how fast the large scales grow, in a sign that depends on how
the lattice sits on the mesh. The default band (``"particle"``) keeps only the force-mesh
modes with every |k_i| <= pi / spacing (the particle Nyquist, as PM++ does). Then the
lattice's images carry no force and the two loads respond alike: lattice over random
response 1.000, 1.000, 0.998, 0.983 at k = 1, 2, 4, 7 k_f of a 16^3 grid with CIC (TSC:
0.998, 0.994, 0.974, 0.921), against 1.07, 1.14, 1.33, 1.75 with every mesh mode
(``force_band="mesh"``). The default compensation ("lattice") divides by the lattice
response, so within the band the force is the continuum one on the lattice and, to the
ratio above, on clustered loads. "window" divides by the random-load response (amplifying
a mode at most 1 / sinc(1/4)^(2p)), "blend" by the two weighted by the Debye-Waller factor
w = exp(-G^2 <(s_i - s_j)^2> / 2) over neighbours (``lattice_order``; G = 2 pi / spacing).
With ``force_factor`` 1 the band is the whole mesh and the two responses differ near the
Nyquist: "lattice" gives random loads 1.000, 1.002, 1.032, 1.86 of the continuum force,
"window" gives the lattice 1.000, 0.998, 0.969, 0.54, which moves quasi-linear runs away
from 2LPT (tests/sims/test_force.py, tests/sims/test_nbody.py).

What this does to clustered runs (z = 0 power against linear growth times halofit and
against PM++ from the same particles, for every force option, step count and size) is
measured by ``benchmarks/bench_pm.py --fidelity``; the figures are in
benchmarks/RESULTS.md. In short: with the particle band the large scales follow PM++ and
no longer depend on the compensation or on where the lattice sits on the mesh; with every
mesh mode they lose power as the steps increase.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology import growth_factor, growth_rate, hubble, prime
from cosmojax.mesh import frequencies, gradient_kernel, gradient_kernel_numpy, kvec_numpy, paint, readout
from cosmojax.sims.config import SimConfig
from cosmojax.sims.lpt import Particles, _legacy_theory, positions


class Snapshots(NamedTuple):
    """Simulation outputs at the scale factors ``config.a_snapshots`` (S of them).

    a : (S,) scale factors
    pos : (S, N, 3) positions wrapped into the box, Mpc/h
    disp : (S, N, 3) displacements from the lattice, Mpc/h
    mom : (S, N, 3) canonical momenta p = a^3 E dx/da, Mpc/h (velocity 100 p / a km/s)
    density : (S, n, n, n) overdensity painted on the particle grid with ``config.scheme``
    """

    a: jax.Array
    pos: jax.Array
    disp: jax.Array
    mom: jax.Array
    density: jax.Array


# ---------------------------------------------------------------------------- mass assignment


def density(disp, config: SimConfig, shape=None):
    """Overdensity of the particles painted on a mesh (default the particle grid).

    disp : (N, 3) displacements, Mpc/h. Returns a (shape) array with mean 0.
    jit, vmap and grad safe (piecewise in ``disp``).
    """
    shape = config.mesh_shape if shape is None else tuple(shape)
    mass = float(np.prod(shape)) / config.num_particles
    pos = positions(disp, config)
    mesh = paint(pos, shape, config.box_size, scheme=config.scheme, chunk_size=config.chunk_size)
    return mesh * mass - 1.0


# ---------------------------------------------------------------------------- force


_ORDER = {"ngp": 1, "cic": 2, "tsc": 3}
# CIC's kernel has kinks at mesh points, so the force is computed with the lattice shifted
# by half a cell, where the kernel is smooth; NGP and TSC are smooth at mesh points.
_OFFSET = {"ngp": 0.0, "cic": 0.5, "tsc": 0.0}


def _reduce(u):
    """Frequencies in cycles per cell folded into [-1/2, 1/2)."""
    return np.mod(u + 0.5, 1.0) - 0.5


def _in_band(k, config: SimConfig) -> np.ndarray:
    """1 where a force-mesh wavenumber component ``k`` (h/Mpc, any shape) carries force
    under ``config.force_band``, else 0 (float64 numpy)."""
    if config.force_band == "mesh":
        return np.ones(np.shape(k))
    return (np.abs(k) <= np.pi / config.spacing * (1 + 1e-9)).astype(float)


def force_band_mask(config: SimConfig):
    """The force mesh's modes that carry force (``SimConfig.force_band``): 1 where every
    |k_i| <= pi / spacing ("particle") or everywhere ("mesh"), else 0. Shape
    ``rfftn_shape(config.force_shape)``, a constant under jit."""
    mask = 1.0
    for k in kvec_numpy(config.force_shape, config.box_size):
        mask = mask * _in_band(k, config)
    return jnp.asarray(mask)


def _axis_terms(u_mesh, f, config, n_images=16):
    """Per-axis pieces of the force response for each particle-lattice image j < f.

    u_mesh : (L,) mesh frequencies of one axis, cycles per mesh cell. Returns the particle
    wavevector (L,), and for each j the readout sum A (L,), paint sum C (L,), gradient
    kernel, mesh wavevector and force-band flag (``_in_band``) of the image (L,), numpy.
    """
    h = config.box_size / config.force_shape[0]
    order, offset = _ORDER[config.scheme], _OFFSET[config.scheme]
    u_p = _reduce(u_mesh * f) / f
    n = np.arange(-n_images, n_images + 1)
    out = []
    for j in range(f):
        u_j = _reduce(u_p + j / f)
        x = u_j[:, None] + n
        w = np.sinc(x) ** order
        phase = np.exp(-2j * np.pi * (x - u_p[:, None]) * offset)
        a = (phase * w).sum(-1)
        c = (phase * x * w).sum(-1)
        k_j = 2 * np.pi * u_j / h
        out.append((a, c, gradient_kernel_numpy(u_j, h, config.gradient_kind), k_j, _in_band(k_j, config)))
    return 2 * np.pi * u_p / h, out


def force_response(config: SimConfig):
    """Linear response c(k) of the mesh force to a longitudinal lattice displacement.

    For particles on the lattice displaced by a small potential field s(k), the
    particle-mesh force along k is c(k) s(k) instead of the continuum s(k). c is the sum,
    over the force-mesh modes k + j 2 pi / spacing that alias onto the particle mode k, of
    the aliased paint and readout windows (Hockney & Eastwood 1988, ch. 7-8) times the
    gradient and inverse-Laplacian kernels. Returned on the force mesh (each mode carries
    c of the particle mode it aliases to), shape ``rfftn_shape(config.force_shape)``, real.
    Built from per-axis tables, so nothing of the mesh size is stored as a constant.
    Depends only on the static ``config``: a constant under jit, not differentiable.
    """
    shape = config.force_shape
    f = config.force_factor
    h = config.box_size / shape[0]
    axes = []
    for axis, (m, n) in enumerate(zip(frequencies(shape), shape)):
        kp, terms = _axis_terms((m / n).ravel(), f, config)
        view = [1, 1, 1]
        view[axis] = kp.size
        axes.append((kp.reshape(view), [tuple(t.reshape(view) for t in term) for term in terms]))
    kp = [jnp.asarray(a[0]) for a in axes]
    kp2 = kp[0] ** 2 + kp[1] ** 2 + kp[2] ** 2
    safe_kp2 = jnp.where(kp2 > 0, kp2, 1.0)
    total = 0.0
    for js in itertools.product(range(f), repeat=3):
        a, c, ke, km, band = zip(*[tuple(jnp.asarray(t) for t in axes[i][1][js[i]]) for i in range(3)])
        readout_sum = jnp.conj(a[0] * a[1] * a[2])
        paint_sum = c[0] * a[1] * a[2] * kp[0] + a[0] * c[1] * a[2] * kp[1] + a[0] * a[1] * c[2] * kp[2]
        km2 = km[0] ** 2 + km[1] ** 2 + km[2] ** 2
        gradient = ke[0] * kp[0] + ke[1] * kp[1] + ke[2] * kp[2]
        # an image outside the force band (any axis) carries no force
        term = band[0] * band[1] * band[2] * readout_sum * gradient * (2 * np.pi / h) * paint_sum / (
            jnp.where(km2 > 0, km2, 1.0) * safe_kp2)
        total = total + jnp.where(km2 > 0, term, 0.0)
    return jnp.where(kp2 > 0, jnp.real(total), 1.0)


def random_load_response(config: SimConfig):
    """Mean linear response of the mesh force to a displacement of a random (off-lattice) load.

    For particles at uniformly random positions displaced by a small longitudinal wave s(k),
    the aliased images of the wave are incoherent and only the mode itself survives on
    average: the force along k is r(k) s(k) with

    .. math:: r(\\mathbf k) = W(\\mathbf k)^2 \\, \\frac{\\mathbf d(\\mathbf k) \\cdot \\mathbf k}{k^2},

    W the paint (= readout) window of ``config.scheme`` on the force mesh and d the gradient
    kernel of ``config.gradient_kind`` (d = k for "exact", so r = W^2 but 0 on the Nyquist
    planes). Returned on the force mesh, shape ``rfftn_shape(config.force_shape)``, real,
    1 at k = 0. Depends only on the static ``config``: a constant under jit.
    """
    shape = config.force_shape
    h = config.box_size / shape[0]
    kvec = kvec_numpy(shape, config.box_size)
    k2 = sum(k**2 for k in kvec)
    w2 = 1.0
    dk = 0.0
    for m, n, k in zip(frequencies(shape), shape, kvec):
        w2 = w2 * np.sinc(m / n) ** (2 * _ORDER[config.scheme])
        dk = dk + gradient_kernel_numpy(m / n, h, config.gradient_kind) * k
    r = np.where(k2 > 0, w2 * dk / np.where(k2 > 0, k2, 1.0), 1.0)
    return jnp.asarray(r) * force_band_mask(config)


# The most the window compensation amplifies a mode: 1 / sinc(_CAP_U)^(2 p), i.e. it is exact along
# an axis up to a quarter of the mesh frequency (the particle Nyquist of force_factor 2) and
# flat beyond, where the force of a clustered load is shot noise that amplifying only adds to.
_CAP_U = 0.25


def _compensation_mode(config: SimConfig) -> str:
    """``config.compensate`` as "lattice", "blend", "window" or "none" (True means "lattice")."""
    value = config.compensate
    if value is True:
        return "lattice"
    if value is False:
        return "none"
    return value


def lattice_order(disp, config: SimConfig):
    """Debye-Waller factor of the particle lattice, exp(-G^2 <(s_i - s_j)^2> / 2), in [0, 1].

    G = 2 pi / spacing and the mean runs over the displacement components of every pair of
    lattice neighbours i, j: 1 for particles on the lattice, ~0 once neighbours have moved
    apart by a sizeable fraction of the spacing (a clustered, random load). ``disp``:
    (N, 3) displacements, Mpc/h, in the C order of the particle grid. Returns a scalar.
    jit, vmap and grad safe.
    """
    n = config.n
    d = disp.reshape(n, n, n, 3)
    spread = sum(jnp.mean((jnp.roll(d, -1, axis=i) - d) ** 2) for i in range(3)) / 3.0
    return jnp.exp(-0.5 * (2 * np.pi / config.spacing) ** 2 * spread)


def _potential_kernel(config: SimConfig, dtype, order_weight=None):
    """Multiplier taking the painted density to the potential: -1/k^2 on the modes of the
    force band (``force_band_mask``, 0 elsewhere), divided by the force response of the
    compensation mode (``SimConfig.compensate``): "window" by
    ``random_load_response`` floored at sinc(1/4)^(2p); "lattice" by ``force_response``
    floored at half the window squared; "blend" by w x the lattice one + (1 - w) x the
    window one, w = ``order_weight`` (``lattice_order`` of the particles; 0 when None)."""
    shape = config.force_shape
    kvec = [jnp.asarray(k) for k in kvec_numpy(shape, config.box_size)]
    k2 = kvec[0] ** 2 + kvec[1] ** 2 + kvec[2] ** 2
    kernel = jnp.where(k2 > 0, -1.0 / jnp.where(k2 > 0, k2, 1.0), 0.0) * force_band_mask(config)
    mode = _compensation_mode(config)
    if mode == "none":
        return kernel.astype(dtype)
    order = _ORDER[config.scheme]
    window = jnp.maximum(random_load_response(config), float(np.sinc(_CAP_U) ** (2 * order)))
    if mode == "window":
        return (kernel / window).astype(dtype)
    w2 = 1.0
    for m, n in zip(frequencies(shape), shape):
        w2 = w2 * jnp.asarray(np.sinc(m / n) ** (2 * order))
    on_lattice = jnp.maximum(force_response(config), 0.5 * w2)
    if mode == "lattice":
        return (kernel / on_lattice).astype(dtype)
    weight = 0.0 if order_weight is None else order_weight
    return (kernel / (weight * on_lattice + (1.0 - weight) * window)).astype(dtype)


def force(disp, config: SimConfig):
    """Unit particle-mesh force F = -grad inv_laplacian(delta) at the particles, Mpc/h.

    delta is painted on the force mesh (``config.force_shape``) with ``config.scheme``; only
    the modes of ``config.force_band`` carry force (by default those below the particle
    Nyquist, ``force_band_mask``), and ``config.compensate`` divides the force by a linear
    response so that those modes feel the continuum force: by default ("lattice", ``True``)
    the response of particles on the lattice (``force_response``), which the band makes
    the random loads' too; "window" the mean response of a random, clustered load
    (``random_load_response``); "blend" the two weighted by ``lattice_order(disp)``. See
    ``SimConfig`` and the module docstring.
    The gravitational acceleration is (3 Omega_m / 2 a) F in the units of this module.

    disp : (N, 3) Mpc/h. Returns (N, 3). jit, vmap and grad safe.
    """
    shape = config.force_shape
    box = config.box_size
    offset = _OFFSET[config.scheme] * box / shape[0]
    pos = positions(disp + offset, config)
    mesh = paint(pos, shape, box, scheme=config.scheme, chunk_size=config.chunk_size)
    delta_k = jnp.fft.rfftn(mesh * config.particle_mass)
    weight = lattice_order(disp, config) if _compensation_mode(config) == "blend" else None
    phi_k = delta_k * _potential_kernel(config, disp.dtype, weight)
    comps = []
    for g in gradient_kernel(shape, box, config.gradient_kind):
        field = jnp.fft.irfftn(-g.astype(phi_k.dtype) * phi_k, s=shape)
        comps.append(readout(field, pos, box, scheme=config.scheme, chunk_size=config.chunk_size))
    return jnp.stack(comps, axis=-1)


# ---------------------------------------------------------------------------- time steps


def step_factors(cosmo, config: SimConfig, table=None):
    """FastPM kick, drift, kick factors of every step, shape (n_steps, 3).

    Row i holds [(G(a_c) - G(a_i)) / D(a_i), (D(a_i+1) - D(a_i)) / G(a_c),
    (G(a_i+1) - G(a_c)) / D(a_i+1)] for the edges ``config.a_steps``, with
    G = a^2 E D f and a_c the midpoint. ``cosmo``: a Cosmology or a primed LinearTheory
    (its growth table is read); ``table`` is deprecated (pass ``prime(cosmo)``).
    jit, vmap and grad safe in ``cosmo``.
    """
    theory = prime(_legacy_theory(cosmo, config, table, where="step_factors"))
    edges = jnp.asarray(config.a_steps, dtype=jnp.result_type(float))
    a0, a1 = edges[:-1], edges[1:]
    ac = 0.5 * (a0 + a1)

    def d(a):
        return growth_factor(theory, a)

    def g(a):
        return a**2 * hubble(theory.cosmo, a) * growth_factor(theory, a) * growth_rate(theory, a)

    kick1 = (g(ac) - g(a0)) / d(a0)
    drift = (d(a1) - d(a0)) / g(ac)
    kick2 = (g(a1) - g(ac)) / d(a1)
    return jnp.stack([kick1, drift, kick2], axis=-1).astype(config.float_dtype)


class State(NamedTuple):
    """Integrator state: displacement, momentum and the force at the displacement."""

    disp: jax.Array
    mom: jax.Array
    acc: jax.Array


def kick(state: State, factor) -> State:
    """p += factor * F (a FastPM kick factor from ``step_factors``).

    ``state`` holds (N, 3) arrays in Mpc/h; ``factor`` a scalar. jit, vmap and grad safe.
    """
    return state._replace(mom=state.mom + factor * state.acc)


def drift(state: State, factor) -> State:
    """x += factor * p (a FastPM drift factor from ``step_factors``).

    ``state`` holds (N, 3) arrays in Mpc/h; ``factor`` a scalar. jit, vmap and grad safe.
    """
    return state._replace(disp=state.disp + factor * state.mom)


def update_force(state: State, config: SimConfig) -> State:
    """Recompute the particle-mesh force at the current displacement.

    ``state.force`` becomes the (N, 3) force at ``state.disp`` (Mpc/h). jit, vmap and grad safe.
    """
    return state._replace(acc=force(state.disp, config))


def step(state: State, factors, config: SimConfig) -> State:
    """One kick-drift-kick step with ``factors = [kick1, drift, kick2]``.

    ``state``: (N, 3) arrays, Mpc/h; ``factors``: (3,) array. jit, vmap and grad safe.
    """
    state = kick(state, factors[0])
    state = drift(state, factors[1])
    state = update_force(state, config)
    return kick(state, factors[2])


def initial_state(particles: Particles, config: SimConfig) -> State:
    """Integrator state of ``particles`` (disp, mom: (N, 3), Mpc/h) with the force at them.

    jit, vmap and grad safe.
    """
    disp, mom = particles
    return update_force(State(disp, mom, jnp.zeros_like(disp)), config)


def run_steps(state: State, factors, config: SimConfig) -> State:
    """Apply ``step`` once per row of ``factors`` ((m, 3), from ``step_factors``) in one
    ``lax.scan``; returns the final state ((N, 3) arrays, Mpc/h). jit, vmap and grad safe
    (plain autodiff through the scan: memory grows with m).
    """
    return jax.lax.scan(lambda s, f: (step(s, f, config), None), state, factors)[0]


def _snapshot_slots(config: SimConfig) -> np.ndarray:
    """slot[i] = index of the snapshot taken at step edge i, or -1; shape (n_steps + 1,)."""
    slot = np.full(len(config.a_steps), -1)
    for s, i in enumerate(config.snapshot_steps):
        slot[i] = s
    return slot


def _record(buffer, slot, value):
    """Write ``value`` into ``buffer[slot]`` when slot >= 0 (one slice, no full copy)."""
    index = jnp.maximum(slot, 0)
    current = jax.lax.dynamic_index_in_dim(buffer, index, 0, keepdims=False)
    return jax.lax.dynamic_update_index_in_dim(buffer, jnp.where(slot >= 0, value, current), index, 0)


def _integrate_forward(config: SimConfig, disp, mom, factors, remat=False):
    """One ``lax.scan`` over all steps; snapshots are written into (S, N, 3) buffers."""
    body_step = partial(step, config=config)
    if remat:
        body_step = jax.checkpoint(body_step)
    slots = _snapshot_slots(config)
    n_snap = len(config.a_snapshots)
    state = initial_state(Particles(disp, mom), config)
    out_disp = _record(jnp.zeros((n_snap,) + disp.shape, disp.dtype), slots[0], state.disp)
    out_mom = _record(jnp.zeros((n_snap,) + mom.shape, mom.dtype), slots[0], state.mom)

    def body(carry, xs):
        state, out_disp, out_mom = carry
        f, slot = xs
        state = body_step(state, f)
        return (state, _record(out_disp, slot, state.disp), _record(out_mom, slot, state.mom)), None

    (state, out_disp, out_mom), _ = jax.lax.scan(body, (state, out_disp, out_mom), (factors, jnp.asarray(slots[1:])))
    return (out_disp, out_mom), state


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _integrate_adjoint(config, disp, mom, factors):
    return _integrate_forward(config, disp, mom, factors)[0]


def _adjoint_fwd(config, disp, mom, factors):
    out, final = _integrate_forward(config, disp, mom, factors)
    return out, (final, factors)


def _adjoint_bwd(config, residuals, cotangents):
    """Back-integrate the particles and their adjoint from the last step to the first.

    With m_h = m_i + k1 F(d_i), d_i+1 = d_i + dr m_h, m_i+1 = m_h + k2 F(d_i+1), the
    force at each d_i enters two kicks, so its vector-Jacobian product is applied once per
    state to (k1_i m_h_bar + k2_i-1 m_i_bar), in the same pass that recomputes F(d_i) for
    the reverse step: two force evaluations per step, memory independent of steps.
    """
    final, factors = residuals
    g_disp, g_mom = cotangents
    n_steps = factors.shape[0]
    slot = _snapshot_slots(config)
    zero = jnp.zeros_like(final.disp)

    def injected(g, i):
        return jnp.where(i >= 0, g[jnp.maximum(i, 0)], zero)

    force_fn = partial(force, config=config)
    # adjoint of the last state
    k2_last = factors[-1, 2]
    mom_bar = injected(g_mom, slot[n_steps])
    _, vjp_last = jax.vjp(force_fn, final.disp)
    disp_bar = injected(g_disp, slot[n_steps]) + vjp_last(k2_last * mom_bar)[0]

    k2_prev = jnp.concatenate([jnp.zeros((1,), factors.dtype), factors[:-1, 2]])

    def body(carry, xs):
        state, d_bar, m_bar = carry
        f, k2p, s = xs
        k1, dr, k2 = f[0], f[1], f[2]
        # reverse the step
        mom_h = state.mom - k2 * state.acc
        disp_i = state.disp - dr * mom_h
        acc_i, vjp_i = jax.vjp(force_fn, disp_i)
        mom_i = mom_h - k1 * acc_i
        # adjoint of the step
        k2_bar = jnp.sum(m_bar * state.acc)
        dr_bar = jnp.sum(d_bar * mom_h)
        mh_bar = m_bar + dr * d_bar
        k1_bar = jnp.sum(mh_bar * acc_i)
        mi_bar = mh_bar + injected(g_mom, s)
        acc_bar = k1 * mh_bar + k2p * mi_bar
        di_bar = d_bar + injected(g_disp, s) + vjp_i(acc_bar)[0]
        new = (State(disp_i, mom_i, acc_i), di_bar, mi_bar)
        return new, jnp.stack([k1_bar, dr_bar, k2_bar])

    xs = (factors[::-1], k2_prev[::-1], jnp.asarray(slot[:-1][::-1]))
    (_, disp_bar, mom_bar), f_bar = jax.lax.scan(body, (final, disp_bar, mom_bar), xs)
    return disp_bar, mom_bar, f_bar[::-1].astype(factors.dtype)


_integrate_adjoint.defvjp(_adjoint_fwd, _adjoint_bwd)


def integrate(particles: Particles, factors, config: SimConfig):
    """Run the particle-mesh integration from ``config.a_init`` through every snapshot.

    Parameters
    ----------
    particles : Particles at ``config.a_init`` (disp, mom: (N, 3), Mpc/h)
    factors : (n_steps, 3) array from ``step_factors``
    config : SimConfig; ``config.gradient`` picks the reverse-mode strategy

    Returns
    -------
    (disp, mom): each (S, N, 3), Mpc/h, at ``config.a_snapshots``. jit and vmap safe;
    differentiable in ``particles`` and ``factors``.
    """
    disp, mom = particles
    if config.gradient == "adjoint":
        return _integrate_adjoint(config, disp, mom, factors)
    return _integrate_forward(config, disp, mom, factors, remat=config.gradient == "checkpoint")[0]


def nbody(noise, cosmo, config: SimConfig, *, fixed_amplitude: bool = False) -> Snapshots:
    """Particle-mesh simulation from white noise: LPT at ``a_init``, then KDK steps.

    The forward model ``cosmojax.sims.simulate`` without a snapshot hook (this function
    calls it).

    Parameters
    ----------
    noise : (n, n, n) real array, unit white noise on the particle grid
        (``cosmojax.sims.fields.white_noise(key, config.mesh_shape)``)
    cosmo : Cosmology, or a LinearTheory from ``cosmojax.sims.prime(cosmo, config)``
    config : SimConfig (static: close over it or mark it static under jit); with
        ``config.steps == 0`` the snapshots are the LPT particles
    fixed_amplitude : set each initial |delta_k| to its rms (only phases random)

    Returns
    -------
    Snapshots at ``config.a_snapshots``. jit and vmap safe; differentiable in ``noise`` and
    ``cosmo`` (memory independent of ``config.steps`` when ``config.gradient == "adjoint"``).
    """
    from cosmojax.sims.forward import simulate  # the forward model is built on this module

    return simulate(noise, cosmo, config, fixed_amplitude=fixed_amplitude)

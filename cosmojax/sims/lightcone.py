"""Projected maps on the past lightcone of a particle-mesh run, in the Born approximation.

A tracer of ``cosmojax.projected`` (weak-lensing convergence, CMB-lensing convergence, galaxy
number counts) is a radial kernel W(chi) applied to the matter overdensity. Its map is the
line-of-sight integral through the simulation's snapshots,

.. math::

    X(\\hat n) = \\int_0^{\\chi(z_{max})} d\\chi\\, W(\\chi)\\,
        \\delta\\big(\\mathbf o + \\chi \\hat n,\\; a(\\chi)\\big),

for an observer at **o** inside the periodic box, which is replicated as often as the rays
need. The integral uses the nodes and Simpson weights of the Limber integrals
(``cosmojax.projected.radial_grid``), so a map and ``angular_cl`` of the same tracer share
their kernel and quadrature: for the convergence of sources p(z) this is the Born
approximation

.. math::

    \\kappa(\\hat n) = \\frac{3}{2}\\,\\Omega_m \\frac{H_0^2}{c^2} \\int d\\chi\\,
        \\frac{\\chi}{a}\\, \\delta(\\chi \\hat n, \\chi)
        \\int_\\chi d\\chi'\\, p(\\chi') \\frac{\\chi' - \\chi}{\\chi'}

(e.g. Bartelmann & Schneider 2001, eq. 6.19; flat space: the box is Euclidean). At each node
the overdensity is read (trilinear interpolation, periodic) from the snapshots whose scale
factors bracket the node's, interpolated linearly in a; before the earliest snapshot it is
that snapshot scaled by the linear growth D(a) / D(a_first) (and likewise after the last).
Which snapshots a node reads is fixed by the node's redshift and the snapshot scale factors,
so it does not move with the cosmology and the map is differentiable in the cosmology
(distances, kernel, growth), in the snapshots (and through ``simulate`` in the initial
noise) and in the tracer's numbers.

Rays through a periodic box see the same structures again every box length along their
direction; a line of sight along a box axis repeats exactly, which adds correlated power at
low ell. ``flat_sky_directions`` therefore points its patch, by default, along a direction
that is not a lattice direction of the box.
"""

from __future__ import annotations

import healpy as hp
import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_int, check_real, is_concrete
from cosmojax.cosmology import growth_factor, prime
from cosmojax.cosmology.primed import cosmology_of
from cosmojax.mesh import compensate as compensate_window
from cosmojax.mesh import readout
from cosmojax.projected import radial_grid, radial_redshifts
from cosmojax.projected.tracers import check_tracer
from cosmojax.sims.config import SimConfig
from cosmojax.sims.nbody import Snapshots
from cosmojax.sphere.geometry import check_nside

__all__ = ["DEFAULT_CENTRE", "flat_sky_directions", "flat_sky_shear", "healpix_directions", "lightcone_map"]

#: Default centre of a flat-sky patch: a direction with no short lattice period in the box.
DEFAULT_CENTRE = (0.30, 0.45, 0.84)


def _unit(name: str, vector) -> np.ndarray:
    v = np.asarray(vector, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or not np.any(v):
        raise ValueError(f"{name} must be a non-zero vector of 3 finite numbers; got {vector!r}.")
    return v / np.linalg.norm(v)


def flat_sky_directions(field_deg: float, n_pix: int, centre=DEFAULT_CENTRE, subpixels: int = 1) -> np.ndarray:
    """Unit vectors (n_pix, n_pix, 3) through the pixel centres of a square flat-sky patch;
    with ``subpixels`` s > 1, (n_pix, n_pix, s^2, 3) through an s x s grid inside each pixel
    (average the map over that axis for pixel means instead of point samples).

    The patch is a uniform grid in the gnomonic (tangent-plane) coordinates about ``centre``
    (any non-zero 3-vector, box axes), ``field_deg`` degrees on a side (0 < field_deg <= 20,
    where the tangent plane departs from the sphere by under 1%), so pixel [i, j] is at
    tangent coordinates ((i + 1/2 - n_pix/2), (j + 1/2 - n_pix/2)) x field / n_pix along two
    axes perpendicular to ``centre``. Its flat-sky Fourier modes are multipoles
    ell = 2 pi m / field (radians): ``cosmojax.stats.power_spectrum(map, field_rad)`` gives
    C_ell. numpy, static set-up.
    """
    if isinstance(field_deg, bool) or not isinstance(field_deg, (int, float, np.integer, np.floating)) \
            or not 0 < field_deg <= 20:
        raise ValueError(f"field_deg must be a number in (0, 20] degrees; got {field_deg!r}.")
    n_pix = check_int("n_pix", n_pix, minimum=2)
    c = _unit("centre", centre)
    e1 = np.cross(c, [0.0, 0.0, 1.0] if abs(c[2]) < 0.9 else [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    subpixels = check_int("subpixels", subpixels)
    step = np.deg2rad(field_deg) / n_pix
    t = (np.arange(n_pix) + 0.5 - n_pix / 2) * step
    sub = ((np.arange(subpixels) + 0.5) / subpixels - 0.5) * step
    shape = (n_pix, n_pix, subpixels, subpixels)
    tx = np.broadcast_to(t[:, None, None, None] + sub[None, None, :, None], shape).reshape(n_pix, n_pix, -1, 1)
    ty = np.broadcast_to(t[None, :, None, None] + sub[None, None, None, :], shape).reshape(n_pix, n_pix, -1, 1)
    v = c + tx * e1 + ty * e2
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return v[:, :, 0] if subpixels == 1 else v


def healpix_directions(nside: int, subpixels: int = 1) -> np.ndarray:
    """Unit vectors (12 nside^2, 3) to the centres of the HEALPix pixels, RING order
    (healpy's ``pix2vec``), in box axes; with ``subpixels`` = 4^j > 1,
    (12 nside^2, 4^j, 3) to the centres of each pixel's children at nside 2^j (average the
    map over that axis for pixel means: point samples alias the power above the map's
    ell ~ 3 nside into lower multipoles). numpy, static set-up."""
    nside = check_nside(nside)
    subpixels = check_int("subpixels", subpixels)
    level = int(round(np.log(subpixels) / np.log(4)))
    if 4**level != subpixels:
        raise ValueError(f"subpixels must be a power of 4 (1, 4, 16, ...); got {subpixels}.")
    if subpixels == 1:
        return np.stack(hp.pix2vec(nside, np.arange(12 * nside * nside)), axis=-1)
    parents = hp.ring2nest(nside, np.arange(12 * nside * nside))
    children = parents[:, None] * subpixels + np.arange(subpixels)[None, :]
    return np.stack(hp.pix2vec(nside * 2**level, children, nest=True), axis=-1)


def flat_sky_shear(kappa):
    """Shear (gamma_1, gamma_2) of a flat-sky convergence map (Kaiser & Squires 1993):
    gamma = ((l_1^2 - l_2^2) + 2 i l_1 l_2) / l^2 kappa in Fourier space, periodic patch.

    kappa : (n, n) real map (``lightcone_map`` on ``flat_sky_directions``); the patch's
    angular size cancels from the ratio, so it is not needed.
    Returns two (n, n) maps, dimensionless; the ell = 0 mode carries no shear.
    jit and grad safe; jax.vmap maps it over a stack of maps.
    """
    check_real("kappa", kappa)
    if np.ndim(kappa) != 2 or np.shape(kappa)[0] != np.shape(kappa)[1]:
        raise ValueError(f"kappa must be a square (n, n) map; got shape {np.shape(kappa)}.")
    n = np.shape(kappa)[0]
    l1 = np.fft.fftfreq(n)[:, None]
    l2 = np.fft.fftfreq(n)[None, :]
    l_sq = l1**2 + l2**2
    l_sq[0, 0] = 1.0
    k = jnp.fft.fft2(kappa)
    g1 = jnp.real(jnp.fft.ifft2(k * ((l1**2 - l2**2) / l_sq)))
    g2 = jnp.real(jnp.fft.ifft2(k * (2 * l1 * l2 / l_sq)))
    return g1, g2


def _node_plan(a_nodes: np.ndarray, a_snap: np.ndarray):
    """For each snapshot s: (node indices, interpolation coefficients, growth-scaled flags),
    static numpy. Nodes between two snapshots read both (linear in a); nodes before the
    first or after the last read that one, scaled by the growth (flag set, coefficient 0)."""
    last = len(a_snap) - 1
    lower = np.searchsorted(a_snap, a_nodes, side="right") - 1  # -1 .. last
    before, after = lower < 0, (lower == last) & (a_nodes > a_snap[-1])
    at_last = (lower == last) & ~after
    between = (lower >= 0) & (lower < last)
    i = np.clip(lower, 0, max(last - 1, 0))
    width = np.where(between, a_snap[np.minimum(i + 1, last)] - a_snap[i], 1.0)
    t = np.where(between, (a_nodes - a_snap[i]) / width, 0.0)
    plan = []
    for s in range(last + 1):
        grow = (before & (s == 0)) | (after & (s == last))
        coef = np.where(between & (i == s), 1.0 - t, 0.0) + np.where(between & (i + 1 == s), t, 0.0) \
            + np.where(at_last & (s == last), 1.0, 0.0)
        idx = np.flatnonzero(grow | (between & ((i == s) | (i + 1 == s))) | (at_last & (s == last)))
        plan.append((idx, coef[idx], grow[idx]))
    return plan


def _check_density(snapshots, config: SimConfig):
    if not isinstance(snapshots, Snapshots):
        raise TypeError(f"snapshots must be the Snapshots of cosmojax.sims.simulate; got {type(snapshots).__name__}.")
    density = snapshots.density
    check_real("snapshots.density", density)
    s_count = len(config.a_snapshots)
    if np.ndim(density) != 4 or np.shape(density)[0] != s_count:
        raise ValueError(
            f"snapshots.density must have shape (S, n1, n2, n3) with S = {s_count} snapshots of config; "
            f"got {np.shape(density)}: pass the Snapshots of the same config."
        )
    return density


def _check_directions(directions) -> tuple[jax.Array, tuple]:
    check_real("directions", directions)
    shape = np.shape(directions)
    if len(shape) < 2 or shape[-1] != 3:
        raise ValueError(f"directions must have shape (..., 3); got {shape}: use flat_sky_directions or "
                         "healpix_directions.")
    if is_concrete(directions):
        norm = np.linalg.norm(np.asarray(directions, dtype=float), axis=-1)
        if not np.all(np.abs(norm - 1) < 1e-5):
            raise ValueError("directions must be unit vectors (|n| = 1 within 1e-5); normalise them.")
    return jnp.asarray(directions).reshape(-1, 3), shape[:-1]


def lightcone_map(
    snapshots: Snapshots,
    cosmo,
    config: SimConfig,
    tracer,
    directions,
    *,
    n_radial: int = 2049,
    observer=None,
    compensate: bool = True,
    nodes_per_pass: int = 32,
):
    """The map of ``tracer`` along ``directions`` through the snapshots of a PM run
    (module docstring: Born approximation, periodic replication, time interpolation).

    Parameters
    ----------
    snapshots : ``Snapshots`` of ``simulate`` / ``nbody`` with ``config``; their
        ``density`` (S, n1, n2, n3) overdensity meshes at ``config.a_snapshots`` are read.
        Several snapshots spanning the tracer's redshifts make the lightcone (e.g.
        ``a_snapshots`` every 0.05 in a); one snapshot gives a growth-scaled single epoch.
    cosmo : the Cosmology of the run (or a primed LinearTheory)
    config : its ``SimConfig`` (box size, snapshot scale factors, painting scheme)
    tracer : ``WeakLensing(field="convergence")``, ``CMBLensing`` or ``NumberCounts``
        (``cosmojax.projected``): every component's kernel is summed, e.g. lensing plus
        intrinsic alignments, or clustering plus magnification. Shear maps: convert the
        convergence with ``flat_sky_shear``.
    directions : (..., 3) unit vectors in the box's axes (``flat_sky_directions``,
        ``healpix_directions``)
    n_radial : odd number of line-of-sight nodes to the tracer's z_max. The read density
        is smooth on the mesh cell, so the node spacing should not exceed it (the default
        gives about 1.8 Mpc/h at z = 1).
    observer : (3,) position of the observer, Mpc/h (default the box's origin)
    compensate : divide each snapshot's density by its painting window (``config.scheme``)
        before reading it, as ``power_spectrum(..., compensate=scheme)`` does for P(k)
    nodes_per_pass : line-of-sight nodes read per pass (memory: nodes x directions x 3)

    Returns
    -------
    The map, shape ``directions.shape[:-1]``, dimensionless (the convergence, or the
    projected galaxy overdensity). jit safe (config, the tracer's structure, directions,
    n_radial and observer static), vmap safe over the cosmology, the tracer's numbers and
    the snapshots, differentiable in all three (the trilinear reads are piecewise linear in
    the ray positions, which move with the cosmology).
    """
    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a cosmojax.sims.SimConfig; got {type(config).__name__}.")
    check_tracer(tracer)
    kinds = tracer.kinds()
    if any(kind not in ("one", "laplacian") for kind in kinds):
        raise ValueError("tracer must be a scalar field: pass WeakLensing(..., field='convergence') and convert "
                         "the map with flat_sky_shear for the shear.")
    density = _check_density(snapshots, config)
    dirs, out_shape = _check_directions(directions)
    if not isinstance(compensate, bool):
        raise TypeError(f"compensate must be True or False; got {compensate!r}.")
    nodes_per_pass = check_int("nodes_per_pass", nodes_per_pass)
    origin = np.zeros(3) if observer is None else np.asarray(observer, dtype=float)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise ValueError(f"observer must be 3 finite numbers (Mpc/h); got {observer!r}.")

    theory = prime(cosmo)
    cosmo = cosmology_of(theory)
    grid = radial_grid(theory, tracer.z_max, n_radial)
    weight = grid.dchi * sum(tracer.kernels(cosmo, grid))
    a_snap = np.asarray(config.a_snapshots, dtype=float)
    d_snap = growth_factor(theory, jnp.asarray(a_snap, dtype=grid.a.dtype))
    a_nodes = 1.0 / (1.0 + radial_redshifts(tracer.z_max, n_radial))

    density = jnp.asarray(density)
    mesh_shape = density.shape[1:]
    if compensate:
        spectral = jnp.fft.rfftn(density, axes=(1, 2, 3))
        density = jnp.fft.irfftn(compensate_window(spectral, mesh_shape, config.scheme), s=mesh_shape, axes=(1, 2, 3))
    dirs = dirs.astype(grid.chi.dtype)

    total = jnp.zeros(dirs.shape[0], dtype=grid.chi.dtype)
    for s, (idx, coef, grow) in enumerate(_node_plan(a_nodes, a_snap)):
        if idx.size == 0:
            continue
        c = jnp.asarray(coef, dtype=grid.chi.dtype) + jnp.where(jnp.asarray(grow), grid.growth[idx] / d_snap[s], 0.0)
        w = weight[idx] * c
        chi = grid.chi[idx]
        passes = -(-idx.size // nodes_per_pass)
        pad = passes * nodes_per_pass - idx.size
        w = jnp.concatenate([w, jnp.zeros(pad, w.dtype)]).reshape(passes, nodes_per_pass)
        chi = jnp.concatenate([chi, jnp.zeros(pad, chi.dtype)]).reshape(passes, nodes_per_pass)

        def read(acc, node, mesh=density[s]):
            w_pass, chi_pass = node
            pos = origin + chi_pass[:, None, None] * dirs[None]
            values = readout(mesh, pos.reshape(-1, 3), config.box_size, scheme="cic")
            return acc + w_pass @ values.reshape(nodes_per_pass, -1), None

        total, _ = jax.lax.scan(read, total, (w, chi))
    return total.reshape(out_shape)

"""Static configuration of particle simulations (LPT and particle mesh).

``SimConfig`` is a frozen, hashable dataclass: everything in it sets array shapes, loop
lengths or code paths, so it is a static argument of ``jax.jit``. Numbers that may be
traced (cosmological parameters, white noise) live apart, in the ``Cosmology`` pytree and
in arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice, check_int, check_mesh_shape, check_positive
from cosmojax.mesh import GRADIENT_KINDS, SCHEMES

GRADIENTS = ("autodiff", "checkpoint", "adjoint")
DTYPES = ("float32", "float64")
COMPENSATIONS = ("lattice", "blend", "window", "none")
FORCE_BANDS = ("particle", "mesh")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Static settings of an LPT or particle-mesh simulation.

    Attributes
    ----------
    mesh_shape : int or tuple of 3 equal ints
        Particles per side of the cubic particle grid (``64`` or ``(64, 64, 64)``). One
        particle sits at each lattice point ``q = i * box_size / n``.
    box_size : float, Mpc/h
        Side of the periodic cubic box.
    force_factor : int >= 1
        The force mesh has ``force_factor * n`` cells per side (2 is FastPM's usual choice).
    a_init : float
        Scale factor of the initial conditions (0 < a_init < the first of ``a_snapshots``
        that is above it; ``a_init`` may itself be listed as a snapshot).
    steps : int >= 0
        Number of uniform steps in ``a`` from ``a_init`` to ``a_final = max(a_snapshots)``.
        Snapshot scale factors that fall between steps are added as extra step edges.
        0 means no particle mesh: the forward model (``cosmojax.sims.simulate``) returns
        the LPT particles at each of ``a_snapshots``.
    a_snapshots : tuple of floats
        Scale factors at which particles and density meshes are returned (default ``(1.0,)``).
    lpt_order : 1 or 2
        Order of the LPT initial conditions of the N-body run.
    scheme : "ngp", "cic" or "tsc"
        Mass assignment and force interpolation kernel.
    gradient_kind : "exact", "fd2" or "fd4"
        Fourier kernel of the potential gradient (see ``cosmojax.mesh.gradient_kernel``).
    compensate : bool or "lattice", "window", "blend", "none"
        Divide the force by a linear force response so that the modes of ``force_band``
        feel the continuum force. "lattice" (default; ``True`` means it too): by the response
        of particles on the lattice (``nbody.force_response``, the aliased windows), exact on
        the lattice; with ``force_factor`` 2 and the particle band it is within 2% of the
        random loads' response below the particle Nyquist, so it is right on clustered loads
        too, while with ``force_factor`` 1 a random load feels 1.03 times the continuum force
        at half the Nyquist and 1.9 times near it. "window": by the mean response of a
        random, clustered load, the paint x readout window W(k)^2 times the gradient kernel's
        (``nbody.random_load_response``), amplifying a mode at most 1 / sinc(1/4)^(2p); with
        ``force_factor`` 1 it is 3% weak on the lattice at half the Nyquist, which moves
        quasi-linear runs away from 2LPT. "blend": the two weighted by the particles'
        lattice order (``nbody.lattice_order``). ``False`` or "none": no compensation.
        Figures in the ``nbody`` module docstring.
    force_band : "particle" or "mesh"
        Modes of the force mesh that carry force. "particle" (default): only those with
        every |k_i| <= pi / spacing, the particle Nyquist frequency (as PM++ does); "mesh":
        all of them. With ``force_factor`` 1 the two are the same. With 2, the modes above
        the particle Nyquist hold the lattice's discreteness (the sidebands of the Bragg
        peak at 2 pi / spacing) more than structure, and letting them act costs the large
        scales power (``nbody`` module docstring; figures in benchmarks/RESULTS.md).
    dtype : "float32" or "float64"
        Floating dtype of particles and meshes. "float64" needs ``jax_enable_x64``.
    gradient : "autodiff", "checkpoint" or "adjoint"
        Reverse-mode strategy of the N-body integration: plain autodiff through
        ``lax.scan`` (memory grows with steps), per-step rematerialisation (smaller, still
        grows), or the adjoint back-integration of pmwd (Li et al. 2022), whose memory does
        not grow with the number of steps.
    chunk_size : int or None
        Particles painted or read out per pass (``None``: all at once). Bounds the
        memory of mass assignment at large particle numbers.
    transfer : str
        Linear transfer function passed to ``cosmojax.cosmology.linear_power``.
    """

    mesh_shape: int | tuple = 32
    box_size: float = 256.0
    force_factor: int = 1
    a_init: float = 0.1
    steps: int = 10
    a_snapshots: tuple = (1.0,)
    lpt_order: int = 2
    scheme: str = "cic"
    gradient_kind: str = "exact"
    compensate: bool | str = True
    force_band: str = "particle"
    dtype: str = "float32"
    gradient: str = "adjoint"
    chunk_size: Optional[int] = None
    transfer: str = "eisenstein_hu"

    def __post_init__(self):
        shape = self.mesh_shape
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),) * 3
        shape = check_mesh_shape("mesh_shape", shape, ndims=(3,))
        if len(set(shape)) != 1:
            raise ValueError(f"mesh_shape must be cubic (n, n, n); got {shape}. Use equal sizes.")
        object.__setattr__(self, "mesh_shape", shape)
        if not (isinstance(self.box_size, (int, float, np.number)) and np.isfinite(self.box_size) and self.box_size > 0):
            raise ValueError(f"box_size must be a positive number (Mpc/h); got {self.box_size!r}.")
        object.__setattr__(self, "box_size", float(self.box_size))
        check_int("force_factor", self.force_factor)
        object.__setattr__(self, "steps", check_int("steps", self.steps, 0))
        snaps = np.atleast_1d(np.asarray(self.a_snapshots, dtype=float))
        if snaps.size == 0 or not np.all(np.isfinite(snaps)):
            raise ValueError(f"a_snapshots must hold at least one finite scale factor; got {self.a_snapshots!r}.")
        check_positive("a_init", self.a_init)
        if np.any(np.diff(snaps) <= 0):
            raise ValueError(f"a_snapshots must be strictly increasing; got {[float(a) for a in snaps]}.")
        if snaps[0] < self.a_init:
            raise ValueError(f"a_snapshots must be >= a_init = {float(self.a_init):g}; got {[float(a) for a in snaps]}.")
        if self.a_init >= snaps[-1]:
            raise ValueError(
                f"a_init ({float(self.a_init):g}) must be < a_final = max(a_snapshots) ({float(snaps[-1]):g}); "
                "lower a_init or add a later snapshot."
            )
        object.__setattr__(self, "a_snapshots", tuple(float(a) for a in snaps))
        object.__setattr__(self, "a_init", float(self.a_init))
        if self.lpt_order not in (1, 2):
            raise ValueError(f"lpt_order must be 1 or 2; got {self.lpt_order!r}.")
        check_choice("scheme", self.scheme, SCHEMES)
        if not isinstance(self.compensate, (bool, np.bool_)):
            if not (isinstance(self.compensate, str) and self.compensate in COMPENSATIONS):
                raise ValueError(
                    f"compensate must be True, False or one of {list(COMPENSATIONS)}; got {self.compensate!r}."
                )
        else:
            object.__setattr__(self, "compensate", bool(self.compensate))
        check_choice("force_band", self.force_band, FORCE_BANDS)
        check_choice("gradient_kind", self.gradient_kind, GRADIENT_KINDS)
        check_choice("dtype", self.dtype, DTYPES)
        check_choice("gradient", self.gradient, GRADIENTS)
        check_int("chunk_size", self.chunk_size, allow_none=True)

    def replace(self, **changes) -> "SimConfig":
        """A copy with some fields changed (and checked again)."""
        return dataclasses.replace(self, **changes)

    @property
    def n(self) -> int:
        """Particles per side."""
        return self.mesh_shape[0]

    @property
    def num_particles(self) -> int:
        """Number of particles N = n^3 (static int)."""
        return self.n**3

    @property
    def force_shape(self) -> tuple[int, int, int]:
        """Cells per side of the force mesh, ``force_factor * mesh_shape``."""
        return tuple(self.force_factor * n for n in self.mesh_shape)

    @property
    def spacing(self) -> float:
        """Lattice spacing of the particle grid, Mpc/h."""
        return self.box_size / self.n

    @property
    def a_final(self) -> float:
        """Scale factor of the last snapshot, where the integration ends."""
        return self.a_snapshots[-1]

    @property
    def a_steps(self) -> np.ndarray:
        """Step edges in ``a``: ``steps + 1`` uniform values from ``a_init`` to ``a_final``,
        with the snapshot scale factors merged in. Shape (n_steps + 1,), numpy float64."""
        grid = np.linspace(self.a_init, self.a_final, self.steps + 1)
        merged = np.union1d(grid, np.asarray(self.a_snapshots))
        keep = np.concatenate([[True], np.diff(merged) > 1e-10 * self.a_final])
        return merged[keep]

    @property
    def snapshot_steps(self) -> tuple[int, ...]:
        """Index into ``a_steps`` of each snapshot scale factor."""
        edges = self.a_steps
        return tuple(int(np.argmin(np.abs(edges - a))) for a in self.a_snapshots)

    @property
    def power_mesh(self) -> tuple:
        """Static key ``(mesh_shape, box_size, transfer)`` of the linear power on the mesh,
        held by a primed ``LinearTheory`` to check it against the config it is used with."""
        return (self.mesh_shape, self.box_size, self.transfer)

    @property
    def float_dtype(self):
        """``dtype`` as a numpy dtype (float32 or float64) for the particle arrays."""
        return jnp.dtype(self.dtype)

    @property
    def particle_mass(self) -> float:
        """Mass of one particle in units of the mean force-mesh cell mass, so the painted
        force mesh has mean 1."""
        return float(self.force_factor**3)

"""The primed linear theory: a cosmology and the tables a program reads many times.

Following pmwd's ``prime()`` (Li et al. 2022, arXiv:2211.09958), the growth table (the
first- and second-order growth ODE solved on a fixed ln a grid) is computed once and
carried in a pytree beside the parameters, never in a hidden cache: ``prime(cosmo)``
returns a ``LinearTheory`` that every growth reader (``growth_factor(theory, a)``, ...)
and every simulator accepts in place of the ``Cosmology``. Simulations on a mesh add the
linear power on that mesh with ``cosmojax.sims.prime(cosmo, config)``.

Differentiate through ``prime``: call it inside the function that ``jax.grad`` sees, so
the tables are functions of the parameters. A ``LinearTheory`` built outside and passed
in is a pytree of constants whose tables no longer follow its ``cosmo``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import jax

from cosmojax.cosmology.parameters import Cosmology


@dataclasses.dataclass(frozen=True)
class LinearTheory:
    """A ``Cosmology`` with its precomputed linear-theory tables; a pytree.

    Attributes
    ----------
    cosmo : Cosmology, the parameters the tables were computed from
    growth : GrowthTable, first- and second-order growth factors on the ln a grid of
        ``cosmojax.cosmology.growth`` (each field (n_nodes,), dimensionless)
    power : None, or the linear P(k, a = 1) on the rfftn mesh of a particle grid,
        (n, n, n // 2 + 1) float array, (Mpc/h)^3, zero at k = 0
        (``cosmojax.sims.prime(cosmo, config)`` fills it)
    mesh : None, or the static key ``(mesh_shape, box_size, transfer)`` of the mesh that
        ``power`` was computed on; simulators check it against their ``SimConfig``

    ``cosmo``, ``growth`` and ``power`` are pytree children (traced under jit, batched
    under vmap, differentiated under grad); ``mesh`` is static metadata. Build it with
    ``prime``; ``theory.replace(...)`` returns a changed copy (the tables are not
    recomputed).
    """

    cosmo: Cosmology
    growth: Any
    power: Optional[jax.Array] = None
    mesh: Optional[tuple] = None

    def replace(self, **changes) -> "LinearTheory":
        """A copy with some fields changed (tables are not recomputed)."""
        return dataclasses.replace(self, **changes)


jax.tree_util.register_dataclass(LinearTheory, data_fields=["cosmo", "growth", "power"], meta_fields=["mesh"])


def cosmology_of(cosmo, name: str = "cosmo") -> Cosmology:
    """The ``Cosmology`` of a ``Cosmology`` or a primed ``LinearTheory``.

    Raises ``TypeError`` naming ``name`` for anything else. Works on traced pytrees
    (it looks only at the type), so it is jit, vmap and grad safe.
    """
    if isinstance(cosmo, LinearTheory):
        return cosmo.cosmo
    if isinstance(cosmo, Cosmology):
        return cosmo
    raise TypeError(
        f"{name} must be a cosmojax.cosmology.Cosmology or a LinearTheory from prime(cosmo); "
        f"got {type(cosmo).__name__}."
    )


def prime(cosmo) -> LinearTheory:
    """Solve the growth ODE of ``cosmo`` once and return it with its table.

    Parameters
    ----------
    cosmo : Cosmology, or a LinearTheory (returned as it is: already primed)

    Returns
    -------
    LinearTheory with ``growth`` filled (``power`` None). Pass it wherever a
    ``Cosmology`` is accepted by the growth readers and the simulators; they read the
    table instead of solving the ODE again. jit, vmap (over a batch of cosmologies) and
    grad safe: ``jax.grad(lambda c: f(prime(c)))`` differentiates through the ODE solve.
    Concrete parameters are checked (``ValueError`` for unphysical values); traced ones
    out of range make every field of the returned theory NaN (``check_cosmology``).
    """
    if isinstance(cosmo, LinearTheory):
        return cosmo
    from cosmojax.cosmology.growth import growth_table  # growth reads LinearTheory from here
    from cosmojax.cosmology.parameters import check_cosmology

    checked = check_cosmology(cosmology_of(cosmo))  # NaN-poisoned where traced and invalid
    return LinearTheory(checked, growth_table(checked))

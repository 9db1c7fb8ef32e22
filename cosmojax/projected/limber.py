"""Angular power spectra in the Limber approximation.

.. math::

    C^{ab}_\\ell = \\int d\\chi\\, \\frac{W_a(\\chi) W_b(\\chi)}{f_K(\\chi)^2}\\,
        P\\!\\left(k = \\frac{\\ell + 1/2}{f_K(\\chi)},\\, z(\\chi)\\right)

(LoVerde & Afshordi 2008), with the kernels and ell factors of
``cosmojax.projected.tracers``. The line-of-sight integral is Simpson's rule on
``n_radial`` nodes from ``Z_MIN`` to the farthest tracer's z_max (``radial_grid``);
all tracers share the nodes, so every pair costs one weighted sum.

The matter power is the linear Eisenstein-Hu spectrum, halofit (Takahashi et al. 2012)
on it, or any callable. For halofit, the three halofit parameters are solved on
``HALOFIT_NODES`` scale factors from ``A_HALOFIT_MIN`` (z = 9) to 1 and interpolated (cubic
Hermite in ln a) to each node; at earlier times, where matter is linear on every scale a
lensing kernel reaches, the z = 9 spectrum is scaled by the linear growth
(P(k, a) = P(k, a_min) D(a)^2 / D(a_min)^2), as CCL does beyond its spline range.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._interp import hermite_uniform
from cosmojax._validate import check_int, is_concrete
from cosmojax.cosmology import (
    HUBBLE_DISTANCE,
    comoving_distance,
    growth_factor,
    halofit_from_parameters,
    halofit_parameters,
    hubble,
    linear_power_table,
    prime,
    transverse_from_comoving,
)
from cosmojax.cosmology.parameters import check_cosmology
from cosmojax.cosmology.primed import cosmology_of
from cosmojax.projected.tracers import RadialGrid, check_tracer, curvature_cosine, ell_factor

__all__ = ["angular_cl", "radial_grid", "radial_redshifts", "matter_power", "Z_MIN", "A_HALOFIT_MIN", "HALOFIT_NODES"]

#: First node of the line-of-sight grid (redshift).
Z_MIN = 1e-4
#: Weight of ln z in the line-of-sight coordinate (``radial_grid``).
LOG_WEIGHT = 0.05
#: Earliest scale factor at which halofit is solved (z = 9); scaled by growth before it.
A_HALOFIT_MIN = 0.1
#: Scale factors at which the halofit parameters are solved (uniform in ln a).
HALOFIT_NODES = 48

PowerSpec = Union[str, Callable]


def _simpson_weights(n: int, step: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * step / 3.0


def _coordinate(z):
    """The line-of-sight coordinate v = ln(1 + z) + LOG_WEIGHT ln z (increasing in z)."""
    return np.log1p(z) + LOG_WEIGHT * np.log(z)


def _nodes(z_max: float, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(z, dz/dv, step): n redshifts uniform in v from Z_MIN to z_max (Newton-refined)."""
    v = np.linspace(_coordinate(Z_MIN), _coordinate(z_max), n)
    fine = np.geomspace(Z_MIN, z_max, 65536)
    z = np.interp(v, _coordinate(fine), fine)
    for _ in range(4):
        z = z - (_coordinate(z) - v) / (1.0 / (1.0 + z) + LOG_WEIGHT / z)
    z[0], z[-1] = Z_MIN, z_max
    return z, 1.0 / (1.0 / (1.0 + z) + LOG_WEIGHT / z), float(v[1] - v[0])


def radial_redshifts(z_max: float, n_radial: int = 1025) -> np.ndarray:
    """The redshifts (n_radial,) of ``radial_grid``'s nodes, numpy float64: they depend on
    ``z_max`` and ``n_radial`` alone, not on the cosmology (static set-up, not traced)."""
    n_radial = check_int("n_radial", n_radial, minimum=3)
    if n_radial % 2 == 0:
        raise ValueError(f"n_radial must be odd (Simpson's rule); got {n_radial}.")
    return _nodes(float(z_max), n_radial)[0]


def radial_grid(cosmo, z_max: float, n_radial: int = 1025) -> RadialGrid:
    """The line-of-sight nodes (``cosmo``: a Cosmology or a primed LinearTheory) from
    ``Z_MIN`` to ``z_max``, uniform in
    v = ln(1 + z) + ``LOG_WEIGHT`` ln z: logarithmic in z near the observer, where
    k = (l + 1/2) / chi changes fastest, and in 1 + z beyond.

    ``z_max``: static Python float; ``n_radial``: odd number of nodes (Simpson's rule).
    Returns a ``RadialGrid`` of (n_radial,) arrays. jit, vmap and grad safe in ``cosmo``.
    """
    n_radial = check_int("n_radial", n_radial, minimum=3)
    if n_radial % 2 == 0:
        raise ValueError(f"n_radial must be odd (Simpson's rule); got {n_radial}.")
    theory = prime(cosmo)
    cosmo = theory.cosmo
    z_np, dz_dv, step = _nodes(float(z_max), n_radial)
    dtype = jnp.result_type(float)
    z = jnp.asarray(z_np, dtype=dtype)
    a = 1.0 / (1.0 + z)
    chi = comoving_distance(cosmo, a)
    e = hubble(cosmo, a)
    trapezoid = np.full(n_radial, step)
    trapezoid[[0, -1]] *= 0.5
    r = transverse_from_comoving(cosmo, chi)
    return RadialGrid(
        z=z, a=a, chi=chi, r=r, hubble=e,
        growth=growth_factor(theory, a),
        dchi=jnp.asarray(_simpson_weights(n_radial, step) * dz_dv, dtype=dtype) * HUBBLE_DISTANCE / e,
        dz=jnp.asarray(trapezoid * dz_dv, dtype=dtype),
        c_k=curvature_cosine(cosmo, r),
    )


def _interpolator(table):
    """P(k) read from a ``PowerTable`` on a uniform ln k grid: cubic Hermite in ln k of ln P
    inside, power laws with the end slopes outside."""
    lnk, lnp = jnp.log(table.k), jnp.log(table.power)
    x0, step = lnk[0], lnk[1] - lnk[0]
    slopes = jnp.gradient(lnp, step)

    def power(k):
        x = jnp.log(k)
        inside = hermite_uniform(x, x0, step, lnp, slopes)
        below = lnp[0] + slopes[0] * (x - x0)
        above = lnp[-1] + slopes[-1] * (x - lnk[-1])
        return jnp.exp(jnp.where(x < x0, below, jnp.where(x > lnk[-1], above, inside)))

    return power


def _halofit(theory, k, a, growth, linear):
    """Halofit P(k, a) at wavenumbers ``k`` (..., N) and N scale factors ``a`` with growth
    ``growth`` = D(a), from the linear P(k, a = 1) callable ``linear``."""
    cosmo = theory.cosmo
    lna = np.linspace(np.log(A_HALOFIT_MIN), 0.0, HALOFIT_NODES)
    a_nodes = jnp.asarray(np.exp(lna), dtype=k.dtype)

    def parameters(a, d):
        return halofit_parameters(cosmo, a, linear=lambda q: linear(q) * d**2)

    k_sigma, n_eff, curvature = jax.vmap(parameters)(a_nodes, growth_factor(theory, a_nodes))
    step = float(lna[1] - lna[0])
    lna_eff = jnp.log(jnp.maximum(a, A_HALOFIT_MIN))

    def at_nodes(values):
        return hermite_uniform(lna_eff, float(lna[0]), step, values, jnp.gradient(values, step))

    ks, n, c = jnp.exp(at_nodes(jnp.log(k_sigma))), at_nodes(n_eff), at_nodes(curvature)
    a_eff = jnp.exp(lna_eff)
    d_eff = growth_factor(theory, a_eff)
    p_nl = halofit_from_parameters(cosmo, k, a_eff, linear(k) * d_eff**2, ks, n, c)
    return p_nl * (growth / d_eff) ** 2


def matter_power(cosmo, k, a, power: PowerSpec = "halofit", transfer="eisenstein_hu"):
    """The matter power P(k, a) of the projected integrals, (Mpc/h)^3.

    ``cosmo``: a Cosmology or a primed LinearTheory (``prime``); ``k``: (..., N)
    wavenumbers, h/Mpc, > 0; ``a``: (N,) scale factors (the last axis of ``k`` runs over
    them); ``power``: "halofit" (solved for a >= ``A_HALOFIT_MIN`` and scaled by growth
    before, module docstring), "linear" or a callable ``power(k, a)`` broadcasting ``k``
    against ``a``. The linear power is evaluated once on the grid of ``linear_power_table``
    and interpolated (cubic in ln k; relative error < 1e-6). Returns the shape of ``k``.
    jit, vmap and grad safe.
    """
    a = jnp.asarray(a)
    if callable(power):
        return jnp.asarray(power(k, a))
    if power not in ("halofit", "linear"):
        raise ValueError(f"power must be 'halofit', 'linear' or a callable power(k, a); got {power!r}.")
    theory = prime(cosmo)
    linear = _interpolator(linear_power_table(theory.cosmo, transfer))
    growth = growth_factor(theory, a)
    if power == "linear":
        return linear(k) * growth**2
    return _halofit(theory, k, a, growth, linear)


def _check_ell(ell):
    if not is_concrete(ell):
        ell = jnp.asarray(ell)
        if ell.ndim != 1:
            raise ValueError(f"ell must be a 1-d array of multipoles; got shape {ell.shape}.")
        return ell
    values = np.asarray(ell)
    if np.iscomplexobj(values) or values.ndim != 1 or values.size == 0:
        raise ValueError(f"ell must be a non-empty 1-d array of real multipoles; got shape {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values < 2):
        raise ValueError(
            f"ell must be finite and >= 2 (shear has no l < 2 modes, and Limber fails there); got min {values.min()}."
        )
    return jnp.asarray(values, dtype=jnp.result_type(float))


def _components(cosmo, grid, tracers, ell):
    """Kernels (C, N) and ell factors (C, L) of every tracer component, and each
    component's tracer index. Tracers of one pytree structure (the photo-z bins of one
    sample, say) are stacked and their kernels computed under one vmap: the program holds
    one copy of each kind of tracer, whatever the number of bins, which keeps compile
    times flat in the number of bins."""
    groups: dict = {}
    for index, tracer in enumerate(tracers):
        groups.setdefault(jax.tree_util.tree_structure(tracer), []).append(index)
    kernels, factors, owner = [], [], []
    for members in groups.values():
        first = tracers[members[0]]
        if len(members) == 1:
            parts = [k[None] for k in first.kernels(cosmo, grid)]
        else:
            stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]),
                                             *[tracers[i] for i in members])
            parts = jax.vmap(lambda t: t.kernels(cosmo, grid))(stacked)
        for kernel, kind in zip(parts, first.kinds()):  # kernel: (M, N)
            kernels.append(kernel)
            factors.append(jnp.broadcast_to(ell_factor(kind, ell), (len(members), ell.shape[0])))
            owner.extend(members)
    return jnp.concatenate(kernels), jnp.concatenate(factors), owner


def angular_cl(
    cosmo,
    tracers: Sequence,
    ell,
    power: PowerSpec = "halofit",
    *,
    n_radial: int = 1025,
    transfer: str = "eisenstein_hu",
):
    """Limber angular power spectra of every pair of tracers.

    Parameters
    ----------
    cosmo : Cosmology, or a LinearTheory from ``prime(cosmo)``
    tracers : sequence of T tracers (``WeakLensing``, ``NumberCounts``, ``CMBLensing``)
    ell : (L,) multipoles >= 2 (need not be integers)
    power : "halofit" (default), "linear", or a callable ``power(k, a)`` -> (Mpc/h)^3 that
        broadcasts wavenumbers (h/Mpc) against scale factors (module docstring)
    n_radial : static, odd number of line-of-sight nodes (1025 keeps the spectra within
        1e-3 of CCL for 10 <= l <= 3000 on bins as narrow as sigma_z = 0.03)
    transfer : the linear power's transfer function (see ``linear_power``)

    Returns
    -------
    (T, T, L) array, symmetric in the first two axes, dimensionless. jit, vmap and grad
    safe in ``cosmo``, ``ell`` and every tracer's numbers (biases, IA, shear bias, the
    redshift distributions' parameters). Raises ``ValueError``/``TypeError`` for bad
    concrete input (a tracer, an ell below 2 or not finite, a bad ``power``).
    """
    theory = prime(check_cosmology(cosmology_of(cosmo), baryons=not callable(power)))
    cosmo = theory.cosmo
    tracers = list(tracers)
    if not tracers:
        raise ValueError("tracers must hold at least one tracer.")
    for i, tracer in enumerate(tracers):
        check_tracer(tracer, f"tracers[{i}]")
    if not (callable(power) or power in ("halofit", "linear")):
        raise ValueError(f"power must be 'halofit', 'linear' or a callable power(k, a); got {power!r}.")
    ell = _check_ell(ell)
    grid = radial_grid(theory, max(t.z_max for t in tracers), n_radial)
    kernels, factors, owner = _components(cosmo, grid, tracers, ell)
    k = (ell[:, None] + 0.5) / grid.r[None, :]
    p = matter_power(theory, k, grid.a, power, transfer)
    integrand = p * (grid.dchi / grid.r**2)[None, :]  # (L, N)
    components = jnp.einsum("cn,dn,ln->cdl", kernels, kernels, integrand)
    components = components * factors[:, None, :] * factors[None, :, :]
    assign = jnp.asarray(np.eye(len(tracers))[owner], dtype=components.dtype)  # (C, T)
    return jnp.einsum("ca,db,cdl->abl", assign, assign, components)

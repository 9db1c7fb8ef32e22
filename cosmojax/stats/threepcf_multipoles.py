"""Legendre multipoles of the three-point function in O(N^2) time (Slepian & Eisenstein 2015).

For each primary point i, the neighbours j in radial bin b are summed into harmonic
coefficients :math:`a_{\\ell m}^{(b)}(i) = \\sum_{j \\in b} w_j Y_{\\ell m}(\\hat r_{ij})`; the
addition theorem turns their products into the Legendre multipoles of the triangle counts

.. math::

    Z_\\ell(b_1, b_2) = \\sum_i w_i \\sum_{j \\ne k} w_j w_k\\, [r_{ij} \\in b_1][r_{ik} \\in b_2]
        \\, P_\\ell(\\hat r_{ij} \\cdot \\hat r_{ik})
      = \\sum_i w_i \\Big[\\frac{4\\pi}{2\\ell+1}\\sum_m a^{(b_1)}_{\\ell m} a^{(b_2)*}_{\\ell m}
        - \\delta_{b_1 b_2} \\sum_{j \\in b_1} w_j^2\\Big]

at a cost proportional to the number of pairs rather than triangles. The pairs ``j = k``
are removed exactly (``P_l(1) = 1``). Reference: Slepian & Eisenstein 2015, MNRAS 454, 4142.

Here the harmonics are real-normalised so that ``P_l(x.y) = sum_{m>=0} Re[A_lm(x) A_lm(y)^*]``
with ``A_lm = sqrt((2 - delta_m0) (l-m)!/(l+m)!) P_l^m(cos theta) e^{i m phi}``.
"""

from __future__ import annotations

from math import factorial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_int, is_concrete
from cosmojax.stats import _cells, _engine
from cosmojax.stats._inputs import arrange, check_box, check_catalogue, edges_arg, host_positions, work_sizes
from cosmojax.stats._kernels import separation


class ThreePCFMultipoles(NamedTuple):
    """Legendre multipoles of weighted triangle counts.

    zeta : (n_ell, n, n) float array, Z_l(b1, b2) summed over primaries (symmetric in b1, b2).
    edges : (n + 1,) Mpc/h. ells : (n_ell,) ints 0..lmax.
    """

    zeta: object
    edges: np.ndarray
    ells: np.ndarray


def _lm_table(lmax: int):
    ls, ms = [], []
    for ell in range(lmax + 1):
        for m in range(ell + 1):
            ls.append(ell)
            ms.append(m)
    return np.array(ls), np.array(ms)


def harmonics(unit, lmax: int):
    """Real and imaginary parts of A_lm(unit) for l <= lmax, m = 0..l.

    unit : sequence of three arrays (x, y, z) of unit-vector components. Returns two arrays
    (..., n_lm) ordered (l, m) with l outer. jit, vmap and grad safe.
    """
    x, y, z = unit
    q = {}
    for m in range(lmax + 1):
        qmm = ((-1) ** m) * float(np.prod(np.arange(1, 2 * m, 2))) if m else 1.0
        q[m, m] = jnp.full_like(z, qmm)
        if m + 1 <= lmax:
            q[m + 1, m] = z * (2 * m + 1) * q[m, m]
        for ell in range(m + 2, lmax + 1):
            q[ell, m] = ((2 * ell - 1) * z * q[ell - 1, m] - (ell + m - 1) * q[ell - 2, m]) / (ell - m)
    pow_re, pow_im = [jnp.ones_like(x)], [jnp.zeros_like(x)]
    for m in range(1, lmax + 1):
        pow_re.append(pow_re[-1] * x - pow_im[-1] * y)
        pow_im.append(pow_re[-2] * y + pow_im[-1] * x)
    re, im = [], []
    for ell in range(lmax + 1):
        for m in range(ell + 1):
            c = np.sqrt((2.0 - (m == 0)) * factorial(ell - m) / factorial(ell + m))
            re.append(c * q[ell, m] * pow_re[m])
            im.append(c * q[ell, m] * pow_im[m])
    return jnp.stack(re, axis=-1), jnp.stack(im, axis=-1)


def _multipole_kernel(items, data, static):
    periodic, lmax, n = static
    pos, w, valid = data["cat"]
    box = data["box"] if periodic else None
    e2 = data["e2"]
    ell_of = data["ell_of"]  # (n_lm, n_ell) indicator
    a = items[:, 0]
    pa, wa, va = pos[:, :, a], w[:, a], valid[:, a]  # (3, B, C), (B, C), (B, C)
    size = pa.shape[1]
    n_lm = ell_of.shape[0]
    eye = jnp.eye(size, dtype=bool)

    def body(carry, b):
        alm_re, alm_im, self_w = carry
        pb, wb, vb = pos[:, :, b], w[:, b], valid[:, b]
        d, d2 = separation(pa, pb, box)  # (B_a, B_b, C): primary minus secondary
        mask = va[:, None, :] & vb[None, :, :] & ~((a == b)[None, None, :] & eye[:, :, None]) & (d2 > 0)
        rb = jnp.sum(d2[..., None] >= e2, axis=-1) - 1
        inb = mask & (rb >= 0) & (rb < n)
        onehot = ((rb[..., None] == jnp.arange(n)) & inb[..., None]).astype(pos.dtype)  # (Ba, Bb, C, n)
        inv = 1.0 / jnp.sqrt(jnp.where(mask, d2, 1.0))
        unit = [-dk * inv for dk in d]  # from the primary to the secondary
        y_re, y_im = harmonics(unit, lmax)  # (Ba, Bb, C, n_lm)
        wo = onehot * wb[None, :, :, None]
        alm_re = alm_re + jnp.einsum("ijcb,ijcl->icbl", wo, y_re)
        alm_im = alm_im + jnp.einsum("ijcb,ijcl->icbl", wo, y_im)
        self_w = self_w + jnp.einsum("ijcb,jc->icb", onehot, wb * wb)
        return (alm_re, alm_im, self_w), None

    c = items.shape[0]
    zero = (jnp.zeros((size, c, n, n_lm), pos.dtype), jnp.zeros((size, c, n, n_lm), pos.dtype),
            jnp.zeros((size, c, n), pos.dtype))
    (alm_re, alm_im, self_w), _ = jax.lax.scan(body, zero, jnp.swapaxes(items[:, 1:], 0, 1))
    wa = jnp.where(va, wa, 0)
    prod = jnp.einsum("ic,icbm,ickm,ml->lbk", wa, alm_re, alm_re, ell_of) + \
        jnp.einsum("ic,icbm,ickm,ml->lbk", wa, alm_im, alm_im, ell_of)
    diag = jnp.einsum("ic,icb->b", wa, self_w)
    zeta = prod - jnp.eye(n, dtype=pos.dtype)[None] * diag[None, :, None]
    return {"zeta": zeta}


def _neighbour_rows(plan) -> np.ndarray:
    """Rows (primary block, neighbour blocks..., padding) from an unordered pair plan."""
    items = plan.items
    empty = plan.blocks[0].empty_block
    both = np.concatenate([items, items[items[:, 0] != items[:, 1]][:, ::-1]], axis=0)
    order = np.lexsort((both[:, 1], both[:, 0]))
    both = both[order]
    primaries, start, count = np.unique(both[:, 0], return_index=True, return_counts=True)
    width = _cells.size_class(int(count.max())) if len(count) else 1
    rows = np.full((len(primaries), width + 1), empty, np.int32)
    rows[:, 0] = primaries
    pos_in_row = np.arange(len(both)) - np.repeat(start, count)
    rows[np.repeat(np.arange(len(primaries)), count), 1 + pos_in_row] = both[:, 1]
    return rows


def threepcf_multipoles(pos, *, edges, lmax: int = 10, box_size=None, weights=None, chunk_size: int = 1 << 16,
                        block_size: int | None = None, devices=None) -> ThreePCFMultipoles:
    """Legendre multipoles Z_l(r1, r2) of the weighted triangle counts, O(N^2) in pairs.

    Parameters
    ----------
    pos : (N, 3) float array, Mpc/h.
    edges : (n + 1,) increasing float array, Mpc/h, the radial bins of r1 and r2.
    lmax : int, highest multipole.
    box_size : float or 3 floats, Mpc/h, or None for open geometry; ``edges[-1] <= L/2``.
    weights : (N,) float array or None.
    chunk_size : int, primary points times neighbour points evaluated per step and device.
    block_size, devices : as for :func:`cosmojax.stats.pairs.pair_counts`.

    Returns
    -------
    ThreePCFMultipoles with ``zeta (lmax + 1, n, n)``, the sums Z_l defined in the module
    docstring (each triangle appears once per choice of primary vertex and ordering of the
    other two). Pairs at zero separation are left out.

    Notes
    -----
    Equal to the brute-force triple sum up to floating-point rounding. Differentiable with
    respect to ``weights``; positions must be concrete. Divide by the same quantity
    measured on randoms (or :func:`random_multipole_norm` in a periodic box) for the
    3PCF multipoles.
    Not jit safe (host-side neighbour search). Bad input (NaN, an empty catalogue, points
    outside the box, non-integer sizes) raises ValueError; complex positions or weights
    raise TypeError.
    """
    e = edges_arg("edges", edges)
    lmax = check_int("lmax", lmax, 0)
    chunk_size, block_size = work_sizes(chunk_size, block_size)
    box = check_box(box_size, e[-1])
    check_catalogue("pos", pos, weights, "weights", box)
    if not is_concrete(pos):
        raise ValueError("threepcf_multipoles needs concrete positions (call it outside jit/grad over positions).")
    plan = _cells.build_plan([host_positions(pos)], 2, e[-1], box, block_size, refine=1, block_range=(8, 64))
    rows = _neighbour_rows(plan)
    data = {"cat": arrange(pos, weights, plan.blocks[0])}
    dtype = data["cat"][0].dtype
    data["box"] = jnp.asarray(box if box is not None else (1.0, 1.0, 1.0), dtype)
    data["e2"] = jnp.asarray(e**2, dtype)
    ls, _ = _lm_table(lmax)
    data["ell_of"] = jnp.asarray(ls[:, None] == np.arange(lmax + 1)[None, :], dtype)
    size = plan.blocks[0].idx.shape[1]
    n = len(e) - 1
    width = rows.shape[1] - 1
    out = _engine.execute(_multipole_kernel, (box is not None, lmax, n), rows,
                          np.full(width + 1, plan.blocks[0].empty_block), data,
                          chunk_items=max(1, int(chunk_size) // (size * size)), tuple_volume=size * size * width,
                          devices=devices)
    return ThreePCFMultipoles(zeta=out["zeta"], edges=e, ells=np.arange(lmax + 1))


def random_multipole_norm(n_points: int, edges, box_size):
    """Expected monopole Z_0(b1, b2) of a uniform random catalogue of ``n_points`` in a
    periodic box: ``N (N-1) (N-2) V_1 V_2 / V^2`` with ``V_b`` the shell volumes. (n, n).

    Dividing the measured Z_l by it gives the multipoles of the full triangle-count excess
    (including pair terms); l > 0 vanish for randoms.
    Host-side numpy (a count of triangles): not traced, not differentiable.
    """
    n_points = check_int("n_points", n_points, 3)  # a triangle needs three points
    e = edges_arg("edges", edges)
    box = check_box(box_size, e[-1])
    shell = 4.0 * np.pi / 3.0 * np.diff(e**3) / float(np.prod(box))
    n = float(n_points)
    return n * (n - 1) * (n - 2) * np.outer(shell, shell)

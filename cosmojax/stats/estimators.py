"""Correlation-function estimators built on the n-point counts.

All estimators take normalised counts, the weighted count per bin divided by the weighted
number of possible tuples (``PairCounts.weighted / PairCounts.norm``), so data and random
catalogues of different sizes and weights combine directly. Arrays of such fractions (for
instance :func:`analytic_rr`) may be passed instead of ``PairCounts``.

.. math::

    \\xi_{\\rm N} = \\frac{DD}{RR} - 1, \\quad
    \\xi_{\\rm DP} = \\frac{DD}{DR} - 1, \\quad
    \\xi_{\\rm H} = \\frac{DD\\,RR}{DR^2} - 1, \\quad
    \\xi_{\\rm LS} = \\frac{DD - 2DR + RR}{RR}

References: Peebles & Hauser 1974 (natural), Davis & Peebles 1983, Hamilton 1993,
Landy & Szalay 1993 (ApJ 412, 64), Szapudi & Szalay 1998 (ApJ 494, L41) for the
n-point generalisation, White 2016 (JCAP 11, 057) for the density mark.
"""

from __future__ import annotations

from math import comb

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_box_size, check_choice, check_int, check_positive, check_real
from cosmojax.stats._inputs import check_box, check_catalogue, edges_arg
from cosmojax.stats.pairs import PairCounts, pair_counts
from cosmojax.stats.quadruplets import QuadrupletCounts
from cosmojax.stats.triplets import TripletCounts


def normalized(counts):
    """Fraction of weighted pairs per bin: ``weighted / norm`` for PairCounts, else the array.

    Elementwise: jit, vmap and grad safe (in the weighted counts).
    """
    if isinstance(counts, PairCounts):
        return counts.weighted / counts.norm
    return jnp.asarray(counts)


def natural(dd, rr):
    """Natural estimator ``DD/RR - 1``.

    dd, rr : PairCounts or arrays of normalised counts (any bin shape). Returns xi, same
    shape. jit, vmap and grad safe (grad through the weighted counts).
    """
    return normalized(dd) / normalized(rr) - 1.0


def davis_peebles(dd, dr):
    """Davis-Peebles estimator ``DD/DR - 1`` (dd, dr PairCounts or normalised arrays).

    Elementwise on (n,) arrays: jit, vmap and grad safe (in the weighted counts).
    """
    return normalized(dd) / normalized(dr) - 1.0


def hamilton(dd, dr, rr):
    """Hamilton estimator ``DD RR / DR^2 - 1`` (PairCounts or normalised arrays).

    Elementwise on (n,) arrays: jit, vmap and grad safe (in the weighted counts).
    """
    ndr = normalized(dr)
    return normalized(dd) * normalized(rr) / (ndr * ndr) - 1.0


def landy_szalay(dd, dr, rr):
    """Landy-Szalay estimator ``(DD - 2 DR + RR) / RR`` (PairCounts or normalised arrays).

    Unbiased to second order in the fluctuations with minimal variance for Poisson
    randoms. jit, vmap and grad safe.
    """
    nrr = normalized(rr)
    return (normalized(dd) - 2.0 * normalized(dr) + nrr) / nrr


def analytic_rr(edges, box_size):
    """Fraction of random pairs per separation bin in a periodic box.

    .. math:: RR_i = \\frac{4\\pi}{3} \\frac{e_{i+1}^3 - e_i^3}{V}

    edges : (n + 1,) increasing array, Mpc/h, last edge <= L/2. box_size : float or 3 floats,
    Mpc/h. Returns (n,) numpy array. Host-side (concrete edges); the result is a constant
    under jit and grad.

    The sphere of radius r holds the fraction 4/3 pi r^3 / V of the minimum-image separations
    only while it fits in the box, r <= L/2 (the smallest side); a last edge above that
    raises ValueError rather than give fractions that are wrong (and above 1 for r > 0.62 L).
    """
    e = edges_arg("edges", edges)
    box = check_box_size("box_size", box_size, 3)
    _check_half_box("edges[-1]", float(e[-1]), box)
    return 4.0 * np.pi / 3.0 * np.diff(e**3) / np.prod(box)


def _check_half_box(name: str, reach: float, box) -> None:
    if reach > 0.5 * min(box) * (1 + 1e-12):
        raise ValueError(f"{name} = {reach:g} Mpc/h exceeds half the box ({0.5 * min(box):g} Mpc/h): the analytic "
                         f"RR is valid only up to half the box; lower the last edge or use a larger box_size.")


def analytic_rr_smu(edges, mu_edges, box_size):
    """Fraction of random pairs per (s, mu) bin in a periodic box, shape (n_s, n_mu).

    mu is the absolute cosine, in [0, 1], so each mu bin holds ``diff(mu_edges)`` of the shell.
    Host-side numpy, as :func:`analytic_rr`.
    Not traced, not differentiable.
    """
    m = edges_arg("mu_edges", mu_edges, max_value=1.0)
    return analytic_rr(edges, box_size)[:, None] * np.diff(m)[None, :]


def analytic_rr_rppi(rp_edges, pi_edges, box_size):
    """Fraction of random pairs per (r_p, pi) bin in a periodic box, shape (n_rp, n_pi).

    .. math:: RR_{ij} = \\pi (r_{p,i+1}^2 - r_{p,i}^2)\\, 2 (\\pi_{j+1} - \\pi_j) / V

    Valid while the cylinder fits in the box: ``hypot(rp_edges[-1], pi_edges[-1]) <= L/2``
    (the reach :func:`pair_counts_rppi` needs too); beyond it raises ValueError.
    Host-side numpy, as :func:`analytic_rr`.
    Not traced, not differentiable.
    """
    rp = edges_arg("rp_edges", rp_edges)
    pi = edges_arg("pi_edges", pi_edges)
    box = check_box_size("box_size", box_size, 3)
    _check_half_box("hypot(rp_edges[-1], pi_edges[-1])", float(np.hypot(rp[-1], pi[-1])), box)
    return np.pi * np.diff(rp**2)[:, None] * 2.0 * np.diff(pi)[None, :] / np.prod(box)


def legendre_bin_weights(mu_edges, ells=(0, 2, 4)):
    """``(2 l + 1) * integral of P_l(mu) over each mu bin``, shape (n_ell, n_mu) (numpy).

    ``ells``: whole numbers >= 0 (2.5 or True raise ValueError, never truncated).
    Host-side: not traced, not differentiable.
    """
    m = edges_arg("mu_edges", mu_edges, max_value=1.0)
    ells = _ells_arg(ells)
    rows = []
    for ell in ells:
        coef = np.zeros(ell + 1)
        coef[ell] = 1.0
        integral = np.polynomial.legendre.legint(coef)
        rows.append((2 * ell + 1) * np.diff(np.polynomial.legendre.legval(m, integral)))
    return np.array(rows)


def _ells_arg(ells, even: bool = False) -> list[int]:
    values = [check_int("ells", ell, 0) for ell in np.atleast_1d(np.asarray(ells, dtype=object)).tolist()]
    if even and any(ell % 2 for ell in values):
        raise ValueError(f"ells must be even non-negative integers (xi is even in mu); got {ells}.")
    return values


def xi_multipoles(xi_smu, mu_edges, ells=(0, 2, 4)):
    """Legendre multipoles of xi(s, mu) measured in bins of |mu| from 0 to 1.

    .. math:: \\xi_\\ell(s) = (2\\ell + 1) \\int_0^1 \\xi(s, \\mu) P_\\ell(\\mu)\\, d\\mu

    (even ell; xi is even in mu), with xi constant within each mu bin.

    xi_smu : (n_s, n_mu) array. mu_edges : (n_mu + 1,) from 0 to 1. ells : even ints.
    Returns (n_ell, n_s). jit, vmap and grad safe in ``xi_smu``.
    """
    ells = _ells_arg(ells, even=True)
    check_real("xi_smu", xi_smu)
    w = jnp.asarray(legendre_bin_weights(mu_edges, ells))
    return jnp.einsum("lm,sm->ls", w, jnp.asarray(xi_smu), precision=jax.lax.Precision.HIGHEST)


def projected_correlation(xi_rppi, pi_edges):
    """Projected correlation function w_p(r_p), Mpc/h.

    .. math:: w_p(r_p) = 2 \\int_0^{\\pi_{max}} \\xi(r_p, \\pi)\\, d\\pi \\approx 2 \\sum_j \\xi_{ij} \\Delta\\pi_j

    xi_rppi : (n_rp, n_pi) array. pi_edges : (n_pi + 1,) Mpc/h from 0. Returns (n_rp,), Mpc/h.
    jit, vmap and grad safe in ``xi_rppi``.
    """
    pi = edges_arg("pi_edges", pi_edges)
    return 2.0 * jnp.matmul(jnp.asarray(xi_rppi), jnp.asarray(np.diff(pi)), precision=jax.lax.Precision.HIGHEST)


def marked_correlation(marked: PairCounts, mean_mark):
    """Marked correlation function M(r) from mark-weighted pair counts.

    .. math:: M(r) = \\frac{\\sum_{ij \\in r} m_i m_j}{DD(r)\\, \\bar m^2}

    marked : PairCounts of the catalogue with ``weights1 = marks`` (its ``counts`` are the
    unweighted DD, its ``weighted`` the mark sums). mean_mark : float, mean mark over the
    catalogue. Returns (n,) array; NaN where DD = 0. grad safe in the marks.
    jit safe.
    """
    counts = jnp.asarray(marked.counts)
    return jnp.where(counts > 0, marked.weighted / (jnp.maximum(counts, 1) * jnp.asarray(mean_mark) ** 2), jnp.nan)


def neighbour_counts(pos, radius: float, *, box_size=None, weights=None, devices=None):
    """Weighted number of neighbours of each point closer than ``radius`` (itself excluded).

    Uses ``n_i = d/dw_i sum_{i<j, r_ij < R} w_i w_j`` evaluated by reverse mode through the
    pair counter, so it costs one count plus its gradient.

    pos : (N, 3) Mpc/h (concrete). radius : float, Mpc/h. weights : (N,) or None. Returns (N,)
    array. Not jit-safe in ``pos`` (a cell plan is built); linear in ``weights``.
    """
    check_positive("radius", radius)
    box = None if box_size is None else check_box(box_size, float(radius))
    check_catalogue("pos", pos, weights, "weights", box)
    w = jnp.ones(np.shape(pos)[0]) if weights is None else jnp.asarray(weights)
    edges = np.array([0.0, float(radius)])

    def total(wt):
        return pair_counts(pos, edges=edges, box_size=box_size, weights1=wt, devices=devices).weighted[0]

    return jax.grad(total)(w)


def white_mark(delta, *, delta_s: float = 0.25, p: float = 1.0):
    """Density mark of White (2016): ``m = ((1 + delta_s) / (1 + delta_s + delta))^p``.

    delta : array, local density contrast smoothed on some radius. Returns marks, same shape.
    Up-weights low-density regions for p > 0. jit, vmap and grad safe.
    """
    check_real("delta", delta)
    delta = jnp.asarray(delta)
    return ((1.0 + delta_s) / (1.0 + delta_s + delta)) ** p


def marked_statistic(pos, *, edges, radius: float, box_size, delta_s: float = 0.25, p: float = 1.0,
                     devices=None):
    """Marked correlation M(r) of a periodic catalogue with the White (2016) density mark.

    The density contrast at each point is measured from its neighbour count within
    ``radius``: ``delta_i = n_i / (nbar 4/3 pi R^3) - 1`` with ``nbar = (N - 1) / V``.

    pos : (N, 3) Mpc/h in ``[0, L)``. edges : (n + 1,) Mpc/h. radius : Mpc/h. box_size :
    float or 3 floats, Mpc/h. Returns ``(M (n,), marks (N,))``. Positions must be concrete;
    not jit-safe.
    """
    box = check_box_size("box_size", box_size, 3)
    check_positive("radius", radius)
    check_catalogue("pos", pos, None, "weights", check_box(box, max(float(radius), float(edges_arg("edges", edges)[-1]))))
    n = np.shape(pos)[0]
    if n < 2:
        raise ValueError(f"pos must hold at least 2 points for a mean density; got {n}.")
    counts = neighbour_counts(pos, radius, box_size=box, devices=devices)
    nbar = (n - 1) / np.prod(box)
    delta = counts / (nbar * 4.0 / 3.0 * np.pi * radius**3) - 1.0
    marks = white_mark(delta, delta_s=delta_s, p=p)
    mm = pair_counts(pos, edges=edges, box_size=box, weights1=marks, devices=devices)
    return marked_correlation(mm, jnp.mean(marks)), marks


def elementary_symmetric(weights, order: int):
    """Elementary symmetric polynomials e_0..e_order of the weights (weighted numbers of
    unordered tuples of distinct points). ``weights`` may be an int N (unit weights).

    Uses Newton's identities on the power sums; jit and grad safe in ``weights``. ``order``
    and an integer ``weights`` must be whole numbers >= 0 (bools and non-integers raise).
    """
    order = check_int("order", order, 0)
    if isinstance(weights, (bool, np.bool_)):
        raise ValueError(f"weights must be a number of points (int) or a 1D array of weights; got {weights!r}.")
    if isinstance(weights, (int, np.integer)):
        n = check_int("weights", weights, 0)
        return [float(comb(n, k)) for k in range(order + 1)]
    check_real("weights", weights)
    if np.ndim(weights) != 1:
        raise ValueError(f"weights must be a number of points (int) or a 1D array of weights; got shape "
                         f"{np.shape(weights)}.")
    w = jnp.asarray(weights)
    pk = [None] + [jnp.sum(w**k) for k in range(1, order + 1)]
    e = [jnp.asarray(1.0, w.dtype)]
    for k in range(1, order + 1):  # Newton's identities
        e.append(sum(((-1) ** (i - 1)) * e[k - i] * pk[i] for i in range(1, k + 1)) / k)
    return e


def _szapudi_szalay(weighted, data, randoms, order):
    ed = elementary_symmetric(data, order)
    er = elementary_symmetric(randoms, order)
    total = 0.0
    rr = None
    for n_r in range(order + 1):
        norm = ed[order - n_r] * er[n_r]
        frac = weighted[n_r] / norm
        total = total + ((-1) ** n_r) * comb(order, n_r) * frac
        rr = frac
    return jnp.where(rr > 0, total / jnp.where(rr > 0, rr, 1.0), jnp.nan)


def szapudi_szalay_3pcf(counts: TripletCounts, data, randoms):
    """Szapudi-Szalay three-point function from triangle counts split by randoms.

    .. math:: \\zeta = \\frac{DDD - 3 DDR + 3 DRR - RRR}{RRR}

    with each term normalised by its weighted number of possible triangles.

    counts : TripletCounts from :func:`triplet_counts` with ``labels`` (shape (4, n, n, n)).
    data, randoms : number of data / random points (ints) or their weights arrays.
    Returns zeta (n, n, n); NaN where RRR = 0 (including cells that cannot fill).
    jit safe; grad safe in the weighted counts and weights.
    """
    if np.ndim(counts.weighted) != 4 or np.shape(counts.weighted)[0] != 4:
        raise ValueError("counts must come from triplet_counts(..., labels=...) with shape (4, n, n, n).")
    return _szapudi_szalay(counts.weighted, data, randoms, 3)


def szapudi_szalay_4pcf(counts: QuadrupletCounts, data, randoms):
    """Szapudi-Szalay four-point function for tetrahedra with six sides in one bin.

    .. math:: \\eta = \\frac{DDDD - 4 DDDR + 6 DDRR - 4 DRRR + RRRR}{RRRR}

    counts : QuadrupletCounts with ``labels`` (shape (5, n)). data, randoms : ints or weights.
    Returns (n,); NaN where RRRR = 0. jit safe; grad safe in the weighted counts and weights.
    """
    if np.ndim(counts.weighted) != 2 or np.shape(counts.weighted)[0] != 5:
        raise ValueError("counts must come from quadruplet_counts(..., labels=...) with shape (5, n).")
    return _szapudi_szalay(counts.weighted, data, randoms, 4)


def combine_catalogues(data, randoms, data_weights=None, random_weights=None):
    """Stack data and randoms into one catalogue with labels 0 (data) and 1 (random).

    Returns ``(pos (N_D + N_R, 3), weights or None, labels (N_D + N_R,) int)``. grad safe in
    the weights.
    Needs concrete shapes (static); jit safe in the positions and weights.
    """
    pos = jnp.concatenate([jnp.asarray(data), jnp.asarray(randoms)], axis=0)
    labels = np.concatenate([np.zeros(np.shape(data)[0], np.int32), np.ones(np.shape(randoms)[0], np.int32)])
    if data_weights is None and random_weights is None:
        return pos, None, labels
    wd = jnp.ones(np.shape(data)[0]) if data_weights is None else jnp.asarray(data_weights)
    wr = jnp.ones(np.shape(randoms)[0]) if random_weights is None else jnp.asarray(random_weights)
    return pos, jnp.concatenate([wd, wr]), labels


def correlation_function(data, randoms=None, *, edges, box_size=None, estimator: str = "landy-szalay",
                         data_weights=None, random_weights=None, devices=None, chunk_size: int = 1 << 20):
    """xi(r) of a catalogue, with randoms or (periodic box, no randoms) the analytic RR.

    Parameters
    ----------
    data : (N_D, 3) Mpc/h. randoms : (N_R, 3) Mpc/h or None (then ``box_size`` is needed
        and the natural estimator with analytic RR is used).
    edges : (n + 1,) Mpc/h. estimator : "landy-szalay", "natural", "davis-peebles" or
        "hamilton". Others as for :func:`cosmojax.stats.pairs.pair_counts`.

    Returns
    -------
    ``(xi (n,), counts)`` where ``counts`` maps "DD", "DR", "RR" to PairCounts (or RR to the
    analytic fractions). Positions must be concrete; grad safe in the weights.
    Not jit safe (host-side cell decomposition).
    """
    check_choice("estimator", estimator, ["landy-szalay", "natural", "davis-peebles", "hamilton"])
    box = check_box(box_size, float(edges_arg("edges", edges)[-1]))
    check_catalogue("data", data, data_weights, "data_weights", box)
    if randoms is not None:
        check_catalogue("randoms", randoms, random_weights, "random_weights", box)
    elif random_weights is not None:
        raise ValueError("random_weights was given without randoms; pass randoms or drop random_weights.")
    kw = dict(edges=edges, box_size=box_size, devices=devices, chunk_size=chunk_size)
    dd = pair_counts(data, weights1=data_weights, **kw)
    if randoms is None:
        if box_size is None:
            raise ValueError("randoms are needed in open geometry; pass randoms or a periodic box_size.")
        rr = analytic_rr(edges, box_size)
        return natural(dd, rr), {"DD": dd, "RR": rr}
    rr = pair_counts(randoms, weights1=random_weights, **kw)
    out = {"DD": dd, "RR": rr}
    if estimator == "natural":
        return natural(dd, rr), out
    dr = pair_counts(data, randoms, weights1=data_weights, weights2=random_weights, **kw)
    out["DR"] = dr
    if estimator == "davis-peebles":
        return davis_peebles(dd, dr), out
    if estimator == "hamilton":
        return hamilton(dd, dr, rr), out
    return landy_szalay(dd, dr, rr), out

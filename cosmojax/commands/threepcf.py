"""``cosmojax 3pcf``: three-point function of a catalogue.

    cosmojax 3pcf galaxies.npy --randoms randoms.npy --rbins lin:10:40:3 --out zeta.csv
    cosmojax 3pcf box.npy --box 500 --rbins lin:10:50:4 --lmax 6 --out zeta_ell.csv
    cosmojax 3pcf box.npy --box 500 --rbins lin:10:50:4 --counts --out ddd.csv

With randoms: the Szapudi-Szalay estimator from triangle counts, one row per cell
(r1 >= r2 >= r3 bins). ``--lmax`` switches to the Legendre multipoles zeta_l(r1, r2)
(Slepian-Eisenstein, O(N^2)), divided in a periodic box by the random expectation of the
monopole. ``--counts`` writes the raw triangle counts DDD instead (no estimator). A figure
goes beside ``--out`` (``zeta.csv`` -> ``zeta.png``; ``--plot PATH``, ``--no-plot``).
"""

from __future__ import annotations

import numpy as np

from cosmojax.commands._nbins import (
    add_catalogue_arguments,
    add_out_argument,
    add_plot_arguments,
    as_float,
    check_box,
    check_out,
    load,
    parse_bins,
    plot_path,
    say,
    write_table,
)


def register(subparsers) -> None:
    """Add the ``3pcf`` sub-command."""
    p = subparsers.add_parser("3pcf", help="three-point function (triangle counts or Legendre multipoles)",
                              description=__doc__.split("\n\n")[0])
    add_catalogue_arguments(p, "side bin edges")
    p.add_argument("--lmax", type=int, help="measure Legendre multipoles up to this l instead of triangle cells")
    p.add_argument("--counts", action="store_true",
                   help="write the raw triangle counts DDD per cell (no randoms, no estimator)")
    add_out_argument(p)
    add_plot_arguments(p, "the 3PCF (multipole maps, or zeta per triangle cell)")
    p.set_defaults(func=run)


def _multipole_rows(args, data, wd, edges):
    from cosmojax.stats.threepcf_multipoles import random_multipole_norm, threepcf_multipoles

    res = threepcf_multipoles(data, edges=edges, lmax=args.lmax, box_size=args.box, weights=wd)
    zeta = np.asarray(res.zeta)
    norm = random_multipole_norm(len(data), edges, args.box) if args.box else None
    rows = []
    n = len(edges) - 1
    for ell in range(args.lmax + 1):
        for b1 in range(n):
            for b2 in range(n):
                row = {"ell": ell, "r1_lo": edges[b1], "r1_hi": edges[b1 + 1], "r2_lo": edges[b2],
                       "r2_hi": edges[b2 + 1], "Z": float(zeta[ell, b1, b2])}
                if norm is not None:
                    row["zeta"] = float(zeta[ell, b1, b2] / norm[b1, b2])
                rows.append(row)
    return rows, (zeta / norm if norm is not None else zeta)


def _cell_edges(edges, a, b, c) -> dict:
    return {"b1": a, "b2": b, "b3": c, "r1_lo": edges[a], "r1_hi": edges[a + 1], "r2_lo": edges[b],
            "r2_hi": edges[b + 1], "r3_lo": edges[c], "r3_hi": edges[c + 1]}


def run(args) -> int:
    """Measure the 3PCF and write it; returns the exit status.

    Arguments, files and the ``--out`` path are all checked before the triplets are counted;
    a bad one raises ``ValueError`` naming the option.
    """
    check_out(args.out)
    figure = plot_path(args)
    check_box(args.box)
    if args.counts and (args.lmax is not None or args.randoms is not None):
        raise ValueError("--counts writes raw triangle counts; leave out --lmax and --randoms with it.")
    if not args.counts and args.lmax is None and args.randoms is None:
        raise ValueError("give --randoms (the 3PCF zeta from triangle counts), --lmax (its Legendre multipoles) "
                         "or --counts (raw triangle counts, no estimator).")
    if args.lmax is not None and args.lmax < 0:
        raise ValueError(f"--lmax must be >= 0; got {args.lmax}.")
    if args.lmax is not None and args.randoms is not None:
        raise ValueError("--lmax with --randoms is not supported; multipoles are normalised analytically "
                         "in a periodic box (--box) or returned raw in open geometry.")
    edges = parse_bins(args.rbins)
    if args.box is not None and edges[-1] > args.box / 2:
        raise ValueError(f"--rbins: the largest edge {edges[-1]:g} exceeds half the box side (--box {args.box:g} / 2); "
                         "use edges <= L/2 in a periodic box.")
    data, wd = load(args.data, "data", args.box, min_points=3)
    randoms, wr = (None, None) if args.randoms is None else load(args.randoms, "--randoms", args.box, min_points=3)

    from cosmojax.plotting import save_figure, threepcf_figure, triangle_cells
    from cosmojax.stats.estimators import combine_catalogues, szapudi_szalay_3pcf
    from cosmojax.stats.triplets import triplet_counts

    meta = {"data": args.data, "randoms": args.randoms, "box": args.box, "n_data": int(len(data))}
    say(f"cosmojax 3pcf: counting triangles of {len(data)} points"
        + ("" if randoms is None else f" and {len(randoms)} randoms") + f" in {len(edges) - 1} bins per side")
    if args.lmax is not None:
        meta["quantity"] = "Legendre multipoles Z_l(r1, r2)" + (", zeta_l = Z_l / random monopole" if args.box else "")
        rows, shown = _multipole_rows(args, data, wd, edges)
    elif args.counts:
        meta["quantity"] = "raw triangle counts DDD per cell r1 >= r2 >= r3"
        res = triplet_counts(data, edges=edges, box_size=args.box, weights=wd)
        rows = [{**_cell_edges(edges, a, b, c), "DDD": int(res.counts[a, b, c]), "DDD_w": as_float(res.weighted[a, b, c])}
                for a, b, c in triangle_cells(len(edges) - 1)]
        shown = np.array([r["DDD_w"] for r in rows])
    else:
        meta["quantity"] = "zeta(r1, r2, r3), Szapudi-Szalay, per cell r1 >= r2 >= r3"
        pos, w, labels = combine_catalogues(data, randoms, wd, wr)
        res = triplet_counts(np.asarray(pos), edges=edges, box_size=args.box, weights=w, labels=labels)
        zeta = np.asarray(szapudi_szalay_3pcf(res, len(data) if wd is None else wd,
                                              len(randoms) if wr is None else wr))
        meta["n_randoms"] = int(len(randoms))
        rows = []
        for a, b, c in triangle_cells(len(edges) - 1):
            row = {**_cell_edges(edges, a, b, c), "zeta": as_float(zeta[a, b, c])}
            for k, name in enumerate(["DDD", "DDR", "DRR", "RRR"]):
                row[name] = int(res.counts[k, a, b, c])
            rows.append(row)
        shown = np.array([r["zeta"] for r in rows])
    write_table(rows, args.out, meta)
    if figure:
        quantity = "DDD" if args.counts else "Z" if args.lmax is not None and not args.box else "zeta"
        title = f"{len(data)} points" + (f", periodic box {args.box:g} Mpc/h" if args.box else "")
        save_figure(threepcf_figure(edges, shown, quantity=quantity, title=title), figure)
    if args.out or figure:
        say("cosmojax 3pcf: wrote " + " and ".join(p for p in (args.out, figure) if p))
    return 0

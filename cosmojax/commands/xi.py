"""``cosmojax xi``: the two-point correlation function xi(r) of a catalogue.

    cosmojax xi galaxies.npy --randoms randoms.npy --rbins log:1:150:20 --out xi.csv
    cosmojax xi box.npz --box 1000 --rbins lin:0:100:20 --out xi.json

With randoms the Landy-Szalay estimator (or ``--estimator``) is used; in a periodic box
without randoms, the natural estimator with the analytic RR. Output: one row per bin with
the edges, xi and the pair counts (CSV, or JSON with the settings when ``--out`` ends in
``.json``; CSV on standard output without ``--out``), and a figure of r^2 xi(r) beside
``--out`` (``xi.csv`` -> ``xi.png``; ``--plot PATH`` to choose, ``--no-plot`` for none).
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
    """Add the ``xi`` sub-command."""
    p = subparsers.add_parser("xi", help="two-point correlation function xi(r) of a catalogue",
                              description=__doc__.split("\n\n")[0])
    add_catalogue_arguments(p, "bin edges")
    p.add_argument("--estimator", default="landy-szalay",
                   choices=["landy-szalay", "natural", "davis-peebles", "hamilton"],
                   help="estimator with --randoms (default landy-szalay); a periodic box without "
                        "randoms always uses the natural estimator with the exact RR")
    p.add_argument("--chunk-size", type=int, default=1 << 20,
                   help="pairs evaluated at once per device: lower it if memory runs out (default 1048576)")
    add_out_argument(p)
    add_plot_arguments(p, "r^2 xi(r)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Measure xi(r) and write it; returns the exit status.

    Arguments, files and the ``--out`` path are all checked before the pairs are counted;
    a bad one raises ``ValueError`` naming the option.
    """
    check_out(args.out)
    figure = plot_path(args)
    check_box(args.box)
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be >= 1; got {args.chunk_size}.")
    edges = parse_bins(args.rbins)
    if args.randoms is None and args.box is None:
        raise ValueError("give --randoms (a random catalogue) or --box (a periodic box) to normalise the pair counts.")
    if args.box is not None and edges[-1] > args.box / 2:
        raise ValueError(f"--rbins: the largest edge {edges[-1]:g} exceeds half the box side (--box {args.box:g} / 2); "
                         "use edges <= L/2 in a periodic box.")
    data, wd = load(args.data, "data", args.box)
    randoms, wr = (None, None) if args.randoms is None else load(args.randoms, "--randoms", args.box)

    from cosmojax.stats.estimators import correlation_function

    say(f"cosmojax xi: counting pairs of {len(data)} points" + ("" if randoms is None else f" and {len(randoms)} randoms")
        + f" in {len(edges) - 1} bins (the first call compiles for a few seconds)")
    xi, counts = correlation_function(data, randoms, edges=edges, box_size=args.box, estimator=args.estimator,
                                      data_weights=wd, random_weights=wr, chunk_size=args.chunk_size)
    rows = []
    for i in range(len(edges) - 1):
        row = {"r_lo": edges[i], "r_hi": edges[i + 1], "r_mid": 0.5 * (edges[i] + edges[i + 1]),
               "xi": as_float(xi[i]), "DD": int(counts["DD"].counts[i]), "DD_w": as_float(counts["DD"].weighted[i])}
        if "DR" in counts:
            row["DR"] = int(counts["DR"].counts[i])
        rr = counts["RR"]
        if hasattr(rr, "counts"):
            row["RR"] = int(rr.counts[i])
        else:
            row["RR_frac"] = float(np.asarray(rr)[i])
        rows.append(row)
    meta = {"data": args.data, "randoms": args.randoms, "box": args.box, "estimator":
            args.estimator if args.randoms else "natural-analytic" if args.box else args.estimator,
            "n_data": int(len(data)), "n_randoms": None if randoms is None else int(len(randoms))}
    write_table(rows, args.out, meta)
    if figure:
        from cosmojax.plotting import correlation_figure, save_figure

        title = f"{len(data)} points, " + ("periodic box {:g} Mpc/h".format(args.box) if args.box else meta["estimator"])
        save_figure(correlation_figure(edges, np.asarray(xi, float), title=title), figure)
    if args.out or figure:
        say("cosmojax xi: wrote " + " and ".join(p for p in (args.out, figure) if p))
    return 0

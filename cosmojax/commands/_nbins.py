"""Helpers shared by the n-point sub-commands: bin specifications, catalogues, output.

Every check here raises ``ValueError`` with a message that speaks the command line
(``--rbins``, ``--box``, ``--out``, the catalogue's path); ``cosmojax.cli.main`` prints it as
one line on stderr and exits with status 2. The output path is checked before any work.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys

import numpy as np


def add_catalogue_arguments(p, rbins_help: str) -> None:
    """Add the arguments every n-point sub-command takes: the catalogue, ``--randoms``,
    ``--rbins`` (described by ``rbins_help``) and ``--box``."""
    p.add_argument("data", help="catalogue (.npy, .npz, .csv, .txt, .fits): x y z in Mpc/h; a fourth "
                                "column (or one named w or weight) is read as per-point weights")
    p.add_argument("--randoms", help="random catalogue (same formats and columns)")
    p.add_argument("--rbins", nargs="+", required=True,
                   help=f"{rbins_help} in Mpc/h, or lin:START:STOP:N / log:START:STOP:N")
    p.add_argument("--box", type=float, help="periodic box side in Mpc/h (points in [0, L))")


def say(message: str) -> None:
    """One line of progress on standard error (standard output may carry the table)."""
    print(message, file=sys.stderr, flush=True)


def add_out_argument(p) -> None:
    """Add ``--out``: the output table (.csv or .json), CSV on standard output if absent."""
    p.add_argument("--out", help="output file (.csv or .json); CSV on standard output if absent")


def parse_bins(tokens) -> np.ndarray:
    """Bin edges from the command line.

    Either explicit edges (``0 10 20 30``) or one specification ``lin:START:STOP:N`` /
    ``log:START:STOP:N`` giving N bins (N + 1 edges), linear or logarithmic.
    The edges must be finite, >= 0 and strictly increasing.
    """
    if len(tokens) == 1 and ":" in tokens[0]:
        parts = tokens[0].split(":")
        if len(parts) != 4 or parts[0] not in ("lin", "log"):
            raise ValueError(f"--rbins spec must be lin:START:STOP:N or log:START:STOP:N; got {tokens[0]!r}.")
        try:
            start, stop = float(parts[1]), float(parts[2])
        except ValueError as err:
            raise ValueError(f"--rbins START and STOP must be numbers; got {tokens[0]!r}.") from err
        if not parts[3].strip().isdigit() or int(parts[3]) < 1:
            raise ValueError(f"--rbins N must be a whole number of bins >= 1; got {parts[3]!r} in {tokens[0]!r}.")
        n = int(parts[3])
        if parts[0] == "log" and not start > 0:
            raise ValueError("--rbins log:START:STOP:N needs START > 0.")
        edges = np.linspace(start, stop, n + 1) if parts[0] == "lin" else np.geomspace(start, stop, n + 1)
    else:
        try:
            edges = np.array([float(t) for t in tokens])
        except ValueError as err:
            raise ValueError(f"--rbins must be numbers or lin:/log: specs; got {' '.join(tokens)}.") from err
    if edges.size < 2:
        raise ValueError(f"--rbins needs at least 2 edges (1 bin); got {' '.join(tokens)}.")
    if not np.all(np.isfinite(edges)) or edges[0] < 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"--rbins edges must be finite, >= 0 and strictly increasing; got {' '.join(tokens)}.")
    return edges


def check_box(box) -> None:
    """Refuse a ``--box`` that is not a positive, finite number (None: open geometry)."""
    if box is not None and not (math.isfinite(box) and box > 0):
        raise ValueError(f"--box must be a positive, finite box side in Mpc/h; got {box}.")


def check_out(out) -> None:
    """Check, before any work, that the ``--out`` file can be written (None: stdout).

    See ``cosmojax.io.check_output_path``; raises ValueError naming ``--out``.
    """
    from cosmojax.io import check_output_path

    if out is not None:
        check_output_path("--out", out)


def load(path, what: str = "catalogue", box=None, min_points: int = 2):
    """Positions and weights (or None) of a catalogue file, through ``cosmojax.io``.

    ``what`` names the argument in messages (``data``, ``--randoms``). Refuses files that
    cannot be read, hold fewer than ``min_points`` points, non-finite or non-positive-sum
    weights, or (with ``box``) points outside the periodic box [0, box).
    """
    from cosmojax.io import read_catalogue

    try:
        cat = read_catalogue(path)
    except (ValueError, OSError) as err:
        raise ValueError(f"{what}: {' '.join(str(err).split())}") from err
    pos = np.asarray(cat["pos"], np.float64)
    if pos.shape[0] < min_points:
        raise ValueError(f"{what}: {path} holds {pos.shape[0]} points; at least {min_points} are needed.")
    weights = cat.get("weights")
    if weights is not None and (not np.all(np.isfinite(weights)) or np.sum(weights) <= 0):
        raise ValueError(f"{what}: the weights in {path} must be finite with a positive sum.")
    if box is not None and (np.any(pos < 0) or np.any(pos >= box)):
        raise ValueError(
            f"{what}: points of {path} lie outside the periodic box [0, {box:g}) given by --box "
            f"(range {pos.min():g} .. {pos.max():g}); pass the right --box or wrap the positions."
        )
    return pos, weights


def write_table(rows: list[dict], out: str | None, meta: dict) -> None:
    """Write rows as CSV (``.csv`` or stdout; ``\\n`` line endings) or JSON (``.json``, with
    ``meta``); a file is written atomically (``cosmojax.io.write_atomic``)."""
    from cosmojax.io import write_atomic

    if out is not None and out.endswith(".json"):
        write_atomic(out, json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if out is None:
        sys.stdout.write(buf.getvalue())
    else:
        write_atomic(out, buf.getvalue())


def add_plot_arguments(p, what: str) -> None:
    """Add ``--plot`` (the figure's path) and ``--no-plot``."""
    p.add_argument("--plot", metavar="PATH",
                   help=f"figure of {what} (.png, .pdf or .svg; default: --out with .png, none when "
                        "the table goes to standard output)")
    p.add_argument("--no-plot", action="store_true", help="write no figure")


def plot_path(args) -> str | None:
    """Where the figure goes: ``--plot``, else ``--out`` with the extension ``.png``, else
    None (no ``--out`` or ``--no-plot``). Checked before any work (ValueError naming the flag)."""
    from cosmojax.io import check_output_path

    if args.no_plot:
        if args.plot:
            raise ValueError("--plot and --no-plot contradict each other; give one of them.")
        return None
    path = args.plot or (os.path.splitext(args.out)[0] + ".png" if args.out else None)
    if path is None:
        return None
    if os.path.splitext(path)[1].lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot {path!r}: give a file ending in .png, .pdf or .svg.")
    if args.out and os.path.abspath(path) == os.path.abspath(args.out):
        raise ValueError(f"--plot and --out are the same file ({path!r}); give them different names.")
    return check_output_path("--plot", path)


def as_float(x) -> float:
    """``x`` (a scalar array) as a Python float, with NaN for any non-finite value."""
    v = float(np.asarray(x))
    return v if np.isfinite(v) else float("nan")

"""Helpers shared by the n-point sub-commands: bin specifications, catalogues, output."""

from __future__ import annotations

import csv
import io
import json
import sys

import numpy as np

from cosmojax._validate import check_int


def add_catalogue_arguments(p, rbins_help: str) -> None:
    """Add the arguments every n-point sub-command takes: the catalogue, ``--randoms``,
    ``--rbins`` (described by ``rbins_help``) and ``--box``."""
    p.add_argument("data", help="catalogue (.npy, .npz, .csv, .txt, .fits), positions in Mpc/h")
    p.add_argument("--randoms", help="random catalogue (same formats)")
    p.add_argument("--rbins", nargs="+", required=True,
                   help=f"{rbins_help} in Mpc/h, or lin:START:STOP:N / log:START:STOP:N")
    p.add_argument("--box", type=float, help="periodic box side in Mpc/h (points in [0, L))")


def add_out_argument(p) -> None:
    """Add ``--out``: the output table (.csv or .json), CSV on standard output if absent."""
    p.add_argument("--out", help="output file (.csv or .json); CSV on standard output if absent")


def parse_bins(tokens) -> np.ndarray:
    """Bin edges from the command line.

    Either explicit edges (``0 10 20 30``) or one specification ``lin:START:STOP:N`` /
    ``log:START:STOP:N`` giving N bins (N + 1 edges), linear or logarithmic.
    """
    if len(tokens) == 1 and ":" in tokens[0]:
        parts = tokens[0].split(":")
        if len(parts) != 4 or parts[0] not in ("lin", "log"):
            raise ValueError(f"--rbins spec must be lin:START:STOP:N or log:START:STOP:N; got {tokens[0]!r}.")
        start, stop = float(parts[1]), float(parts[2])
        n = check_int("--rbins N", int(parts[3]))
        if parts[0] == "lin":
            return np.linspace(start, stop, n + 1)
        if start <= 0:
            raise ValueError("--rbins log:START:STOP:N needs START > 0.")
        return np.geomspace(start, stop, n + 1)
    try:
        return np.array([float(t) for t in tokens])
    except ValueError as err:
        raise ValueError(f"--rbins must be numbers or lin:/log: specs; got {tokens}.") from err


def load(path):
    """Positions and weights (or None) of a catalogue file, through ``cosmojax.io``."""
    from cosmojax.io import read_catalogue

    cat = read_catalogue(path)
    return np.asarray(cat["pos"], np.float64), cat.get("weights")


def write_table(rows: list[dict], out: str | None, meta: dict) -> None:
    """Write rows as CSV (``.csv`` or stdout) or JSON (``.json``, with ``meta``)."""
    if out is not None and out.endswith(".json"):
        with open(out, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    if out is None:
        sys.stdout.write(buf.getvalue())
    else:
        with open(out, "w") as fh:
            fh.write(buf.getvalue())


def as_float(x) -> float:
    """``x`` (a scalar array) as a Python float, with NaN for any non-finite value."""
    v = float(np.asarray(x))
    return v if np.isfinite(v) else float("nan")

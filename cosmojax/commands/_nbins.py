"""Helpers shared by the n-point sub-commands: bin specifications, catalogues, output."""

from __future__ import annotations

import csv
import io
import json
import sys

import numpy as np


def parse_bins(tokens) -> np.ndarray:
    """Bin edges from the command line.

    Either explicit edges (``0 10 20 30``) or one specification ``lin:START:STOP:N`` /
    ``log:START:STOP:N`` giving N bins (N + 1 edges), linear or logarithmic.
    """
    if len(tokens) == 1 and ":" in tokens[0]:
        parts = tokens[0].split(":")
        if len(parts) != 4 or parts[0] not in ("lin", "log"):
            raise ValueError(f"--rbins spec must be lin:START:STOP:N or log:START:STOP:N; got {tokens[0]!r}.")
        start, stop, n = float(parts[1]), float(parts[2]), int(parts[3])
        if n < 1:
            raise ValueError(f"--rbins needs at least one bin; got N={n}.")
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
    v = float(np.asarray(x))
    return v if np.isfinite(v) else float("nan")

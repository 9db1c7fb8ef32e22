"""Catalogues and snapshots in and out.

Catalogues are point sets with positions in Mpc/h and optional weights; snapshots are
named arrays of a simulation saved as ``.npz``.
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

_POSITION_NAMES = (("x", "y", "z"), ("X", "Y", "Z"), ("pos_x", "pos_y", "pos_z"))
_WEIGHT_NAMES = ("w", "weight", "weights", "W")


def _from_columns(table: dict, columns: Sequence[str] | None, path: str) -> dict:
    names = list(table)
    if columns is not None:
        missing = [c for c in columns if c not in table]
        if missing:
            raise ValueError(f"columns {missing} are not in {path}; it has {names}.")
        pos = np.stack([np.asarray(table[c], float) for c in columns[:3]], axis=1)
        weights = np.asarray(table[columns[3]], float) if len(columns) > 3 else None
        return _catalogue(pos, weights, path)
    if "pos" in table:
        return _catalogue(np.asarray(table["pos"], float), _first(table, ("weights", "weight", "w")), path)
    for trio in _POSITION_NAMES:
        if all(c in table for c in trio):
            pos = np.stack([np.asarray(table[c], float) for c in trio], axis=1)
            return _catalogue(pos, _first(table, _WEIGHT_NAMES), path)
    raise ValueError(
        f"{path} has no position columns: expected 'pos' or x, y, z (found {names}); pass columns=('a', 'b', 'c')."
    )


def _first(table, names):
    for n in names:
        if n in table:
            return np.asarray(table[n], float)
    return None


def _catalogue(pos, weights, path):
    if pos.ndim != 2 or pos.shape[1] not in (2, 3):
        raise ValueError(f"positions in {path} must have shape (N, 3) or (N, 2); got {pos.shape}.")
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"positions in {path} contain NaN or infinite values.")
    out = {"pos": pos}
    if weights is not None:
        if weights.shape != (pos.shape[0],):
            raise ValueError(f"weights in {path} must have shape ({pos.shape[0]},); got {weights.shape}.")
        out["weights"] = weights
    return out


def read_catalogue(path: str | os.PathLike, columns: Sequence[str] | None = None) -> dict:
    """Read a point catalogue.

    Parameters
    ----------
    path : .npy ((N, 3) or (N, 4) with weights in the last column), .npz (array 'pos' or
        columns x, y, z, optional 'weights'), .csv/.txt (a header with x, y, z[, w], or
        three or four unnamed numeric columns), or .fits/.fit (through astropy, if installed)
    columns : names of the three position columns and optionally a weight column

    Returns
    -------
    dict with 'pos' (N, 3) float64 array in the file's units (Mpc/h expected) and, when
    present, 'weights' (N,) float64.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path {path!r} does not exist.")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        arr = np.load(path)
        if arr.dtype.names:
            return _from_columns({n: arr[n] for n in arr.dtype.names}, columns, path)
        arr = np.asarray(arr, float)
        if arr.ndim != 2 or arr.shape[1] not in (3, 4):
            raise ValueError(f"{path} must hold an (N, 3) or (N, 4) array; got {arr.shape}.")
        return _catalogue(arr[:, :3], arr[:, 3] if arr.shape[1] == 4 else None, path)
    if ext == ".npz":
        with np.load(path) as data:
            return _from_columns({k: data[k] for k in data.files}, columns, path)
    if ext in (".csv", ".txt", ".dat"):
        delimiter = "," if ext == ".csv" else None
        with open(path) as fh:
            first = fh.readline()
        has_header = any(c.isalpha() for c in first.replace("e", "").replace("E", ""))
        if has_header:
            arr = np.genfromtxt(path, delimiter=delimiter, names=True)
            return _from_columns({n: arr[n] for n in arr.dtype.names}, columns, path)
        arr = np.atleast_2d(np.loadtxt(path, delimiter=delimiter))
        if arr.shape[1] not in (3, 4):
            raise ValueError(f"{path} must have 3 or 4 columns; got {arr.shape[1]}.")
        return _catalogue(arr[:, :3], arr[:, 3] if arr.shape[1] == 4 else None, path)
    if ext in (".fits", ".fit"):
        try:
            from astropy.table import Table
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ValueError("reading FITS needs astropy: pip install astropy") from err
        table = Table.read(path)
        return _from_columns({n: np.asarray(table[n]) for n in table.colnames}, columns, path)
    raise ValueError(f"path {path!r}: unknown catalogue format {ext!r}; use .npy, .npz, .csv, .txt or .fits.")


def write_snapshot(path: str | os.PathLike, meta: dict | None = None, **arrays) -> str:
    """Save named arrays (e.g. a=..., pos=(N, 3), vel=(N, 3), density=mesh) to ``path`` (.npz).

    ``meta``: a JSON-serialisable dict stored alongside. Returns the path written.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["__meta__"] = np.asarray(json.dumps(meta or {}))
    np.savez(path, **payload)
    return path


def read_snapshot(path: str | os.PathLike) -> dict:
    """Load a snapshot written by ``write_snapshot``: a dict of arrays plus 'meta' (dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path {path!r} does not exist.")
    with np.load(path) as data:
        out = {k: data[k] for k in data.files if k != "__meta__"}
        out["meta"] = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    return out

"""Catalogues, snapshots and checkpoints in and out.

Catalogues are point sets with positions in Mpc/h and optional weights; snapshots are
named arrays of a simulation saved as ``.npz``; checkpoints are pytrees of arrays written
by ``save_checkpoint`` in the one checkpoint format of cosmojax (atomic, checksummed,
versioned) and read back by ``load_checkpoint`` into the structure of a target.
"""

from __future__ import annotations

import hashlib
import io as _bytes_io
import json
import os
import pickle
import secrets
import tempfile
import zipfile
from typing import Any, Sequence

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
        if not np.all(np.isfinite(weights)):
            raise ValueError(f"weights in {path} contain NaN or infinite values.")
        out["weights"] = weights
    return out


def _load_numpy(path: str) -> np.ndarray:
    """``np.load`` of a .npy file, with a ValueError naming the file if it is corrupt."""
    try:
        arr = np.load(path)
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path} is not a readable .npy file ({err}); rewrite it with numpy.save.") from err
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{path} holds {type(arr).__name__}, not one array; use a .npz for several arrays.")
    return arr


def _read_text(path: str, delimiter: str | None) -> tuple[list[str] | None, np.ndarray]:
    """Numeric table of a .csv/.txt file: (column names or None, (rows, columns) float array).

    Lines starting with '#' and blank lines are skipped; the first other line is a header
    when it is not all numbers. A non-numeric entry or a ragged row raises ``ValueError``
    giving the file, the line and the column.
    """
    try:
        with open(path) as fh:
            lines = fh.readlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a text table ({err.reason} at byte {err.start}).") from err
    header, rows, width = None, [], None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text.startswith("#") and not rows and header is None:
            # a commented header ("# x y z w", as numpy.savetxt writes) names the columns
            names = [c.strip() for c in (text[1:].split(delimiter) if delimiter else text[1:].split())]
            if any(all(n in names for n in trio) for trio in _POSITION_NAMES):
                header, width = names, len(names)
            continue
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in (text.split(delimiter) if delimiter else text.split())]
        if header is None and not rows:
            try:
                [float(c) for c in cells]
            except ValueError:
                header, width = cells, len(cells)
                continue
        if width is None:
            width = len(cells)
        if len(cells) != width:
            raise ValueError(f"{path}, line {number}: {len(cells)} columns where {width} were expected.")
        values = []
        for column, cell in enumerate(cells, start=1):
            try:
                values.append(float(cell))
            except ValueError:
                raise ValueError(f"{path}, line {number}, column {column}: {cell!r} is not a number.") from None
        rows.append(values)
    arr = np.asarray(rows, float).reshape(len(rows), width or (len(header) if header else 3))
    return header, arr


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
    present, 'weights' (N,) float64. An empty file gives N = 0.

    Raises ``ValueError`` for a missing, corrupt or malformed file (a non-numeric entry of a
    text table is reported with its line and column), non-finite positions or weights.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path {path!r} does not exist.")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        arr = _load_numpy(path)
        if arr.dtype.names:
            return _from_columns({n: arr[n] for n in arr.dtype.names}, columns, path)
        arr = np.asarray(arr, float)
        if arr.ndim != 2 or arr.shape[1] not in (3, 4):
            raise ValueError(f"{path} must hold an (N, 3) or (N, 4) array; got {arr.shape}.")
        return _catalogue(arr[:, :3], arr[:, 3] if arr.shape[1] == 4 else None, path)
    if ext == ".npz":
        try:
            with np.load(path) as data:
                return _from_columns({k: data[k] for k in data.files}, columns, path)
        except (OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
            raise ValueError(f"{path} is not a readable .npz file ({err}); rewrite it with numpy.savez.") from err
    if ext in (".csv", ".txt", ".dat"):
        header, arr = _read_text(path, "," if ext == ".csv" else None)
        if header is not None:
            return _from_columns({n: arr[:, i] for i, n in enumerate(header)}, columns, path)
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


def write_atomic(path: str | os.PathLike, data: bytes | str) -> str:
    """Write ``data`` (bytes, or text written as UTF-8 with ``\\n`` line endings) to ``path``
    atomically: into a temporary file in the same folder, flushed to disk, then moved over
    ``path`` with ``os.replace``, so a reader sees the old file or the whole new one, never
    half of it. The folder must exist. Returns ``path`` as a string. Host-side file I/O.
    """
    path = os.fspath(path)
    blob = data.encode() if isinstance(data, str) else bytes(data)
    folder = os.path.dirname(os.path.abspath(path))
    while True:  # a fresh name beside the target, created with the permissions umask gives any new file
        tmp = os.path.join(folder, f"{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_snapshot(path: str | os.PathLike, meta: dict | None = None, **arrays) -> str:
    """Save named arrays (e.g. a=..., pos=(N, 3), vel=(N, 3), density=mesh) to ``path`` (.npz).

    ``meta``: a JSON-serialisable dict stored alongside. Written atomically (``write_atomic``);
    creates the folder if needed. Returns the path written.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["__meta__"] = np.asarray(json.dumps(meta or {}))
    buffer = _bytes_io.BytesIO()
    np.savez(buffer, **payload)
    return write_atomic(path, buffer.getvalue())


def read_snapshot(path: str | os.PathLike) -> dict:
    """Load a snapshot written by ``write_snapshot``: a dict of arrays plus 'meta' (dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path {path!r} does not exist.")
    with np.load(path) as data:
        out = {k: data[k] for k in data.files if k != "__meta__"}
        out["meta"] = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    return out


# ------------------------------------------------------------------------------ checkpoints

#: First bytes of every checkpoint file.
CHECKPOINT_MAGIC = b"COSMOJAX-CHECKPOINT\n"
#: Version of the checkpoint format written by ``save_checkpoint``.
CHECKPOINT_VERSION = 1
_FIX = "delete it or pass resume=False to start afresh"


def check_output_path(name: str, path) -> str:
    """Return ``path`` as a string after checking that a file can be written there.

    ValueError naming ``name`` unless the folder that would hold the file exists, ``path`` is
    not itself a folder, and the file can be opened for writing (probed by opening it for
    appending; a file that did not exist is removed again, one that did is left unchanged).
    Host-side, meant to run before long work.
    """
    try:
        path = os.fspath(path)
    except TypeError as err:
        raise TypeError(f"{name} must be a path (str or os.PathLike); got {type(path).__name__}.") from err
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{name} {path!r} is a folder; give a file name inside it.")
    if not os.path.isdir(folder):
        raise ValueError(f"{name} {path!r}: folder {folder!r} does not exist; create it first.")
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as err:
        raise ValueError(f"{name} {path!r} cannot be written: {err.strerror or err}.") from err
    if not existed:
        os.remove(path)
    return path


def check_output_folder(name: str, folder) -> str:
    """Return ``folder`` as a string after making sure files can be written in it.

    Creates the folder (and its parents) when missing and probes it with a temporary file;
    ValueError naming ``name`` when it is a file or cannot be created or written. Host-side,
    meant to run before long work.
    """
    try:
        folder = os.fspath(folder)
    except TypeError as err:
        raise TypeError(f"{name} must be a path (str or os.PathLike); got {type(folder).__name__}.") from err
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{name} {folder!r} is a file; give a folder to write the outputs in.")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{name} {folder!r} cannot be written: {err.strerror or err}.") from err
    return folder


def _is_key(x) -> bool:
    import jax

    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_impl(x) -> str:
    """Name of the PRNG implementation of a key array or of its ``jax.ShapeDtypeStruct``."""
    import jax

    if isinstance(x, jax.ShapeDtypeStruct):  # a shape-only target: one key of its implementation
        x = jax.random.key(0, impl=x.dtype._impl)
    return str(jax.random.key_impl(x))


def save_checkpoint(path: str | os.PathLike, tree) -> None:
    """Write a pytree of arrays, scalars and PRNG keys to ``path``, atomically.

    The file holds a magic line, a JSON header (format version, payload size and the
    SHA-256 of the payload) and the payload: every leaf as a numpy array in an ``.npz``
    archive (no pickle) together with its path in the tree. It is written to a temporary
    file in the same folder and moved over ``path`` with ``os.replace``, so an interrupted
    write never leaves a half-written checkpoint. Read it back with ``load_checkpoint``.

    Parameters
    ----------
    path : str or os.PathLike; its folder must exist
    tree : pytree (dicts, lists, tuples, NamedTuples, flax structs) whose leaves are
        numeric or boolean arrays (numpy or jax), Python numbers or typed PRNG keys
        (anything else: TypeError)

    Host-side file I/O: not traced, not jit safe.
    """
    import jax

    path = check_output_path("path", path)
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    index, arrays = [], {}
    for i, (key_path, leaf) in enumerate(flat):
        entry = {"path": jax.tree_util.keystr(key_path), "python": None, "prng": None}
        if _is_key(leaf):
            entry["prng"] = _key_impl(leaf)
            leaf = jax.random.key_data(leaf)
        elif isinstance(leaf, (bool, int, float, complex)):
            entry["python"] = type(leaf).__name__
        value = np.asarray(jax.device_get(leaf))
        if value.dtype.kind not in "biufc":
            raise TypeError(f"tree leaf {entry['path']} is a {type(leaf).__name__}; checkpoints hold arrays and numbers only.")
        arrays[f"leaf_{i}"] = value
        index.append(entry)
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    buffer = _bytes_io.BytesIO()
    np.savez(buffer, **arrays)
    payload = buffer.getvalue()
    header = {"version": CHECKPOINT_VERSION, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    write_atomic(path, CHECKPOINT_MAGIC + json.dumps(header).encode() + b"\n" + payload)


def _read_payload(path: str) -> tuple[list, dict]:
    """The (index, arrays) of a checkpoint file after checking its header and checksum."""
    with open(path, "rb") as fh:
        blob = fh.read()
    if not blob.startswith(CHECKPOINT_MAGIC):
        raise ValueError(f"checkpoint {path!r} is not a cosmojax checkpoint (or its first bytes are damaged); {_FIX}.")
    end = blob.find(b"\n", len(CHECKPOINT_MAGIC))
    try:
        header = json.loads(blob[len(CHECKPOINT_MAGIC) : end].decode()) if end > 0 else None
        version, size, digest = header["version"], int(header["size"]), str(header["sha256"])
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ValueError(f"checkpoint {path!r} has a damaged header; {_FIX}.") from None
    if version != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {path!r} has format version {version!r}; this cosmojax reads version "
            f"{CHECKPOINT_VERSION}; {_FIX}."
        )
    payload = blob[end + 1 :]
    if len(payload) != size:
        raise ValueError(f"checkpoint {path!r} is truncated or padded ({len(payload)} of {size} bytes); {_FIX}.")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ValueError(f"checkpoint {path!r} is corrupted (its SHA-256 checksum does not match); {_FIX}.")
    try:
        with np.load(_bytes_io.BytesIO(payload), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        index = json.loads(arrays.pop("__index__").tobytes().decode())
    except Exception:  # the checksum matched, so this is a file from a foreign writer
        raise ValueError(f"checkpoint {path!r} has an unreadable payload; {_FIX}.") from None
    return index, arrays


_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


def load_checkpoint(path: str | os.PathLike, target) -> Any:
    """Read a checkpoint written by ``save_checkpoint`` into the structure of ``target``.

    Parameters
    ----------
    path : str or os.PathLike
    target : pytree of the same structure as the saved one (e.g. the initial state of the
        run being resumed, or its ``jax.eval_shape``); only its structure, leaf kinds and
        shapes are used. A target
        leaf whose leading axis has length 0 (``np.zeros(0)``) accepts any length along
        that axis: for histories that grow from one checkpoint to the next.

    Returns
    -------
    pytree like ``target``: jax arrays where the target has jax arrays, numpy arrays where
    it has numpy arrays, Python numbers where it has Python numbers, PRNG keys where it has
    keys; values are cast to the target leaf's dtype within one kind (float64 to float32).

    Raises
    ------
    ValueError, naming ``path`` and saying to delete it or pass ``resume=False``, when the
    file is not a checkpoint, is truncated, fails its SHA-256 checksum, has another format
    version, or holds a different structure, kind or shape than ``target``.

    Host-side file I/O: not traced, not jit safe.
    """
    import jax
    import jax.numpy as jnp

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist.")
    index, arrays = _read_payload(path)
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    saved = [entry["path"] for entry in index]
    wanted = [jax.tree_util.keystr(p) for p, _ in flat]
    if saved != wanted:
        missing = sorted(set(wanted) - set(saved))[:3]
        extra = sorted(set(saved) - set(wanted))[:3]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "leaves in another order"
        raise ValueError(f"checkpoint {path!r} holds a different structure than expected ({detail}); {_FIX}.")
    leaves = []
    for i, ((_, want), entry) in enumerate(zip(flat, index)):
        name, value = entry["path"], arrays[f"leaf_{i}"]
        if _is_key(want) or entry["prng"] is not None:
            if not (_is_key(want) and entry["prng"] == _key_impl(want)):
                raise ValueError(f"checkpoint {path!r}: leaf {name} is not the PRNG key expected; {_FIX}.")
            leaves.append(jax.random.wrap_key_data(jnp.asarray(value), impl=entry["prng"]))
            continue
        if hasattr(want, "shape") and hasattr(want, "dtype"):  # arrays and jax.ShapeDtypeStruct
            expect, dtype = tuple(want.shape), np.dtype(want.dtype)
        else:
            expect, dtype = np.shape(want), np.asarray(want).dtype
        if _KINDS.get(value.dtype.kind) != _KINDS.get(dtype.kind):
            raise ValueError(f"checkpoint {path!r}: leaf {name} holds {value.dtype} where {dtype} is expected; {_FIX}.")
        shape = value.shape
        grows = len(expect) >= 1 and expect[0] == 0 and shape[1:] == expect[1:]
        if shape != expect and not (grows and len(shape) == len(expect)):
            raise ValueError(f"checkpoint {path!r}: leaf {name} has shape {shape} where {expect} is expected; {_FIX}.")
        if isinstance(want, (bool, int, float, complex)):
            leaves.append(type(want)(value.item()))
        elif isinstance(want, np.ndarray) or np.isscalar(want):
            leaves.append(np.asarray(value, dtype=dtype))
        else:  # jax arrays and shape structs
            leaves.append(jnp.asarray(value, dtype=dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)

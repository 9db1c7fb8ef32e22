import os

import numpy as np
import pytest

from cosmojax.io import read_catalogue, read_snapshot, write_snapshot


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 100, (20, 3)), rng.uniform(0.5, 1.5, 20)


def test_read_catalogue_formats(tmp_path, points):
    pos, w = points
    np.save(tmp_path / "a.npy", np.c_[pos, w])
    np.savez(tmp_path / "b.npz", x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], weight=w)
    np.savetxt(tmp_path / "c.csv", np.c_[pos, w], delimiter=",", header="x,y,z,w", comments="")
    np.savetxt(tmp_path / "d.txt", pos)
    for name in ("a.npy", "b.npz", "c.csv"):
        cat = read_catalogue(tmp_path / name)
        np.testing.assert_allclose(cat["pos"], pos, rtol=1e-12)
        np.testing.assert_allclose(cat["weights"], w, rtol=1e-12)
    cat = read_catalogue(tmp_path / "d.txt")
    np.testing.assert_allclose(cat["pos"], pos, rtol=1e-12)
    assert "weights" not in cat
    np.savez(tmp_path / "e.npz", ra=pos[:, 0], dec=pos[:, 1], r=pos[:, 2])
    np.testing.assert_allclose(read_catalogue(tmp_path / "e.npz", columns=("ra", "dec", "r"))["pos"], pos)


def test_read_catalogue_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_catalogue(tmp_path / "missing.npy")
    np.save(tmp_path / "bad.npy", np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 4\)"):
        read_catalogue(tmp_path / "bad.npy")
    np.save(tmp_path / "nan.npy", np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        read_catalogue(tmp_path / "nan.npy")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match="unknown catalogue format"):
        read_catalogue(tmp_path / "x.parquet")
    np.savez(tmp_path / "nopos.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="no position columns"):
        read_catalogue(tmp_path / "nopos.npz")


def test_snapshot_round_trip(tmp_path):
    pos = np.random.default_rng(1).normal(size=(10, 3))
    path = write_snapshot(tmp_path / "snap_000", meta={"a": 0.5, "box": 100.0}, pos=pos, a=0.5)
    snap = read_snapshot(path)
    np.testing.assert_array_equal(snap["pos"], pos)
    assert float(snap["a"]) == 0.5 and snap["meta"] == {"a": 0.5, "box": 100.0}


# ------------------------------------------------------------------------------ checkpoints


def _tree():
    import jax
    import jax.numpy as jnp

    return {
        "params": {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3, jnp.float32)},
        "keys": jax.random.split(jax.random.key(3), 2),
        "count": 7,
        "best": 0.25,
        "stopped": True,
        "history": np.array([1.5, 2.5, 3.5]),
        "steps": (jnp.asarray(4, jnp.int32), np.arange(3, dtype=np.int64)),
    }


def _target():
    import jax
    import jax.numpy as jnp

    return {
        "params": {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)},
        "keys": jax.random.split(jax.random.key(0), 2),
        "count": 0,
        "best": 0.0,
        "stopped": False,
        "history": np.zeros(0),
        "steps": (jnp.zeros((), jnp.int32), np.zeros(3, dtype=np.int64)),
    }


def test_checkpoint_round_trip_keeps_values_types_and_keys(tmp_path):
    import jax

    from cosmojax.io import load_checkpoint, save_checkpoint

    path = tmp_path / "run.ckpt"
    tree = _tree()
    save_checkpoint(path, tree)
    back = load_checkpoint(path, _target())
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    np.testing.assert_array_equal(back["params"]["w"], tree["params"]["w"])
    assert isinstance(back["params"]["w"], jax.Array) and isinstance(back["history"], np.ndarray)
    np.testing.assert_array_equal(back["history"], tree["history"])  # a length-0 target leaf grows
    assert back["count"] == 7 and type(back["count"]) is int
    assert back["best"] == 0.25 and back["stopped"] is True
    # PRNG keys come back as keys that draw the same numbers
    np.testing.assert_array_equal(jax.random.normal(back["keys"][1], (4,)), jax.random.normal(tree["keys"][1], (4,)))
    # a shape-only target (jax.eval_shape) works too, keys included
    shapes = jax.eval_shape(_target)
    from_shapes = load_checkpoint(path, shapes)
    np.testing.assert_array_equal(from_shapes["params"]["b"], tree["params"]["b"])
    np.testing.assert_array_equal(jax.random.key_data(from_shapes["keys"]), jax.random.key_data(tree["keys"]))
    # written atomically: no temporary file is left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]


def test_checkpoint_with_a_flipped_byte_or_truncated_raises(tmp_path):
    from cosmojax.io import load_checkpoint, save_checkpoint

    path = tmp_path / "run.ckpt"
    save_checkpoint(path, _tree())
    blob = path.read_bytes()
    header_end = blob.index(b"\n", 20) + 1
    for position, what in ((len(blob) - 10, "checksum"), (header_end + 40, "checksum"), (3, "not a cosmojax checkpoint"),
                           (header_end - 5, "header|checksum")):
        damaged = bytearray(blob)
        damaged[position] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match=what) as err:
            load_checkpoint(path, _target())
        assert str(path) in str(err.value) and "resume=False" in str(err.value)
    for keep in (len(blob) - 1, header_end + 10, header_end, 10, 0):
        path.write_bytes(blob[:keep])
        with pytest.raises(ValueError, match="truncated|not a cosmojax checkpoint|header") as err:
            load_checkpoint(path, _target())
        assert "delete it or pass resume=False" in str(err.value)
    # a file of another format (an old msgpack checkpoint, say)
    path.write_bytes(b"\x85\xa1a\x01")
    with pytest.raises(ValueError, match="not a cosmojax checkpoint"):
        load_checkpoint(path, _target())
    # another format version
    path.write_bytes(blob.replace(b'"version": 1', b'"version": 9', 1))
    with pytest.raises(ValueError, match="format version 9"):
        load_checkpoint(path, _target())
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt", _target())


def test_checkpoint_with_another_structure_raises(tmp_path):
    import jax
    import jax.numpy as jnp

    from cosmojax.io import load_checkpoint, save_checkpoint

    path = tmp_path / "run.ckpt"
    save_checkpoint(path, _tree())
    target = _target()
    del target["count"]
    with pytest.raises(ValueError, match=r"different structure.*missing \[\].*\['count'\]"):
        load_checkpoint(path, target)
    target = _target()
    target["params"]["w"] = jnp.zeros((3, 3))  # another network
    with pytest.raises(ValueError, match=r"\['params'\]\['w'\] has shape \(2, 3\) where \(3, 3\)"):
        load_checkpoint(path, target)
    target = _target()
    target["count"] = 0.0
    with pytest.raises(ValueError, match=r"\['count'\] holds int64 where float64"):
        load_checkpoint(path, target)
    target = _target()
    target["keys"] = jnp.zeros((2, 2), jnp.uint32)
    with pytest.raises(ValueError, match="not the PRNG key expected"):
        load_checkpoint(path, target)
    target = _target()
    target["steps"] = (jnp.zeros((), jnp.int32), np.zeros(2, dtype=np.int64))  # a fixed length must match
    with pytest.raises(ValueError, match="has shape"):
        load_checkpoint(path, target)
    assert jax.tree_util.tree_leaves(load_checkpoint(path, _target()))  # the file itself is fine


def test_checkpoint_bad_paths_and_leaves(tmp_path):
    from cosmojax.io import save_checkpoint

    with pytest.raises(ValueError, match="does not exist; create it first"):
        save_checkpoint(tmp_path / "no" / "such" / "run.ckpt", {"a": np.zeros(2)})
    with pytest.raises(ValueError, match="is a folder"):
        save_checkpoint(tmp_path, {"a": np.zeros(2)})
    with pytest.raises(TypeError, match="checkpoints hold arrays and numbers only"):
        save_checkpoint(tmp_path / "x.ckpt", {"a": "text"})
    with pytest.raises(TypeError, match="path must be a path"):
        save_checkpoint(3.5, {"a": np.zeros(2)})
    assert not list(tmp_path.iterdir())


def test_read_catalogue_reports_non_numeric_entries_with_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("x,y,z\n1,2,3\n4,abc,6\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3, column 2: 'abc' is not a number"):
        read_catalogue(tmp_path / "bad.csv")
    (tmp_path / "bad.txt").write_text("# made by hand\n1 2 3\n\n4 5 nan?\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 4, column 3: 'nan\?' is not a number"):
        read_catalogue(tmp_path / "bad.txt")
    (tmp_path / "ragged.txt").write_text("1 2 3\n4 5\n")
    with pytest.raises(ValueError, match=r"ragged.txt, line 2: 2 columns where 3 were expected"):
        read_catalogue(tmp_path / "ragged.txt")
    (tmp_path / "nan.csv").write_text("x,y,z,w\n1,2,3,nan\n")
    with pytest.raises(ValueError, match="weights in .* contain NaN"):
        read_catalogue(tmp_path / "nan.csv")


def test_read_catalogue_text_headers_comments_and_empty_files(tmp_path, points):
    pos, w = points
    np.savetxt(tmp_path / "c.txt", np.column_stack([pos, w]), header="x y z w")  # "# x y z w"
    cat = read_catalogue(tmp_path / "c.txt")
    np.testing.assert_allclose(cat["pos"], pos)
    np.testing.assert_allclose(cat["weights"], w)
    (tmp_path / "empty.csv").write_text("x,y,z\n")
    assert read_catalogue(tmp_path / "empty.csv")["pos"].shape == (0, 3)


def test_read_catalogue_corrupt_binary_files_name_the_file(tmp_path):
    (tmp_path / "c.npy").write_bytes(b"\x93NUMPYgarbage")
    with pytest.raises(ValueError, match=r"c.npy is not a readable .npy file"):
        read_catalogue(tmp_path / "c.npy")
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(ValueError, match=r"c.npz is not a readable .npz file"):
        read_catalogue(tmp_path / "c.npz")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match=r"b.csv is not a text table"):
        read_catalogue(tmp_path / "b.csv")


def test_write_atomic_replaces_whole_files_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import stat

    from cosmojax.io import write_atomic

    path = tmp_path / "table.csv"
    assert write_atomic(path, "a,b\n1,2\n") == str(path)
    assert path.read_bytes() == b"a,b\n1,2\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # an ordinary file, not mkstemp's 0600
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new contents")
    assert path.read_bytes() == b"\x00\x01"  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary file left

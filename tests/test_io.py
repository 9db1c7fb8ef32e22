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

"""The ``cosmojax xi`` and ``cosmojax 3pcf`` sub-commands."""

import csv
import json

import numpy as np
import pytest

from cosmojax.cli import main
from cosmojax.commands._nbins import parse_bins
from cosmojax.stats.estimators import analytic_rr, landy_szalay
from cosmojax.stats.pairs import pair_counts


@pytest.fixture
def catalogues(tmp_path):
    rng = np.random.default_rng(61)
    data = rng.uniform(0, 100.0, (400, 3))
    rand = rng.uniform(0, 100.0, (800, 3))
    np.save(tmp_path / "data.npy", data)
    np.savetxt(tmp_path / "rand.csv", rand, delimiter=",", header="x,y,z", comments="")
    return tmp_path, data, rand


def test_xi_with_randoms_writes_landy_szalay_csv(catalogues):
    tmp, data, rand = catalogues
    out = tmp / "xi.csv"
    assert main(["xi", str(tmp / "data.npy"), "--randoms", str(tmp / "rand.csv"), "--rbins", "lin:0:30:3",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [float(r["r_hi"]) for r in rows] == [10.0, 20.0, 30.0]
    edges = np.linspace(0, 30, 4)
    dd, rr = pair_counts(data, edges=edges), pair_counts(rand, edges=edges)
    dr = pair_counts(data, rand, edges=edges)
    assert [int(r["DD"]) for r in rows] == dd.counts.tolist()
    assert [int(r["DR"]) for r in rows] == dr.counts.tolist()
    assert [int(r["RR"]) for r in rows] == rr.counts.tolist()
    np.testing.assert_allclose([float(r["xi"]) for r in rows], landy_szalay(dd, dr, rr), rtol=1e-5)


def test_xi_periodic_json_uses_analytic_rr(catalogues):
    tmp, data, _ = catalogues
    out = tmp / "xi.json"
    assert main(["xi", str(tmp / "data.npy"), "--box", "100", "--rbins", "5", "10", "20", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["meta"]["estimator"] == "natural-analytic" and res["meta"]["n_data"] == 400
    dd = pair_counts(data, edges=np.array([5.0, 10.0, 20.0]), box_size=100.0)
    expect = dd.counts / (400 * 399 / 2) / analytic_rr(np.array([5.0, 10.0, 20.0]), 100.0) - 1
    np.testing.assert_allclose([r["xi"] for r in res["rows"]], expect, rtol=1e-5)


def test_3pcf_command_with_randoms_and_multipoles(catalogues, capsys):
    tmp, data, _ = catalogues
    assert main(["3pcf", str(tmp / "data.npy"), "--randoms", str(tmp / "rand.csv"), "--rbins", "lin:6:18:2",
                 "--box", "100"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(int(r["b1"]), int(r["b2"]), int(r["b3"])) for r in rows] == [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)]
    assert [(float(r["r1_lo"]), float(r["r1_hi"]), float(r["r3_hi"])) for r in rows][1] == (12.0, 18.0, 12.0)
    assert all(int(r["RRR"]) > 0 for r in rows)
    assert all(abs(float(r["zeta"])) < 1.0 for r in rows)
    out = tmp / "zl.json"
    assert main(["3pcf", str(tmp / "data.npy"), "--box", "100", "--rbins", "lin:6:18:2", "--lmax", "2",
                 "--out", str(out)]) == 0
    res = json.loads(out.read_text())["rows"]
    assert len(res) == 3 * 2 * 2
    mono = [r["zeta"] for r in res if r["ell"] == 0]
    assert all(0.7 < z < 1.3 for z in mono)


def test_bad_arguments_exit_with_status_2(catalogues, capsys):
    tmp, _, _ = catalogues
    assert main(["xi", str(tmp / "data.npy"), "--rbins", "lin:0:30"]) == 2
    assert "lin:START:STOP:N" in capsys.readouterr().err
    assert main(["xi", str(tmp / "data.npy"), "--rbins", "0", "30", "20", "--box", "100"]) == 2
    assert main(["xi", str(tmp / "data.npy"), "--rbins", "0", "60", "--box", "100"]) == 2
    assert main(["xi", str(tmp / "missing.npy"), "--rbins", "0", "10"]) == 2
    np.testing.assert_allclose(parse_bins(["log:1:100:2"]), [1.0, 10.0, 100.0])


def test_tables_use_newline_line_endings_and_name_their_figure(catalogues, capsys):
    tmp, data, _ = catalogues
    assert main(["xi", str(tmp / "data.npy"), "--box", "100", "--rbins", "log:2:40:6"]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out and captured.out.count("\n") == 7  # header + 6 bins, no figure
    assert "counting pairs of 400 points" in captured.err
    assert not list(tmp.glob("*.png"))
    out = tmp / "xi.csv"
    assert main(["xi", str(tmp / "data.npy"), "--box", "100", "--rbins", "log:2:40:6", "--out", str(out)]) == 0
    assert b"\r" not in out.read_bytes()
    assert (tmp / "xi.png").read_bytes()[:4] == b"\x89PNG"  # beside --out, named after it
    assert f"wrote {out} and {tmp / 'xi.png'}" in capsys.readouterr().err
    assert main(["xi", str(tmp / "data.npy"), "--box", "100", "--rbins", "log:2:40:6", "--out",
                 str(tmp / "xi2.json"), "--no-plot"]) == 0
    assert not (tmp / "xi2.png").exists()
    assert main(["3pcf", str(tmp / "data.npy"), "--box", "100", "--rbins", "lin:6:18:2", "--lmax", "2",
                 "--out", str(tmp / "zeta.csv"), "--plot", str(tmp / "zeta_maps.pdf")]) == 0
    assert (tmp / "zeta_maps.pdf").read_bytes()[:4] == b"%PDF" and not (tmp / "zeta.png").exists()


def test_3pcf_counts_only_when_asked_and_they_are_the_triplet_counts(catalogues):
    from cosmojax.stats.triplets import triplet_counts

    tmp, data, _ = catalogues
    out = tmp / "ddd.json"
    assert main(["3pcf", str(tmp / "data.npy"), "--box", "100", "--rbins", "lin:6:18:2", "--counts",
                 "--out", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["meta"]["quantity"].startswith("raw triangle counts DDD")
    expect = triplet_counts(data, edges=np.array([6.0, 12.0, 18.0]), box_size=100.0).counts
    assert [r["DDD"] for r in table["rows"]] == [int(expect[a, b, c]) for a, b, c in [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)]]
    assert all(set(r) >= {"r1_lo", "r1_hi", "r2_lo", "r2_hi", "r3_lo", "r3_hi"} for r in table["rows"])

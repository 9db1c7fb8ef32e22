"""The ``cosmojax simulate`` command."""

import json
import os

import numpy as np

from cosmojax.cli import main
from cosmojax.io import read_snapshot


def test_simulate_writes_snapshots_and_a_power_spectrum_plot(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["simulate", "--mesh", "8", "--box", "64", "--steps", "2", "--snapshots", "0.5", "1.0"]
    assert main(argv + ["--out", str(out), "--no-progress"]) == 0
    assert "wrote 2 snapshot(s)" in capsys.readouterr().out
    snap = read_snapshot(out / "snapshot_a1.0000.npz")
    assert snap["pos"].shape == (512, 3) and snap["vel"].shape == (512, 3)
    assert snap["density"].shape == (8, 8, 8)
    assert np.all((snap["pos"] >= 0) & (snap["pos"] < 64.0))
    # mass conservation: the overdensity mesh has zero mean
    assert abs(float(snap["density"].mean())) < 1e-5
    assert snap["meta"]["a"] == 1.0
    summary = json.loads((out / "pk.json").read_text())
    early, late = summary["power"]["0.5000"], summary["power"]["1.0000"]
    # structure grows: the largest-scale power rises between a = 0.5 and 1
    assert late["power"][0] > early["power"][0] > 0
    # the references drawn in pk.png: linear theory and halofit at each snapshot
    from cosmojax.cosmology import growth_factor, planck2018

    growth = float(growth_factor(planck2018(), 1.0) / growth_factor(planck2018(), 0.5))
    np.testing.assert_allclose(np.divide(late["linear"], early["linear"]), growth**2, rtol=1e-4)
    assert all(h >= 0.98 * l for h, l in zip(late["halofit"], late["linear"]))
    assert os.path.getsize(out / "pk.png") > 1000


def test_simulate_rejects_bad_input(tmp_path, capsys):
    argv = ["simulate", "--mesh", "8", "--box", "64", "--a-init", "1.5", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    assert "--a-init must be a scale factor between 0 and 1" in capsys.readouterr().err
    assert main(["simulate", "--steps", "-1", "--out", str(tmp_path), "--no-progress"]) == 2


def test_simulate_refuses_an_unusable_out_before_simulating(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["simulate", "--mesh", "8", "--box", "64", "--out", str(blocker), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and err.count("\n") == 1
    assert blocker.read_text() == "not a folder"

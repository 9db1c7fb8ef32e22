import json
import os

import numpy as np

from cosmojax.cli import main


def test_demo_writes_table_plot_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--mesh", "16", "--box", "200", "--realisations", "4", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "k [h/Mpc]" in printed and "chi2 per bin" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mesh_shape"] == [16, 16, 16] and summary["realisations"] == 4
    k = np.array(summary["k_h_mpc"])
    meas, inp, n = (np.array(summary[f]) for f in ("power_measured", "power_input", "n_modes"))
    assert np.all(np.diff(k) > 0) and k.size == len(meas) == len(inp)
    # the measured mean sits on the input within cosmic variance
    pull = (meas - inp) / (inp * np.sqrt(2 / (n * 4)))
    assert np.all(np.abs(pull) < 4)
    png = out / "power_spectrum.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 10_000


def test_demo_rejects_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--mesh", "15", "--out", str(tmp_path)]) == 2
    assert "--mesh must be an even number" in capsys.readouterr().err

"""Bad input to the catalogue and demo sub-commands: one line on stderr naming the command-line
option or file, exit status 2, no traceback, and the --out path checked before any work."""

import os
import re

import numpy as np
import pytest

from cosmojax.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    np.save(tmp_path / "d.npy", rng.uniform(0, 100.0, (60, 3)))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    np.save(tmp_path / "one.npy", np.ones((1, 3)))
    np.save(tmp_path / "outside.npy", rng.uniform(0, 150.0, (60, 3)))
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPYgarbage")
    (tmp_path / "bad.csv").write_text("x,y,z\n1,2,3\n4,abc,6\n")
    (tmp_path / "empty.csv").write_text("x,y,z\n")
    return tmp_path


def _run(argv, capsys):
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return status, err


BOX = ["--rbins", "lin:0:30:3", "--box", "100"]
CASES = [
    (["xi", "{t}/empty.npy", *BOX], "data: .*empty.npy holds 0 points"),
    (["xi", "{t}/one.npy", *BOX], "data: .*one.npy holds 1 points; at least 2"),
    (["xi", "{t}/empty.csv", *BOX], "holds 0 points"),
    (["xi", "{t}/corrupt.npy", *BOX], "corrupt.npy is not a readable .npy file"),
    (["xi", "{t}/bad.csv", *BOX], "bad.csv, line 3, column 2: 'abc' is not a number"),
    (["xi", "{t}/missing.npy", *BOX], "does not exist"),
    (["xi", "{t}/outside.npy", *BOX], "outside the periodic box .* --box"),
    (["xi", "{t}/d.npy", "--randoms", "{t}/empty.npy", "--rbins", "lin:0:30:3"], "--randoms: .* 0 points"),
    (["xi", "{t}/d.npy", "--rbins", "lin:0:30:2.5", "--box", "100"], "--rbins N must be a whole number"),
    (["xi", "{t}/d.npy", "--rbins", "lin:a:30:2", "--box", "100"], "--rbins START and STOP must be numbers"),
    (["xi", "{t}/d.npy", "--rbins", "30", "10", "--box", "100"], "--rbins edges must be .* strictly increasing"),
    (["xi", "{t}/d.npy", "--rbins", "10", "--box", "100"], "--rbins needs at least 2 edges"),
    (["xi", "{t}/d.npy", "--rbins", "0", "60", "--box", "100"], "exceeds half the box side"),
    (["xi", "{t}/d.npy", "--rbins", "lin:0:30:3", "--box", "-5"], "--box must be a positive"),
    (["xi", "{t}/d.npy", "--rbins", "lin:0:30:3", "--box", "nan"], "--box must be a positive"),
    (["xi", "{t}/d.npy", "--rbins", "lin:0:30:3"], "give --randoms .* or --box"),
    (["xi", "{t}/d.npy", *BOX, "--chunk-size", "0"], "--chunk-size must be >= 1"),
    (["xi", "{t}/d.npy", *BOX, "--out", "{t}/nodir/xi.csv"], "--out .* does not exist"),
    (["xi", "{t}/d.npy", *BOX, "--out", "{t}"], "--out .* is a folder"),
    (["xi", "{t}/d.npy", *BOX, "--out", "{t}/d.npy/xi.csv"], "--out .* does not exist"),
    (["3pcf", "{t}/empty.npy", "--rbins", "lin:5:30:3", "--box", "100", "--counts"], "data: .* 0 points; at least 3"),
    (["3pcf", "{t}/d.npy", "--rbins", "lin:5:30:3", "--box", "100"], "give --randoms .* --lmax .* or --counts"),
    (["3pcf", "{t}/d.npy", "--rbins", "lin:5:30:3", "--box", "100", "--counts", "--lmax", "2"], "leave out --lmax"),
    (["xi", "{t}/d.npy", *BOX, "--plot", "{t}/xi.jpg"], "--plot .* .png, .pdf or .svg"),
    (["xi", "{t}/d.npy", *BOX, "--plot", "{t}/xi.png", "--no-plot"], "--plot and --no-plot"),
    (["xi", "{t}/d.npy", *BOX, "--out", "{t}/xi.png"], "--plot and --out are the same file"),
    (["xi", "{t}/d.npy", *BOX, "--plot", "{t}/nodir/xi.png"], "--plot .* does not exist"),
    (["3pcf", "{t}/d.npy", "--rbins", "lin:5:30:3", "--box", "100", "--lmax", "-1"], "--lmax must be >= 0"),
    (["3pcf", "{t}/d.npy", "--rbins", "lin:5:30:3", "--randoms", "{t}/d.npy", "--lmax", "2"], "--lmax with --randoms"),
    (["3pcf", "{t}/d.npy", "--rbins", "lin:5:30:3", "--box", "100", "--counts", "--out", "{t}/no/z.json"],
     "--out .* does not exist"),
    (["simulate", "--a-init", "1.2", "--out", "{t}/run"], r"--a-init must be a scale factor between 0 and 1 .*got 1\.2\.$"),
    (["simulate", "--snapshots", "0.5", "1.5", "--out", "{t}/run"], r"--snapshots must be .* \(--a-init 0\.1, 1\] .*got 1\.5\.$"),
    (["simulate", "--snapshots", "0.05", "--out", "{t}/run"], r"--snapshots .*got 0\.05\.$"),
    (["simulate", "--snapshots", "0.5", "0.5", "--out", "{t}/run"], "--snapshots lists a scale factor twice"),
    (["simulate", "--mesh", "2", "--out", "{t}/run"], "--mesh must be a whole number >= 4"),
    (["simulate", "--box", "-1", "--out", "{t}/run"], "--box must be a positive"),
    (["demo", "--out", "{t}/d.npy"], "--out .* is a file"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(c[0][:1] + c[0][2:]).replace("{t}/", "") for c in CASES])
def test_bad_input_is_one_line_on_stderr_and_status_2(files, capsys, argv, match):
    status, err = _run([a.replace("{t}", str(files)) for a in argv], capsys)
    assert status == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"cosmojax {argv[0]}: error: ")
    assert re.search(match, err[0]), err[0]
    assert "Traceback" not in err[0] and "box_size" not in err[0] and "np.float64" not in err[0]
    assert not os.path.exists(files / "run")  # refused before any output folder was made


def test_out_path_is_checked_before_the_pairs_are_counted(files, capsys, monkeypatch):
    import cosmojax.stats.estimators as estimators

    def never(*args, **kwargs):
        raise AssertionError("the computation started before --out was checked")

    monkeypatch.setattr(estimators, "correlation_function", never)
    status, err = _run(["xi", str(files / "d.npy"), *BOX, "--out", str(files / "nodir" / "x.csv")], capsys)
    assert status == 2 and "--out" in err[0]
    # and with a good --out the same monkeypatched computation is reached (the check is not vacuous)
    with pytest.raises(AssertionError, match="computation started"):
        main(["xi", str(files / "d.npy"), *BOX, "--out", str(files / "x.csv")])
    assert not os.path.exists(files / "x.csv")  # the probe leaves no file behind


def test_empty_catalogue_never_gives_nan_rows_with_status_0(files, capsys):
    status = main(["xi", str(files / "empty.npy"), *BOX, "--out", str(files / "xi.csv")])
    assert status != 0
    assert not os.path.exists(files / "xi.csv")


def test_unwritable_out_is_reported_before_the_work(files, capsys, monkeypatch):
    # the permission failure is simulated, so the check is exercised even where the tests run as root
    import tempfile

    import cosmojax.io

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cosmojax.io, "open", denied, raising=False)
    status, err = _run(["xi", str(files / "d.npy"), *BOX, "--out", str(files / "x.csv")], capsys)
    assert status == 2 and err == [f"cosmojax xi: error: --out '{files / 'x.csv'}' cannot be written: Permission denied."]
    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    status, err = _run(["demo", "--out", str(files / "demo")], capsys)
    assert status == 2 and "--out" in err[0] and "cannot be written: Permission denied" in err[0]

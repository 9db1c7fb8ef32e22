import subprocess
import sys

import pytest

import cosmojax
from cosmojax.cli import build_parser, main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cosmojax {cosmojax.__version__}"
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_every_command_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "demo" in sub.choices
    for name, p in sub.choices.items():
        assert p.format_help().startswith("usage: cosmojax " + name)


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "cosmojax.cli", "--help"], capture_output=True, text=True, check=True)
    assert "Differentiable cosmology" in out.stdout


@pytest.mark.parametrize("argv", [["demo", "--mesh", "8.5"], ["nosuch"], ["xi"]])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err

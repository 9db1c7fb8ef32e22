import os
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


def test_help_imports_none_of_the_heavy_libraries():
    """``cosmojax --help`` and every sub-command's help answer at once: jax, matplotlib,
    healpy and flax are imported only when a sub-command runs."""
    probe = (
        "import sys\n"
        "from cosmojax.cli import main\n"
        "for argv in (['--help'], ['xi', '--help'], ['simulate', '--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('LOADED', sorted(m for m in ('jax', 'matplotlib', 'healpy', 'flax', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "LOADED []"


@pytest.mark.parametrize("argv", [["demo", "--mesh", "8.5"], ["nosuch"], ["xi"]])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


def _demo_in_subprocess(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    environ.update(XDG_CACHE_HOME=str(tmp_path / "cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", **env)
    subprocess.run([sys.executable, "-m", "cosmojax", "demo", "--mesh", "8", "--realisations", "1", "--no-progress",
                    "--out", str(tmp_path / "demo")], capture_output=True, text=True, check=True, env=environ)
    folder = tmp_path / "cache" / "cosmojax" / "jax"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_commands_keep_compiled_programs_for_the_next_run(tmp_path):
    assert _demo_in_subprocess(tmp_path, COSMOJAX_NO_CACHE="1") == []
    first = _demo_in_subprocess(tmp_path)
    assert first, "the demo's compiled programs were not cached"
    assert _demo_in_subprocess(tmp_path) == first  # the second run reads them back and adds nothing

"""The package's shape: lazy subpackages, light imports, layering, ``python -m cosmojax``."""

import ast
import pathlib
import subprocess
import sys

import pytest

import cosmojax

ROOT = pathlib.Path(cosmojax.__file__).parent

# DESIGN.md: a module may import from the floors above it in this list, never below; the
# ground floor (parallel, io, plotting and the private helpers) is open to all, cli/commands to none.
FLOORS = ["cosmology", "projected", "mesh", "sphere", "sims", "stats", "nn", "imnn", "infer", "apps"]
GROUND = {"parallel", "io", "plotting", "_validate", "_interp", "_pytree", "_loop"}
ROOF = {"cli", "commands", "__main__"}


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_import_cosmojax_loads_no_subpackage():
    out = _run("import sys, cosmojax; print(sorted(m for m in sys.modules if m.startswith('cosmojax.')))")
    assert out.strip() == "[]"


def test_subpackages_load_on_first_use():
    assert cosmojax.stats.__name__ == "cosmojax.stats"
    assert "stats" in dir(cosmojax)
    with pytest.raises(AttributeError, match="no attribute 'statistics'"):
        cosmojax.statistics  # noqa: B018


def test_cosmology_import_pulls_no_network_sampler_or_healpix():
    heavy = ("flax", "optax", "numpyro", "blackjax", "healpy", "matplotlib", "tqdm")
    out = _run(f"import sys, cosmojax.cosmology; print([m for m in {heavy!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_python_dash_m_cosmojax():
    help_text = subprocess.run([sys.executable, "-m", "cosmojax", "--help"], capture_output=True, text=True, check=True)
    assert help_text.stdout.startswith("usage: cosmojax")
    version = subprocess.run([sys.executable, "-m", "cosmojax", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"cosmojax {cosmojax.__version__}"


def _floor(module: str):
    """The DESIGN.md floor of a dotted module name inside cosmojax, or None outside it."""
    parts = module.split(".")
    if parts[0] != "cosmojax" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: pathlib.Path):
    """(imported module, imported names) of every ``import``/``from`` in a source file."""
    tree = ast.parse(path.read_text())
    package = ".".join(("cosmojax",) + path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _sources():
    return sorted(p for p in ROOT.rglob("*.py"))


def test_no_import_runs_down_the_floors():
    wrong = []
    for path in _sources():
        own = path.relative_to(ROOT).parts[0].removesuffix(".py")
        if own in ROOF or own in GROUND or own == "__init__":
            continue
        for module, _ in _imports(path):
            other = _floor(module)
            if other is None or other == own or other in GROUND:
                continue
            if other in ROOF or FLOORS.index(other) > FLOORS.index(own):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_no_private_name_of_another_package_is_imported():
    wrong = []
    for path in _sources():
        own = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for module, names in _imports(path):
            other = _floor(module)
            if other is None or other == own or other in GROUND:
                continue
            private = [n for n in names if n.startswith("_")]
            private += [p for p in module.split(".")[2:] if p.startswith("_")]
            if private:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}: {private}")
    assert wrong == []


def test_infer_reaches_sims_only_through_its_public_exports():
    wrong = []
    for path in (ROOT / "infer").rglob("*.py"):
        for module, _ in _imports(path):
            if module.startswith("cosmojax.sims."):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []

"""The ``cosmojax`` command.

Sub-commands live in ``cosmojax.commands``, one module each, found by name: ``cosmojax
demo``, and the others listed by ``cosmojax --help``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import cosmojax
from cosmojax import commands


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="cosmojax",
        description="Differentiable cosmology in JAX: simulate, measure, compress, infer.",
    )
    parser.add_argument("--version", action="version", version=f"cosmojax {cosmojax.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"cosmojax.commands.{info.name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``) and run the sub-command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        print(f"cosmojax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

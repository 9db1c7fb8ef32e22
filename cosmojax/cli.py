"""The ``cosmojax`` command.

Sub-commands live in ``cosmojax.commands``, one module each, found by name: ``cosmojax
demo``, and the others listed by ``cosmojax --help``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import cosmojax
from cosmojax import commands


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = _Parser(
        prog="cosmojax",
        description="Differentiable cosmology in JAX: simulate, measure, compress, infer.",
    )
    parser.add_argument("--version", action="version", version=f"cosmojax {cosmojax.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"cosmojax.commands.{info.name}").register(subparsers)
    return parser


def compilation_cache_folder() -> str | None:
    """The folder where sub-commands keep JAX's compiled programs between runs, so that a
    second run of the same size skips the compilations that took over a second:
    ``$JAX_COMPILATION_CACHE_DIR``
    when set, else ``$XDG_CACHE_HOME/cosmojax/jax`` (``~/.cache/cosmojax/jax``). None when
    ``COSMOJAX_NO_CACHE`` is set or the folder cannot be created (the command then compiles
    as usual)."""
    if os.environ.get("COSMOJAX_NO_CACHE"):
        return None
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cosmojax", "jax")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def main(argv=None) -> int:
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``) and run the sub-command.

    Returns the exit status: 0 on success, 2 for bad arguments or files (``ValueError``,
    ``TypeError`` or ``OSError`` from the sub-command, printed as one line on stderr, with no
    traceback), 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    folder = compilation_cache_folder()
    if folder is not None and "jax" not in sys.modules:  # read by JAX when it is first imported
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError) as err:
        # Bad arguments, unreadable or malformed files, unwritable outputs: one line, no traceback.
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"cosmojax {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cosmojax {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

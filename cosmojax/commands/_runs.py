"""Arguments shared by the simulation sub-commands (``demo``, ``simulate``)."""

from __future__ import annotations


def add_mesh_arguments(p, *, mesh: int, box: float, mesh_help: str) -> None:
    """Add ``--mesh`` (cells or particles per side, ``mesh_help``) and ``--box`` (Mpc/h)."""
    p.add_argument("--mesh", type=int, default=mesh, help=f"{mesh_help} (default {mesh})")
    p.add_argument("--box", type=float, default=box, help=f"box side, Mpc/h (default {box:g})")


def add_output_arguments(p, *, out: str) -> None:
    """Add ``--seed`` (of the root PRNG key), ``--out`` (the output folder) and ``--no-progress``."""
    p.add_argument("--seed", type=int, default=0, help="seed of the root PRNG key")
    p.add_argument("--out", default=out, help=f"output folder (default ./{out})")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def check_out_dir(out: str) -> None:
    """Check, before any work, that ``--out`` is a folder that exists or can be created, and
    that files can be written in it (``cosmojax.io.check_output_folder``); raises
    ``ValueError`` naming ``--out`` otherwise.
    """
    from cosmojax.io import check_output_folder

    check_output_folder("--out", out)

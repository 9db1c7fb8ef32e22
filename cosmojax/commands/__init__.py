"""Sub-commands of the ``cosmojax`` command line, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func=run`` where ``run(args) -> int`` does the work. ``cosmojax.cli`` finds the modules
here by name, so adding a command means adding a module.
"""

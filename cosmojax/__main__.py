"""``python -m cosmojax``: the same command line as ``cosmojax``."""

import sys

from cosmojax.cli import main

sys.exit(main())

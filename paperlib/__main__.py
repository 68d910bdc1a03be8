"""``python -m paperlib``: the command line of :mod:`paperlib.cli` (``list``, ``reproduce``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

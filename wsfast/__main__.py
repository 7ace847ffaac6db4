"""``python -m wsfast``: the same command line as the ``wsfast`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

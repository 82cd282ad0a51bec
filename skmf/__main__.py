"""``python -m skmf``: the ``skmf`` command, defined in :mod:`skmf._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())

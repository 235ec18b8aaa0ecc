"""``python -m aesens.figures``: every figure and the summary (:mod:`aesens.reporting.figures`)."""

import sys

from aesens.errors import run_cli
from aesens.reporting.figures import main

if __name__ == "__main__":
    sys.exit(run_cli(main))

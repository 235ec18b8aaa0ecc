"""``python -m aesens.scorecard``: the sensitivity scorecard (:mod:`aesens.reporting.scorecard`)."""

import sys

from aesens.errors import run_cli
from aesens.reporting.scorecard import main

if __name__ == "__main__":
    sys.exit(run_cli(main))

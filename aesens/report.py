"""``python -m aesens.report``: ``results/summary.md`` (:mod:`aesens.reporting.report`)."""

import sys

from aesens.errors import run_cli
from aesens.reporting.report import main

if __name__ == "__main__":
    sys.exit(run_cli(main))

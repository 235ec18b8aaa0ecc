"""``python -m aesens.html_report``: the HTML report (:mod:`aesens.reporting.html_report`)."""

import sys

from aesens.errors import run_cli
from aesens.reporting.html_report import main

if __name__ == "__main__":
    sys.exit(run_cli(main))

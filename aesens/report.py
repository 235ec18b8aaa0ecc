"""``python -m aesens.report``: ``results/summary.md`` (:mod:`aesens.reporting.report`)."""

import sys

from aesens.cli.commands import report_parser
from aesens.errors import run_cli


def main(argv: list[str] | None = None) -> int:
    """Answer ``--help`` and usage errors first, then import and run the stage."""
    report_parser().parse_args(argv)
    from aesens.reporting.report import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))

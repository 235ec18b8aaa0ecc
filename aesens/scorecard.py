"""``python -m aesens.scorecard``: the sensitivity scorecard (:mod:`aesens.reporting.scorecard`)."""

import sys

from aesens.cli.commands import scorecard_parser
from aesens.errors import run_cli


def main(argv: list[str] | None = None) -> int:
    """Answer ``--help`` and usage errors first, then import and run the stage."""
    scorecard_parser().parse_args(argv)
    from aesens.reporting.scorecard import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))

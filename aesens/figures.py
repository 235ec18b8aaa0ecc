"""``python -m aesens.figures``: every figure and the summary (:mod:`aesens.reporting.figures`)."""

import sys

from aesens.cli.commands import figures_parser
from aesens.errors import run_cli


def main(argv: list[str] | None = None) -> int:
    """Answer ``--help`` and usage errors first, then import and run the stage."""
    figures_parser().parse_args(argv)
    from aesens.reporting.figures import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))

"""User-facing errors and the command-line wrapper that prints them on one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


class AesensError(Exception):
    """An error caused by the user's input or environment.

    The message is a single line that names the offending file or value and
    says how to fix it. Command-line entry points print it without a
    traceback (see :func:`run_cli`).
    """


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run a command-line ``main`` and turn :class:`AesensError` into a one-line message.

    Parameters
    ----------
    main : callable
        Function taking the argument list (or ``None`` for ``sys.argv[1:]``)
        and returning an exit code or ``None``.
    argv : list of str, optional
        Arguments to pass on.

    Returns
    -------
    int
        The exit code: 0 on success, 2 for a user error, 130 on Ctrl-C.
    """
    try:
        code = main(argv)
    except AesensError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; rerun the same command to resume",
              file=sys.stderr)
        return 130
    return int(code or 0)

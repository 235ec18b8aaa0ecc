"""User-facing errors and the command-line wrapper that prints them on one line."""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Callable

#: What to do about an operating-system error, by ``errno``.
OS_ERROR_HINTS = {
    errno.ENOENT: "check the path (run the earlier stage that writes it first)",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.ENOSPC: "free some disk space and rerun the same command (finished results are kept)",
    errno.EDQUOT: "free some disk space and rerun the same command (finished results are kept)",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a component of the path is a file, not a folder; move it away or choose "
                   "another path",
    errno.EROFS: "the file system is read-only; choose another output folder",
}


class AesensError(Exception):
    """An error caused by the user's input or environment.

    The message is a single line that names the offending file or value and
    says how to fix it. Command-line entry points print it without a
    traceback (see :func:`run_cli`).
    """


def describe_os_error(error: OSError) -> str:
    """One line naming the file of an operating-system error and what to do about it.

    Parameters
    ----------
    error : OSError
        The error (h5py's file errors are ``OSError`` too).

    Returns
    -------
    str
        ``<file>: <reason>; <hint>``.
    """
    reason = error.strerror or str(error) or type(error).__name__
    where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name)
    hint = OS_ERROR_HINTS.get(error.errno or -1,
                              "check that the file is complete and was written by this tool "
                              "(rerun the stage that writes it)")
    return f"{where + ': ' if where else ''}{reason}; {hint}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_csv_parse_error(error: Exception) -> bool:
    """Whether ``error`` is pandas' (or the text decoder's) refusal of a damaged CSV file.

    pandas is imported here, not before the command runs, so that a Ctrl-C while it
    loads is caught as an interruption like any other.
    """
    import pandas as pd

    return isinstance(error, (pd.errors.ParserError, pd.errors.EmptyDataError,
                              UnicodeDecodeError))


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run a command-line ``main`` and turn expected failures into a one-line message.

    Expected failures are :class:`AesensError`, operating-system errors on
    files (missing, unreadable, disk full; h5py's are ``OSError`` too) and
    CSV files that do not parse; each prints ``error: ...`` on one line.
    Anything else is a bug: its traceback is printed with a request to
    report it.

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
        The exit code: 0 on success, 2 for a user or file error, 130 on
        Ctrl-C, 1 for an unexpected error.
    """
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; rerun the same command to resume",
              file=sys.stderr)
        return 130
    except AesensError as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {_one_line(describe_os_error(error))}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the last resort of a command line
        if _is_csv_parse_error(error):
            print(f"error: a CSV file does not parse ({_one_line(str(error))}); check that it is "
                  "a complete comma-separated file with its header line", file=sys.stderr)
            return 2
        traceback.print_exc()
        print("error: an unexpected error (a bug in aesens); please report it with the "
              "command line and the traceback above", file=sys.stderr)
        return 1
    return int(code or 0)

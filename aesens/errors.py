"""User-facing errors and the command-line wrapper that prints them on one line."""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator

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


def _is_csv_error(error: Exception) -> bool:
    """Whether an error is a CSV file that does not parse (pandas is imported only by then)."""
    pandas = sys.modules.get("pandas")
    csv_errors = (pandas.errors.ParserError, pandas.errors.EmptyDataError) if pandas else ()
    return isinstance(error, (UnicodeDecodeError, *csv_errors))


#: Set by Ctrl-C while :func:`run_cli` runs a command (see :func:`raise_if_interrupted`).
_INTERRUPTED = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    """SIGINT handler: remember the Ctrl-C, then raise it as Python's own handler does."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came during this command.

    Python reports and then ignores an exception raised inside a garbage
    collector or weakref callback (Dask's, for one); a Ctrl-C that lands there
    would otherwise be lost, with a traceback, and the command would run on to
    the end. While :func:`run_cli` runs a command such a Ctrl-C is kept quiet
    and remembered; long loops call this between their steps.
    """
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def _remembering_interrupts() -> Iterator[None]:
    """Install :func:`_interrupt` for SIGINT, restoring the previous handler afterwards.

    Only where Python's own handler is in place (in the main thread): a
    process started with SIGINT ignored, as a shell's background job is,
    keeps ignoring it.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _INTERRUPTED.clear()
    previous, previous_hook = signal.signal(signal.SIGINT, _interrupt), sys.unraisablehook

    def quiet_when_remembered(unraisable: object) -> None:
        # Python prints the traceback of an exception it ignores (in a weakref or gc
        # callback); a Ctrl-C landing there is remembered and raised at the next check.
        if not isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = quiet_when_remembered
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


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
        with _remembering_interrupts():
            code = main(argv)
            raise_if_interrupted()
    except AesensError as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {_one_line(describe_os_error(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; rerun the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last resort of a command line
        if _is_csv_error(error):
            print(f"error: a CSV file does not parse ({_one_line(str(error))}); check that it "
                  "is a complete comma-separated file with its header line", file=sys.stderr)
            return 2
        traceback.print_exc()
        print("error: an unexpected error (a bug in aesens); please report it with the "
              "command line and the traceback above", file=sys.stderr)
        return 1
    return int(code or 0)


def first_few(values: Iterable[object], count: int = 3, quoted: bool = False) -> str:
    """The first ``count`` values for an error message, ``, ...`` when there are more
    (each as ``repr`` of its text when ``quoted``)."""
    values = list(values)
    shown = ", ".join(repr(str(value)) if quoted else str(value) for value in values[:count])
    return shown + (", ..." if len(values) > count else "")

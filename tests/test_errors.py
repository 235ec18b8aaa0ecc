"""run_cli: expected failures end in one line and exit 2, bugs keep their traceback."""

from __future__ import annotations

import errno
import signal
import weakref

import h5py
import pandas as pd
import pytest

from aesens.errors import AesensError, run_cli


def _failing(error: BaseException):
    def main(argv):
        raise error
    return main


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("error", [
    AesensError("bad.h5 is damaged;\nrerun the stage"),
    FileNotFoundError(errno.ENOENT, "No such file or directory", "embeddings/embeddings.h5"),
    PermissionError(errno.EACCES, "Permission denied", "results/gain"),
    OSError(errno.ENOSPC, "No space left on device", "out.h5.part"),
])
def test_expected_errors_are_one_line(error, capsys):
    assert run_cli(_failing(error)) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert line.startswith("error: ")
    if isinstance(error, OSError):
        assert error.filename in line


def test_disk_full_says_what_to_do(capsys):
    run_cli(_failing(OSError(errno.ENOSPC, "No space left on device", "x.h5")))
    assert "free some disk space" in capsys.readouterr().err


def test_h5py_and_csv_errors_are_one_line(tmp_path, capsys):
    garbage = tmp_path / "embeddings.h5"
    garbage.write_bytes(b"not an HDF5 file")

    def open_garbage(argv):
        h5py.File(garbage, "r")

    assert run_cli(open_garbage) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert line.startswith("error: ") and "file signature not found" in line

    empty = tmp_path / "split.csv"
    empty.write_text("")
    assert run_cli(lambda argv: pd.read_csv(empty)) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert "does not parse" in line

    broken = tmp_path / "result.csv"
    broken.write_text('a,b\n1,"2\n')
    assert run_cli(lambda argv: pd.read_csv(broken)) == 2
    (line,) = _lines(capsys.readouterr().err)
    assert "does not parse" in line


def test_bug_keeps_traceback_and_asks_for_a_report(capsys):
    assert run_cli(_failing(ZeroDivisionError("division by zero"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert "please report it" in _lines(err)[-1]


def test_success_and_interrupt(capsys):
    assert run_cli(lambda argv: None) == 0
    assert run_cli(lambda argv: 3) == 3
    assert run_cli(_failing(KeyboardInterrupt())) == 130
    assert "rerun the same command" in capsys.readouterr().err


def _swallowing_a_ctrl_c(argv):
    """A command during which Ctrl-C lands where Python ignores the exception.

    Python reports (through ``sys.unraisablehook``) and then ignores an
    exception raised in a weakref or garbage-collector callback.
    """
    class Held:
        pass

    held = Held()
    reference = weakref.ref(held, lambda ref: signal.raise_signal(signal.SIGINT))
    del held  # the callback runs now; its KeyboardInterrupt is ignored
    assert reference() is None
    return 0


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler, as in a foreground process (a background job ignores it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_that_a_library_swallowed_still_stops_the_command(capsys, python_sigint):
    assert run_cli(_swallowing_a_ctrl_c) == 130
    assert _lines(capsys.readouterr().err) == [
        "interrupted: finished results are kept; rerun the same command to resume"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert run_cli(lambda argv: 0) == 0  # the next command starts afresh


def test_an_ignored_sigint_stays_ignored():
    """A command started with SIGINT ignored (a shell's background job) keeps ignoring it."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert run_cli(_swallowing_a_ctrl_c) == 0
    finally:
        signal.signal(signal.SIGINT, before)

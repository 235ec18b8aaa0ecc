"""Checks on the paths a command line is given, made before any work.

:func:`refuse_overwriting_inputs` stops a command whose output path is, or
resolves to, one of its inputs (the same name spelled another way, a symbolic
link, a hard link), which would otherwise replace the input by the output.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from aesens.errors import AesensError

PathLike = str | os.PathLike


def same_file(first: PathLike, second: PathLike) -> bool:
    """Whether two paths name the same file.

    Parameters
    ----------
    first, second : path
        Paths, existing or not.

    Returns
    -------
    bool
        For two existing paths, :func:`os.path.samefile` (same device and
        inode: symbolic and hard links included); otherwise whether they
        resolve to the same absolute path (``./`` spellings, ``..`` and
        linked folders included).
    """
    first, second = Path(first), Path(second)
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:  # unreadable: compare the names
        pass
    return Path(os.path.realpath(first)) == Path(os.path.realpath(second))


def refuse_overwriting_inputs(outputs: Iterable[PathLike | None],
                              inputs: Iterable[PathLike | None]) -> None:
    """Raise a one-line :class:`AesensError` if an output path is one of the inputs.

    Parameters
    ----------
    outputs : iterable of path or None
        Files the command will write (``None`` entries are ignored).
    inputs : iterable of path or None
        Files the command reads (``None`` entries are ignored).

    Raises
    ------
    AesensError
        Naming the output, the input it resolves to, and the fix.
    """
    sources = [Path(path) for path in inputs if path is not None]
    for output in (Path(path) for path in outputs if path is not None):
        for source in sources:
            if same_file(output, source):
                spelled = "" if str(output) == str(source) else f" (resolves to {source})"
                raise AesensError(f"output {output} is the input {source}{spelled}; writing it "
                                  "would destroy the input: choose another output path")

"""The mutation runner's own selection of mutants (tests/mutation/run.py), on a small source."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

RUNNER = runpy.run_path(str(Path(__file__).resolve().parent / "mutation" / "run.py"),
                        run_name="mutation_runner")

SOURCE = '''\
from __future__ import annotations
import numba


@numba.njit(cache=True)
def kernel(x: float) -> float:
    return x * 2


class Data:
    def first(self, rows: list[int] | None = None):
        return rows


def other():
    return 1
'''


def test_function_lines_cover_the_named_definitions_with_decorators():
    lines = RUNNER["function_lines"](SOURCE, ["kernel", "Data.first"])
    assert lines == {5, 6, 7, 11, 12}
    with pytest.raises(SystemExit, match="missing"):
        RUNNER["function_lines"](SOURCE, ["missing"])


def test_annotations_and_numba_decorators_are_spanned():
    spans = RUNNER["annotation_spans"](SOURCE)
    line_of = SOURCE.splitlines()

    def text(span):
        (first, start), (last, end) = span
        assert first == last
        return line_of[first - 1][start:end]

    assert sorted(map(text, spans)) == sorted(["float", "float", "list[int] | None",
                                               "numba.njit(cache=True)"])


def test_every_listed_module_and_function_exists():
    settings = RUNNER["load_settings"]()
    repo = Path(__file__).resolve().parents[1]
    for module in settings["module"]:
        source = (repo / module["path"]).read_text(encoding="utf-8")
        for test in module["tests"]:  # a file, or one test of it ("file::test")
            file, _, name = test.partition("::")
            assert (repo / file).is_file(), test
            assert not name or f"def {name}(" in (repo / file).read_text(encoding="utf-8"), test
        if "functions" in module:
            assert RUNNER["function_lines"](source, module["functions"])

"""Tests of aesens.cli: the --help of every command names itself and carries no markup."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from aesens.cli.commands import plain

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["demo", "figures", "report", "scorecard", "dataset", "sweep.averaged"]
SCRIPTS = sorted(path.name for path in ROOT.glob("*.py")
                 if re.match(r"\d|average_|desensitize_|group_", path.name))
MARKUP = re.compile(r"``|:(func|mod|class|meth|data|attr):`")


def help_text(*command: str) -> str:
    done = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return done.stdout


@pytest.mark.parametrize("module", MODULES)
def test_every_module_command_names_itself_in_its_usage(module):
    text = help_text("-m", f"aesens.{module}")
    assert text.startswith(f"usage: python -m aesens.{module} ")
    assert not MARKUP.search(text)


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_scripts_help_carries_no_markup(script):
    assert not MARKUP.search(help_text(script))


def test_plain_drops_roles_and_literals():
    assert plain("See :func:`~aesens.layout.results_csv_path` and ``-m lda``.") == (
        "See results_csv_path and -m lda.")
    assert plain(":mod:`aesens.analysis.methods`") == "aesens.analysis.methods"

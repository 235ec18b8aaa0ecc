"""environments/*.yml: each parses and installs exactly its pip extra of pyproject.toml.

PyYAML is not a dependency, so the files are read with a parser of the small
subset of YAML that conda environment files use (checked against PyYAML
when it happens to be installed).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ["openl3", "panns", "clap", "analysis"]


def parse_conda_env(text: str) -> dict:
    """Parse a conda environment file: top-level ``key: value`` or lists, one nested pip list.

    Parameters
    ----------
    text : str
        File contents.

    Returns
    -------
    dict
        As ``yaml.safe_load`` would return it.
    """
    env: dict = {}
    key = ""
    pip: list[str] | None = None
    pip_indent = 0
    for raw in text.splitlines():
        line = "" if raw.lstrip().startswith("#") else raw.split(" #")[0].rstrip()
        if not line:
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            key, _, value = item.partition(":")
            env[key] = value.strip() or []
            pip = None
        elif pip is not None and indent > pip_indent:
            pip.append(item.removeprefix("- "))
        elif item == "- pip:":
            pip, pip_indent = [], indent
            env[key].append({"pip": pip})
        else:
            pip = None
            env[key].append(item.removeprefix("- "))
    return env


def _extras() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_environment_installs_its_extra(name):
    text = (ROOT / "environments" / f"{name}.yml").read_text()
    env = parse_conda_env(text)
    assert env["name"] == f"aesens-{name}"
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    assert "python=3.11" in conda and "pip" in conda
    (pip,) = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert "-e .." in pip, "the environment installs aesens itself"
    assert sorted(dep for dep in pip if dep != "-e ..") == sorted(_extras()[name])


@pytest.mark.parametrize("name", ["openl3", "clap"])
def test_no_deps_step_is_the_loaders(name):
    """The --no-deps step in the file's instructions is the one the loader's error names."""
    install = importlib.import_module(f"aesens.models.{name}").INSTALL
    no_deps = install.split("&&")[1].strip()
    assert no_deps.startswith("pip install --no-deps ")
    assert f"conda run -n aesens-{name} {no_deps}" in (ROOT / "environments" / f"{name}.yml"
                                                       ).read_text()


def test_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    for name in ENVIRONMENTS:
        text = (ROOT / "environments" / f"{name}.yml").read_text()
        assert parse_conda_env(text) == yaml.safe_load(text)

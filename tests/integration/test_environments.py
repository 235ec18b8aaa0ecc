"""environments/*.yml: each parses and installs exactly its pip extras of pyproject.toml.

The file names are the published ones (``environment-<model>-extract.yml``,
``environment.yml``), plus the PyTorch port of OpenL3.

PyYAML is not a dependency, so the files are read with a parser of the small
subset of YAML that conda environment files use (checked against PyYAML
when it happens to be installed).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
#: Environment file -> (conda environment name, the pyproject extras its pip section installs).
ENVIRONMENTS = {
    "environment-openl3-extract.yml": ("aesens-openl3-tf", ["openl3-tf"]),
    "environment-openl3-torch-extract.yml": ("aesens-openl3", ["openl3"]),
    "environment-panns-extract.yml": ("aesens-panns", ["panns"]),
    "environment-clap-extract.yml": ("aesens-clap", ["clap"]),
    "environment-hf-extract.yml": ("aesens-hf", ["hf"]),
    "environment.yml": ("aesens-analysis", ["analysis", "notebooks", "jupyter"]),
}
#: The environment file of each model loader's ``--no-deps`` install step.
LOADER_ENVIRONMENTS = {"openl3": "environment-openl3-torch-extract.yml",
                       "clap": "environment-clap-extract.yml"}


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


def test_every_environment_file_is_checked():
    assert sorted(path.name for path in (ROOT / "environments").glob("*.yml")) == sorted(
        ENVIRONMENTS)


@pytest.mark.parametrize("file_name", ENVIRONMENTS)
def test_environment_installs_its_extras(file_name):
    env_name, extras = ENVIRONMENTS[file_name]
    env = parse_conda_env((ROOT / "environments" / file_name).read_text())
    assert env["name"] == env_name
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    assert "python=3.11" in conda and "pip" in conda
    (pip,) = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert "-e .." in pip, "the environment installs aesens itself"
    wanted = {requirement for extra in extras for requirement in _extras()[extra]}
    assert sorted(dep for dep in pip if dep != "-e ..") == sorted(wanted)


@pytest.mark.parametrize("name", sorted(LOADER_ENVIRONMENTS))
def test_no_deps_step_is_the_loaders(name):
    """The --no-deps step in the file's instructions is the one the loader's error names."""
    install = importlib.import_module(f"aesens.models.{name}").INSTALL
    no_deps = install.split("&&")[1].strip()
    assert no_deps.startswith("pip install --no-deps ")
    file_name = LOADER_ENVIRONMENTS[name]
    env_name = ENVIRONMENTS[file_name][0]
    assert f"conda run -n {env_name} {no_deps}" in (ROOT / "environments" / file_name).read_text()


def test_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    for file_name in ENVIRONMENTS:
        text = (ROOT / "environments" / file_name).read_text()
        assert parse_conda_env(text) == yaml.safe_load(text)

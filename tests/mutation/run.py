"""Mutation testing of the numeric core with cosmic-ray (``make mutate``).

Each module of ``tests/mutation/modules.toml`` is mutated in a scratch copy of
the repository (the checkout itself is never modified), one mutant at a time,
and its tests are run against every mutant. A mutant that no test fails on
"survives": either a test is missing or the mutation is equivalent (changes
no output). The survivors are printed with their line and diff, and written
to ``<workdir>/survivors_<module>.txt``.

Usage::

    python tests/mutation/run.py                 # every module
    python tests/mutation/run.py split cca       # some modules
    python tests/mutation/run.py --list          # the modules and their tests
    python tests/mutation/run.py cca --functions rank_target,global_cca_direction

Slow (minutes to hours per module); not part of ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the toml package comes with cosmic-ray
    import toml as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
MODULES_FILE = Path(__file__).with_name("modules.toml")
#: What the scratch copy leaves out (environments, caches, outputs).
IGNORED = (".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
           "demo", "datasets", "embeddings", "results", "models", "plots", "build",
           ".ipynb_checkpoints")


def load_settings(path: Path = MODULES_FILE) -> dict:
    """The modules to mutate and the skipped operators, as listed in ``modules.toml``.

    Parameters
    ----------
    path : Path
        The module list.

    Returns
    -------
    dict
        ``module``: one entry per module (``name``, ``path``, ``tests``,
        ``timeout`` and optionally ``functions``); ``skip-operators``: regular
        expressions of the cosmic-ray operator names not run.
    """
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    settings.setdefault("skip-operators", [])
    return settings


def function_lines(source: str, names: list[str]) -> set[int]:
    """Line numbers covered by some functions or methods (``"Class.method"``) of a module.

    Parameters
    ----------
    source : str
        Python source of the module.
    names : list of str
        Top-level function names, or ``Class.method``.

    Returns
    -------
    set of int
        The 1-based lines of those definitions, decorators included.

    Raises
    ------
    SystemExit
        If a name is not defined in the module.
    """
    found: dict[str, ast.AST] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{member.name}"] = member
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"modules.toml names {', '.join(missing)}, which the module does not "
                         "define: correct the functions list")
    lines: set[int] = set()
    for name in names:
        node = found[name]
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        lines.update(range(first, node.end_lineno + 1))
    return lines


def scratch_copy(workdir: Path) -> Path:
    """Copy the repository's sources and tests into ``workdir/repo`` (replacing an old copy)."""
    target = workdir / "repo"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(*IGNORED))
    return target


def test_command(module: dict) -> list[str]:
    """The command that runs a module's tests, stopping at the first failure."""
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            *module["tests"]]


def write_config(module: dict, config: Path) -> None:
    """Write the cosmic-ray configuration of one module."""
    command = " ".join(test_command(module))
    config.write_text("\n".join([
        "[cosmic-ray]",
        f"module-path = {module['path']!r}",
        f"timeout = {float(module.get('timeout', 120))}",
        "excluded-modules = []",
        f"test-command = {command!r}",
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
    ]), encoding="utf-8")


def cosmic_ray(*arguments: str, cwd: Path) -> None:
    """Run a cosmic-ray command in the scratch copy (its own executable, beside Python's)."""
    executable = Path(sys.executable).with_name("cosmic-ray")
    subprocess.run([str(executable), *arguments], cwd=cwd, check=True, env=test_environment(cwd))


def test_environment(repo: Path) -> dict[str, str]:
    """Environment of the test runs: the scratch copy first on the path, fresh numba cache.

    Numba's bounds checking is on, so that a mutant indexing past an array in a compiled
    kernel fails its tests instead of reading whatever memory lies beyond.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
    env["NUMBA_CACHE_DIR"] = str(repo / ".numba-cache")
    env["NUMBA_BOUNDSCHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_imports_copy(repo: Path) -> None:
    """Refuse to run if the tests would import the checkout's package instead of the copy's."""
    found = subprocess.run([sys.executable, "-c", "import aesens; print(aesens.__file__)"],
                           cwd=repo, env=test_environment(repo), capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(repo.resolve()):
        raise SystemExit(f"the tests would import {found}, not the scratch copy in {repo}")


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``(start, end)`` positions of the type annotations and numba decorators of a module.

    Mutants there change no output: annotations are not evaluated (``from
    __future__ import annotations``) and a function without its numba
    decorator computes the same in Python, only slower.
    """
    spans = []
    for node in ast.walk(ast.parse(source)):
        parts: list[ast.AST | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            parts.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(node.returns)
            parts += [decorator for decorator in node.decorator_list
                      if "numba" in ast.unparse(decorator)]
        spans += [((part.lineno, part.col_offset), (part.end_lineno, part.end_col_offset))
                  for part in parts if part is not None]
    return spans


def skip_mutants(session: Path, lines: set[int], source: str, skip_operators: list[str]) -> int:
    """Mark as skipped the mutants outside ``lines``, in annotations, or of skipped operators.

    Returns how many mutants remain to run.
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(source)
    patterns = [re.compile(pattern) for pattern in skip_operators]

    def skipped(mutation) -> bool:
        start = tuple(mutation.start_pos)
        # A removed decorator starts at its "@", one column before the expression.
        inside = (start[0], start[1] + 1) if mutation.operator_name.endswith(
            "RemoveDecorator") else start
        return (start[0] not in lines
                or any(first <= inside <= last for first, last in spans)
                or any(pattern.search(mutation.operator_name) for pattern in patterns))

    with use_db(str(session), WorkDB.Mode.open) as database:
        outside = [item.job_id for item in database.pending_work_items
                   if skipped(item.mutations[0])]
        database.set_multiple_results(outside, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return sum(1 for _ in database.pending_work_items)


def survivors(session: Path) -> tuple[list[str], dict[str, int]]:
    """Descriptions of the surviving mutants, and the count of every outcome."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    lines, counts = [], {}
    with use_db(str(session), WorkDB.Mode.open) as database:
        for item, result in database.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            outcome = str(result.test_outcome or result.worker_outcome)
            counts[outcome] = counts.get(outcome, 0) + 1
            if result.test_outcome != TestOutcome.SURVIVED:
                continue
            mutation = item.mutations[0]
            changed = [line for line in (result.diff or "").splitlines()
                       if line[:1] in "+-" and not line.startswith(("+++", "---"))]
            lines.append(f"{mutation.module_path}:{mutation.start_pos[0]} "
                         f"{mutation.operator_name} #{mutation.occurrence}\n    "
                         + "\n    ".join(changed))
    return lines, counts


def run_module(module: dict, repo: Path, workdir: Path, skip_operators: list[str]) -> list[str]:
    """Mutate one module, run its tests against every mutant and report the survivors."""
    started = time.monotonic()
    config = workdir / f"{module['name']}.toml"
    session = workdir / f"{module['name']}.sqlite"
    session.unlink(missing_ok=True)
    write_config(module, config)
    baseline = subprocess.run(test_command(module), cwd=repo, env=test_environment(repo),
                              capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"[{module['name']}] the tests fail before any mutation:\n"
                         + baseline.stdout[-2000:])
    cosmic_ray("init", str(config), str(session), cwd=repo)
    source = (repo / module["path"]).read_text(encoding="utf-8")
    functions = module.get("functions")
    lines = function_lines(source, functions) if functions else set(
        range(1, source.count("\n") + 2))
    remaining = skip_mutants(session, lines, source, skip_operators)
    print(f"[{module['name']}] {remaining} mutants; tests: {' '.join(module['tests'])}",
          flush=True)
    cosmic_ray("exec", str(config), str(session), cwd=repo)
    found, counts = survivors(session)
    minutes = (time.monotonic() - started) / 60
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    report = [f"[{module['name']}] {summary} in {minutes:.1f} min; {len(found)} survivors", *found]
    (workdir / f"survivors_{module['name']}.txt").write_text("\n".join(report) + "\n",
                                                             encoding="utf-8")
    print("\n".join(report), flush=True)
    return found


def main(argv: list[str] | None = None) -> int:
    """Command line: mutate the listed modules (default: all) and print the survivors."""
    settings = load_settings()
    modules = settings["module"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names of modules.toml (default: all)")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new one in "
                        "the system's temporary folder); sessions and survivor lists go there")
    parser.add_argument("--functions", help="comma-separated functions (Class.method) to "
                        "mutate instead of modules.toml's list, for a partial run of one module")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    args = parser.parse_args(argv)
    by_name = {module["name"]: module for module in modules}
    unknown = [name for name in args.modules if name not in by_name]
    if unknown:
        parser.error(f"unknown modules {', '.join(unknown)}; choose from {', '.join(by_name)}")
    chosen = [by_name[name] for name in args.modules] or modules
    if args.functions:
        if len(chosen) != 1:
            parser.error("--functions needs exactly one module")
        chosen = [{**chosen[0], "functions": args.functions.split(",")}]
    if args.list:
        for module in chosen:
            print(f"{module['name']}: {module['path']} <- {' '.join(module['tests'])}")
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aesens-mutate-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repo = scratch_copy(workdir)
    check_imports_copy(repo)
    print(f"scratch copy: {repo}", flush=True)
    total = sum(len(run_module(module, repo, workdir, settings["skip-operators"]))
                for module in chosen)
    print(f"{total} surviving mutants in {len(chosen)} modules; lists in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The import graph of the ``aesens`` package, read from the modules' syntax trees, has no cycle.

Every ``import`` and ``from ... import`` counts, at module level and inside
functions, relative or absolute: ``import aesens.models.x`` is an edge to
``aesens.models.x``; ``from aesens.models import name`` is an edge to
``aesens.models.name`` when that is a submodule, else to ``aesens.models``.
A module named by a string (``importlib.import_module``) is not an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import aesens

PACKAGE_DIR = Path(aesens.__file__).parent

Graph = dict[str, set[str]]


def module_names(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _known(name: str, modules: set[str]) -> str | None:
    """The longest prefix of a dotted name that is a module of the package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in modules:
            return prefix
    return None


def imported_modules(module: str, path: Path, modules: set[str]) -> Iterator[str]:
    """The package's modules that ``module`` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target is not None:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                target = _known(f"{source}.{alias.name}", modules) or _known(source, modules)
                if target is not None:
                    yield target


def import_graph(package_dir: Path = PACKAGE_DIR) -> Graph:
    """Module -> the package's modules it imports (itself left out)."""
    files = module_names(package_dir)
    modules = set(files)
    return {module: set(imported_modules(module, path, modules)) - {module}
            for module, path in files.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]`` (depth-first search), or ``None``."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path = [root]
        on_path = {root}
        stack = [iter(sorted(graph[root]))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif child in on_path:
                return [*path[path.index(child):], child]
            elif child not in done:
                path.append(child)
                on_path.add(child)
                stack.append(iter(sorted(graph.get(child, ()))))
    return None


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("import importlib\nimportlib.import_module('pkg.a')\n")
    (package / "a.py").write_text("from pkg.sub import b, NAME\n")
    (package / "sub" / "__init__.py").write_text("NAME = 1\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (package / "c.py").write_text("import pkg.sub.b\nfrom . import a\n")
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.sub", "pkg.sub.b"}, "pkg.sub": set(),
                     "pkg.sub.b": {"pkg.c"}, "pkg.c": {"pkg.sub.b", "pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "aesens.extraction.setting" in graph["aesens.extraction.run"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def package_graph(graph: Graph) -> Graph:
    """The graph between the package's sub-packages and top-level modules (``aesens.x``)."""
    def stage(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: Graph = {}
    for module, targets in graph.items():
        packages.setdefault(stage(module), set()).update(
            stage(target) for target in targets if stage(target) != stage(module))
    return packages


def test_the_sub_packages_have_no_import_cycle() -> None:
    packages = package_graph(import_graph())
    assert "aesens.analysis" in packages["aesens.classification"]
    assert "aesens.analysis" not in packages["aesens.sweep"]  # the data stage needs no CCA
    cycle = find_cycle(packages)
    assert cycle is None, "import cycle between sub-packages: " + " -> ".join(cycle)

"""Imports go one way. The graph is read with ast from jobrunner/**/*.py (imports inside
functions count: a late import is still a dependency): no circles; nothing imports the
command line; the read side imports neither the command line nor the runner; the pure
core reaches no shell module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jobrunner"
CORE = (
    "recurrence",
    "wallclock",
    "cron",
    "retry",
    "lifecycle",
    "scheduler",
    "finishing",
    "taskflow",
    "reconcile",
    "revision",
    "model",
    "dateformula",
)
SHELL = ("store", "runner", "cli", "executor", "session", "forkserver")
Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package at `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module `name` is, or is in (`pkg.mod.Class` -> `pkg.mod`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _owners(node: ast.Import | ast.ImportFrom, package: str, known: dict[str, Path]) -> set[str]:
    names = _imported(node, package)
    if isinstance(node, ast.ImportFrom):  # `from pkg import mod, name`: mod, and pkg
        base, rest = names[0], names[1:]
        names = [n for n in rest if n in known]
        if len(names) < len(rest):
            names.append(base)
    return {o for n in names if (o := _owner(n, known)) is not None}


def graph(root: Path) -> Graph:
    """Module -> the package's modules it imports."""
    known = modules(root)
    out: Graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                deps.update(_owners(node, package, known))
        out[name] = deps - {name}
    return out


def circles(deps: Graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return found


def reach(deps: Graph, start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for w in deps.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def within(name: str, part: str, package: str = "jobrunner") -> bool:
    """`name` is the module or package `part` of `package`, or inside it."""
    return name == f"{package}.{part}" or name.startswith(f"{package}.{part}.")


def cli_importers(deps: Graph, package: str = "jobrunner") -> dict[str, set[str]]:
    """Modules outside the command line (but `__main__`) that import it."""
    outside = {
        name: {d for d in found if within(d, "cli", package)}
        for name, found in deps.items()
        if not within(name, "cli", package) and name != f"{package}.__main__"
    }
    return {name: found for name, found in outside.items() if found}


def reached(
    deps: Graph, start: str, parts: tuple[str, ...], package: str = "jobrunner"
) -> set[str]:
    """The modules of `parts` that `start` reaches."""
    return {d for d in reach(deps, start) if any(within(d, p, package) for p in parts)}


@pytest.fixture(scope="module")
def deps() -> Graph:
    return graph(PACKAGE)


def test_the_package_has_no_import_circles(deps):
    assert circles(deps) == []


def test_nothing_imports_the_command_line(deps):
    assert cli_importers(deps) == {}
    assert deps["jobrunner.__main__"] == {"jobrunner.cli"}


def test_the_read_side_imports_neither_the_command_line_nor_the_runner(deps):
    views = [name for name in deps if within(name, "views")]
    assert views, "no jobrunner.views modules found"
    assert {name: reached(deps, name, ("cli", "runner")) for name in views} == {
        name: set() for name in views
    }


@pytest.mark.parametrize("core", CORE)
def test_the_pure_core_reaches_no_shell_module(deps, core):
    name = f"jobrunner.{core}"
    assert name in deps, f"{name} is gone: update CORE"
    assert reached(deps, name, SHELL) == set()


def test_the_checks_find_what_they_look_for(tmp_path):
    """A package made to break each rule, with late, relative and `from` imports."""
    root = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "__main__.py": "from pkg.cli import main\n",
        "cli/__init__.py": "from . import common\n",
        "cli/common.py": "",
        "model.py": "def f():\n    from pkg import store\n",
        "store.py": "import pkg.model\n",
        "views/__init__.py": "",
        "views/shapes.py": "from pkg.model import f\n",
        "views/text.py": "from ..cli.common import x\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    found = graph(root)
    assert found["pkg.cli"] == {"pkg.cli.common"}
    assert circles(found) == [["pkg.model", "pkg.store"]]
    assert cli_importers(found, "pkg") == {"pkg.views.text": {"pkg.cli.common"}}
    assert reached(found, "pkg.views.shapes", ("store",), "pkg") == {"pkg.store"}
    assert reached(found, "pkg.views.shapes", ("cli",), "pkg") == set()

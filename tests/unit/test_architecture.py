"""The house rules of ``docs/architecture.md``, read from the source: the stages import each other without
circles, the predictor stands without the orchestrator or Locust, and no module grows past the size limit.

Imports are read with :mod:`ast` (every ``import`` anywhere in a module, also inside functions, since a
lazy import is a cycle that only hides), except those under ``if TYPE_CHECKING:`` (annotations only).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"

MAX_MODULE_LINES = 500
# Modules allowed past MAX_MODULE_LINES, each with the reason (docs/architecture.md says the same).
OVERSIZE: dict[str, str] = {
    "harness.record": "the run folder's whole format (every record type, the streams, the folder) in one file, "
                      "the one interface every stage reads; it stays under 600 lines",
}
MAX_OVERSIZE_LINES = 600

TOP_LEVEL = {"cli", "run", "record", "errors", "exitcodes"}  # the only modules directly in harness/
STAGES = {"profile", "load", "observe", "predict", "checks", "report", "autoscaling", "emulator", "bench"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(HARNESS.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(path: Path, name: str) -> set[str]:
    """Every harness module ``name`` imports at run time (resolved against the known modules)."""
    known = _modules()
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("harness"):
                    found.add(resolve(alias.name) or alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            if base.startswith("harness"):
                for alias in node.names:
                    found.add(resolve(f"{base}.{alias.name}") or base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    return {name: _runtime_imports(path, name) for name, path in _modules().items()}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_top_level_holds_only_the_orchestration_and_the_shared_definitions() -> None:
    loose = {p.stem for p in HARNESS.glob("*.py")} - {"__init__"}
    folders = {p.name for p in HARNESS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert loose <= TOP_LEVEL, f"modules that belong in a stage folder: {sorted(loose - TOP_LEVEL)}"
    assert folders <= STAGES | {"cli", "run"}, f"unknown stage folders: {sorted(folders - STAGES)}"


def test_no_import_cycle_between_stages() -> None:
    stages: dict[str, set[str]] = defaultdict(set)
    for module, imports in _graph().items():
        for target in imports:
            if _stage(target) != _stage(module):
                stages[_stage(module)].add(_stage(target))
    assert _cycle(stages) is None, f"stages import each other in a circle: {' -> '.join(_cycle(stages) or [])}"


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its submodules is not a cycle with them
    for module, imports in graph.items():
        graph[module] = {t for t in imports if not module.startswith(t + ".")}
    assert _cycle(graph) is None, f"modules import each other in a circle: {' -> '.join(_cycle(graph) or [])}"


@pytest.mark.parametrize(("importer", "forbidden"), [
    pytest.param("harness.predict", ("harness.run", "harness.cli", "harness.load", "harness.bench"),
                 id="the predictor never needs the orchestrator or the load generator"),
    pytest.param("harness.checks", ("harness.run", "harness.cli", "harness.predict", "harness.report"),
                 id="checks are pure functions of recorded data"),
    pytest.param("harness.profile", ("harness.",), id="the profile stands on record and errors alone"),
    pytest.param("harness.autoscaling", ("harness.",), id="the model is pure"),
])
def test_stage_does_not_import(importer: str, forbidden: tuple[str, ...]) -> None:
    allowed_below = {"harness.profile": ("harness.profile", "harness.autoscaling.params", "harness.errors",
                                         "harness.record"),
                     "harness.autoscaling": ("harness.autoscaling",)}.get(importer, ())
    bad = sorted(f"{module} -> {target}" for module, imports in _graph().items()
                 if module == importer or module.startswith(importer + ".")
                 for target in imports
                 if target.startswith(forbidden) and not target.startswith(allowed_below))
    assert not bad, bad


def test_only_the_cli_imports_the_orchestrator_and_nothing_imports_the_cli_or_bench() -> None:
    for module, imports in _graph().items():
        if not module.startswith(("harness.cli", "harness.bench")):
            assert not any(t.startswith("harness.run") for t in imports) or module.startswith("harness.run"), module
            assert not any(t.startswith(("harness.cli", "harness.bench")) for t in imports), module


def test_importing_the_predictor_loads_neither_locust_nor_the_orchestrator() -> None:
    code = ("import sys, harness.predict.simulate, harness.predict.plan, harness.predict.calibrate, harness.checks, "
            "harness.report.html\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent') "
            "or m in ('harness.run', 'harness.cli'))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""


def test_no_module_is_over_the_size_limit() -> None:
    over = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    over = {name: n for name, n in over.items()
            if n > (MAX_OVERSIZE_LINES if name in OVERSIZE else MAX_MODULE_LINES)}
    assert not over, f"modules over {MAX_MODULE_LINES} lines (split them, or say why in OVERSIZE): {over}"


def test_every_module_states_its_contract() -> None:
    missing = [name for name, path in _modules().items()
               if path.stat().st_size and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert not missing, f"modules without a docstring: {missing}"

"""The package's structure: an import graph without cycles, layers that only import downwards, and
small files. Imports are read with ``ast`` from every module, lazy ones inside functions and
``TYPE_CHECKING`` blocks included. An edge goes to the module an import names (``from .x import y``
-> x, or x.y when y is a module); a parent package's ``__init__`` (which only re-exports) is not
counted as imported along with its submodules."""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "noisylabels"
MAX_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, path, node)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycle() -> list[str]:
    """One import cycle as a list of modules, or [] (depth-first search with colours)."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for nxt in sorted(GRAPH[module]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[module] = "done"
        stack.pop()
        return []

    for module in sorted(GRAPH):
        if module not in state and (cycle := visit(module)):
            return cycle
    return []


def in_any(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    full = tuple(f"{PACKAGE}.{p}" for p in prefixes)
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in full))


def test_the_graph_was_read():
    assert f"{PACKAGE}.engine" in GRAPH and f"{PACKAGE}.methods.base" in GRAPH["noisylabels.methods.rsl"]
    # lazy imports count: the cli imports the engine inside a function
    assert f"{PACKAGE}.engine" in GRAPH[f"{PACKAGE}.cli"]


def test_the_import_graph_has_no_cycles():
    assert find_cycle() == []


def test_a_cycle_would_be_found(monkeypatch):
    monkeypatch.setitem(GRAPH, f"{PACKAGE}.errors", {f"{PACKAGE}.engine"})
    assert find_cycle()


WORKFLOWS = ("report", "detection", "bench", "cli", "detect", "demo", "randomize")
TRAINING = ("engine", "methods", "losses", "models", "optim", "callbacks", "checkpoint", "distributed",
            "data.prepare", "bench", "detect", "demo", "cli", "report")


@pytest.mark.parametrize("module, forbidden", [
    ("engine", WORKFLOWS),          # the engine runs the loop; workflows sit on top of it
    ("methods", WORKFLOWS),
    ("callbacks", WORKFLOWS),
    ("figures", WORKFLOWS + ("engine",)),  # pure plotting sits below the engine
    ("detection", TRAINING),        # detection imports nothing that trains, as in cleanlab
    ("integrations", TRAINING),     # framework callbacks record the user's training; they run none of ours
])
def test_layers_only_import_downwards(module, forbidden):
    sources = [m for m in GRAPH if m == f"{PACKAGE}.{module}" or m.startswith(f"{PACKAGE}.{module}.")]
    assert sources
    for source in sources:
        assert in_any(reachable(source), forbidden) == [], source


@pytest.mark.parametrize("module", sorted(MODULES))
def test_files_and_functions_are_small(module):
    text = MODULES[module].read_text()
    assert len(text.splitlines()) <= MAX_LINES
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno - node.lineno + 1 <= MAX_FUNCTION_LINES, f"{module}.{node.name}"


def test_only_rundir_knows_the_run_folder_file_names():
    names = ("metrics.json", "samples.csv", "stats.pt", "config.yaml", "noise.json", "checkpoint.pt",
             "results.csv")
    for module, path in MODULES.items():
        if module != f"{PACKAGE}.rundir":
            text = path.read_text()
            assert [n for n in names if f'"{n}"' in text or f"'{n}'" in text] == [], module


def test_the_core_imports_no_optional_extra():
    """lightning, transformers, datasets, pandas, ray and submitit are extras: importing the package,
    its data loaders, detection, bench and the integrations package (not its framework modules) loads
    none of them."""
    import subprocess
    import sys

    code = ("import sys, noisylabels, noisylabels.cli, noisylabels.data.loaders, noisylabels.detection, "
            "noisylabels.integrations, noisylabels.bench.backends; print(' '.join(m for m in ('lightning', "
            "'transformers', 'datasets', 'pandas', 'ray', 'submitit') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""

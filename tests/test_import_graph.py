"""The stage packages import one way only (docs/explanation/ARCHITECTURE.md): every `atrialjsq.X` import in a module of
package P, at module level or inside a function, names a package at or below P in `LAYERS`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from missing_modules import without

SRC = Path(__file__).resolve().parents[1] / "src" / "atrialjsq"

# Bottom to top. Packages on one line may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "__init__"),
    ("hardware",),
    ("io",),
    ("surface",),
    ("data",),
    ("phantom",),
    ("model",),
    ("losses",),
    ("train",),
    ("infer",),
    ("quantify",),
    ("report",),
    ("evaluate",),
    ("workflows", "experiments"),
    ("cli", "__main__"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def package_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_packages(path: Path) -> set[str]:
    """Top-level atrialjsq packages named by the module's imports (relative imports stay in their package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "atrialjsq":
                if len(parts) > 1:
                    names.add(parts[1])
                else:  # `from atrialjsq import x`: x is a package or a name of atrialjsq/__init__
                    names.update(alias.name if alias.name in RANK else "__init__" for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "atrialjsq" and len(parts) > 1:
                    names.add(parts[1])
    return names


MODULES = sorted(SRC.rglob("*.py"))


def test_every_package_has_a_layer():
    packages = {package_of(path) for path in MODULES}
    assert packages - set(RANK) == set(), "add new packages to LAYERS (and to docs/explanation/ARCHITECTURE.md)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path):
    own = package_of(path)
    upward = sorted(name for name in imported_packages(path) - {own} if name in RANK and RANK[name] >= RANK[own])
    assert not upward, f"{path.relative_to(SRC)} ({own}) imports {upward}, at or above its layer"


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC).with_suffix("")
    parts = ("atrialjsq", *relative.parts)
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The atrialjsq modules a module imports (at module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("atrialjsq"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("atrialjsq."))
    return {name for name in found if name in known}


def test_no_module_imports_form_a_cycle():
    """Not even inside one package, and not through imports deferred into functions (which hide a cycle from
    Python's import machinery but not from a reader): a module and what it imports form a tree of layers."""
    names = {module_name(path): path for path in MODULES}
    known = set(names)
    graph = {name: imported_modules(path, known) - {name} for name, path in names.items()}
    graph["atrialjsq"] = set()  # the package facade loads its API names lazily (by string, on first use)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for child in sorted(graph.get(node, ())):
            if child == "atrialjsq" or child.startswith("atrialjsq.__"):
                continue
            if state.get(child) == 1:
                cycles.append([*stack[stack.index(child) :], child] if child in stack else [node, child])
            elif child not in state:
                visit(child, [*stack, child])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_product_never_imports_a_study(path: Path):
    """studies/ (one data set each) import atrialjsq, never the reverse: the package must work without them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    named += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in named if name == "studies" or name.startswith("studies.")]


IMPORT_WITHOUT_SIMPLEITK = without("import importlib\nimportlib.import_module(sys.argv[1])", ("SimpleITK",))


def deferred_imports(path: Path) -> set[str]:
    """The atrialjsq modules a module imports inside its functions."""
    found = set()
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                module = node.module if isinstance(node, ast.ImportFrom) and node.level == 0 else None
                if module and module.startswith("atrialjsq."):
                    found.add(module)
    return found


def test_imports_are_deferred_only_where_they_would_load_simpleitk():
    """Outside the CLI (which defers everything so that `--help` loads no torch), a package import sits inside a
    function only when its module loads SimpleITK, which a bare GPU training image lacks."""
    import subprocess
    import sys

    deferred = {name for path in MODULES if package_of(path) != "cli" for name in deferred_imports(path)}
    deferred -= {"atrialjsq.io", "atrialjsq.io.image_io"}  # atrialjsq.io loading its SimpleITK reader on first use
    light = [
        name
        for name in sorted(deferred)
        if subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_SIMPLEITK, name], capture_output=True).returncode == 0
    ]
    assert light == [], "import these at module level: they load no SimpleITK"

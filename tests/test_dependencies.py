"""What the code imports is declared: core's third-party imports in pyproject.toml, the host plug-ins' in their host.

Read with `ast`, never imported, so an import inside a function (the heavy ones are) counts as much as one at the top.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
PACKAGE = CORE / "dreamplate"

# Imported by core but brought by a host, not pip: queue_widget falls back to PySide2 inside Nuke 13 to 15 (elsewhere
# it uses PySide6 from the `ui` extra).
BROUGHT_BY_HOSTS = {"PySide2", "shiboken2"}


@dataclass(frozen=True)
class Host:
    """A plug-in folder: the modules its host application provides, its own packages, and the core modules it loads."""

    folder: str
    host_modules: frozenset[str]
    own_packages: frozenset[str]
    core_modules: frozenset[str]
    python: tuple[int, int]


HOSTS = [
    Host(
        "nuke_plugin",
        frozenset({"nuke", "nukescripts", "PySide2", "PySide6", "shiboken2", "shiboken6"}),
        frozenset({"dreamplate_nuke"}),
        # The job client, and the queue widget as a Nuke pane: both need only the stdlib and Nuke's PySide.
        frozenset({"dreamplate", "dreamplate.client", "dreamplate.queue_widget"}),
        (3, 7),  # Nuke 13
    ),
    Host(
        "blender_addon",
        frozenset({"bpy", "bpy_extras", "bmesh", "mathutils", "gpu", "addon_utils", "bl_ui"}),
        frozenset({"dreamplate_blender"}),
        frozenset({"dreamplate", "dreamplate.client"}),  # the client, when the extension has no vendored copy
        (3, 11),
    ),
]
# In sys.stdlib_module_names of this Python but missing from older ones a host may run.
STDLIB_SINCE = {"graphlib": (3, 9), "zoneinfo": (3, 9), "tomllib": (3, 11), "_zoneinfo": (3, 9)}


@dataclass(frozen=True)
class Import:
    """One imported module as written: `module` is absolute ('' plus `level` for a relative import)."""

    path: Path
    line: int
    module: str
    names: tuple[str, ...]
    level: int
    eager: bool  # runs when the file is imported: not in a function, not optional, not under TYPE_CHECKING

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(path: Path) -> list[Import]:
    """Every import statement in the file, at any depth, with whether it runs at import time."""
    found = []
    for node, eager in _scan(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), eager=True):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name, (), 0, eager) for alias in node.names]
        else:
            names = tuple(alias.name for alias in node.names)
            found.append(Import(path, node.lineno, node.module or "", names, node.level, eager))
    return found


def _scan(node: ast.AST, eager: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, eager
        return
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        eager = False
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        for child in node.body:
            yield from _scan(child, False)
        for child in node.orelse:
            yield from _scan(child, eager)
        return
    if isinstance(node, ast.Try) and _catches_import_error(node):
        for child in [*node.body, *node.handlers]:
            yield from _scan(child, False)  # optional, or a fallback (PySide2 after PySide6)
        for child in [*node.orelse, *node.finalbody]:
            yield from _scan(child, eager)
        return
    for child in ast.iter_child_nodes(node):
        yield from _scan(child, eager)


def _catches_import_error(node: ast.Try) -> bool:
    caught = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
    return "ImportError" in caught or "ModuleNotFoundError" in caught


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: `PyYAML` == `pyyaml`, `huggingface_hub` == `huggingface-hub`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str]]:
    """(base dependencies, everything in base plus every extra), as normalized distribution names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {normalize(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group()) for req in requirements}

    base = names(project["dependencies"])
    extras = set().union(*(names(reqs) for reqs in project["optional-dependencies"].values()))
    return base, base | extras


def distributions(module: str) -> tuple[set[str], bool]:
    """The normalized distributions providing a top-level module, and whether one is installed here.

    A module no installed distribution provides is taken to come from the distribution of the same name.
    """
    provided = importlib.metadata.packages_distributions().get(module)
    return ({normalize(d) for d in provided}, True) if provided else ({normalize(module)}, False)


def third_party(imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.level == 0 and i.top not in sys.stdlib_module_names and i.top != "dreamplate"]


def undeclared(imports: list[Import], allowed: set[str]) -> list[str]:
    problems = []
    for imported in third_party(imports):
        if imported.top in BROUGHT_BY_HOSTS:
            continue
        dists, installed = distributions(imported.top)
        if dists & allowed:
            continue
        source = "" if installed else ", not installed here so guessed from the module name"
        problems.append(f"{imported.where()}: imports {imported.top} (distribution {'/'.join(sorted(dists))}{source})")
    return problems


def core_file(module: str) -> Path | None:
    """The file of a `dreamplate.*` module, or None when there is none (a name imported from a module)."""
    base = CORE.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def core_modules_named(imported: Import) -> set[str]:
    """The `dreamplate.*` modules an absolute import loads: `from dreamplate import client` names dreamplate.client."""
    named = {imported.module}
    named |= {f"{imported.module}.{name}" for name in imported.names if core_file(f"{imported.module}.{name}")}
    return named


def test_every_third_party_import_in_core_is_declared() -> None:
    _, everything = declared()
    imports = [i for path in python_files(PACKAGE) for i in imports_of(path)]
    assert len(third_party(imports)) > 20, "the scan found almost no imports: is core/dreamplate where it was?"
    problems = undeclared(imports, everything)
    assert not problems, (
        "imported but not declared in pyproject.toml; add each to the dependencies, or to the extra of the feature "
        "that uses it:\n" + "\n".join(problems)
    )


def test_what_import_dreamplate_cli_loads_needs_only_the_base_dependencies() -> None:
    # Which core modules really load with the CLI, the client and the package, asked of a fresh interpreter.
    code = (
        "import sys, dreamplate, dreamplate.client, dreamplate.cli; "
        "print('\\n'.join(m for m in sys.modules if m == 'dreamplate' or m.startswith('dreamplate.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "dreamplate.cli" in loaded
    base, _ = declared()
    eager = [i for m in loaded if (path := core_file(m)) for i in imports_of(path) if i.eager]
    problems = undeclared(eager, base)
    assert not problems, (
        "imported at module level by a module `import dreamplate.cli` loads, so every install needs it: declare it "
        "in the base dependencies, or import it inside the function that uses it:\n" + "\n".join(problems)
    )


def host_problems(host: Host) -> list[str]:
    """Imports of the plug-in, and of the core modules it loads, that its host's Python may not have."""
    root = REPO / host.folder
    files = python_files(root) + [core_file(m) for m in sorted(host.core_modules)]
    problems = []
    for path in files:
        for imported in imports_of(path):
            if imported.level > 0 or imported.top in host.host_modules or imported.top in host.own_packages:
                continue
            if imported.top in sys.stdlib_module_names:
                if STDLIB_SINCE.get(imported.top, (0, 0)) > host.python:
                    problems.append(f"{imported.where()}: {imported.top} is not in Python {host.python}'s stdlib")
                continue
            if imported.top == "dreamplate":
                outside = sorted(core_modules_named(imported) - host.core_modules)
                if outside:
                    problems.append(
                        f"{imported.where()}: imports {', '.join(outside)}, which needs more than the stdlib"
                    )
                continue
            problems.append(f"{imported.where()}: imports {imported.module}, which {host.folder}'s host does not bring")
    return problems


def test_host_plugins_import_only_the_stdlib_their_host_and_the_client() -> None:
    for host in HOSTS:
        assert python_files(REPO / host.folder), f"{host.folder}: no Python files found"
        problems = host_problems(host)
        assert not problems, f"{host.folder} may import only the stdlib, its host's modules, its own package and " + (
            f"{', '.join(sorted(host.core_modules))}:\n" + "\n".join(problems)
        )


def test_host_check_names_a_core_module_that_needs_more_than_the_stdlib(tmp_path: Path) -> None:
    plugin = tmp_path / "render.py"
    plugin.write_text("import nuke\nfrom dreamplate.io import exr\nimport numpy\n", encoding="utf-8")
    nuke = HOSTS[0]
    imports = imports_of(plugin)
    outside = [core_modules_named(i) - nuke.core_modules for i in imports if i.top == "dreamplate"]
    assert outside == [{"dreamplate.io", "dreamplate.io.exr"}]
    assert [i.top for i in third_party(imports) if i.top not in nuke.host_modules] == ["numpy"]


def test_scan_tells_module_level_imports_from_lazy_and_optional_ones(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "if TYPE_CHECKING:\n    import torch\n"
        "try:\n    import psutil\nexcept ImportError:\n    psutil = None\n"
        "def run():\n    import diffusers\n"
        "class Widget:\n    import rich\n",
        encoding="utf-8",
    )
    assert {i.module: i.eager for i in imports_of(source) if i.module != "typing"} == {
        "numpy": True,
        "torch": False,
        "psutil": False,
        "diffusers": False,
        "rich": True,
    }

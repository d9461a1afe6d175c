"""Core's imports flow one way: no cycles, and each layer uses only its own and those to its left.

`errors` <- `io` <- `color` <- `runtime` <- `ops`, `interp`, `gen`, `analyse`, `enhance` <- `jobs` <- `server`, `cli`

Every module under core/dreamplate is parsed with `ast`, never imported: absolute `dreamplate.*` and relative imports,
at any depth (inside functions and `if TYPE_CHECKING:` too, since a lazy import is still a dependency). A
"module:function" string in the op registry is not an import, which is how `ops` and `jobs` name an op's code.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"
PACKAGE = CORE / "dreamplate"

# Left to right; the groups of one tier sit side by side and do not import each other, except as SIDEWAYS allows.
TIERS: list[dict[str, tuple[str, ...]]] = [
    # The package itself (`__version__`), the errors, the user folders, and the job client hosts load alone.
    {"errors": ("dreamplate", "dreamplate.errors", "dreamplate.userdirs", "dreamplate.client")},
    {"io": ("dreamplate.io",)},
    {"color": ("dreamplate.color",)},
    {"runtime": ("dreamplate.runtime",)},
    {
        "ops": ("dreamplate.ops",),
        "interp": ("dreamplate.interp",),
        "gen": ("dreamplate.gen",),
        "analyse": ("dreamplate.analyse",),
        "enhance": ("dreamplate.enhance",),
    },
    # The judge scores what the operations make (interp's flow, gen's mattes) and runs them for --candidates.
    {"judge": ("dreamplate.judge",)},
    {"jobs": ("dreamplate.jobs",)},
    # info, doctor and demo are the `dreamplate info|doctor|demo` commands' bodies (they reach into io, color,
    # runtime and interp); queue_widget is the `dreamplate queue` window, also a Nuke pane.
    {
        "server": ("dreamplate.server",),
        "cli": ("dreamplate.cli", "dreamplate.info", "dreamplate.doctor", "dreamplate.demo", "dreamplate.queue_widget"),
    },
]
SIDEWAYS = {
    ("interp", "ops"): "the ops layer declares what interp runs on",
    ("gen", "ops"): "the ops layer declares what gen runs on",
    ("analyse", "ops"): "the ops layer declares what analyse runs on",
    ("enhance", "ops"): "the ops layer declares what enhance runs on",
    ("cli", "server"): "`dreamplate serve` starts the server",
}
# Modules a host loads into its own Python, with the only dreamplate modules each may import.
HOST_LOADED = {
    "dreamplate": set(),  # `from dreamplate import client` runs it
    # install/build_blender_extension.py copies client.py alone into the Blender extension: it can import nothing.
    "dreamplate.client": set(),
    "dreamplate.queue_widget": {"dreamplate.client"},  # a Nuke pane, in Nuke's Python
}
HEAVY = ("torch", "diffusers", "transformers", "onnxruntime", "ray")


@dataclass(frozen=True)
class Edge:
    """`source` imports `target` at `where` (path:line)."""

    source: str
    target: str
    where: str


def module_names() -> dict[str, Path]:
    """Every module under core/dreamplate by dotted name; a package is its `__init__.py`, or its folder without one."""
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    modules: dict[str, Path] = {}
    for path in files:
        parts = path.relative_to(CORE).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in files:  # a folder without __init__.py is a (namespace) package all the same
        parts = path.relative_to(CORE).parts
        for depth in range(1, len(parts)):
            modules.setdefault(".".join(parts[:depth]), path.parents[len(parts) - 1 - depth])
    return modules


def import_edges(modules: dict[str, Path]) -> tuple[list[Edge], list[str]]:
    """The import graph between core modules, and the imports that name no existing module."""
    edges, broken = [], []
    for source, path in modules.items():
        if path.is_dir():
            continue
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            where = f"{path.relative_to(CORE.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.split(".")[0] == "dreamplate"]
                names: list[str] = []
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                if module.split(".")[0] != "dreamplate":
                    continue
                targets, names = [module], [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target not in modules:
                    broken.append(f"{where}: {source} imports {target}, which does not exist")
                    continue
                # `from dreamplate.io import exr` depends on dreamplate.io.exr, not just on the package.
                submodules = [f"{target}.{name}" for name in names if f"{target}.{name}" in modules]
                for dependency in submodules or [target]:
                    if dependency != source:
                        edges.append(Edge(source, dependency, where))
    return edges, broken


def place(module: str) -> tuple[int, str] | None:
    """(tier index, group) of a module; None for one no tier names."""
    for index, tier in enumerate(TIERS):
        for group, prefixes in tier.items():
            for prefix in prefixes:
                if module == prefix or (prefix != "dreamplate" and module.startswith(prefix + ".")):
                    return index, group
    return None


def layer_violations(edges: list[Edge]) -> list[str]:
    """Each import that goes rightward, sideways without leave, or out of a host-loaded module."""
    problems = []
    for edge in edges:
        source, target = place(edge.source), place(edge.target)
        if source is None or target is None:
            continue  # reported by test_every_module_has_a_layer
        if edge.source in HOST_LOADED and edge.target not in HOST_LOADED[edge.source]:
            problems.append(
                f"{edge.where}: {edge.source} imports {edge.target}; hosts load {edge.source} into their own Python, "
                f"so it may import {', '.join(sorted(HOST_LOADED[edge.source])) or 'no dreamplate module'}"
            )
        elif target[0] > source[0]:
            problems.append(
                f"{edge.where}: {edge.source} ({source[1]}) imports {edge.target} ({target[1]}), a layer to its right"
            )
        elif target[0] == source[0] and target[1] != source[1] and (source[1], target[1]) not in SIDEWAYS:
            problems.append(
                f"{edge.where}: {edge.source} ({source[1]}) imports {edge.target} ({target[1]}); "
                f"{source[1]} and {target[1]} sit side by side and do not import each other"
            )
    return problems


def cycles(edges: list[Edge]) -> list[str]:
    """One shortest cycle per strongly connected group of modules, each import with where it is written."""
    graph: dict[str, dict[str, str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge.where)
    found = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        start = min(component)
        path = _shortest_cycle(graph, start, component)
        steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in zip(path, path[1:], strict=False)]
        found.append(" -> ".join(path) + ":\n    " + "\n    ".join(steps))
    return sorted(found)


def _strongly_connected(graph: dict[str, dict[str, str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a long import chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _shortest_cycle(graph: dict[str, dict[str, str]], start: str, within: set[str]) -> list[str]:
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, {})):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child in within and child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a strongly connected group but on no cycle")


def test_no_import_cycles() -> None:
    edges, _ = import_edges(module_names())
    found = cycles(edges)
    assert not found, "import cycles between core modules:\n" + "\n".join(found)


def test_imports_follow_the_layers() -> None:
    edges, _ = import_edges(module_names())
    problems = layer_violations(edges)
    assert not problems, (
        "errors <- io <- color <- runtime <- ops/interp/gen <- jobs <- server, cli: a module imports only from its "
        "own layer or one to its left; interp and gen never import each other, and ops imports neither "
        "(name an op's code in a 'module:function' string):\n" + "\n".join(problems)
    )


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in module_names() if place(m) is None)
    assert not unplaced, f"not in any layer of tests/test_layers.py TIERS; place them: {', '.join(unplaced)}"


def test_every_dreamplate_import_names_a_module() -> None:
    modules = module_names()
    assert {"dreamplate.errors", "dreamplate.io.exr", "dreamplate.jobs.store", "dreamplate.cli"} <= set(modules)
    _, broken = import_edges(modules)
    assert not broken, "\n".join(broken)


def test_importing_the_package_client_and_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, dreamplate, dreamplate.client, dreamplate.cli; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [], "import dreamplate.cli must not load these; import them where they are used"


def test_checks_catch_what_they_are_for() -> None:
    edges = [
        Edge("dreamplate.io.exr", "dreamplate.jobs.store", "io/exr.py:3"),
        Edge("dreamplate.gen.relight", "dreamplate.interp.flow", "gen/relight.py:4"),
        Edge("dreamplate.ops.registry", "dreamplate.gen.relight", "ops/registry.py:5"),
        Edge("dreamplate.gen.relight", "dreamplate.ops.registry", "gen/relight.py:6"),
        Edge("dreamplate.client", "dreamplate.errors", "client.py:7"),
        Edge("dreamplate.cli.common", "dreamplate.server.app", "cli/common.py:8"),
        Edge("dreamplate.server.app", "dreamplate.cli.common", "server/app.py:9"),
        Edge("dreamplate.jobs.runner", "dreamplate.interp.retime", "jobs/runner.py:10"),
    ]
    flagged = [problem.split(":")[0] + ":" + problem.split(":")[1] for problem in layer_violations(edges)]
    assert flagged == ["io/exr.py:3", "gen/relight.py:4", "ops/registry.py:5", "client.py:7", "server/app.py:9"]
    found = cycles(edges)
    assert len(found) == 2 and found[0].startswith("dreamplate.cli.common -> dreamplate.server.app ->")
    assert found[1].startswith("dreamplate.gen.relight -> dreamplate.ops.registry -> dreamplate.gen.relight")

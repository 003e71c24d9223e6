"""The layout's rules (issue 19), checked by parsing every import: the shared index, the read
path (answering), the write path (ingest) and the faces (app), and no cycle between modules.

`violations` is a function over {path: source}, so that the tests below can show it failing on
a deliberate breach as well as passing on the real tree. Every import counts, at the top of a
module or deferred inside a function (a deferred import is a dependency all the same); imports
under `if TYPE_CHECKING:` count for the layer rules but not for cycles (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = ("assistant", "ingest", "evals", "benchmarks")
# What may lean on what, from assistant: the write path sees the index and the plain root
# modules only; so does the index itself (ingest imports it, so it must not pull in the read path).
SHARED = ("assistant.index", "assistant.settings", "assistant.errors", "assistant.types")
# assistant/integrations/: other programs' ways in (MCP, LlamaIndex), on top of the Python API.
LAYERS = ("assistant.index", "assistant.answering", "assistant.app", "assistant.accounts", "assistant.integrations")
ROOT_MODULES = {"assistant", "assistant.__main__", "assistant.errors", "assistant.settings", "assistant.types",
                "assistant.service", "assistant.testing"}
ROOT_ONLY = "assistant/ itself keeps only __init__, __main__, errors, settings, types, service and testing"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the module imported (a submodule where `from package import name` names one)
    line: int
    deferred: bool  # inside a function: runs when called, not when the module is imported
    type_only: bool  # under `if TYPE_CHECKING:`: never runs


@dataclass(frozen=True)
class Rule:
    name: str
    applies: tuple[str, ...]  # to the modules under these names
    forbidden: tuple[str, ...]  # imports under these names break it
    allowed: tuple[str, ...] = ()  # unless under one of these (more specific)
    exempt: tuple[str, ...] = ()  # modules under `applies` that the rule leaves alone
    pairs: tuple[tuple[str, str], ...] = ()  # (module, import) pairs that may

    def broken_by(self, i: Import) -> bool:
        return _under(i.module, self.applies) and not _under(i.module, self.exempt) \
            and _under(i.target, self.forbidden) and not _under(i.target, self.allowed) \
            and (i.module, i.target) not in self.pairs


READ, WRITE = ("assistant.answering", "assistant.service"), ("ingest",)
RULES = (
    Rule("assistant/index/ imports from assistant only the index, settings, errors and types, and nothing "
         "from ingest/ (answering, app or the wiring would pull the read path into the write path)",
         ("assistant.index",), ("assistant", "ingest"), SHARED),
    Rule("assistant/answering/ never imports ingest/, assistant/app/ or the wiring (service, testing)",
         ("assistant.answering",), ("ingest", "assistant.app", "assistant.service", "assistant.testing",
                                    "assistant.__main__")),
    Rule("ingest/ imports from assistant only assistant.index, assistant.settings, assistant.errors and "
         "assistant.types", ("ingest",), ("assistant",), SHARED),
    Rule("the root modules of assistant/ do not import ingest/: only assistant/app/ takes both paths",
         ("assistant",), WRITE, exempt=LAYERS),
    Rule("the root modules of assistant/ do not import assistant/app/ (the faces sit on top; only "
         "`python -m assistant` runs the CLI)", ("assistant",), ("assistant.app",), exempt=LAYERS,
         pairs=(("assistant.__main__", "assistant.app.cli"),)),
    Rule("nothing in assistant/ or ingest/ imports evals/ or benchmarks/ (they measure the package, "
         "which never depends on them)", ("assistant", "ingest"), ("evals", "benchmarks")),
    Rule("assistant/accounts/ (users, grants, sessions, the audit log) imports from assistant only itself, "
         "settings, errors and types, and nothing from ingest/: the faces (app) sit on top of it",
         ("assistant.accounts",), ("assistant", "ingest"),
         ("assistant.accounts", "assistant.settings", "assistant.errors", "assistant.types")),
    Rule("assistant/integrations/ (MCP) reads through the service layer: it imports nothing from ingest/, "
         "assistant/app/ or assistant/accounts/ (the server mounts it and says who calls, not the other way round)",
         ("assistant.integrations",), ("ingest", "assistant.app", "assistant.accounts")),
)
BOTH_PATHS = "only assistant/app/ imports both the read path (answering, service) and the write path (ingest/)"


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: str) -> str:
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@cache
def _parse(path: str, source: str) -> ast.Module:  # the tests below parse the same tree many times
    return ast.parse(source, filename=path)


def imports(path: str, source: str, modules: set[str]) -> list[Import]:
    """Every import in one module's source, resolved to the modules it names."""
    name = module_name(path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out: list[Import] = []

    def visit(node: ast.AST, deferred: bool, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            out.extend(Import(name, a.name, node.lineno, deferred, type_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(Import(name, sub if sub in modules else base, node.lineno, deferred, type_only))
        elif isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.body:
                visit(child, deferred, True)
            for child in node.orelse:
                visit(child, deferred, type_only)
            return
        inner = deferred or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner, type_only)

    visit(_parse(path, source), False, False)
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: each strongly connected group of more than one module (or a module
    importing itself), as a path around it (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                groups.append(_loop(sorted(group), edges))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return groups


def _loop(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle through the group's first module, for the message."""
    members, start = set(group), group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return group


def violations(sources: Mapping[str, str]) -> list[str]:
    """Every breach of RULES and every import cycle in {path relative to the root: source}."""
    modules = {module_name(p) for p in sources}
    found = [i for p, s in sorted(sources.items()) for i in imports(p, s, modules)]
    out = []
    for i in found:
        where = f"line {i.line}" + (", inside a function" if i.deferred else "")
        out += [f"{i.module} ({where}) imports {i.target}: breaks the rule: {r.name}" for r in RULES if r.broken_by(i)]
    out += [f"{m}: breaks the rule: {ROOT_ONLY}" for m in sorted(modules)
            if _under(m, ("assistant",)) and not _under(m, LAYERS) and m not in ROOT_MODULES]
    for module in sorted(modules):
        mine = [i for i in found if i.module == module]
        read = next((i for i in mine if _under(i.target, READ)), None)
        write = next((i for i in mine if _under(i.target, WRITE)), None)
        if read and write and _under(module, ("assistant", "ingest")) and not _under(module, ("assistant.app",)):
            out.append(f"{module} (lines {read.line}, {write.line}) imports {read.target} and {write.target}: "
                       f"breaks the rule: {BOTH_PATHS}")
    # Cycles over the imports that run: deferred ones too (a deferred import inside a cycle works
    # only because of when it runs, which is the fragility the rule is there to keep out).
    edges: dict[str, set[str]] = {}
    for i in found:
        if i.target in modules and not i.type_only and i.target != i.module:
            edges.setdefault(i.module, set()).add(i.target)
    out += [f"import cycle: {' -> '.join(c)}: breaks the rule: no import cycle between modules"
            for c in _cycles(edges)]
    return out


def tree() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def test_the_tree_keeps_the_layout_rules() -> None:
    assert violations(tree()) == []


# (file, source added at its top, the start of the message expected): one or more a rule.
BREACHES = [
    ("assistant/index/bad.py", "def f():\n    from assistant.app.cli import main\n",
     "assistant.index.bad (line 2, inside a function) imports assistant.app.cli: breaks the rule: assistant/index/ imports"),
    ("assistant/index/bad.py", "from assistant.answering import retrieve\n",
     "assistant.index.bad (line 1) imports assistant.answering.retrieve: breaks the rule: assistant/index/"),
    ("assistant/index/store.py", "import ingest.pipeline\n",
     "assistant.index.store (line 1) imports ingest.pipeline: breaks the rule: assistant/index/"),
    ("assistant/index/bad.py", "from assistant.service import Assistant\n",
     "assistant.index.bad (line 1) imports assistant.service: breaks the rule: assistant/index/"),
    ("assistant/answering/bad.py", "from ingest import ingest\n",
     "assistant.answering.bad (line 1) imports ingest: breaks the rule: assistant/answering/ never imports"),
    ("assistant/answering/bad.py", "from ..app import api\n",
     "assistant.answering.bad (line 1) imports assistant.app.api: breaks the rule: assistant/answering/"),
    ("ingest/bad.py", "def f():\n    from assistant.answering.retrieve import Retriever\n",
     "ingest.bad (line 2, inside a function) imports assistant.answering.retrieve: breaks the rule: ingest/ imports from assistant"),
    ("ingest/bad.py", "from assistant import Assistant\n",
     "ingest.bad (line 1) imports assistant: breaks the rule: ingest/ imports from assistant only"),
    ("ingest/bad.py", "from assistant.app import uploads\n",
     "ingest.bad (line 1) imports assistant.app.uploads: breaks the rule: ingest/ imports from assistant only"),
    ("assistant/service.py", "import ingest\n",
     "assistant.service (line 1) imports ingest: breaks the rule: the root modules of assistant/ do not import ingest/"),
    ("assistant/service.py", "import ingest\n",
     "assistant.service (lines "),  # and the read path besides
    ("assistant/bad.py", "from assistant.app.pool import Pool\n",
     "assistant.bad (line 1) imports assistant.app.pool: breaks the rule: the root modules of assistant/ do not "
     "import assistant/app/"),
    ("assistant/bad.py", "", "assistant.bad: breaks the rule: assistant/ itself keeps only"),
    ("assistant/settings.py", "if TYPE_CHECKING:\n    from assistant.app import cli\n",
     "assistant.settings (line 2) imports assistant.app.cli: breaks the rule: the root modules"),
    ("assistant/app/bad.py", "from evals.answers import suite\n",
     "assistant.app.bad (line 1) imports evals.answers: breaks the rule: nothing in assistant/ or ingest/"),
    ("assistant/accounts/bad.py", "from assistant.index.store import Store\n",
     "assistant.accounts.bad (line 1) imports assistant.index.store: breaks the rule: assistant/accounts/"),
    ("assistant/accounts/bad.py", "def f():\n    from assistant.app import server\n",
     "assistant.accounts.bad (line 2, inside a function) imports assistant.app.server: breaks the rule: "
     "assistant/accounts/"),
    ("assistant/integrations/bad.py", "from assistant.app.access import Access\n",
     "assistant.integrations.bad (line 1) imports assistant.app.access: breaks the rule: assistant/integrations/"),
    ("ingest/bad.py", "import benchmarks.ingest\n",
     "ingest.bad (line 1) imports benchmarks.ingest: breaks the rule: nothing in assistant/ or ingest/"),
]


@pytest.mark.parametrize(("path", "source", "message"), BREACHES, ids=[f"{n}-{b[0]}" for n, b in enumerate(BREACHES)])
def test_a_breach_of_a_rule_is_named(path: str, source: str, message: str) -> None:
    sources = tree()
    sources[path] = source + sources.get(path, "")
    found = violations(sources)
    assert any(v.startswith(message) for v in found), found


def test_a_cycle_is_found_deferred_imports_included() -> None:
    sources = tree()
    sources["assistant/index/ping.py"] = "from assistant.index import pong\n"
    sources["assistant/index/pong.py"] = "def f():\n    from assistant.index.ping import g\n"
    assert violations(sources) == ["import cycle: assistant.index.ping -> assistant.index.pong -> "
                                   "assistant.index.ping: breaks the rule: no import cycle between modules"]

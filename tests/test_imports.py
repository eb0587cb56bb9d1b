"""The import rule between bot's packages (bot/*/__init__.py says each package's part of it):

- the pure modules import nothing that does I/O: only the standard library, the domain,
  Baseten's domain types and errors, and other pure modules;
- nothing imports bot.app, the composition root, but bot.app itself and `python -m bot`;
- no import cycle, between packages or between modules.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

PURE = {
    "bot.domain",
    "bot.render",
    "bot.actions.verbs",
    "bot.actions.answers",
    "bot.actions.buttons",
    "bot.actions.checks",
    "bot.actions.rules",
    "bot.actions.approval_messages",
    "bot.polling.decide",
    "bot.polling.transitions",
    "bot.polling.audience",
    "bot.polling.noise",
    "bot.polling.schedule",
    "bot.polling.promotions",
    "bot.guard.plan",
    "bot.idle.plan",
    "bot.oncall.plan",
    "bot.commands.parse_remind",
    "bot.polling.watching",
    "bot.commands.parse",
    "bot.commands.parse_digest",
    "bot.commands.parse_freeze",
    "bot.commands.urls",
    "bot.commands.words",
    "bot.commands.cost",
    "bot.commands.typed",
    "bot.baseten.models",
    "bot.baseten.metrics",
    "bot.baseten.billing",
    "bot.baseten.errors",
}
PURE_MAY_USE = {"pydantic"}  # Baseten's domain types are pydantic models: validation, no I/O


def modules() -> dict[str, str]:
    """Every module under bot/, by dotted name, with its source."""
    found = {}
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path.read_text()
    return found


def imports(source: str, known: set[str]) -> set[str]:
    """The modules one source imports (a `from bot.x import y` names bot.x.y when that is a module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def _within(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _package(name: str) -> str:
    return ".".join(name.split(".")[:2])


def breaches(sources: dict[str, str]) -> list[str]:
    """Every breach of the rule in these modules (dotted name -> source)."""
    known = set(sources)
    graph = {name: {i for i in imports(src, known) if i.startswith("bot.")} for name, src in sources.items()}
    found = []
    for name, source in sources.items():
        for imported in sorted(imports(source, known)):
            top = imported.split(".")[0]
            if _within(name, PURE):
                if imported.startswith("bot"):
                    if imported != "bot" and not _within(imported, PURE):
                        found.append(f"{name} is pure but imports {imported}")
                elif top not in sys.stdlib_module_names and top not in PURE_MAY_USE:
                    found.append(f"{name} is pure but imports {imported}")
            if _within(imported, {"bot.app"}) and not _within(name, {"bot.app", "bot.__main__"}):
                found.append(f"{name} imports the composition root ({imported})")
    found += [f"an import cycle between packages: {' -> '.join(c)}" for c in _cycles(_packages(graph))]
    found += [f"an import cycle between modules: {' -> '.join(c)}" for c in _cycles(graph)]
    return found


def _packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = defaultdict(set)
    for name, targets in graph.items():
        packages[_package(name)].update(_package(t) for t in targets if _package(t) != _package(name))
    return packages


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each node that starts one (depth first; enough to name every offender)."""
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*path, node])
        done.add(node)

    for start in sorted(graph):
        visit(start, [])
    return cycles


def test_the_import_rule_holds() -> None:
    assert breaches(modules()) == []


def test_every_pure_module_exists() -> None:
    """A renamed pure module must be named here again, or the rule would stop checking it."""
    names = set(modules())
    assert all(any(n == p or n.startswith(p + ".") for n in names) for p in PURE)


def test_the_rule_catches_a_pure_module_that_imports_an_edge() -> None:
    sources = modules()
    sources["bot.render.cards"] += "\nfrom bot.store import Store\nimport httpx\n"
    sources["bot.polling.decide"] += "\nfrom bot.slack.admins import AllowList\n"
    found = breaches(sources)
    assert "bot.render.cards is pure but imports bot.store" in found
    assert "bot.render.cards is pure but imports httpx" in found
    assert "bot.polling.decide is pure but imports bot.slack.admins" in found


def test_the_rule_catches_an_import_of_the_composition_root_and_a_cycle() -> None:
    sources = modules()
    sources["bot.store.outbox"] += "\nfrom bot.app.metrics import Metrics\n"
    sources["bot.store.leases"] += "\nfrom bot.polling.poller import Poller\n"
    sources["bot.render.excerpt"] += "\nfrom bot.render.notices import notice\n"  # notices imports excerpt
    found = breaches(sources)
    assert "bot.store.outbox imports the composition root (bot.app.metrics)" in found
    assert any(f.startswith("an import cycle between packages") and "bot.store" in f for f in found)
    assert any(f.startswith("an import cycle between modules") and "bot.render.notices" in f for f in found)

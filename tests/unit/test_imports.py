"""The import rules of diagnose/, read from the source with ``ast`` (function-level imports count too).

- ``findings`` (the records and status words) imports nothing of the project;
- a check module imports no other check module, and ``fix`` and ``common`` import no check: what several of them
  use lives in ``diagnose/common``;
- no import circles among the modules of diagnose/.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "azext_acrpull"
DIAGNOSE = "azext_acrpull.diagnose"
CHECKS = DIAGNOSE + ".checks"

# Known breaks of the rules, each to disappear with the move that fixes it; a new one fails the test.
PENDING_CHECK_IMPORTS = {
    (CHECKS + ".pod", CHECKS + ".image"),
}
# Circles still open, each known by the modules it may span (none left).
PENDING_CIRCLES = []


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name):
    """The project modules ``name`` imports: ``from pkg import mod`` names the module, otherwise the package."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = "{}.{}".format(target, alias.name)
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {t for t in found if t.split(".")[0] == "azext_acrpull" and t != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _is_check_module(name):
    return name.startswith(CHECKS + ".")


def test_the_graph_sees_imports():
    assert DIAGNOSE + ".facts.sdk" in GRAPH[DIAGNOSE + ".facts.runcommand"]
    assert DIAGNOSE + ".fix.auth" in GRAPH[DIAGNOSE + ".fix"]
    assert DIAGNOSE + ".findings" in GRAPH[DIAGNOSE + ".runner"]
    assert DIAGNOSE + ".common.registry" in GRAPH[CHECKS + ".registry"]
    assert CHECKS + ".auth" in GRAPH[DIAGNOSE + ".catalog"]
    # the network checks, one module each, share their reasoning through common.network, not through each other
    for name in ("dns_link", "network_rules", "peering", "egress", "probe"):
        assert CHECKS + "." + name in GRAPH[DIAGNOSE + ".catalog"]
    assert DIAGNOSE + ".common.network" in GRAPH[CHECKS + ".dns_link"]
    assert CHECKS + ".network" not in MODULES


def test_findings_imports_nothing_of_the_project():
    assert GRAPH[DIAGNOSE + ".findings"] == set()


def test_no_check_module_imports_another():
    found = {(name, t) for name in GRAPH if _is_check_module(name) for t in GRAPH[name]
             if _is_check_module(t) or t == CHECKS}
    assert found - PENDING_CHECK_IMPORTS == set(), "move what both use to diagnose/common"
    assert PENDING_CHECK_IMPORTS <= found, "a pending break is fixed: take it off PENDING_CHECK_IMPORTS"


@pytest.mark.parametrize("prefix", [DIAGNOSE + ".fix", DIAGNOSE + ".common"])
def test_fix_and_common_import_no_check(prefix):
    found = {(name, t) for name in GRAPH if name == prefix or name.startswith(prefix + ".") for t in GRAPH[name]
             if t == CHECKS or _is_check_module(t)}
    assert found == set()


def _circles(graph):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
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
                if len(component) > 1:
                    result.append(component)
    return result


def test_circles_are_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_diagnose():
    diagnose = {n: {t for t in e if t.startswith(DIAGNOSE)} for n, e in GRAPH.items() if n.startswith(DIAGNOSE)}
    circles = _circles(diagnose)
    assert [c for c in circles if not any(all(map(area, c)) for area in PENDING_CIRCLES)] == []
    assert all(any(all(map(area, c)) for c in circles) for area in PENDING_CIRCLES), \
        "a pending circle is gone: take it off PENDING_CIRCLES"

"""The import contract, checked from the sources (``ast``; nothing is imported):

1. no import cycles between meanfield modules, imports inside functions included;
2. layers: a module imports only its own layer or lower ones, and the generic layers (core, the
   mathematical objects, io) never import a system kind;
3. no private name (``_x``) of one meanfield module used by another, or by ``experiments/``;
4. only the CLI prints.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "meanfield"
#: Layer of each top-level part of the package, low to high.
LAYERS = {"core": 0, "schemes": 1, "measures": 1, "networks": 1, "metrics": 1, "io": 2,
          "systems": 3, "studies": 4, "cli": 5}
GENERIC = ("core", "schemes", "measures", "networks", "metrics", "io")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def sources(root: Path = PACKAGE) -> dict[str, ast.Module]:
    return {module_name(p, root): ast.parse(p.read_text(), str(p))
            for p in sorted(root.rglob("*.py"))}


PATHS = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(tree: ast.Module, modules: set[str]) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` for every meanfield import in ``tree``: a
    ``from a import b`` names module ``a.b`` when that is a module, else module ``a`` and name b."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names
                    if a.name.split(".")[0] == "meanfield"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "meanfield":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((sub, None, node.lineno) if sub in modules
                           else (node.module, a.name, node.lineno))
    return out


def graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    mods = set(trees)
    return {m: {target for target, _, _ in imports(t, mods) if target in mods and target != m}
            for m, t in trees.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def part(module: str) -> str | None:
    """The top-level part of the package a module belongs to (None for ``meanfield`` itself)."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else None


def private_uses(trees: dict[str, ast.Module], modules: set[str]) -> list[str]:
    """``from meanfield.x import _y`` and ``alias._y`` on a name bound to a meanfield module."""
    bad = []
    for m, tree in trees.items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.split(".")[0] == "meanfield":
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    if sub in modules:
                        aliases[a.asname or a.name] = sub
                    elif a.name.startswith("_") and not a.name.startswith("__"):
                        bad.append(f"{m}:{node.lineno} imports {node.module}.{a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "meanfield" and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and node.attr.startswith("_") \
                    and not node.attr.startswith("__") and aliases[node.value.id] != m:
                bad.append(f"{m}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return bad


def prints(trees: dict[str, ast.Module]) -> list[str]:
    bad = []
    for m, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                bad.append(f"{m}:{node.lineno} print")
            if isinstance(f, ast.Attribute) and f.attr == "write" and \
                    isinstance(f.value, ast.Attribute) and f.value.attr in ("stdout", "stderr"):
                bad.append(f"{m}:{node.lineno} sys.{f.value.attr}.write")
    return bad


TREES = sources()
MODULES = set(TREES)


def test_the_checker_sees_the_package():
    g = graph(TREES)
    assert len(MODULES) >= 30 and sum(map(len, g.values())) >= 60


def test_the_checker_detects_what_it_forbids():
    fake = {"meanfield.a": ast.parse("from meanfield import b\ndef f():\n    import meanfield.a\n"),
            "meanfield.b": ast.parse("from meanfield.a import _hidden\nprint(1)\n"
                                     "def g():\n    from meanfield import a\n    return a._x\n")}
    assert cycles(graph(fake)) == [["meanfield.a", "meanfield.b"]]
    assert private_uses(fake, set(fake)) == ["meanfield.b:1 imports meanfield.a._hidden",
                                             "meanfield.b:5 uses meanfield.a._x"]
    assert prints(fake) == ["meanfield.b:2 print"]


def test_no_import_cycles():
    found = cycles(graph(TREES))
    assert not found, f"import cycles: {found}"


def test_layers():
    bad = []
    for m, tree in TREES.items():
        p = part(m)
        if p is None:  # meanfield/__init__.py: the public API re-exports everything
            continue
        for target, _, line in imports(tree, MODULES):
            q = part(target)
            if q is None:
                bad.append(f"{m}:{line} imports the package root")
            elif LAYERS[q] > LAYERS[p]:
                bad.append(f"{m}:{line} ({p}) imports {target} ({q})")
            elif p in GENERIC and q == "systems":
                bad.append(f"{m}:{line} (generic) imports the system kind {target}")
    assert not bad, "layer violations:\n" + "\n".join(bad)


def test_no_private_names_across_modules():
    bad = private_uses(TREES, MODULES)
    scripts = {f"experiments.{p.stem}": ast.parse(p.read_text())
               for p in sorted((ROOT / "experiments").glob("*.py"))}
    bad += private_uses(scripts, MODULES)
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_only_the_cli_prints():
    bad = [b for b in prints(TREES) if not b.startswith("meanfield.cli:")]
    assert not bad, "the library must not print:\n" + "\n".join(bad)


@pytest.mark.parametrize("kind", ["wgan", "toy", "dirac"])
def test_each_kind_is_registered_in_one_line(kind):
    text = (PACKAGE / "systems" / "__init__.py").read_text()
    assert text.count(f"register({kind}.KIND)") == 1
    generic = [m for m in MODULES if part(m) in GENERIC or m == "meanfield.cli"]
    named = [m for m in generic if f'"{kind}"' in PATHS[m].read_text()]
    assert not named, f"generic modules name the kind {kind!r}: {named}"

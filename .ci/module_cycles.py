#!/usr/bin/env python3
"""Fail when modules import each other in a circle (ARCHITECTURE.md, "The rule").

Nodes are the top-level modules of src/ and, inside a folder, each of its direct
submodules (`idp::login`, `web::page`, ...; a folder's mod.rs is `idp`). An edge is a
`crate::...` or `super::...` path in the code outside `#[cfg(test)]`. `mod` and
`pub use` lines of a mod.rs (the folder's table of contents) are not edges."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def node_of(parts):
    """Module path (list) -> node name: top, or top::sub for folders."""
    top = parts[0]
    if len(parts) > 1 and os.path.isdir(os.path.join(SRC, top)):
        sub = parts[1]
        if os.path.exists(os.path.join(SRC, top, sub + ".rs")) or os.path.isdir(
            os.path.join(SRC, top, sub)
        ):
            return f"{top}::{sub}"
    return top


def module_path(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def edges():
    out = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs") or f in ("lib.rs", "main.rs"):
                continue
            path = os.path.join(root, f)
            me = module_path(path)
            node = node_of(me)
            text = open(path, encoding="utf-8").read().split("#[cfg(test)]")[0]
            if f == "mod.rs":
                text = "\n".join(
                    l for l in text.splitlines()
                    if not re.match(r"\s*(pub(\(\w+\))? )?mod \w+;|\s*pub(\(\w+\))? use ", l)
                )
            deps = out.setdefault(node, set())
            for m in re.finditer(r"\bcrate((?:::\w+)+)", text):
                parts = m.group(1).strip(":").split("::")
                deps.add(node_of(parts))
            for m in re.finditer(r"\buse crate::\{([^}]*)\}", text):
                for name in re.findall(r"\b(\w+)\b", m.group(1)):
                    deps.add(node_of([name]))
            for m in re.finditer(r"\b((?:super::)+)(\w+)", text):
                up = m.group(1).count("super::")
                base = me[: len(me) - up] if f != "mod.rs" else me[: len(me) - up]
                deps.add(node_of(base + [m.group(2)]) if base else node_of([m.group(2)]))
            deps.discard(node)
    return out


def find_cycles(graph):
    cycles, state = [], {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    return cycles


if __name__ == "__main__":
    cycles = find_cycles(edges())
    for c in cycles:
        print("module cycle: " + " -> ".join(c))
    sys.exit(1 if cycles else 0)

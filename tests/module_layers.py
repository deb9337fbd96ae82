#!/usr/bin/env python3
"""Fails when the modules of the `shared` crate depend on each other in a circle.

Each top-level module of shared/src (a file or a directory) is one node; module B is a
dependency of module A when A's code names `crate::B` (in a `use`, a path, or a
`crate::{...}` group) or reaches B through `super::`. Test code (`tests.rs` files, the
`#[cfg(test)] mod tests` block that ends a file) and the test support (`testing`, the
scripted TikTok, the in-memory store) are left out: they may use anything. Prints the
graph by layer when it is acyclic (`--print`), else each cycle found, and exits 1.

Usage: tests/module_layers.py [--print]
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "src")
TEST_SUPPORT = {"testing.rs", os.path.join("tiktok", "scripted.rs"), os.path.join("store", "memory"),
                os.path.join("firebase", "fixed.rs")}
GROUP = re.compile(r"crate::\{")
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
SUPER = re.compile(r"\b((?:super::)+)([a-z_][a-z0-9_]*)")


def modules():
    """Top-level module names: files and directories of shared/src, but lib.rs."""
    names = set()
    for entry in os.listdir(ROOT):
        if entry.endswith(".rs") and entry != "lib.rs":
            names.add(entry[:-3])
        elif os.path.isdir(os.path.join(ROOT, entry)):
            names.add(entry)
    return names


def production_code(text):
    """The file without its trailing `#[cfg(test)] mod tests {...}` block."""
    match = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    return text[: match.start()] if match else text


def group_names(text, start):
    """The first segments named in the `crate::{...}` group opening at `start`."""
    depth, i, names, token = 0, start, [], ""
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
            if depth == 1:
                token = ""
        elif c == "}":
            depth -= 1
            if depth == 0:
                if token:
                    names.append(token)  # `crate::{.., module}`: the module itself
                break
        elif depth == 1:
            if c == ",":
                if token:
                    names.append(token)
                token = ""
            elif c.isalnum() or c == "_":
                if token is not None:
                    token += c
            elif c == ":" and token:
                names.append(token)
                token = None
            elif not c.isspace() and token:
                token = None
        i += 1
    return names


def module_path(rel):
    """The module path of a file, as a list (`store/postgrest/mod.rs` -> [store, postgrest])."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def dependencies(names):
    graph = {name: set() for name in names}
    for dirpath, _, files in os.walk(ROOT):
        for file in files:
            path = os.path.join(dirpath, file)
            rel = os.path.relpath(path, ROOT)
            if not file.endswith(".rs") or rel == "lib.rs" or file == "tests.rs" \
                    or any(rel == t or rel.startswith(t + os.sep) for t in TEST_SUPPORT):
                continue
            with open(path, encoding="utf-8") as f:
                text = production_code(f.read())
            text = re.sub(r"//[^\n]*", "", text)  # comments (doc links name modules too)
            mod = module_path(rel)
            used = set(PATH.findall(text))
            for match in GROUP.finditer(text):
                used.update(group_names(text, match.end() - 1))
            for ups, name in SUPER.findall(text):
                depth = ups.count("super::")
                # A file's own module is its path; `super` from a mod.rs or a leaf file
                # climbs from its module. Leaving the top-level module names another.
                if len(mod) - depth == 0:
                    used.add(name)
            for name in used:
                if name in names and name != mod[0]:
                    graph[mod[0]].add(name)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layers(graph):
    """Each module's layer: 0 for one that depends on none, else one above its highest."""
    level = {}

    def of(v):
        if v not in level:
            level[v] = 0 if not graph[v] else 1 + max(of(w) for w in graph[v])
        return level[v]

    for v in graph:
        of(v)
    return level


def main():
    # The detector itself, on a known circle and a known line.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert group_names("crate::{store::{A, B}, tiktok, http::x}", 7) == ["store", "tiktok", "http"]
    names = modules() - {"testing"}
    graph = dependencies(names)
    found = cycles(graph)
    if found:
        for component in found:
            edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
            print("module cycle in shared: " + ", ".join(component) + "\n  " + "\n  ".join(edges))
        return 1
    if "--print" in sys.argv:
        level = layers(graph)
        for n in range(max(level.values()) + 1):
            row = sorted(v for v in level if level[v] == n)
            print(f"layer {n}: " + ", ".join(f"{v} (-> {', '.join(sorted(graph[v])) or 'nothing'})" for v in row))
    print(f"module layers: {len(graph)} modules of shared, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

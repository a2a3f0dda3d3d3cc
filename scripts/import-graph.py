#!/usr/bin/env python3
"""Import graph of a Rust crate's modules (default: tinibox/src): which module refers to which
through `crate::`, `super::` and `self::` paths (in `use` lines, grouped imports expanded, and in
code), comments left out.

Prints two graphs and their circles (strongly connected components of more than one module):
  layers:  top-level module -> top-level module (cli, spec, container, process, ...)
  modules: file module -> file module, leaving out a module's references to its own ancestors
           and descendants (a parent declares its children; a child uses its parent's items)
and, with --forbid, the layers that refer to one the tree says is above them.

Exit status: 0 when there is no circle and no forbidden arrow, 1 otherwise, 2 on bad usage.
Usage: scripts/import-graph.py [--src DIR] [--forbid LOWER:UPPER,...] [--edges]
"""
import argparse
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel in (["lib"], ["main"]):
        rel = []
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # A `//` inside a string is rare in this tree; drop from the first `//` not in quotes.
        in_str = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and line.startswith("//", i):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    head, _, rest = tree.partition("{")
    body = rest[: rest.rindex("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [p for part in parts if part for p in expand(head + part)]


def resolve(current, path, modules):
    segs = path.split("::")
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    else:
        base = current
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        rest = segs
    target = base
    for s in rest:
        if target + (s,) in modules:
            target = target + (s,)
        else:
            break
    return target


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "crate"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default="tinibox/src")
    ap.add_argument("--forbid", default="", help="LOWER:UPPER pairs, comma-separated")
    ap.add_argument("--edges", action="store_true", help="print every module edge")
    a = ap.parse_args()
    files = []
    for d, _, fs in os.walk(a.src):
        files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
    if not files:
        print(f"import-graph: no .rs files under {a.src}", file=sys.stderr)
        return 2
    modules = {module_of(a.src, f) for f in files}
    edges, layers = {}, {}
    for f in sorted(files):
        cur = module_of(a.src, f)
        text = strip_comments(open(f, encoding="utf-8").read())
        paths = [p for u in USE.findall(text) for p in expand(u)]
        text_wo_use = USE.sub("", text)
        paths += [m.group(1) + m.group(2) for m in PATH.finditer(text_wo_use)]
        for p in paths:
            t = resolve(cur, p, modules)
            if not t or t == cur:
                continue
            if cur[: len(t)] != t and t[: len(cur)] != cur:
                edges.setdefault(cur, set()).add(t)
            if cur and t and cur[0] != t[0]:
                layers.setdefault(cur[0], set()).add(t[0])
    bad = 0
    print("layers (top-level module -> what it refers to):")
    for l in sorted({m[0] for m in modules if m}):
        print(f"  {l:10} -> {', '.join(sorted(layers.get(l, ()))) or '(nothing)'}")
    for kind, nodes, es in (
        ("layer", {m[0] for m in modules if m}, layers),
        ("module", modules, edges),
    ):
        circles = sccs(nodes, es)
        for c in circles:
            bad = 1
            print(f"CIRCLE ({kind}s): " + " <-> ".join(name(m) if isinstance(m, tuple) else m for m in c))
        if not circles:
            print(f"no circles between {kind}s ({sum(len(v) for v in es.values())} edges)")
    for pair in filter(None, a.forbid.split(",")):
        low, _, up = pair.partition(":")
        if up in layers.get(low, ()):
            bad = 1
            print(f"FORBIDDEN: {low} -> {up}")
    if a.edges:
        for m in sorted(edges):
            for t in sorted(edges[m]):
                print(f"  {name(m)} -> {name(t)}")
    return bad


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Which top-level rooms of src/ import which, and whether any two import
each other (directly or round a longer loop); then the same inside each room,
between its files (`super::x` and `super::Item`, an item resolved through the
room's `pub use` lines). Reads every non-test line of src/; exits 1 and names
the loop if there is one.

    scripts/module-deps.py          # the edges, then "no import cycles"
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
USE = re.compile(r"\bcrate::(\w+)")


def room(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def edges() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in sorted(SRC.rglob("*.rs")):
        src = room(f)
        if src in ("lib", "main"):
            continue
        text = f.read_text()
        # Unit tests may reach anywhere; the product may not.
        text = text.split("#[cfg(test)]")[0]
        for line in text.splitlines():
            if line.lstrip().startswith("//"):
                continue
            for dst in USE.findall(line):
                if dst != src:
                    out.setdefault(src, set()).add(dst)
        out.setdefault(src, set())
    return out


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


SUPER = re.compile(r"\bsuper::(?:\{([^}]*)\}|(\w+))")
REEXPORT = re.compile(r"pub use (\w+)::(?:\{([^}]*)\}|(\w+))")


def product(text: str) -> str:
    return "\n".join(
        line for line in text.split("#[cfg(test)]")[0].splitlines()
        if not line.lstrip().startswith("//")
    )


def file_edges(folder: pathlib.Path) -> dict[str, set[str]]:
    """Edges between the files of one room (mod.rs excluded: it is the room)."""
    files = {f.stem: f for f in folder.glob("*.rs") if f.stem != "mod"}
    owner: dict[str, str] = {}
    mod = folder / "mod.rs"
    if mod.exists():
        for m in REEXPORT.finditer(product(mod.read_text())):
            names = (m.group(2) or m.group(3) or "").replace("\n", " ")
            for name in re.findall(r"(\w+)(?:\s+as\s+\w+)?", names):
                owner[name] = m.group(1)
    out: dict[str, set[str]] = {}
    for stem, f in files.items():
        deps = out.setdefault(stem, set())
        for m in SUPER.finditer(product(f.read_text())):
            for name in re.findall(r"\w+", m.group(1) or m.group(2)):
                dst = name if name in files else owner.get(name)
                if dst and dst != stem and dst in files:
                    deps.add(dst)
    return out


def main() -> int:
    graph = edges()
    for src in sorted(graph):
        print(f"{src:10} -> {', '.join(sorted(graph[src])) or '-'}")
    failed = False
    loop = cycle(graph)
    if loop:
        print("import cycle between rooms: " + " -> ".join(loop))
        failed = True
    for folder in sorted(p for p in SRC.iterdir() if p.is_dir()):
        loop = cycle(file_edges(folder))
        if loop:
            print(f"import cycle in {folder.name}/: " + " -> ".join(loop))
            failed = True
    if failed:
        return 1
    print("no import cycles, between rooms or between the files of a room")
    return 0


if __name__ == "__main__":
    sys.exit(main())

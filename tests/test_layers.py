"""The house rule of docs/ARCHITECTURE.md: imports point one way and never form a cycle."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# lower number = lower layer; a package may import its own layer's package and any lower layer
LAYER = {"common": 0, "whisper": 1, "hubert": 1, "pitch": 1, "speaker": 1, "vits_decoder": 2, "vits": 3,
         "svc": 4, "prepare": 4}
CLI_ONLY = {"bench"}  # benches sit above everything, like the root scripts


def library_files():
    for package in LAYER:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def imported_packages(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def is_cli(path):
    """`*/inference.py`, `prepare/preprocess_*.py`: thin scripts allowed to sit above their package."""
    name = os.path.basename(path)
    return name == "inference.py" or name.startswith("preprocess_")


def test_no_upward_or_sideways_import():
    bad = []
    for path in library_files():
        package = os.path.relpath(path, ROOT).split(os.sep)[0]
        for module in imported_packages(path):
            top = module.split(".")[0]
            if top in CLI_ONLY or top == "svc_cli":
                bad.append(f"{path} imports {module}")
            elif top in LAYER and top != package and LAYER[top] >= LAYER[package] and not is_cli(path):
                bad.append(f"{os.path.relpath(path, ROOT)} imports {module} (layer {LAYER[top]} >= {LAYER[package]})")
    assert not bad, "\n".join(bad)


def module_name(path):
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def test_no_import_cycle():
    modules = {module_name(p): p for p in library_files()}

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: {resolve(i) for i in imported_packages(p)} - {None, m} for m, p in modules.items()}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])

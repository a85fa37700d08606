"""No import cycles among gan_tf's modules, counting the imports inside functions too.

A cycle that only closes inside a function works until someone moves that import to the top of its
file (or imports the modules in another order), and then fails with a half-initialised module. Each
module of the package is read with `ast`, not imported, so the test is fast and sees every import.
"""

import ast
import itertools
import os

import pytest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gan_tf")


def _module_files(package_dir):
    """{dotted module name: path} for every .py file under the package (packages by __init__.py)."""
    package = os.path.basename(package_dir)
    modules = {}
    for folder, _, files in os.walk(package_dir):
        parts = [package] + os.path.relpath(folder, package_dir).split(os.sep)
        parts = [part for part in parts if part != "."]
        for file in files:
            if file.endswith(".py"):
                name = parts if file == "__init__.py" else parts + [file[:-3]]
                modules[".".join(name)] = os.path.join(folder, file)
    return modules


def _parse(path):
    with open(path, encoding="utf-8") as file:
        return ast.parse(file.read(), path)


def _lazy_table(tree):
    """The package's `_LAZY = {"name": "module"}` table: a string mapping, resolved on attribute access."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "_LAZY" for target in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _is_type_checking_block(node):
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): imports there never run."""
    return isinstance(node, ast.If) and "TYPE_CHECKING" in (getattr(node.test, "id", None),
                                                           getattr(node.test, "attr", None))


def _imported_names(tree, module, is_package):
    """(dotted name, line) for every import at any depth (functions included); relative imports are
    resolved against `module`. `from P import x` gives P.x, which is P's attribute x when P.x is not a
    module."""
    package = module if is_package else module.rpartition(".")[0]
    skipped = {id(inner) for node in ast.walk(tree) if _is_type_checking_block(node)
               for statement in node.body for inner in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                parts = package.split(".")
                source = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                yield f"{source}.{alias.name}", node.lineno


def import_graph(package_dir):
    """{module: {module of the package it imports: line}}.

    Importing a name from a package is an edge to its __init__.py; importing a lazily exported name of
    the top package (`_LAZY`) is an edge to the module that defines it, while the table itself imports
    nothing. Importing a.b.c also runs a.b's __init__.py first, an edge too unless a.b is the importer's
    own package (then it is already being initialised); so does the top package's, which is an edge only
    where it is imported by name (`import gan_tf`), since every module goes through it.
    """
    modules = _module_files(package_dir)
    top = os.path.basename(package_dir)
    trees = {name: _parse(path) for name, path in modules.items()}
    lazy = _lazy_table(trees[top])
    graph = {}
    for name, tree in trees.items():
        edges = graph.setdefault(name, {})
        for imported, line in _imported_names(tree, name, modules[name].endswith("__init__.py")):
            owner, _, attribute = imported.rpartition(".")
            if imported not in modules:
                imported = lazy.get(attribute, owner) if owner == top else owner
            parts = imported.split(".")
            for depth in range(1, len(parts) + 1):
                target = ".".join(parts[:depth])
                runs_first = depth > 1 and not name.startswith(target + ".")
                if target in modules and (depth == len(parts) or runs_first):
                    edges.setdefault(target, line)
        edges.pop(name, None)
    return graph


def import_cycles(graph):
    """One shortest cycle through each strongly connected group of modules (Tarjan), as lists that
    start and end at the group's first module by name."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph[node]):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            group = set(stack[stack.index(node):])
            del stack[stack.index(node):]
            on_stack.difference_update(group)
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for group in sorted(groups, key=min):
        start = min(group)
        paths, frontier = {start: [start]}, [start]
        while frontier:  # breadth first, so each path is a shortest one
            following = []
            for node in frontier:
                for neighbour in sorted(graph[node]):
                    if neighbour in group and neighbour not in paths:
                        paths[neighbour] = paths[node] + [neighbour]
                        following.append(neighbour)
            frontier = following
        closing = min((paths[node] for node in sorted(paths) if start in graph[node]), key=len)
        cycles.append(closing + [start])
    return cycles


def describe(cycle, graph, package_dir):
    modules = _module_files(package_dir)
    steps = [f"  {a} -> {b}  ({os.path.relpath(modules[a], os.path.dirname(package_dir))}:{graph[a][b]})"
             for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


def test_gan_tf_has_no_import_cycles():
    """Fails with each cycle and the file:line of every import in it (at commit 8e05a6a:
    callbacks -> sampling -> train -> callbacks, two of them imports inside functions)."""
    graph = import_graph(PACKAGE_DIR)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles among gan_tf modules:\n" + "\n".join(
        describe(cycle, graph, PACKAGE_DIR) for cycle in cycles)


def _write_package(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root / "pkg")


@pytest.mark.parametrize("files, cycle", [
    ({"pkg/__init__.py": "", "pkg/a.py": "def f():\n    from pkg import b\n", "pkg/b.py": "import pkg.a\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),  # one end inside a function
    ({"pkg/__init__.py": "", "pkg/a.py": "from .sub.c import x\n", "pkg/sub/__init__.py": "",
      "pkg/sub/c.py": "from ..a import y\n"}, ["pkg.a", "pkg.sub.c", "pkg.a"]),  # relative, both levels
    ({"pkg/__init__.py": "", "pkg/a.py": "from pkg.sub import thing\n", "pkg/sub/__init__.py": "from pkg import a\n",
      "pkg/sub/c.py": ""}, ["pkg.a", "pkg.sub", "pkg.a"]),  # a name from a package is its __init__.py
    ({"pkg/__init__.py": "", "pkg/a.py": "import pkg.sub.c\n", "pkg/sub/__init__.py": "from .. import a\n",
      "pkg/sub/c.py": ""}, ["pkg.a", "pkg.sub", "pkg.a"]),  # importing pkg.sub.c runs pkg/sub/__init__.py first
    ({"pkg/__init__.py": "from pkg import a\n", "pkg/a.py": "import pkg\n"},
     ["pkg", "pkg.a", "pkg"]),  # the top package by name
    ({"pkg/__init__.py": "_LAZY = {'Thing': 'pkg.a'}\n", "pkg/a.py": "import pkg\nfrom pkg import Thing\n"},
     []),  # the lazy table is not an import, so a module may import the package or a lazy name...
    ({"pkg/__init__.py": "_LAZY = {'Thing': 'pkg.b'}\n", "pkg/a.py": "from pkg import Thing\n",
      "pkg/b.py": "from pkg import a\n"}, ["pkg.a", "pkg.b", "pkg.a"]),  # ...but that loads the name's module
    ({"pkg/__init__.py": "", "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
      "pkg/b.py": "from pkg import a\n"}, []),  # type-checking imports never run
])
def test_the_cycle_finder_sees_every_kind_of_import(tmp_path, files, cycle):
    """Keeps the check above honest: each kind of import it must follow closes a cycle here."""
    found = import_cycles(import_graph(_write_package(tmp_path, files)))
    assert found == ([cycle] if cycle else [])

"""The package's shape: rooms by concept, and private names kept inside their room.

``initcourse`` is a face (``__init__.py``), a few modules every room uses, and one
subpackage per concept (``propagation``, ``meanfield``, ``training``, ``explorers``,
``exercises``, ``grading``). A private name (``_name``) may cross modules *within* a
subpackage, whose modules are one piece of work split for reading; it never crosses from
one room to another: what two rooms share is public, documented and tested as such. A
top-level module is a room of its own. Private *modules* (``initcourse._validate``) are
the package's own helpers and may be imported from anywhere; their private names may not.

The notebooks reach the package through few doors: at most ``MAX_NOTEBOOK_PATHS`` module
paths in all, none private and none two levels down.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "initcourse"
MODULES = sorted(PACKAGE.rglob("*.py"))
#: The house: a face and a few shared modules at the top, the rest in rooms.
MAX_TOP_MODULES, MIN_ROOMS = 14, 4
MAX_NOTEBOOK_PATHS = 5
NOTEBOOKS = sorted((PACKAGE.parent / "notebooks").glob("*.ipynb"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def room(dotted: str) -> str:
    """The room of a module: its subpackage below ``initcourse``, or itself at the top
    (``initcourse.training.runs`` -> ``initcourse.training``)."""
    parts = dotted.split(".")
    if len(parts) >= 2 and (PACKAGE.parent / parts[0] / parts[1] / "__init__.py").exists():
        return ".".join(parts[:2])
    return dotted


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path) -> list[str]:
    """``file:line name`` for each private name of another room's module used here."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = room(_module_name(path))
    aliases: dict[str, str] = {}  # local name -> initcourse module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("initcourse"):
                continue
            for item in node.names:
                target = f"{node.module}.{item.name}"
                if _is_module(target):
                    aliases[item.asname or item.name] = target
                elif _private(item.name) and room(node.module) != here:
                    found.append(f"{path.name}:{node.lineno} {target}")
        elif isinstance(node, ast.Import):
            for item in node.names:
                if item.name.startswith("initcourse") and item.asname:
                    aliases[item.asname] = item.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and _private(node.attr)
                and room(aliases[node.value.id]) != here):
            found.append(f"{path.name}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return found


def test_the_house_has_rooms():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    rooms = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(top) <= MAX_TOP_MODULES, f"{len(top)} modules at the top: {top}"
    assert len(rooms) >= MIN_ROOMS, rooms
    assert not [n for n in top if n.startswith(("training_", "initializer_"))], top


def notebook_paths(notebook: Path) -> set[str]:
    """The package's module paths a notebook's code imports (``from initcourse import
    meanfield`` is the path ``initcourse.meanfield``; a function from the face is none)."""
    import nbformat

    paths = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                paths |= {a.name for a in node.names if a.name.split(".")[0] == "initcourse"}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("initcourse"):
                paths.add(node.module)
                paths |= {f"{node.module}.{a.name}" for a in node.names
                          if _is_module(f"{node.module}.{a.name}")}
    return paths


def test_notebooks_use_few_doors():
    paths = set().union(*map(notebook_paths, NOTEBOOKS))
    assert len(paths) <= MAX_NOTEBOOK_PATHS, sorted(paths)
    for path in paths:
        parts = path.split(".")
        assert len(parts) <= 2 and not any(map(_private, parts)), path


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_crosses_a_module(path):
    assert private_uses(path) == []


def test_the_rule_catches_what_it_is_for(tmp_path):
    """The checker itself: it finds a private import and a private attribute from another
    room, and lets a private module and a room's own names pass."""
    package = tmp_path / "initcourse"
    package.mkdir()
    (package / "_validate.py").write_text("def seed(v):\n    return v\n")
    (package / "a.py").write_text("def _helper():\n    pass\n")
    (package / "b.py").write_text(
        "from initcourse import _validate\n"
        "from initcourse import a as _a\n"
        "from initcourse.a import _helper\n"
        "_a._helper()\n"
        "_validate.seed(1)\n"
    )
    room_dir = package / "room"
    room_dir.mkdir()
    (room_dir / "__init__.py").write_text("")
    (room_dir / "one.py").write_text("def _shared():\n    pass\n")
    (room_dir / "two.py").write_text("from initcourse.room.one import _shared\n"
                                     "from initcourse.a import _helper\n")
    globals()["PACKAGE"] = package
    try:
        assert private_uses(room_dir / "two.py") == ["two.py:2 initcourse.a._helper"]
        assert private_uses(package / "b.py") == ["b.py:3 initcourse.a._helper",
                                                  "b.py:4 initcourse.a._helper"]
        assert private_uses(package / "a.py") == []
    finally:
        globals()["PACKAGE"] = Path(__file__).resolve().parents[1] / "initcourse"


#: Where a key is made from a shifted seed on purpose: exercise 1's probes rebuild the
#: keys learners make by mistake (``PRNGKey(int(seed) + 1)``) to name that mistake.
SHIFTED_SEEDS_ALLOWED = {"exercises/dense/probes.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_keys_are_derived_by_split_or_fold_in_never_by_shifting_a_seed(path):
    """``PRNGKey(seed + 1)`` wraps 2**32 - 1 onto 0 (and shares keys with the next seed):
    sub-keys come from ``split`` or ``fold_in``."""
    if str(path.relative_to(PACKAGE)) in SHIFTED_SEEDS_ALLOWED:
        return
    found = re.findall(r"(?:PRNGKey|random\.key)\([^()]*\bseed\b[^()]*[+-][^()]*\)", path.read_text())
    assert found == [], found

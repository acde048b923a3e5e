"""The package's import graph, read from the source with `ast` (imports at module level, in functions and
under TYPE_CHECKING alike): no cycle between modules, every import points down the stage order, the
remote-code modules of model/ need nothing but each other, numpy, torch, transformers and the standard
library, and the package root holds only its entry points."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGE = "gym_gesture"
PACKAGE_DIR = REPO_ROOT / PACKAGE
# Low to high: a module may import its own stage and the stages before it, never one after it.
STAGES = ("core", "model", "pose", "data", "analysis", "render", "inference", "hub", "training", "app", "cli")
# The entry points at the root import from any stage (the lazy public names, the CLI), and any stage may
# import them (`__version__`, `register_auto_classes`): outside the stage order, inside the cycle check.
ROOT_MODULES = {PACKAGE, f"{PACKAGE}.__main__"}
REMOTE_CODE_STAGE = "model"
REMOTE_CODE_THIRD_PARTY = {"numpy", "torch", "transformers", "huggingface_hub"}  # the last: transformers' own


def module_name(path: Path) -> str:
    """gym_gesture/pose/video.py -> gym_gesture.pose.video; a package's __init__.py is the package."""
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package, the checkpoints' copies of the remote code left out."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))
            if "checkpoints" not in path.relative_to(PACKAGE_DIR).parts}


def imported_names(name: str, path: Path) -> set[str]:
    """The absolute names of what the module at `path` imports: `from X import Y` gives X.Y (a module, or a
    name that `imported_modules` maps back to X), relative imports resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imported_modules(names: set[str], modules: set[str]) -> set[str]:
    """The package's modules among `names`: each name's longest prefix that is one of `modules`."""
    found = set()
    for name in names:
        parts = name.split(".")
        prefixes = (".".join(parts[:end]) for end in range(len(parts), 0, -1))
        module = next((prefix for prefix in prefixes if prefix in modules), None)
        if module is not None:
            found.add(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (itself left out: `from . import x` in an __init__)."""
    modules = package_modules()
    return {name: imported_modules(imported_names(name, path), set(modules)) - {name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None: a depth-first search that meets a module still on
    its path."""
    done, path, on_path = set(), [], set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(graph.get(node, ())):
            if target in on_path:
                return path[path.index(target):] + [target]
            if target not in done and (cycle := visit(target)):
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


def stage(module: str) -> str:
    return module.split(".")[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"b", "c"}}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"b"}}) == ["b", "b"]


def test_imports_are_resolved_at_every_level(tmp_path):
    source = ("import os\nfrom . import base\nfrom .sequence import extract_clip\nfrom ..core.errors import InputError\n"
              "def later():\n    from ..data import labels, load_dataset\n    import gym_gesture.model.skeleton\n")
    path = tmp_path / "video.py"
    path.write_text(source)
    modules = {"gym_gesture.pose.base", "gym_gesture.pose.sequence", "gym_gesture.core.errors",
               "gym_gesture.data", "gym_gesture.data.labels", "gym_gesture.model.skeleton", "gym_gesture.render"}
    # load_dataset, a name of data/__init__.py, is an import of that package; labels is its module.
    assert imported_modules(imported_names("gym_gesture.pose.video", path), modules) == modules - {"gym_gesture.render"}


def test_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_imports_point_down_the_stages(graph):
    assert {stage(module) for module in graph if module not in ROOT_MODULES} == set(STAGES)
    upward = sorted(f"{module} -> {target}" for module, targets in graph.items() if module not in ROOT_MODULES
                    for target in targets - ROOT_MODULES
                    if STAGES.index(stage(target)) > STAGES.index(stage(module)))
    assert upward == []


def test_remote_code_imports_only_itself_and_its_dependencies():
    """model/'s files are copied beside the weights and loaded with trust_remote_code, without the package."""
    allowed = REMOTE_CODE_THIRD_PARTY | set(sys.stdlib_module_names) | {"__future__"}
    remote_code = f"{PACKAGE}.{REMOTE_CODE_STAGE}"
    outside = {}
    for name, path in package_modules().items():
        if name.startswith(f"{remote_code}."):
            foreign = sorted(imported for imported in imported_names(name, path)
                             if not imported.startswith(f"{remote_code}.") and imported.split(".")[0] not in allowed)
            if foreign:
                outside[name] = foreign
    assert outside == {}


def test_the_package_root_holds_only_entry_points():
    assert sorted(path.name for path in PACKAGE_DIR.glob("*.py")) == ["__init__.py", "__main__.py"]

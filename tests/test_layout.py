"""The library's layout holds: one owner for each text format, one reward type, no slices of
library source in the lessons, no CPU literal, a true package docstring, no side effects at
import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "course_lib"
MODULES = sorted(p for p in LIB.rglob("*.py") if p.name != "__init__.py")
NOTEBOOK_SOURCES = sorted([*(ROOT / "notebooks").glob("*.py"), *(ROOT / "solutions").glob("*.py")])


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_only_formats_pattern_matches_text():
    """Prompts and responses are read in course_lib/formats.py and nowhere else."""
    readers = [_rel(p) for p in MODULES
               if re.search(r"^import re$|^from re import|\bre\.(compile|match|search|sub|findall)",
                            p.read_text(), re.M)]
    assert readers == ["course_lib/formats.py"], readers


def test_no_function_attributes_on_rewards():
    hits = [f"{_rel(p)}:{i}" for p in MODULES
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"\.batched\b|^\s*batched\s*=", line)]
    assert not hits, hits


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=_rel)
def test_lessons_show_whole_functions_and_use_the_course_device(path):
    text = path.read_text()
    assert not re.search(r"(getsource\(.*\)|__doc__)\s*\[", text), \
        "slices library source or a docstring: show whole functions (inspect.getsource(f))"
    assert 'device="cpu"' not in text, "use course_lib.get_device() (the loaders' default)"


def test_package_docstring_lists_every_module():
    import course_lib

    listed = set(re.findall(r":mod:`~course_lib\.(\w+)`", course_lib.__doc__))
    modules = {p.stem for p in LIB.glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in LIB.glob("*/__init__.py")}
    assert listed == modules | packages, (sorted(modules | packages - listed),
                                          sorted(listed - modules - packages))


def test_checks_are_named_by_concept_not_by_lesson():
    names = {p.stem for p in (LIB / "checks").glob("*.py")}
    assert not {n for n in names if re.search(r"\d|lesson|tiny_world", n)}, names


def test_importing_has_no_side_effects():
    """Importing every module registers nothing in IPython; the first figure does."""
    code = """
import importlib, pkgutil
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.figure import Figure
shell = InteractiveShell.instance()
png = shell.display_formatter.formatters["image/png"]
import course_lib
for m in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
    importlib.import_module(m.name)
assert Figure not in png.type_printers, "a module registered a formatter at import"
from course_lib.plots import new_figure
new_figure(figsize=(1, 1))
assert Figure in png.type_printers, "the first figure should register the formatter"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]

"""The course opens in Colab: a badge per notebook, a Colab-only set-up cell, Colab's versions.

Every notebook (notebooks/, solutions/, exercises/: the .ipynb that Colab opens; test_repo.py
checks that each paired .py holds the same cells) starts with an "Open in Colab" badge that
points at that same notebook, and its first code cell installs `course_lib` from the
repository only when it runs inside Colab, without `-U` and without naming torch, transformers
or ipywidgets: a plain `pip install` leaves requirements that are already satisfied alone, so
Colab keeps its own builds (checked below with pip itself). That only holds if the lower bounds
in pyproject.toml are at or below what Colab ships: COLAB is that table, with its date.

`make test` also runs this file (and the widget unit tests) under ipywidgets 7.7.1, Colab's
version, in a second venv (`make test-widgets-77`, which sets COURSE_EXPECT_IPYWIDGETS).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import repository  # noqa: E402

FOLDERS = ("notebooks", "solutions", "exercises")

# The course's public repository, as pyproject.toml's [project.urls] Repository names it: every
# badge and every set-up cell names it, and nothing else (tools/repository.py generates them).
_REPOSITORY = repository.read_repository(ROOT)
REPO = _REPOSITORY.slug
BRANCH = _REPOSITORY.branch
BADGE_IMAGE = repository.BADGE_IMAGE

# What Google Colab has preinstalled, as of the date below. Update it when Colab moves on: the
# package's lower bounds must stay at or below these, or `pip install` would replace Colab's
# own torch / transformers / ipywidgets.
COLAB_AS_OF = "2026-11-25"
COLAB = {"python": "3.13", "torch": "2.11", "transformers": "5.15", "ipywidgets": "7.7.1"}
KEEP = ("torch", "transformers", "ipywidgets")  # what the set-up cell must never install


def notebook_files() -> list[Path]:
    return sorted(p for folder in FOLDERS if (ROOT / folder).is_dir()
                  for p in (ROOT / folder).iterdir()
                  if p.suffix == ".ipynb" and re.match(r"\d\d_", p.name))


def cells(path: Path) -> list[tuple[str, str, list[str]]]:
    """(cell type, source, tags) of each cell of a notebook."""
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list)
             else c["source"], c.get("metadata", {}).get("tags", [])) for c in nb["cells"]]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_course_has_notebooks():
    assert notebook_files(), "no notebooks found in notebooks/, solutions/ or exercises/"


@pytest.mark.parametrize("path", notebook_files(), ids=rel)
def test_notebook_starts_with_its_colab_badge(path):
    all_cells = cells(path)
    first_code = next((i for i, c in enumerate(all_cells) if c[0] == "code"), len(all_cells))
    intro = "\n".join(src for kind, src, _ in all_cells[:first_code] if kind == "markdown")
    badges = re.findall(r"\[!\[[^\]]*\]\(([^)]+)\)\]\((https://colab\.research\.google\.com/"
                        r"[^)\s]+)\)", intro)
    assert badges, (f"{rel(path)}: no 'Open in Colab' badge before its first code cell; start "
                    f"it with [![Open In Colab]({BADGE_IMAGE})](https://colab.research.google."
                    f"com/github/{REPO}/blob/{BRANCH}/{rel(path)})")
    image, target = badges[0]
    expected = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{rel(path)}"
    assert target == expected, f"{rel(path)}: the badge opens {target}, expected {expected}"
    assert image == BADGE_IMAGE, f"{rel(path)}: the badge image is {image}, not {BADGE_IMAGE}"


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def _is_colab_test(test: ast.expr) -> bool:
    """``"google.colab" in sys.modules`` (or an ``in_colab()``-style call)."""
    return "google.colab" in _strings(test) or any(
        isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) ==
        "in_colab" for n in ast.walk(test))


def _installs(node: ast.AST) -> list[ast.Call]:
    """The calls under ``node`` whose string arguments say ``pip ... install``."""
    found = []
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        words = " ".join(_strings(call)).split()
        if "pip" in " ".join(words) and "install" in words:
            found.append(call)
    return found


@pytest.mark.parametrize("path", notebook_files(), ids=rel)
def test_first_code_cell_installs_course_lib_only_in_colab(path):
    code = [(src, tags) for kind, src, tags in cells(path) if kind == "code"]
    assert code, f"{rel(path)} has no code cell"
    source, tags = code[0]
    where = f"{rel(path)}, first code cell"
    assert "colab" in tags, f"{where}: the Colab set-up cell must come first, tagged 'colab'"
    tree = ast.parse(source)
    guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and _is_colab_test(n.test)]
    assert guarded, f"{where}: no `if \"google.colab\" in sys.modules:` guard"
    inside = [c for g in guarded for stmt in g.body for c in _installs(stmt)]
    everywhere = _installs(tree)
    assert inside, f"{where}: the Colab branch does not pip install anything"
    assert len(inside) == len(everywhere), f"{where}: a pip install runs outside the Colab guard"
    for call in inside:
        args = _strings(call)
        flags = [a for a in args if a in ("-U", "--upgrade", "--force-reinstall", "-I",
                                            "--ignore-installed", "--upgrade-strategy")]
        assert not flags, f"{where}: `pip install {' '.join(flags)}` would replace Colab's builds"
        packages = [a for a in args if not a.startswith("-") and a not in ("pip", "install")
                    and not a.endswith(("python", "python3"))]
        assert any(re.fullmatch(rf"course[_-]lib @ git\+https://github\.com/{REPO}(\.git)?"
                                rf"(@[\w./-]+)?", p) for p in packages), (
            f"{where}: installs {packages}, expected 'course_lib @ git+https://github.com/{REPO}'")
        named = [p for p in packages for keep in KEEP
                 if re.match(rf"{keep}\b", p.split("@")[0].strip(), re.I)]
        assert not named, f"{where}: names {named}; Colab's own builds must stay"


# --- Colab's versions --------------------------------------------------------------------------


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_lower_bounds_admit_colabs_versions():
    """Each of Colab's versions satisfies the package's specifiers, so `pip install` keeps it."""
    meta = project()
    problems = []
    python = SpecifierSet(meta.get("requires-python", ""))
    if Version(COLAB["python"]) not in python:
        problems.append(f"requires-python {python} excludes Colab's Python {COLAB['python']}")
    constrained = set()
    for line in meta["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name in COLAB:
            constrained.add(name)
            if not req.specifier.contains(Version(COLAB[name]), prereleases=True):
                problems.append(f"{line!r} excludes Colab's {name} {COLAB[name]}")
    missing = sorted(set(KEEP) - constrained)
    assert not missing, f"pyproject.toml no longer lists {missing}: update COLAB/KEEP here"
    assert not problems, (f"as of {COLAB_AS_OF}, Colab has {COLAB}; pyproject.toml: "
                          + "; ".join(problems))


def test_project_urls_name_the_same_repository():
    urls = project().get("urls", {})
    github = [u for u in urls.values() if "github.com/" in u]
    for url in github:
        assert url.rstrip("/").removesuffix(".git").endswith(f"github.com/{REPO}"), (
            f"pyproject.toml [project.urls] names {url}, the badges name {REPO}")


def test_plain_pip_install_keeps_satisfied_requirements(tmp_path):
    """What the set-up cell relies on: `pip install course_lib` (no -U) installs course_lib and
    nothing it needs that is already there (here: this venv's torch, transformers, ...)."""
    pytest.importorskip("setuptools")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
         "--no-build-isolation", "--quiet", "--report", str(report), str(ROOT)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PIP_NO_INPUT": "1"})
    if result.returncode != 0:
        pytest.fail(f"pip --dry-run failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    names = sorted(canonicalize_name(item["metadata"]["name"])
                   for item in json.loads(report.read_text())["install"])
    assert names == ["course-lib"], f"a plain pip install would also install {names}"


# --- the widgets under this environment's ipywidgets (7.7.1 in `make test-widgets-77`) ---------


def test_ipywidgets_version_is_the_one_under_test():
    import ipywidgets

    expected = os.environ.get("COURSE_EXPECT_IPYWIDGETS")
    if expected:
        assert ipywidgets.__version__ == expected, (
            f"this run should test ipywidgets {expected}, found {ipywidgets.__version__}")
    assert SpecifierSet(">=7.7,<9").contains(ipywidgets.__version__)


@pytest.fixture(params=["live", "static"])
def widget_mode(request, monkeypatch):
    if request.param == "static":
        monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    else:
        monkeypatch.delenv("COURSE_STATIC_WIDGETS", raising=False)
    return request.param


def test_response_viewer_samples_with_two_policies(widget_mode):
    """ResponseViewer, the widget of lessons 00 and 05, built and clicked headless."""
    import torch

    import course_lib
    from course_lib.widgets import ResponseViewer

    model, tokenizer = course_lib.load_base_model(device="cpu")
    viewer = ResponseViewer(model, tokenizer, ["47 + 35 =", "The capital of"],
                            reward_fn=lambda prompts, responses: torch.tensor(
                                [float(len(y) > 3) for y in responses]),
                            n_samples=3, other=(model, "again"), seed=0)
    first = viewer.output.value
    assert first.count("<li>") == 6 and "again" in first and "mean reward" in first
    viewer.n_samples.value = 5
    viewer.prompt.value = "The capital of"
    viewer.button.click()
    assert viewer.n_presses == 2 and viewer.output.value.count("<li>") == 10
    assert "The capital of" in viewer.output.value
    viewer.prompt.value = "   "
    viewer.button.click()
    assert "Type a prompt first" in viewer.output.value
    with pytest.raises(ValueError, match="temperature"):
        ResponseViewer(model, tokenizer, "x", temperature=0)

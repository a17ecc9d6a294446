"""Repository checks: notebook pairs, generated exercises, pinned environments, test guards."""

from __future__ import annotations

import json
import socket
import sys
import threading
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import make_exercises  # noqa: E402
import sync_notebooks  # noqa: E402

FOLDERS = sync_notebooks.FOLDERS


def stems(folder: str) -> dict[str, set[str]]:
    return sync_notebooks.notebook_stems(ROOT / folder)


def all_ipynb() -> list[Path]:
    return [
        ROOT / folder / f"{stem}.ipynb"
        for folder in FOLDERS
        for stem, suffixes in stems(folder).items()
        if ".ipynb" in suffixes
    ]


# --- notebooks ---------------------------------------------------------------------------------


def test_course_has_notebooks():
    assert stems("notebooks"), "no notebooks/NN_slug.py found: the course has no lessons yet"


def test_stray_notebook_names():
    """Every notebook file is named NN_slug (lower-case slug, underscores)."""
    stray = [
        f"{folder}/{path.name}"
        for folder in FOLDERS
        if (ROOT / folder).is_dir()
        for path in (ROOT / folder).iterdir()
        if path.suffix in (".py", ".ipynb") and not sync_notebooks.NAME_RE.match(path.stem)
    ]
    assert not stray, f"notebook files not named NN_slug.py/.ipynb: {stray}"


def test_pairs_hold_the_same_cells():
    problems = sync_notebooks.pair_problems(ROOT)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize("path", all_ipynb(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_committed_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.relative_to(ROOT)} has outputs or execution counts in cells {dirty}: "
        "run `make notebooks` (it rewrites the .ipynb from the .py, without outputs)"
    )


def test_exercises_and_solutions_match_lessons():
    exercises, solutions, lessons = stems("exercises"), stems("solutions"), stems("notebooks")
    assert exercises.keys() == solutions.keys(), (
        f"exercises/ and solutions/ differ: only in exercises {sorted(exercises - solutions)}, "
        f"only in solutions {sorted(solutions - exercises)}; run `make exercises`"
    )
    orphans = sorted(solutions.keys() - lessons.keys())
    assert not orphans, f"solutions without a lesson of the same NN_slug in notebooks/: {orphans}"
    exempt = sync_notebooks.LESSONS_WITHOUT_EXERCISES
    missing = sorted(lessons.keys() - solutions.keys() - exempt.keys())
    assert not missing, (f"lessons without solutions/ (and exercises/) notebooks: {missing}; add "
                         "them, or list the lesson with its reason in "
                         "tools/sync_notebooks.py's LESSONS_WITHOUT_EXERCISES")
    assert not exempt.keys() & solutions.keys(), "an exempt lesson has exercises: un-exempt it"
    assert exempt.keys() <= lessons.keys(), f"exempt lessons that do not exist: {sorted(exempt)}"


def test_exercises_are_generated_from_solutions():
    problems = make_exercises.exercise_problems(ROOT)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --- the exercise generator ----------------------------------------------------------------

SOLUTION = '''\
# %% [markdown]
# # Lesson 7
#
# [Open in Colab](https://colab.research.google.com/github/org/repo/blob/main/solutions/07_x.ipynb)

# %%
import math


# %% tags=["exercise-check"]
def root(x):
    """Square root."""
    # BEGIN SOLUTION: use math.sqrt
    y = math.sqrt(x)
    return y
    # END SOLUTION


assert root(4) == 2

# %% [markdown]
# Why?
#
# <!-- BEGIN SOLUTION -->
# Because 2 * 2 = 4.
# <!-- END SOLUTION -->

# %% tags=["exercise-check", "other"]
def twice(x):
    if x:
        # BEGIN SOLUTION
        return 2 * x
        # END SOLUTION
    return 0


twice(1)
'''


def test_generator_stubs_tags_and_header(tmp_path):
    source = tmp_path / "07_x.py"
    source.write_text(SOLUTION)
    py_text, ipynb_text = make_exercises.generate(source)
    exercise = sync_notebooks.read_py(py_text)
    cells = exercise.cells

    assert cells[0].cell_type == "markdown"
    assert "generated from solutions/07_x.py by `make exercises` - do not edit" in cells[0].source
    assert "exercises/07_x.ipynb" in cells[1].source  # Colab badge points at the exercise

    stub = cells[3]
    assert '    raise NotImplementedError("Exercise 7.1: use math.sqrt")' in stub.source
    assert "math.sqrt(x)" not in stub.source and "SOLUTION" not in stub.source
    assert '"""Square root."""' in stub.source and "assert root(4) == 2" in stub.source
    assert stub.metadata["tags"] == ["raises-exception"]

    assert "*Your answer here.*" in cells[4].source and "Because" not in cells[4].source

    nested = cells[5]
    assert '        raise NotImplementedError("Exercise 7.2")' in nested.source
    assert nested.metadata["tags"] == ["raises-exception", "other"]
    assert "tags" not in cells[2].metadata

    # the stub compiles, and the .ipynb holds the same cells as the .py
    for cell in cells:
        if cell.cell_type == "code":
            compile(cell.source, "<cell>", "exec")
    assert sync_notebooks.cells_signature(
        nbformat.reads(ipynb_text, as_version=4)
    ) == sync_notebooks.cells_signature(exercise)

    # byte-stable: generating from the generated text changes nothing
    assert make_exercises.generate(source) == (py_text, ipynb_text)
    assert sync_notebooks.ipynb_text(sync_notebooks.read_py(py_text)) == ipynb_text


def test_generator_rejects_unbalanced_markers(tmp_path):
    source = tmp_path / "03_y.py"
    source.write_text("# %%\ndef f():\n    # BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(make_exercises.MarkerError, match="without '# END SOLUTION'"):
        make_exercises.generate(source)


def test_sync_is_idempotent_and_check_reports(tmp_path):
    (tmp_path / "notebooks").mkdir()
    py = tmp_path / "notebooks" / "01_demo.py"
    py.write_text('# %% [markdown]\n# Hi\n\n# %% tags=["raises-exception"]\n1 / 0\n')
    assert sync_notebooks.sync(tmp_path) == [tmp_path / "notebooks" / "01_demo.ipynb"]
    assert sync_notebooks.sync(tmp_path) == []
    assert sync_notebooks.pair_problems(tmp_path) == []
    py.write_text(py.read_text() + "\n# %%\nprint(2)\n")
    (problem,) = sync_notebooks.pair_problems(tmp_path)
    assert "notebooks/01_demo.ipynb differs from its .py" in problem
    assert "run `make notebooks`" in problem


# --- environments ------------------------------------------------------------------------------


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"constraints.txt must pin exactly: {line}"
            pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def test_constraints_pin_torch():
    assert constraints()["torch"] == Version("2.13.0"), "torch must be pinned (CPU wheel)"


def test_environment_yml_matches_pyproject_and_constraints():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = constraints()

    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    python_version = python.split("=")[-1]
    assert SpecifierSet(pyproject["requires-python"]).contains(f"{python_version}.0"), (
        f"environment.yml {python!r} does not satisfy requires-python"
    )

    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = {}
    for line in pip_section:
        if not line.startswith("-"):
            req = Requirement(line)
            env_pins[canonicalize_name(req.name)] = req.specifier
    assert "-e .[lab]" in pip_section, "environment.yml must install the course: -e .[lab]"

    required = pyproject["dependencies"] + [
        r for r in pyproject["optional-dependencies"]["lab"] if not r.startswith("course-lib")
    ]
    for line in required:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not pinned in constraints.txt (run `make constraints`)"
        pinned = pins[name]
        assert req.specifier.contains(pinned, prereleases=True), (
            f"constraints.txt pins {name}=={pinned}, outside pyproject's {req.specifier}"
        )
        assert name in env_pins, f"environment.yml does not pin {name}=={pinned}"
        assert str(env_pins[name]) == f"=={pinned}", (
            f"environment.yml pins {name}{env_pins[name]}, constraints.txt {name}=={pinned}"
        )


def test_jupytext_pairs_percent_scripts():
    config = tomllib.loads((ROOT / "jupytext.toml").read_text())
    assert config["formats"] == "ipynb,py:percent"


# --- test guards (conftest.py) -------------------------------------------------------------


def test_network_is_blocked():
    with pytest.raises(RuntimeError, match="network access blocked in tests"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match="network access blocked in tests"):
            sock.connect(("93.184.216.34", 80))
        with pytest.raises(RuntimeError, match="network access blocked in tests"):
            sock.connect_ex(("93.184.216.34", 80))
    finally:
        sock.close()
    with pytest.raises(RuntimeError, match="network access blocked in tests"):
        socket.getaddrinfo("huggingface.co", 443)


def test_localhost_still_works():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo():
        conn, _ = server.accept()
        with conn:
            conn.sendall(conn.recv(16))

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    with socket.create_connection(("localhost", port), timeout=5) as client:
        client.sendall(b"ping")
        assert client.recv(16) == b"ping"
    thread.join(timeout=5)
    server.close()


def test_offline_environment_for_kernels():
    import os

    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TQDM_DISABLE"):
        assert os.environ.get(key) == "1", key
    assert os.environ.get("MPLBACKEND")  # Agg for unit tests, inline for notebook kernels


def test_notebook_metadata_is_stable():
    """Regenerated notebooks carry only the kernelspec and language, so diffs stay clean."""
    for path in all_ipynb():
        nb = json.loads(path.read_text())
        extra = set(nb.get("metadata", {})) - {"jupytext", "kernelspec", "language_info"}
        assert not extra, f"{path.relative_to(ROOT)} has metadata {extra}: run `make notebooks`"

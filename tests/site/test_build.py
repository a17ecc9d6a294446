"""tools/build_site.py without a browser: what it stages for Sphinx, and that a lesson that
raises fails the build, naming the lesson."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402


def test_stage_lays_out_every_page_and_every_link_resolves(tmp_path):
    src = tmp_path / "src"
    build_site.stage(src)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert lessons and sorted(p.name for p in (src / "notebooks").glob("*.ipynb")) == lessons
    assert sorted(p.name for p in (src / "exercises").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
    quizzes = sorted((ROOT / "docs" / "quizzes").glob("*.yaml"))
    for quiz in quizzes:
        page = (src / "docs" / "quizzes" / f"{quiz.stem}.md").read_text()
        questions = yaml.safe_load(quiz.read_text())["questions"]
        assert page.count("## Question ") == len(questions) and "## Answer key" in page
    home = (src / "index.md").read_text()
    for lesson in lessons:  # the course map and the lessons' table of contents
        assert f"notebooks/{lesson}" in home and f"notebooks/{Path(lesson).stem}\n" in home
    assert "docs/essay" in home and (src / "docs" / "essay.md").is_file()
    broken = []
    for page in src.rglob("*.md"):
        for match in build_site.LINK_RE.finditer(page.read_text()):
            target = match.group(2).partition("#")[0]
            if target and ":" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(src)}: {match.group(2)}")
    assert not broken, broken


def test_links_to_quizzes_and_to_files_off_the_site_are_rewritten():
    repo, branch = build_site.repository()
    on_site = {"docs/glossary.md"}
    text = ("[q](../quizzes/03.yaml) [g](../glossary.md#policy) [b](../../benchmarks/README.md) "
            "[w](https://example.org/x) [a](#here)")
    out = build_site.rewrite_links(text, "docs/instructors/03.md", on_site)
    assert "[q](../quizzes/03.md)" in out and "[g](../glossary.md#policy)" in out
    assert f"[b]({repo}/blob/{branch}/benchmarks/README.md)" in out
    assert "[w](https://example.org/x)" in out and "[a](#here)" in out


def test_a_lesson_that_raises_fails_the_build_and_is_named(tmp_path, capsys, monkeypatch):
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A broken lesson"),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("assert x == 2, 'x is not 2'")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, src / "notebooks" / "00_broken.ipynb")
    (src / "index.md").write_text("# Home\n\n```{toctree}\nnotebooks/00_broken\n```\n")
    monkeypatch.setenv("COURSE_SITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert build_site.build(src, tmp_path / "out") != 0
    err = capsys.readouterr().err
    assert "make site FAILED: lesson notebooks/00_broken.ipynb raised an error" in err
    assert "x is not 2" in err
    assert not (tmp_path / "out" / "notebooks" / "00_broken.html").exists()


def _lesson_notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny lesson")] + [
        nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _nbval(notebook: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_SITE_CACHE": str(cache),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-p", "tests.nbval_site_cache", "--nbval-lax", "--nbval-current-env",
         "--rootdir", str(notebook.parent), str(notebook)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_make_test_hands_its_executed_lessons_to_the_site(tmp_path, capsys, monkeypatch):
    """A lesson that passed under nbval (with the Makefile's plugin) is in the site's cache: the
    site shows that run's outputs (a cleared output and an updated display as a notebook
    client shows them) and does not execute the lesson again. A lesson that failed under nbval
    is not stored."""
    src, cache = tmp_path / "src", tmp_path / "cache"
    (src / "notebooks").mkdir(parents=True)
    marker = tmp_path / "executions.txt"
    good = _lesson_notebook([
        f"from pathlib import Path\nwith open({str(marker)!r}, 'a') as f:\n    f.write('ran\\n')",
        # (each text joined at run time, so the page's copy of the source never matches it)
        "from IPython.display import clear_output, display\nprint('gone' + '-away')\n"
        "clear_output()\nprint('printed by' + ' the lesson')",
        "h = display('first' + ' version', display_id=True)\nh.update('updated' + ' version')",
    ])
    nbformat.write(good, src / "notebooks" / "00_tiny.ipynb")
    bad = _lesson_notebook(["x = 1", "assert x == 2"])
    (tmp_path / "elsewhere" / "notebooks").mkdir(parents=True)  # not on the site
    nbformat.write(bad, tmp_path / "elsewhere" / "notebooks" / "01_bad.ipynb")

    ran = _nbval(src / "notebooks" / "00_tiny.ipynb", cache)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.read_text() == "ran\n"
    failed = _nbval(tmp_path / "elsewhere" / "notebooks" / "01_bad.ipynb", cache)
    assert failed.returncode != 0

    from jupyter_cache import get_cache
    sys.path.insert(0, str(ROOT / "tools" / "site"))
    import site_cache
    records = get_cache(str(site_cache.cache_path(cache))).list_cache_records()
    assert [Path(r.uri).name for r in records] == ["00_tiny.ipynb"], records

    (src / "index.md").write_text("# Home\n\n```{toctree}\nnotebooks/00_tiny\n```\n")
    monkeypatch.setenv("COURSE_SITE_CACHE", str(cache))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert build_site.build(src, tmp_path / "out") == 0
    logged = capsys.readouterr()
    assert "Using cached notebook" in logged.out + logged.err
    assert marker.read_text() == "ran\n", "the site executed the lesson again"
    page = (tmp_path / "out" / "notebooks" / "00_tiny.html").read_text()
    assert "printed by the lesson" in page and "updated version" in page
    assert "gone-away" not in page and "first version" not in page

"""tools/build_site.py without a browser: what it stages for Sphinx, and that a lesson that
raises fails the build, naming the lesson."""

from __future__ import annotations

import os
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

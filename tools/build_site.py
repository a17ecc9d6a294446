"""Build the course site: `make site` (or `python tools/build_site.py`), into build/site.

1. Stage the sources in build/site-src, laid out as in the repository: the lessons
   (notebooks/NN_*.ipynb, every one by glob, in file order), the exercises (exercises/*.ipynb,
   shown without outputs, never executed), docs/ (the essay, the glossary, the instructor pages,
   the quizzes' README and screenshots), each quiz docs/quizzes/NN.yaml rendered as a Markdown
   page docs/quizzes/NN.md, and a home page (index.md) made of README.md's introduction, course
   map and instructors' section. Relative links in the Markdown keep working because the layout
   is the repository's; a link to a quiz's .yaml goes to its page, and a link to a file that is
   not on the site (course_lib/..., benchmarks/...) goes to that file in the repository
   (pyproject.toml's [project.urls] Repository and [tool.course] branch).
2. Run Sphinx (tools/site/conf.py: myst-nb, sphinx-book-theme). myst-nb executes each lesson
   in a fresh kernel of this Python, one at a time, in file order, and caches the executed
   notebook in jupyter-cache (COURSE_SITE_CACHE, default build/site-cache, in a folder named
   after a hash of course_lib and the pins): a lesson whose code and library have not changed
   is not run again. `make test` stores each lesson that passed under nbval in the same cache
   (tools/site/site_cache.py), so after it no lesson runs twice. A lesson that raises stops the
   build, naming the lesson.

Run it in the notebook environment the Makefile's NB_ENV sets (COURSE_STATIC_WIDGETS=1, so
widgets render as static HTML and images; offline; PYTHONHASHSEED=0).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "tools" / "site"
sys.path.insert(0, str(CONF_DIR))
from site_cache import LESSON_RE  # noqa: E402  (one owner of what a lesson's name is)

LINK_RE = re.compile(r"(\]\()([^)\s]+)(\))")
README_SECTIONS = ("The course map", "For instructors")


def repository() -> tuple[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["project"]["urls"]["Repository"], pyproject["tool"]["course"]["branch"]


def lessons(folder: str) -> list[Path]:
    """Every NN_slug.ipynb of ``folder``, in file order (a new lesson appears when it lands)."""
    return sorted(p for p in (ROOT / folder).glob("*.ipynb") if LESSON_RE.match(p.stem))


def rewrite_links(text: str, page: str, on_site: set[str]) -> str:
    """Relative Markdown links of ``page`` (a repository path such as docs/glossary.md): a quiz's
    .yaml to its rendered page, a file that is not on the site to the repository; others kept."""
    repo, branch = repository()
    base = Path(page).parent

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(base / path)
        if resolved.startswith(".."):
            raise SystemExit(f"{page}: link {target!r} leaves the repository")
        if resolved.startswith("docs/quizzes/") and resolved.endswith(".yaml"):
            new = path[: -len(".yaml")] + ".md"
        elif resolved in on_site:
            return match.group(0)
        else:
            kind = "tree" if (ROOT / resolved).is_dir() else "blob"
            new = f"{repo}/{kind}/{branch}/{resolved}"
        return match.group(1) + new + (f"#{anchor}" if anchor else "") + match.group(3)

    return LINK_RE.sub(fix, text)


def readme_section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not match:
        raise SystemExit(f"README.md has no section '## {title}' for the site's home page")
    return f"## {title}\n{match.group(1).rstrip()}\n"


def home_page(on_site: set[str]) -> str:
    readme = (ROOT / "README.md").read_text()
    intro = readme.split("\n## ", 1)[0].rstrip() + "\n"
    body = "\n".join([intro] + [readme_section(readme, t) for t in README_SECTIONS])
    body += (
        "\n## On this site\n\n"
        "- [The essay](docs/essay.md) the course turns into experiments.\n"
        "- The lessons, executed: every output and figure as `make test` (or `make site`) ran "
        "them.\n"
        "- The exercises, as students get them (without outputs); their solutions are in the "
        f"repository's [solutions/]({repository()[0]}/tree/{repository()[1]}/solutions).\n"
        "- [For instructors](docs/instructors/README.md), the [quizzes](docs/quizzes/README.md) "
        "and the [glossary](docs/glossary.md).\n"
    )
    toctrees = [
        ("Essay", ["docs/essay"]),
        ("Lessons", [f"notebooks/{p.stem}" for p in lessons("notebooks")]),
        ("Exercises", [f"exercises/{p.stem}" for p in lessons("exercises")]),
        ("For instructors", ["docs/instructors/README"]
         + [f"docs/instructors/{p.stem}" for p in sorted((ROOT / "docs/instructors").glob("*.md"))
            if p.stem != "README"]
         + ["docs/quizzes/README"]
         + [f"docs/quizzes/{p.stem}" for p in sorted((ROOT / "docs/quizzes").glob("*.yaml"))]
         + ["docs/glossary"]),
    ]
    for caption, entries in toctrees:
        body += f"\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + "\n".join(entries)
        body += "\n```\n"
    return rewrite_links(body, "README.md", on_site)


def inline_code(text: str) -> str:
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def quiz_page(path: Path) -> str:
    quiz = yaml.safe_load(path.read_text())
    lesson = quiz.get("lesson")
    if not lesson or not (ROOT / "notebooks" / f"{lesson}.ipynb").exists():
        raise SystemExit(f"{path.relative_to(ROOT)}: 'lesson' {lesson!r} is not a notebook")
    lines = [f"# Quiz {path.stem}: {lesson.split('_', 1)[-1].replace('_', ' ')}", "",
             f"Five questions on lesson [{lesson}](../../notebooks/{lesson}.ipynb); the answer "
             "key is at the end of the page (each answer names what in the lesson backs it).", ""]
    key = ["## Answer key", ""]
    for i, q in enumerate(quiz["questions"], 1):
        lines += [f"## Question {i}", "", q["question"].strip(), ""]
        lines += [f"- **{letter}.** {text}" for letter, text in q["choices"].items()] + [""]
        key += [f"{i}. **{q['answer']}.** {q['explanation'].strip()} "
                f"(in the lesson: {inline_code(q['evidence'])})", ""]
    return "\n".join(lines + key)


def stage(src: Path) -> None:
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    files: dict[str, Path] = {}
    for folder in ("notebooks", "exercises"):
        for p in lessons(folder):
            files[f"{folder}/{p.name}"] = p
    for p in sorted((ROOT / "docs").rglob("*")):
        if p.is_file() and p.suffix in (".md", ".png", ".svg", ".jpg"):
            files[str(p.relative_to(ROOT))] = p
    quizzes = sorted((ROOT / "docs/quizzes").glob("*.yaml"))
    on_site = set(files) | {f"docs/quizzes/{q.stem}.md" for q in quizzes} | {"index.md"}
    for rel, p in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".md":
            (src / rel).write_text(rewrite_links(p.read_text(), rel, on_site))
        else:
            shutil.copy2(p, src / rel)
    for q in quizzes:
        (src / f"docs/quizzes/{q.stem}.md").write_text(quiz_page(q))
    (src / "index.md").write_text(home_page(on_site))


def build(src: Path, out: Path) -> int:
    """Sphinx on the staged ``src`` into ``out``; 0, or non-zero with a message naming what
    failed (a lesson that raised is named, after its failing cell and traceback)."""
    from myst_nb.core.execute.base import ExecutionError
    from sphinx.application import Sphinx

    src, out = src.resolve(), out.resolve()
    try:
        app = Sphinx(str(src), str(CONF_DIR), str(out), str(out / ".doctrees"), "html")
        app.build()
    except ExecutionError as err:
        lesson = Path(str(err))
        if lesson.is_relative_to(src):
            lesson = lesson.relative_to(src)
        print(f"\nmake site FAILED: lesson {lesson} raised an error (its failing cell and "
              "traceback are above); the site was not built", file=sys.stderr)
        return 1
    if app.statuscode:
        print(f"make site FAILED (sphinx status {app.statuscode}): see the messages above",
              file=sys.stderr)
    return app.statuscode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "site-src")
    args = parser.parse_args(argv)
    if os.environ.get("COURSE_STATIC_WIDGETS") != "1":
        print("warning: COURSE_STATIC_WIDGETS is not 1: widgets will not render on the site "
              "(use `make site`)", file=sys.stderr)
    stage(args.src)
    print(f"== staged {args.src} ({len(lessons('notebooks'))} lessons); building {args.out}")
    start = time.monotonic()
    rc = build(args.src, args.out)
    if rc:
        return rc
    print(f"== site built in {time.monotonic() - start:.0f} s: {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

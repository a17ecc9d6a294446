"""The instructor kit: docs/glossary.md, docs/quizzes/NN.yaml, docs/instructors/NN_slug.md.

The lessons are the notebooks/NN_slug.py files; every check here is per lesson, so a new lesson
needs its quiz and its notes (one file each) and a row in docs/instructors/README.md, nothing
else. LESSONS_IN_PROGRESS lists the lessons being written on other branches: the glossary may
name them before their notebook exists, and their quiz and notes are not required yet. Remove a
lesson from it when it lands with its kit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Lessons being written now (number -> title in the course map of COURSE_DESIGN.md). Remove an
# entry when that lesson's notebook, quiz and instructor notes have landed.
LESSONS_IN_PROGRESS: dict[str, str] = {}

GLOSSARY_TERMS = [
    "Policy", "State", "Trajectory", "Return", "Reward-to-go", "Baseline", "Advantage",
    "Leave-one-out / RLOO", "KL and its estimators", "Proxy vs gold", "Noise ceiling",
    "Bradley-Terry", "Best-of-n", "Over-optimization", "PPO", "GRPO", "DPO", "ORM / PRM",
]
LESSON_REF_RE = re.compile(r"\blesson (\d\d) \(([^)]+)\)")
LINK_RE = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def lessons() -> dict[str, str]:
    """number -> NN_slug of every lesson in notebooks/."""
    return {p.stem[:2]: p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))}


def lesson_titles() -> dict[str, str]:
    """number -> title of each lesson in README's course map (`| NN | [title](notebooks/...)`)."""
    rows = re.findall(r"^\| (\d\d) \| \[([^\]]+)\]\(notebooks/", (ROOT / "README.md").read_text(),
                      re.M)
    return dict(rows)


def kit_lessons() -> list[str]:
    """The lessons that must have a quiz and instructor notes."""
    return [n for n in lessons() if n not in LESSONS_IN_PROGRESS]


def test_every_lesson_is_in_the_course_map():
    assert set(lessons()) <= set(lesson_titles()), (sorted(lessons()), lesson_titles())


# --- glossary ----------------------------------------------------------------------------------


def glossary_sections() -> dict[str, str]:
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    parts = re.split(r"(?m)^## (.+)$", text)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_glossary_has_every_term():
    headings = {h.split(" (")[0].strip().lower() for h in glossary_sections()}
    missing = [t for t in GLOSSARY_TERMS if t.lower() not in headings]
    assert not missing, f"docs/glossary.md has no '## {missing[0]}' section (missing: {missing})"


@pytest.mark.parametrize("term", list(glossary_sections()))
def test_glossary_entry_names_a_lesson_that_exists(term):
    body = glossary_sections()[term]
    intro = [line for line in body.splitlines() if line.startswith("*Introduced in:*")]
    assert len(intro) == 1, f"{term}: one '*Introduced in:* lesson NN (title)' line expected"
    refs = LESSON_REF_RE.findall(intro[0])
    assert refs, f"{term}: the line names no 'lesson NN (title)': {intro[0]!r}"
    titles = lesson_titles()
    for number, title in refs:
        if number in lessons():
            assert title == titles[number], (f"{term}: lesson {number} is called "
                                             f"{titles[number]!r} in the course map, not {title!r}")
            assert f"notebooks/{lessons()[number]}.ipynb" in intro[0], (
                f"{term}: link lesson {number}'s notebook, notebooks/{lessons()[number]}.ipynb")
        else:
            assert number in LESSONS_IN_PROGRESS, f"{term}: lesson {number} does not exist"
            assert title == LESSONS_IN_PROGRESS[number], (
                f"{term}: planned lesson {number} is {LESSONS_IN_PROGRESS[number]!r}, "
                f"not {title!r}")
    paragraph = body.split("*Introduced in:*")[0].strip()
    assert len(paragraph.split()) >= 25, f"{term}: the definition is missing or too short"


def test_glossary_links_resolve():
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    for target in LINK_RE.findall(text):
        if not target.startswith("http"):
            assert (DOCS / target).resolve().exists(), f"docs/glossary.md links {target}"


# --- quizzes -----------------------------------------------------------------------------------

QUIZ_FIELDS = {"question", "choices", "answer", "explanation", "evidence"}


def quiz(number: str) -> dict:
    return yaml.safe_load((DOCS / "quizzes" / f"{number}.yaml").read_text(encoding="utf-8"))


def test_every_quiz_belongs_to_a_lesson():
    for path in sorted((DOCS / "quizzes").glob("*.yaml")):
        assert path.stem in lessons(), f"docs/quizzes/{path.name}: no lesson {path.stem}"


@pytest.mark.parametrize("number", kit_lessons())
def test_quiz_has_five_checked_questions(number):
    path = DOCS / "quizzes" / f"{number}.yaml"
    assert path.exists(), f"lesson {number} has no quiz: write docs/quizzes/{number}.yaml"
    data = quiz(number)
    assert data["lesson"] == lessons()[number], f"{path.name}: lesson is {lessons()[number]}"
    source = (ROOT / "notebooks" / f"{lessons()[number]}.py").read_text(encoding="utf-8")
    questions = data["questions"]
    assert len(questions) == 5, f"{path.name}: {len(questions)} questions, 5 expected"
    assert len({q["question"] for q in questions}) == 5, f"{path.name}: a question repeats"
    for i, q in enumerate(questions, start=1):
        where = f"{path.name} question {i}"
        assert set(q) == QUIZ_FIELDS, f"{where}: fields {sorted(q)}, expected {sorted(QUIZ_FIELDS)}"
        choices = q["choices"]
        assert isinstance(choices, dict) and 3 <= len(choices) <= 5, f"{where}: 3-5 choices"
        assert all(isinstance(c, str) and c.strip() for c in choices.values()), where
        assert len(set(choices.values())) == len(choices), f"{where}: two choices are the same"
        assert q["answer"] in choices, f"{where}: answer {q['answer']!r} is not a choice"
        evidence = q["evidence"] if isinstance(q["evidence"], list) else [q["evidence"]]
        for item in evidence:
            assert isinstance(item, str) and len(item) >= 6, f"{where}: evidence {item!r}"
            assert item in source, (f"{where}: the evidence {item!r} does not occur in "
                                    f"notebooks/{lessons()[number]}.py")
    answers = [q["answer"] for q in questions]
    assert len(set(answers)) > 1, f"{path.name}: every answer is {answers[0]!r}"


# --- instructor notes --------------------------------------------------------------------------

NOTES_SECTIONS = ["Learning objectives", "Time plan", "Points to land", "Expected numbers",
                  "Common misconceptions", "Discussion questions"]


def notes_sections(path: Path) -> dict[str, str]:
    parts = re.split(r"(?m)^## (.+)$", path.read_text(encoding="utf-8"))
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("number", kit_lessons())
def test_every_lesson_has_instructor_notes(number):
    stem = lessons()[number]
    path = DOCS / "instructors" / f"{stem}.md"
    assert path.exists(), f"lesson {number} has no notes: write docs/instructors/{stem}.md"
    text = path.read_text(encoding="utf-8")
    assert f"notebooks/{stem}.ipynb" in text, f"{path.name}: link the lesson's notebook"
    sections = notes_sections(path)
    missing = [s for s in NOTES_SECTIONS if s not in sections]
    assert not missing, f"{path.name}: no '## {missing[0]}' section (missing {missing})"
    assert list(sections)[: len(NOTES_SECTIONS)] == NOTES_SECTIONS, (
        f"{path.name}: sections in the order {NOTES_SECTIONS}")
    for name in NOTES_SECTIONS:
        assert len(sections[name].split()) >= 20, f"{path.name}: '## {name}' is nearly empty"
    assert "2 CPU cores" in sections["Time plan"], (
        f"{path.name}: say the running times were measured on 2 CPU cores")
    assert "benchmarks/README.md" in sections["Time plan"] + sections["Expected numbers"], (
        f"{path.name}: cite benchmarks/README.md for the times and numbers")
    questions = sections["Discussion questions"]
    assert len(re.findall(r"(?m)^\d\. ", questions)) == 3, f"{path.name}: three questions"
    assert questions.count("*Model answer:*") == 3, f"{path.name}: a model answer for each"


def test_course_plan_lists_every_lesson():
    plan = (DOCS / "instructors" / "README.md").read_text(encoding="utf-8")
    for number in kit_lessons():
        assert f"({lessons()[number]}.md)" in plan, (
            f"docs/instructors/README.md: no row linking {lessons()[number]}.md")
    for heading in ("Two-hour sessions", "When time is short"):
        assert f"## {heading}" in plan, f"docs/instructors/README.md: no '## {heading}'"


def test_kit_links_resolve():
    for path in [*(DOCS / "instructors").glob("*.md"), DOCS / "quizzes" / "README.md"]:
        for target in LINK_RE.findall(path.read_text(encoding="utf-8")):
            if not target.startswith("http"):
                assert (path.parent / target).resolve().exists(), f"{path.name} links {target}"

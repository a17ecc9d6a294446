"""Generate `exercises/NN_slug.{py,ipynb}` from `solutions/NN_slug.py`, the single source.

Conventions in a solution (jupytext percent format):

    # %% tags=["exercise-check"]          <- this cell calls a stub in the exercise: the
    def sft_loss(logits, labels, mask):   #    exercise tags it `raises-exception`
        # BEGIN SOLUTION: mask the prompt tokens, then average
        ...reference code...
        # END SOLUTION
    check_sft_loss(sft_loss)

becomes, in the exercise,

    # %% tags=["raises-exception"]
    def sft_loss(logits, labels, mask):
        raise NotImplementedError("Exercise 1.1: mask the prompt tokens, then average")
    check_sft_loss(sft_loss)

N is the notebook number (no leading zero), k counts the code solution blocks of the file.
In markdown cells, lines between `<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->` (or
`# BEGIN SOLUTION` / `# END SOLUTION`) become "*Your answer here.*".

    python tools/make_exercises.py           # write exercises/
    python tools/make_exercises.py --check   # exit 1 when exercises/ is stale (CI)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import repository  # noqa: E402
import sync_notebooks  # noqa: E402

ROOT = sync_notebooks.ROOT
FIX_HINT = "run `make exercises`"
CHECK_TAG = "exercise-check"
RAISES_TAG = "raises-exception"
ANSWER_PLACEHOLDER = "*Your answer here.*"

CODE_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::\s*(?P<hint>.*?))?\s*$")
CODE_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
MD_BEGIN = re.compile(r"^\s*(?:<!--\s*BEGIN SOLUTION\s*-->|#\s*BEGIN SOLUTION\b.*)$")
MD_END = re.compile(r"^\s*(?:<!--\s*END SOLUTION\s*-->|#\s*END SOLUTION\s*)$")
COLAB_SOLUTION_URL = re.compile(r"(colab\.research\.google\.com/github/\S*?/)solutions/")


class MarkerError(ValueError):
    """Unbalanced or nested BEGIN/END SOLUTION markers."""


def header_text(stem: str) -> str:
    return (
        f"> generated from solutions/{stem}.py by `make exercises` - do not edit; "
        "edit the solution instead"
    )


def _strip_code(source: str, number: int, counter: list[int], where: str) -> str:
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        begin, end = CODE_BEGIN.match(line), CODE_END.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{where}: nested '# BEGIN SOLUTION'")
            inside = True
            counter[0] += 1
            hint = begin.group("hint")
            message = f"Exercise {number}.{counter[0]}" + (f": {hint}" if hint else "")
            literal = json.dumps(message, ensure_ascii=False)  # a valid "double-quoted" literal
            out.append(f"{begin.group('indent')}raise NotImplementedError({literal})")
        elif end:
            if not inside:
                raise MarkerError(f"{where}: '# END SOLUTION' without '# BEGIN SOLUTION'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: '# BEGIN SOLUTION' without '# END SOLUTION'")
    return "\n".join(out)


def _strip_markdown(source: str, where: str) -> str:
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if MD_BEGIN.match(line):
            if inside:
                raise MarkerError(f"{where}: nested BEGIN SOLUTION")
            inside = True
            out.append(ANSWER_PLACEHOLDER)
        elif MD_END.match(line):
            if not inside:
                raise MarkerError(f"{where}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def make_exercise(solution: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """The exercise notebook for solution `stem` (NN_slug): stubs, tags and header."""
    number = int(stem[:2])
    counter = [0]
    exercise = copy.deepcopy(solution)
    for index, cell in enumerate(exercise.cells):
        where = f"solutions/{stem}.py cell {index}"
        if cell.cell_type == "code":
            cell.source = _strip_code(cell.source, number, counter, where)
            tags = cell.metadata.get("tags", [])
            if CHECK_TAG in tags:
                tags = [RAISES_TAG if t == CHECK_TAG else t for t in tags]
                cell.metadata["tags"] = list(dict.fromkeys(tags))
        elif cell.cell_type == "markdown":
            cell.source = _strip_markdown(cell.source, where)
        cell.source = COLAB_SOLUTION_URL.sub(r"\1exercises/", cell.source)
    exercise.cells.insert(0, nbformat.v4.new_markdown_cell(header_text(stem)))
    exercise.metadata.setdefault("jupytext", {})
    exercise.metadata["jupytext"].update(
        {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,-all"}
    )
    return exercise


def generate(solution_py: Path) -> tuple[str, str]:
    """(exercise .py text, exercise .ipynb text) for one solution source."""
    exercise = make_exercise(sync_notebooks.read_py(solution_py), solution_py.stem)
    py_text = jupytext.writes(exercise, fmt="py:percent")
    # The .ipynb is made from the .py text, exactly as `make notebooks` would make it.
    return py_text, sync_notebooks.ipynb_text(sync_notebooks.read_py(py_text))


def exercise_problems(root: Path = ROOT) -> list[str]:
    """Messages for every exercise file that differs from the generator's output."""
    problems = []
    solutions = sync_notebooks.notebook_stems(root / "solutions")
    exercises = sync_notebooks.notebook_stems(root / "exercises")
    for stem, suffixes in solutions.items():
        if ".py" not in suffixes:
            problems.append(f"solutions/{stem}.ipynb has no solutions/{stem}.py source")
            continue
        for target, text in zip(
            ("py", "ipynb"), generate(root / "solutions" / f"{stem}.py"), strict=True
        ):
            path = root / "exercises" / f"{stem}.{target}"
            if not path.exists():
                problems.append(f"exercises/{stem}.{target} is missing: {FIX_HINT}")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(
                    f"exercises/{stem}.{target} differs from what solutions/{stem}.py "
                    f"generates (exercises are generated, edit the solution): {FIX_HINT}"
                )
    for stem in exercises.keys() - solutions.keys():
        problems.append(
            f"exercises/{stem} has no solutions/{stem}.py: exercises are generated from "
            "solutions; add the solution or delete the exercise"
        )
    return sorted(problems)


def write_exercises(root: Path = ROOT) -> list[Path]:
    changed = []
    (root / "exercises").mkdir(exist_ok=True)
    for stem, suffixes in sync_notebooks.notebook_stems(root / "solutions").items():
        if ".py" not in suffixes:
            continue
        py_text, ipynb = generate(root / "solutions" / f"{stem}.py")
        for suffix, text in ((".py", py_text), (".ipynb", ipynb)):
            path = root / "exercises" / f"{stem}{suffix}"
            if sync_notebooks.write_if_changed(path, text):
                changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = parser.parse_args(argv)
    try:
        if not args.check:
            # solutions carry the address of pyproject.toml before exercises are made from them
            for path in repository.stamp(ROOT) + write_exercises():
                print(f"wrote {path.relative_to(ROOT)}")
        problems = exercise_problems()
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems and not args.check:
        print("exercises up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

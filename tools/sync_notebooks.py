"""Keep every `NN_slug.ipynb` identical (in cells) to its jupytext `NN_slug.py` source.

The `.py` (percent format) is what we write and review; the `.ipynb` is generated from it,
without outputs, with stable metadata and cell ids, so that regenerating twice changes nothing.

    python tools/sync_notebooks.py           # write notebooks/ exercises/ solutions/ *.ipynb
    python tools/sync_notebooks.py --check   # exit 1 when a pair's cells differ (CI)

Before writing, it generates every notebook's Colab badge and Colab set-up cell (and README's
Colab links) from the repository address in pyproject.toml (`tools/repository.py`), so a fork
changes that one line and runs this. `--check` also reports a badge or set-up cell that does
not match the address.

`tests/test_repo.py` calls `pair_problems()`, the same check as `--check`.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import repository  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "exercises", "solutions")
NAME_RE = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*$")  # NN_slug
JUPYTEXT_FILTERS = {"cell_metadata_filter": "tags,-all", "notebook_metadata_filter": "-all"}
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
FIX_HINT = "run `make notebooks`"
# Lessons with no exercises/ and solutions/ notebook, each with the reason (every other lesson
# has both: tests/test_repo.py checks it).
LESSONS_WITHOUT_EXERCISES = {
    "12_recap": "it gathers the numbers the other lessons measured: there is nothing to practise",
}


def notebook_stems(folder: Path) -> dict[str, set[str]]:
    """Map each NN_slug stem in `folder` to the suffixes present ({'.py', '.ipynb'})."""
    stems: dict[str, set[str]] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix in (".py", ".ipynb") and NAME_RE.match(path.stem):
                stems.setdefault(path.stem, set()).add(path.suffix)
    return dict(sorted(stems.items()))


def read_py(path_or_text: Path | str) -> nbformat.NotebookNode:
    """Read a percent-format source (a path, or the text itself) into a notebook."""
    if isinstance(path_or_text, Path):
        return jupytext.read(path_or_text, fmt="py:percent")
    return jupytext.reads(path_or_text, fmt="py:percent")


def _cell_id(index: int, cell_type: str, source: str, seen: set[str]) -> str:
    digest = hashlib.sha1(f"{cell_type}\0{source}".encode()).hexdigest()[:8]
    cell_id = digest
    while cell_id in seen:  # identical cells (e.g. two empty ones) still need distinct ids
        cell_id = f"{digest}-{index}"
        index += 1
    seen.add(cell_id)
    return cell_id


def canonical_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A clean nbformat 4.5 notebook: same cells and tags, no outputs, stable ids and metadata."""
    out = nbformat.v4.new_notebook()
    out.metadata = {
        # what JupyterLab's jupytext adds on save: present here, a save changes nothing
        "jupytext": dict(JUPYTEXT_FILTERS),
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
    }
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source, metadata=metadata)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source, metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=metadata)
        new.id = _cell_id(index, cell.cell_type, cell.source, seen)
        out.cells.append(new)
    return out


def ipynb_text(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook exactly as the repository stores it."""
    canonical = canonical_notebook(nb)
    nbformat.validate(canonical)
    return nbformat.writes(canonical) + "\n"


def cells_signature(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a pair must agree on: cell type, source and tags of every cell, in order."""
    return [(c.cell_type, c.source, tuple(c.get("metadata", {}).get("tags", []))) for c in nb.cells]


def first_difference(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> str:
    sa, sb = cells_signature(a), cells_signature(b)
    for i, (ca, cb) in enumerate(zip(sa, sb, strict=False)):
        if ca != cb:
            what = "type" if ca[0] != cb[0] else ("tags" if ca[1] == cb[1] else "source")
            return f"cell {i} {what} differs"
    return f"{len(sa)} cells in the .py vs {len(sb)} in the .ipynb"


def pair_problems(root: Path = ROOT, folders: tuple[str, ...] = FOLDERS) -> list[str]:
    """One message per broken pair (missing partner or differing cells); empty when all agree."""
    problems = []
    for folder in folders:
        for stem, suffixes in notebook_stems(root / folder).items():
            rel = f"{folder}/{stem}"
            if suffixes == {".ipynb"}:
                problems.append(
                    f"{rel}.ipynb has no paired {rel}.py (the .py is the source): create it with "
                    f"`jupytext --to py:percent {rel}.ipynb`, then {FIX_HINT}"
                )
                continue
            if suffixes == {".py"}:
                problems.append(f"{rel}.py has no {rel}.ipynb: {FIX_HINT}")
                continue
            py_nb = read_py(root / folder / f"{stem}.py")
            ipynb_nb = nbformat.read(root / folder / f"{stem}.ipynb", as_version=4)
            if cells_signature(py_nb) != cells_signature(ipynb_nb):
                problems.append(
                    f"{rel}.ipynb differs from its .py ({first_difference(py_nb, ipynb_nb)}): "
                    f"{FIX_HINT}"
                )
    return problems


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def sync(root: Path = ROOT, folders: tuple[str, ...] = FOLDERS) -> list[Path]:
    """Write every .ipynb from its .py; return the files that changed."""
    changed = []
    for folder in folders:
        for stem, suffixes in notebook_stems(root / folder).items():
            if ".py" not in suffixes:
                continue  # reported by pair_problems; we never overwrite a lone .ipynb
            target = root / folder / f"{stem}.ipynb"
            if write_if_changed(target, ipynb_text(read_py(root / folder / f"{stem}.py"))):
                changed.append(target)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on mismatch")
    args = parser.parse_args(argv)
    if not args.check:
        for path in repository.stamp(ROOT) + sync():
            print(f"wrote {path.relative_to(ROOT)}")
    problems = repository.address_problems(ROOT) + pair_problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not args.check and not problems:
        print("notebooks in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

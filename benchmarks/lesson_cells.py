"""The code cells of a lesson, read by jupytext as the notebook pairs are (for the seed scripts
that run a lesson's own cells in their process)."""

from __future__ import annotations

from pathlib import Path


def lesson_cells(lesson: Path) -> list[str]:
    """``lesson``'s code cells, in order."""
    import jupytext

    return [c.source for c in jupytext.read(lesson).cells if c.cell_type == "code"]

"""Where the course site keeps its executed lessons, and how `make test` hands its runs over.

`make site` executes every lesson through myst-nb and jupyter-cache (tools/site/conf.py). The
cache lives in :func:`cache_path`: a folder named after a hash of what a lesson's outputs
depend on besides its own code (course_lib's sources, the shipped models' metadata, the pins),
because jupyter-cache keys a notebook on its code cells only.

`make test` already executes every lesson once, under nbval, in the same environment. Its
notebook run loads the plugin tests/nbval_site_cache.py, which records the kernel messages of
each lesson and, when every cell of the lesson passed, turns them into the executed notebook
(:func:`executed_notebook`, with nbclient's own handling of outputs: cleared outputs and display
updates as a notebook client applies them) and stores it in the same cache (:func:`store`).
`make site` then finds those lessons in the cache and does not run them a second time; a lesson
whose code or library changed since, or that failed under nbval, is executed by the site build
as before.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
LESSON_RE = re.compile(r"^\d{2}_[a-z0-9_]+$")  # a lesson's file stem: NN_slug


def is_lesson(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a lesson notebook, notebooks/NN_slug.ipynb (what the site shows as an
    executed page; exercises and solutions are not)."""
    path = Path(path)
    return (path.parent.name == "notebooks" and path.suffix == ".ipynb"
            and bool(LESSON_RE.match(path.stem)))


def library_fingerprint(root: Path = ROOT) -> str:
    """A hash of course_lib's sources, the shipped models' metadata and the pins (12 hex
    digits): a change to any of them means every lesson is executed again."""
    files = sorted((root / "course_lib").rglob("*.py")) + sorted(
        (root / "course_lib" / "assets").rglob("meta.json")) + [root / "constraints.txt"]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:12]


def cache_path(base: str | os.PathLike | None = None) -> Path:
    """The jupyter-cache folder of this library version: ``<base>/<fingerprint>``, with
    ``base`` from the argument, else ``COURSE_SITE_CACHE``, else build/site-cache."""
    base = base or os.environ.get("COURSE_SITE_CACHE") or ROOT / "build" / "site-cache"
    return Path(base) / library_fingerprint()


def executed_notebook(source: nbformat.NotebookNode,
                      messages: Iterable[Mapping]) -> nbformat.NotebookNode | None:
    """The notebook ``source`` with the outputs its kernel published in ``messages`` (the
    iopub messages of one run of all its code cells, in arrival order), or None when the
    messages do not hold one execution of every code cell, in order, with this code."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete

    nb = copy.deepcopy(source)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    messages = list(messages)
    runs = [m for m in messages if m.get("msg_type") == "execute_input"]
    if len(runs) != len(code_cells) or any(
            m["content"].get("code") != nb.cells[i].source for m, i in zip(runs, code_cells)):
        return None
    cell_of = {m["parent_header"].get("msg_id"): i for m, i in zip(runs, code_cells)}
    for i in code_cells:
        nb.cells[i].outputs, nb.cells[i].execution_count = [], None
    client = NotebookClient(nb, record_timing=False)
    client.reset_execution_trackers()
    client.clear_before_next_output = False  # set by nbclient when it executes a cell
    for msg in messages:
        index = cell_of.get(msg.get("parent_header", {}).get("msg_id"))
        if index is None:
            continue
        try:
            client.process_message(msg, nb.cells[index], index)
        except CellExecutionComplete:
            pass
    return nb


def store(nb: nbformat.NotebookNode, uri: str, seconds: float,
          base: str | os.PathLike | None = None) -> int:
    """Put the executed ``nb`` in the site's cache (replacing an older run of the same code);
    returns the cache record's id."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path(base)))
    record = cache.cache_notebook_bundle(
        CacheBundleIn(nb, uri, data={"execution_seconds": seconds, "executed_by": "make test"}),
        check_validity=False, overwrite=True)
    return record.pk

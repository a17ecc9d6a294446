"""Plugin of the notebook run (`make test`): each lesson nbval executed, handed to the site.

Active only when COURSE_SITE_CACHE is set (the Makefile sets it for the notebook run). It
records the iopub messages nbval reads from each notebook's kernel; when every code cell of a
lesson (notebooks/NN_*.ipynb) passed, it rebuilds the executed notebook from them and stores it
in the course site's jupyter-cache (tools/site/site_cache.py), so that `make site` shows this
run's outputs instead of executing every lesson again. Exercises and solutions are not on the
site as executed pages and are not stored. Nothing here changes what nbval tests.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tools" / "site") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools" / "site"))
import site_cache  # noqa: E402  (tools/site/site_cache.py: the cache, and what a lesson is)


def _enabled() -> bool:
    return bool(os.environ.get("COURSE_SITE_CACHE"))


def _is_lesson(path: Path) -> bool:
    return site_cache.is_lesson(path)


class _Recorder:
    def __init__(self) -> None:
        self.messages: dict[str, list[dict]] = {}  # notebook path -> its kernel's iopub messages
        self.failed: set[str] = set()
        self.started: dict[str, float] = {}

    def install(self) -> None:
        from nbval.plugin import IPyNbFile

        original = IPyNbFile.get_kernel_message
        recorder = self

        def get_kernel_message(file, timeout=None, stream="iopub"):
            msg = original(file, timeout=timeout, stream=stream)
            if stream == "iopub" and _is_lesson(Path(file.path)):
                recorder.messages.setdefault(str(file.path), []).append(msg)
            return msg

        IPyNbFile.get_kernel_message = get_kernel_message

    def finish(self, file) -> None:
        key = str(file.path)
        messages = self.messages.pop(key, [])
        if key in self.failed or not messages:
            return
        nb = site_cache.executed_notebook(file.nb, messages)
        rel = Path(key).relative_to(ROOT) if Path(key).is_relative_to(ROOT) else Path(key)
        if nb is None:
            print(f"\n[site cache] {rel}: not every cell ran once in order; make site will "
                  "execute it")
            return
        seconds = time.monotonic() - self.started.get(key, time.monotonic())
        site_cache.store(nb, str(rel), seconds)


_recorder = _Recorder()


def pytest_configure(config: pytest.Config) -> None:
    if _enabled():
        _recorder.install()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _enabled():
        _recorder.started.setdefault(str(item.path), time.monotonic())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if _enabled() and (report.failed or report.skipped):  # a cell that did not pass
        _recorder.failed.add(str(item.path))
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if not _enabled() or not _is_lesson(item.path):
        return
    if nextitem is None or nextitem.parent is not item.parent:
        try:
            _recorder.finish(item.parent)
        except Exception as err:  # the hand-over only saves time: never fail nbval's run
            print(f"\n[site cache] {item.parent.path}: not stored ({err!r}); make site will "
                  "execute it", file=sys.stderr)

"""Fixtures of the browser tests: one JupyterLab server, one Chromium, one page per lesson.

See browser_support.py for what they start and how; every test here is marked `browser`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS, LabServer, LessonPage, chromium_path

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if not chromium_path():
        pytest.skip("chromium not found (install Debian's `chromium` or set CHROMIUM_PATH)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                     headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lesson_page(lab, browser):
    """``lesson_page(stem)``: the lesson open and run in the browser (one page per lesson; the
    previous lesson's page and kernel are closed when the next lesson opens)."""
    pages: dict[str, LessonPage] = {}

    def get(stem: str) -> LessonPage:
        if stem not in pages:
            for other in pages.values():
                other.close()
            pages.clear()
            page = pages[stem] = LessonPage(lab, browser, stem)
            try:
                page.open_and_run_all()
            except Exception as err:
                page.run_error = f"{stem}: could not open and run the lesson: {err}"
        page = pages[stem]
        if page.run_error:
            raise AssertionError(page.run_error + page.diagnostics())
        return page

    yield get
    for page in pages.values():
        page.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):  # screenshots of an earlier session
        old.unlink()
    return ARTIFACTS

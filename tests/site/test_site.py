"""The built course site (`make site`, then `make site-check`): every lesson has a page, each
lesson page shows figures that really load in headless Chromium, and no page of the site has a
broken internal link (a file that is not there, or an #anchor the target page does not have).

Skipped in the unit run of `make test` (where the widget browser tests hold this process's
Playwright); `make site-check` sets COURSE_SITE_CHECK=1, which runs them and makes a missing site
or a missing Chromium a failure. The site
checked is COURSE_SITE_DIR (default build/site). Requests that leave the site (a CDN's MathJax,
the Colab badge) are refused: the check, like the site's figures, needs no network.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_support import CHROMIUM_ARGS, chromium_path  # noqa: E402

SITE = Path(os.environ.get("COURSE_SITE_DIR", ROOT / "build" / "site")).resolve()
REQUIRED = os.environ.get("COURSE_SITE_CHECK") == "1"
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = [pytest.mark.site, pytest.mark.browser]

# Every element that points somewhere, as the browser resolved it; every image, once loaded.
PAGE_JS = """async () => {
  const imgs = [...document.images];
  for (const i of imgs) { i.loading = 'eager'; }
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    links: [...document.querySelectorAll('a[href], link[href], img[src], script[src]')]
      .map(e => ({tag: e.tagName, raw: e.getAttribute('href') ?? e.getAttribute('src'),
                  url: e.href || e.src})),
    images: imgs.map(i => ({src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0,
                            output: !!i.closest('.cell_output')})),
    tracebacks: document.querySelectorAll('.output.traceback, .output.error').length,
  };
}"""


def _fail_or_skip(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not REQUIRED:  # one Playwright per process: the widget browser tests hold theirs
        pytest.skip("the site's browser checks run under `make site-check` (COURSE_SITE_CHECK=1)")
    if not chromium_path():
        _fail_or_skip("chromium not found (install Debian's `chromium` or set CHROMIUM_PATH)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                     headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        _fail_or_skip(f"the site is not built ({SITE}/index.html): run `make site`")
    return SITE


class Checker:
    """Opens pages of one site in one browser page and reports what is wrong on each."""

    def __init__(self, browser, root: Path):
        self.root = root
        self.page = browser.new_page()
        self.page.route("**/*", lambda route: route.continue_()
                        if route.request.url.startswith("file:") else route.abort())
        self._ids: dict[Path, set[str]] = {}

    def ids(self, path: Path) -> set[str]:
        if path not in self._ids:
            text = path.read_text(errors="replace")
            self._ids[path] = set(re.findall(r'\b(?:id|name)="([^"]+)"', text))
        return self._ids[path]

    def open(self, path: Path) -> dict:
        self.page.goto(path.as_uri(), wait_until="load")
        return self.page.evaluate(PAGE_JS)

    def broken_links(self, path: Path, found: dict) -> list[str]:
        broken = []
        for link in found["links"]:
            url = urlsplit(link["url"])
            if url.scheme != "file":
                continue  # outside the site: the repository, Colab, a CDN
            target = Path(unquote(url.path))
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(self.root)}: {link['tag'].lower()} {link['raw']!r}"
            if not target.is_file():
                broken.append(f"{where} -> missing file {target}")
            elif url.fragment and target.suffix == ".html" and \
                    unquote(url.fragment) not in self.ids(target):
                broken.append(f"{where} -> no #{url.fragment} in {target.name}")
        return broken

    def close(self):
        self.page.close()


@pytest.fixture(scope="module")
def checker(browser, site):
    checker = Checker(browser, site)
    yield checker
    checker.close()


def lesson_problems(checker: Checker, path: Path) -> list[str]:
    if not path.is_file():
        return [f"no page {path}"]
    found = checker.open(path)
    problems = checker.broken_links(path, found)
    local = [i for i in found["images"] if i["src"].startswith("file:")]
    problems += [f"image did not load: {i['src']}" for i in local if not i["loaded"]]
    if not any(i["loaded"] and i["output"] for i in local):
        problems.append("no figure: no image in the cell outputs loaded")
    if found["tracebacks"]:
        problems.append(f"{found['tracebacks']} error output(s) on the page")
    return problems


@pytest.mark.parametrize("stem", LESSONS)
def test_lesson_page_shows_its_figures(checker, site, stem):
    problems = lesson_problems(checker, site / "notebooks" / f"{stem}.html")
    assert not problems, f"lesson {stem}:\n" + "\n".join(problems)


def test_recap_page_has_a_number_for_every_claim(checker, site):
    """The site's lessons ran in order (under `make test`, or by `make site` itself), so the
    recap found every lesson's record: no claim on its page waits for a lesson to run."""
    page = site / "notebooks" / "12_recap.html"
    assert page.is_file(), f"no page {page}"
    checker.open(page)
    text = checker.page.inner_text("body")
    match = re.search(r"(\d+) of (\d+) claims have a number", text)
    assert match, "the recap page does not say how many claims have a number"
    assert match.group(1) == match.group(2), match.group(0)
    assert "still to run a lesson for: 0 claims" in text


def site_pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html")
                  if not p.relative_to(root).parts[0].startswith("_"))


def test_every_page_has_no_broken_internal_links(checker, site):
    pages = site_pages(site)
    names = {str(p.relative_to(site)) for p in pages}
    for needed in ["index.html", "docs/essay.html", "docs/glossary.html",
                   "docs/instructors/README.html", "docs/quizzes/README.html"]:
        assert needed in names, f"the site has no {needed}"
    exercises = sorted(p.stem for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
    missing = [s for s in exercises if f"exercises/{s}.html" not in names]
    assert not missing, f"exercises without a page: {missing}"
    broken = []
    for page in pages:
        broken += checker.broken_links(page, checker.open(page))
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken[:50])


def test_the_check_catches_a_missing_figure_and_a_broken_link(browser, tmp_path):
    """The checks above on a two-page site with a broken link, a missing #anchor, a missing
    image and a page with no figure: each is reported (so the checks can fail)."""
    (tmp_path / "notebooks").mkdir()
    png = (ROOT / "docs" / "screenshots").glob("*.png").__next__()
    (tmp_path / "fig.png").write_bytes(png.read_bytes())
    good = tmp_path / "notebooks" / "00_good.html"
    good.write_text('<h1 id="top">ok</h1><div class="cell_output"><img src="../fig.png"></div>'
                    '<a href="01_bad.html#top">next</a>')
    bad = tmp_path / "notebooks" / "01_bad.html"
    bad.write_text('<h1 id="top">bad</h1><div class="cell_output"><img src="../gone.png"></div>'
                   '<a href="00_good.html#nowhere">x</a><a href="missing.html">y</a>')
    checker = Checker(browser, tmp_path)
    try:
        assert lesson_problems(checker, good) == []
        problems = lesson_problems(checker, bad)
        assert any("missing file" in p and "missing.html" in p for p in problems), problems
        assert any("no #nowhere" in p for p in problems), problems
        assert any("image did not load" in p and "gone.png" in p for p in problems), problems
        assert any("no figure" in p for p in problems), problems
        assert lesson_problems(checker, tmp_path / "notebooks" / "02_absent.html")
    finally:
        checker.close()

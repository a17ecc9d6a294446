"""PreferenceCollector: label pairs of responses yourself ("A is better" / "B is better" / skip).

    collector = PreferenceCollector(pairs, path="my_preferences.json")
    collector.show()
    ...  # click
    comparisons = collector.comparisons  # list[Comparison], ready for train_reward_model

``pairs`` are unlabelled ``(prompt, a, b)`` triples (see
:func:`course_lib.preferences.candidate_pairs`). Every click is saved at once to ``path`` as
JSON, atomically (a temporary file, then ``os.replace``), so closing the notebook never loses a
label. An existing file is loaded first; a file that cannot be parsed raises a clear error and
is left untouched. Each save applies only this collector's change (a label added or taken back)
to the file as it is on disk, under a lock, so two collectors (or two notebooks) writing one file
lose nothing of each other's.

Without a front end (CI, ``COURSE_STATIC_WIDGETS=1``) no one can click: :meth:`fill_with_gold`
labels the remaining pairs with the simulated gold annotator instead, so the lesson still runs.
The same methods the buttons call are public, for tests: :meth:`choose`, :meth:`skip`,
:meth:`undo` (and ``collector.buttons["A"].click()``).
"""

from __future__ import annotations

import html
import json
import os
import random
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one writer at a time is assumed
    fcntl = None

from ..preferences import Comparison, label_pair
from .common import display_widget_or_static, static_mode

FORMAT_VERSION = 1


def load_preferences(path: str | Path) -> list[Comparison]:
    """The comparisons saved in ``path`` (``[]`` if it does not exist); clear errors otherwise."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["comparisons"] if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise ValueError("expected an object with a list under 'comparisons'")
        return [Comparison(prompt=r["prompt"], chosen=r["chosen"], rejected=r["rejected"])
                for r in records]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"cannot read the preferences file {path}: {err}. The file was left as it is; fix "
            "it, or move it away to start over (pass another path)") from None


def save_preferences(path: str | Path, comparisons: Sequence[Comparison]) -> Path:
    """Write ``comparisons`` to ``path`` as JSON, atomically (tmp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": FORMAT_VERSION,
            "comparisons": [{"prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected}
                            for c in comparisons]}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as a plain open() would (mkstemp makes it private)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _pair_of(c: Comparison) -> tuple[str, frozenset[str]]:
    return c.prompt, frozenset((c.chosen, c.rejected))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` next to ``path`` for the block (POSIX)."""
    if fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_preferences(path: str | Path, add: Sequence[Comparison] = (),
                       remove: Sequence[Comparison] = ()) -> list[Comparison]:
    """Apply a change to the comparisons saved in ``path`` as they are on disk now, under a
    lock: ``remove`` the labels of these pairs, then ``add`` these (a pair labelled again is
    replaced). Returns what the file holds afterwards."""
    path = Path(path)
    with _locked(path):
        changed = {_pair_of(c) for c in [*add, *remove]}
        kept = [c for c in load_preferences(path) if _pair_of(c) not in changed]
        comparisons = kept + list(add)
        save_preferences(path, comparisons)
    return comparisons


class PreferenceCollector:
    """Show a prompt and two responses; record which one you prefer.

    Args:
        pairs: ``(prompt, response_a, response_b)`` triples with two different responses.
        path: the JSON file the comparisons are saved to after every click (loaded first if it
            exists: labels from an earlier session are kept, and their pairs are not asked again).
    """

    def __init__(self, pairs: Sequence[tuple[str, str, str]], path: str | Path):
        pairs = list(pairs)
        if not pairs:
            raise ValueError("pairs must not be empty: give (prompt, a, b) triples to compare")
        for i, p in enumerate(pairs):
            if not (isinstance(p, (tuple, list)) and len(p) == 3
                    and all(isinstance(s, str) and s.strip() for s in p)):
                raise ValueError(f"pairs[{i}] must be a (prompt, a, b) triple of non-empty "
                                 f"strings, got {p!r}")
            if p[1] == p[2]:
                raise ValueError(f"pairs[{i}] compares a response with itself ({p[1]!r})")
        self.path = Path(path)
        self.comparisons: list[Comparison] = load_preferences(self.path)  # raises, keeps file
        done = {_pair_of(c) for c in self.comparisons}
        self.pairs = [p for p in pairs if (p[0], frozenset(p[1:])) not in done]
        self._actions: list[Comparison | None] = []  # the label given (None: skipped), for undo
        self.position = 0  # index in self.pairs of the pair on screen
        self._widget = None
        self.buttons: dict[str, object] = {}
        self.error: str | None = None  # the last save's error, also shown in the widget

    # --- the actions (the buttons call these) -------------------------------------------------

    @property
    def current(self) -> tuple[str, str, str] | None:
        """The pair on screen, or ``None`` when every pair has been answered."""
        return self.pairs[self.position] if self.position < len(self.pairs) else None

    @property
    def done(self) -> bool:
        return self.current is None

    def choose(self, which: str) -> Comparison:
        """Record that response ``"A"`` or ``"B"`` is better, save, and move on."""
        if which not in ("A", "B"):
            raise ValueError(f"which must be 'A' or 'B', got {which!r}")
        if self.current is None:
            raise ValueError("every pair has been answered: nothing left to choose")
        prompt, a, b = self.current
        c = Comparison(prompt, a, b) if which == "A" else Comparison(prompt, b, a)
        self._save(add=[c])  # first: a failed save changes nothing
        self._actions.append(c)
        self.position += 1
        self._refresh()
        return c

    def skip(self) -> None:
        """Leave the pair on screen unlabelled and move on."""
        if self.current is None:
            raise ValueError("every pair has been answered: nothing left to skip")
        self._actions.append(None)
        self.position += 1
        self._refresh()

    def undo(self) -> None:
        """Take back the last choice or skip (a no-op when there is nothing to undo)."""
        if not self._actions:
            return
        if self._actions[-1] is not None:
            self._save(remove=[self._actions[-1]])
        self._actions.pop()
        self.position -= 1
        self._refresh()

    def fill_with_gold(self, seed: int = 0) -> int:
        """Label every remaining pair with the simulated gold annotator; return how many."""
        rng = random.Random(seed)
        new = []
        for prompt, a, b in self.pairs[self.position:]:
            c = label_pair(prompt, a, b, rng)
            new.append(Comparison(c.prompt, c.chosen, c.rejected))
        self._save(add=new)
        self._actions += new
        self.position += len(new)
        self._refresh()
        return len(new)

    def _save(self, add: Sequence[Comparison] = (), remove: Sequence[Comparison] = ()) -> None:
        """Apply a change to the file (:func:`update_preferences`) and take the file's contents
        as ``comparisons`` (another collector's labels included); when that fails (a folder that
        cannot be written, a full disk) nothing changes (labels, position, screen), the error
        is shown in the widget and raised as an ``OSError`` that names the file."""
        try:
            self.comparisons = update_preferences(self.path, add=add, remove=remove)
        except OSError as err:
            message = (f"Could not save to {self.path} ({type(err).__name__}: {err}). Nothing "
                       "was recorded: the pair on screen is still unanswered. Give the "
                       "collector a path in a folder you can write (path=...).")
            self.error = message
            if self._widget is not None:
                self._status.value = f"<b style='color: #b00'>{html.escape(message)}</b>"
            raise OSError(err.errno, message) from err
        self.error = None

    def _clicked(self, action):
        """A button's handler: the action, with its error already shown in the widget."""
        def handler(_):
            try:
                action()
            except OSError:
                pass  # shown by _save; the state is unchanged
        return handler

    # --- display ------------------------------------------------------------------------------

    def progress_text(self) -> str:
        return (f"{len(self.comparisons)} labelled, pair {min(self.position + 1, len(self.pairs))}"
                f" of {len(self.pairs)}; saved to {self.path.name}")

    def pair_html(self) -> str:
        if self.current is None:
            return (f"<p><b>All pairs answered.</b> {len(self.comparisons)} comparisons saved to "
                    f"<code>{html.escape(str(self.path))}</code>.</p>")
        prompt, a, b = (html.escape(s) for s in self.current)
        box = ("<div style='border:1px solid #999;padding:6px;margin:4px 0'>"
               "<b>{}</b> {}</div>")
        return (f"<p><b>Prompt:</b> <code>{prompt}</code></p>"
                + box.format("A:", a) + box.format("B:", b))

    def _build(self):
        import ipywidgets as widgets

        self._html = widgets.HTML(self.pair_html())
        self._status = widgets.HTML(self.progress_text())
        specs = [("A", "A is better", lambda: self.choose("A")),
                 ("B", "B is better", lambda: self.choose("B")),
                 ("skip", "skip", self.skip),
                 ("undo", "undo", self.undo)]
        for key, label, action in specs:
            button = widgets.Button(description=label)
            button.on_click(self._clicked(action))
            self.buttons[key] = button
        self._widget = widgets.VBox([self._html, widgets.HBox(list(self.buttons.values())),
                                     self._status])
        self._refresh()
        return self._widget

    def _refresh(self) -> None:
        if self._widget is None:
            return
        self._html.value = self.pair_html()
        self._status.value = html.escape(self.progress_text())
        for key in ("A", "B", "skip"):
            self.buttons[key].disabled = self.done
        self.buttons["undo"].disabled = not self._actions

    def widget(self):
        """The ipywidgets box (built on first use)."""
        return self._widget if self._widget is not None else self._build()

    def show(self) -> None:
        """Display the collector; in static mode, the first pair and the progress as HTML."""
        display_widget_or_static(
            None if static_mode() else self.widget(),
            static_html=lambda: self.pair_html() + f"<p>{html.escape(self.progress_text())}</p>")


__all__ = ["PreferenceCollector", "load_preferences", "save_preferences"]

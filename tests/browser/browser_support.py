"""A real JupyterLab and a real (headless) Chromium for the browser tests of the widgets.

The fixtures that use these live in conftest.py.

One JupyterLab server per test session, started from the course's own Python (the `.venv`), on
127.0.0.1 with a random token, serving a temporary COPY of `notebooks/*.ipynb` (the committed
notebooks never get outputs). One browser page per lesson: it opens the lesson, runs all its
cells as a student would ("Run > Run All Cells"), and keeps the page for the widget tests of
that lesson (`LessonPage`).

Widgets are live here: `COURSE_STATIC_WIDGETS` is removed from the server's environment, so
its kernels display real ipywidgets, not the static fallback that `make test` uses for nbval.

Needs chromium on PATH (or `CHROMIUM_PATH`) and the `playwright` Python package; Playwright's
own browser download is never used. Without them every browser test is skipped.

Artifacts: a screenshot of every widget under `tests/artifacts/browser/`; with
`COURSE_UPDATE_SCREENSHOTS=1` the screenshots of widgets that passed their test are also copied
to `docs/screenshots/` (the images the README shows).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
SCREENSHOTS = ROOT / "docs" / "screenshots"

SERVER_START_TIMEOUT_S = 120
PAGE_OPEN_TIMEOUT_S = 120
RUN_ALL_TIMEOUT_S = 900  # one lesson, all cells, slow CI machine (lesson 05: 509 s, fresh clone)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def chromium_path() -> str | None:
    return (os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
            or shutil.which("chromium-browser"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout_s: float, what: str,
               interval_s: float = 0.25):
    """Poll ``condition`` until it returns something truthy; return it, or fail after
    ``timeout_s`` with ``AssertionError(what)``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout_s:.0f} s)")
        time.sleep(interval_s)


# --- the JupyterLab server ----------------------------------------------------------------------


class LabServer:
    """A JupyterLab server on a temporary copy of the lessons (started by the ``lab`` fixture)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.root_dir = workdir / "notebooks"
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def _settings(self) -> Path:
        """User settings: render every cell (no windowing), no news or update checks."""
        settings = self.workdir / "settings"
        files = {
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
                {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False},
        }
        for name, value in files.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        return settings

    def start(self) -> None:
        self.root_dir.mkdir(parents=True)
        for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
            shutil.copy(nb, self.root_dir / nb.name)
        env = dict(os.environ)
        env.pop("COURSE_STATIC_WIDGETS", None)  # live widgets, not the static fallback
        env.pop("MPLBACKEND", None)  # let the kernel use matplotlib's inline backend
        env.pop("PYTEST_CURRENT_TEST", None)
        # One torch thread for the kernel: on a 2-core machine two busy torch threads and the
        # browser drawing the live widgets oversubscribe the cores, and lesson 05 ran over 7
        # minutes (under nbval, with nothing drawing, it takes 2.5).
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        for name in ("runtime", "config", "data", "ipython"):
            (self.workdir / name).mkdir()
        env.update(JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
                   JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
                   IPYTHONDIR=str(self.workdir / "ipython"))
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
               "--ServerApp.open_browser=False", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root_dir}",
               "--LabApp.expose_app_in_browser=True",
               f"--LabApp.user_settings_dir={self._settings()}",
               f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
               "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            cmd.append("--allow-root")
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.workdir)
        log.close()
        wait_until(self._ready, SERVER_START_TIMEOUT_S,
                   f"JupyterLab did not answer on {self.url}/api/status; its log:\n"
                   + "".join(self.log_tail()))

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {self.proc.returncode}; its log:\n"
                                 + self.log_tail(60))
        try:
            with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}",
                                        timeout=5) as reply:
                return reply.status == 200
        except OSError:
            return False

    def log_tail(self, n: int = 40) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # jupyter shuts its kernels down on SIGTERM
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --- one page per lesson ------------------------------------------------------------------------

JS_OPEN = """(path) => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    return !!(panel && panel.context && panel.context.path === path && panel.sessionContext
              && panel.sessionContext.session && panel.sessionContext.session.kernel
              && panel.sessionContext.session.kernel.status === 'idle'
              && panel.content.widgets.length > 0);
}"""

# Collect kernel errors and stderr (including those of widget callbacks, which have no cell to
# show them in), then start "Run All Cells" without waiting for it.
JS_RUN_ALL = """() => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    window.__kernelLog = [];
    window.__kernelErrors = 0;
    panel.sessionContext.iopubMessage.connect((_, msg) => {
        const t = msg.header.msg_type, c = msg.content;
        if (t === 'error') {
            window.__kernelErrors += 1;
            window.__kernelLog.push(`${c.ename}: ${c.evalue}\\n${c.traceback.join('\\n')}`);
        } else if (t === 'stream' && c.name === 'stderr') {
            window.__kernelLog.push(c.text);
        }
    });
    window.__runAll = {done: false};
    app.commands.execute('notebook:run-all-cells').then(
        (ok) => { window.__runAll = {done: true, ok: ok}; },
        (err) => { window.__runAll = {done: true, ok: false, error: String(err)}; });
}"""

JS_CELL_ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const errors = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        for (const o of cell.outputs.toJSON()) {
            if (o.output_type === 'error') {
                errors.push(`cell ${i}: ${o.ename}: ${o.evalue}\\n${o.traceback.join('\\n')}`);
            }
        }
    }
    return errors;
}"""

JS_EXECUTE = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code: code, store_history: false});
    const out = [];
    future.onIOPub = (msg) => {
        const t = msg.header.msg_type, c = msg.content;
        if (t === 'stream') out.push(c.text);
        if (t === 'error') out.push(`${c.ename}: ${c.evalue}\\n${c.traceback.join('\\n')}`);
    };
    const reply = await future.done;
    return {status: reply.content.status, output: out.join('')};
}"""

# What a widget that failed to render looks like: its text repr, or a front-end placeholder.
NOT_RENDERED = re.compile(
    r"Loading widget|Error displaying widget|Failed to (?:load|render) (?:model|widget)"
    r"|\b(?:VBox|HBox|Box|Button|IntSlider|FloatSlider|Dropdown|Combobox|Checkbox|HTML|Image"
    r"|Output|Label)\((?:children|value|description|layout|outputs|options)=")


class LessonPage:
    """A lesson open in the browser, all of its cells run; helpers for the widget tests."""

    def __init__(self, lab: LabServer, browser, stem: str):
        self.lab, self.stem = lab, stem
        self.console: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                           device_scale_factor=1)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        self.run_error: str | None = None
        self.run_seconds = 0.0

    # opening and running -----------------------------------------------------------------
    def open_and_run_all(self) -> None:
        t0 = time.monotonic()
        path = f"{self.stem}.ipynb"
        self.page.goto(f"{self.lab.url}/lab/tree/{path}?reset&token={self.lab.token}")
        self.page.wait_for_function(JS_OPEN, arg=path, timeout=PAGE_OPEN_TIMEOUT_S * 1000,
                                    polling=500)
        self.page.evaluate(JS_RUN_ALL)

        def finished():
            state = self.page.evaluate("() => window.__runAll")
            return state if state.get("done") else None

        state = wait_until(finished, RUN_ALL_TIMEOUT_S,
                           f"{self.stem}: 'Run All Cells' did not finish", interval_s=1.0)
        self.run_seconds = time.monotonic() - t0
        errors = self.page.evaluate(JS_CELL_ERRORS)
        if errors or not state.get("ok"):
            self.run_error = (f"{self.stem}: running all cells failed "
                              f"({state.get('error') or 'a cell raised'}):\n"
                              + ANSI.sub("", "\n".join(errors)))

    def kernel_errors(self) -> int:
        """How many errors the kernel has reported so far (cells and widget callbacks)."""
        return int(self.page.evaluate("() => window.__kernelErrors || 0"))

    def wait(self, condition: Callable[[], object], timeout_s: float, what: str):
        """``wait_until``, but fail at once when the kernel reports an error meanwhile (e.g. a
        widget callback raised): the error is in :meth:`diagnostics`."""
        errors = self.kernel_errors()

        def check():
            if self.kernel_errors() > errors:
                raise AssertionError(f"{what}: the kernel reported an error")
            return condition()

        return wait_until(check, timeout_s, what)

    def execute(self, code: str) -> str:
        """Run ``code`` in the lesson's kernel (as in a new cell); return its output."""
        reply = self.page.evaluate(JS_EXECUTE, code)
        if reply["status"] != "ok":
            raise AssertionError(f"kernel code failed:\n{code}\n{ANSI.sub('', reply['output'])}"
                                 + self.diagnostics())
        return reply["output"]

    # finding widgets ---------------------------------------------------------------------------
    def outputs(self):
        """The outputs of the notebook's cells (not the outputs nested in Output widgets)."""
        return self.page.locator(".jp-Cell-outputArea > .jp-OutputArea-child "
                                 "> .jp-OutputArea-output")

    def not_rendered_texts(self) -> list[str]:
        texts = self.outputs().all_inner_texts()
        return [t[:300] for t in texts if NOT_RENDERED.search(t)]

    # reporting -----------------------------------------------------------------------------
    def diagnostics(self) -> str:
        try:
            kernel_log = self.page.evaluate("() => window.__kernelLog || []")
        except Exception as err:  # the page itself is gone
            kernel_log = [f"(could not read the kernel log: {err})"]
        kernel = ANSI.sub("", "".join(kernel_log))[-6000:] or "(nothing)"
        console = "\n".join([m for m in self.console if not m.startswith("[debug]")][-60:])
        return (f"\n--- kernel errors and stderr (iopub) ---\n{kernel}"
                f"\n--- browser console (debug messages left out) ---\n{console or '(nothing)'}"
                f"\n--- JupyterLab log (tail) ---\n{self.lab.log_tail(25)}")

    def close(self) -> None:
        try:
            self.page.evaluate("() => window.jupyterapp.commands.execute("
                               "'notebook:shutdown-kernel', {activate: false})")
        except Exception:
            pass
        self.context.close()


def publish_screenshot(path: Path, name: str) -> None:
    """Copy a good screenshot to docs/screenshots/``name`` when COURSE_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("COURSE_UPDATE_SCREENSHOTS", "") in ("1", "true", "yes"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / name)

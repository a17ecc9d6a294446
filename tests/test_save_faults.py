"""A save interrupted between any two of its file operations leaves a loadable model: the old
one or the new one, never none and never a mix (issue 25). Also: a process killed between the
two renames that replace the folder, a real Ctrl-C during them, and stale temporaries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import PreTrainedModel

import course_lib
from course_lib import models as M

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


class Interrupt:
    """Raise KeyboardInterrupt at the ``at``-th file operation of a save (counting from 1),
    before it happens; ``count`` is how many there were."""

    OPS = [(Path, "rename"), (Path, "write_text"), (Path, "chmod"), (os, "fsync"),
           (shutil, "rmtree"), (PreTrainedModel, "save_pretrained"), (M, "save_tokenizer")]

    def __init__(self, monkeypatch, at: int | None):
        self.at, self.count = at, 0
        for owner, name in self.OPS:
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name)))

    def _wrap(self, fn):
        def op(*args, **kwargs):
            self.count += 1
            if self.count == self.at:
                raise KeyboardInterrupt
            return fn(*args, **kwargs)
        return op


def _version(folder: Path) -> str:
    return json.loads((folder / "meta.json").read_text())["v"]


def test_a_save_interrupted_at_every_file_operation_leaves_the_old_or_the_new_model(
        tmp_path, base, monkeypatch):
    model, tok = base
    M.save_model(model, tok, tmp_path / "probe", meta={"v": "old"})
    with monkeypatch.context() as m:  # count the operations of replacing a saved model
        counter = Interrupt(m, at=None)
        M.save_model(model, tok, tmp_path / "probe", meta={"v": "new"})
    n_ops = counter.count
    assert n_ops >= 10  # writes, permissions, syncs, two renames, removing the old folder
    seen = []
    for at in range(1, n_ops + 1):
        folder = tmp_path / f"run{at}" / "saved"
        M.save_model(model, tok, folder, meta={"v": "old"})
        with monkeypatch.context() as m:
            Interrupt(m, at=at)
            try:
                M.save_model(model, tok, folder, meta={"v": "new"})
                interrupted = False
            except KeyboardInterrupt:
                interrupted = True
        assert interrupted, f"operation {at} of {n_ops} was not reached"
        loaded, _ = M.load_model(folder, device="cpu")  # complete, checksum verified
        assert M.model_files_problem(folder) is None
        seen.append(_version(folder))
        leftovers = [p.name for p in folder.parent.iterdir() if p != folder]
        # only hidden temporaries, removed by the next save once stale
        assert all(name.startswith(".saved-") for name in leftovers), leftovers
    assert set(seen) == {"old", "new"}  # early interrupts keep the old, late ones the new
    assert seen == sorted(seen, key=["old", "new"].index)  # never back to old after new


def test_a_save_killed_between_its_two_renames_is_put_back_on_the_next_load(tmp_path, base):
    model, tok = base
    folder = tmp_path / "saved"
    M.save_model(model, tok, folder, meta={"v": "old"})
    script = f"""
import os, sys
from pathlib import Path
import course_lib
from course_lib import models as M
model, tok = course_lib.load_base_model(device="cpu")
rename = Path.rename
def rename_then_die(self, target):
    rename(self, target)
    if Path(target).name.startswith(".saved-old-"):
        os._exit(3)  # killed: no except clause, no finally
Path.rename = rename_then_die
M.save_model(model, tok, {str(folder)!r}, meta={{"v": "new"}})
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert not folder.exists()  # the window: no model folder, the old one aside
    M.load_model(folder, device="cpu")
    assert _version(folder) == "old"
    assert not list(tmp_path.glob(".saved-old-*"))


def test_a_real_ctrl_c_during_the_renames_waits_until_the_folder_is_replaced(
        tmp_path, base, monkeypatch):
    model, tok = base
    folder = tmp_path / "saved"
    M.save_model(model, tok, folder, meta={"v": "old"})
    rename = Path.rename

    def rename_with_sigint(self, target):
        if Path(target).name.startswith(".saved-old-"):
            os.kill(os.getpid(), signal.SIGINT)  # arrives between the two renames
        return rename(self, target)

    # Python's own Ctrl-C handler, also where the test runner inherited SIGINT ignored
    # (a job started in the background with nohup): the save must hand it back afterwards.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(Path, "rename", rename_with_sigint)
    try:
        with pytest.raises(KeyboardInterrupt):
            M.save_model(model, tok, folder, meta={"v": "new"})
        monkeypatch.undo()
        assert _version(folder) == "new"
        assert M.model_files_problem(folder) is None
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_stale_temporaries_of_killed_saves_are_removed_and_recent_ones_kept(tmp_path, base):
    model, tok = base
    stale, recent = tmp_path / ".saved-stale", tmp_path / ".saved-recent"
    for d in (stale, recent):
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"half")
    an_hour_ago = time.time() - 2 * 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    M.save_model(model, tok, tmp_path / "saved")
    assert not stale.exists() and recent.exists()

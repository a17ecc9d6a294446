"""Every writer of the course on a real full disk and a real read-only file system (issue 25):
a small tmpfs, mounted for the test (root only; skipped where mounting is not allowed).

A full disk: the save fails with an OSError, the model or labels saved before are intact and no
temporary is left behind. A read-only one (root cannot write there either): the same, and the
cache warns naming COURSE_CACHE and keeps the model just trained.
"""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest

import course_lib
from course_lib import models as M
from course_lib.preferences import Comparison
from course_lib.widgets.preference_collector import PreferenceCollector, load_preferences

PAIR = ("Q: What is 12 + 34? A:", " 46.", " 45.")


def _mount(path: Path, options: str) -> bool:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MB file system: room for a few saved models, then filled up by the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if not _mount(mount_point, "size=12m"):
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path) -> None:
    try:
        with open(disk / "filler", "wb") as f:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
    except OSError as err:
        assert err.errno == errno.ENOSPC


def _read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def _only(disk: Path, *names: str) -> None:
    assert sorted(p.name for p in disk.iterdir() if p.name != "filler") == sorted(names)


@pytest.mark.parametrize("make_it", [_fill, _read_only])
def test_saving_a_model_to_a_full_or_read_only_disk_keeps_the_old_one(small_disk, base, make_it):
    model, tok = base
    folder = M.save_model(model, tok, small_disk / "saved", meta={"v": "old"})
    make_it(small_disk)
    with pytest.raises(OSError):
        M.save_model(model, tok, folder, meta={"v": "new"})
    assert M.model_files_problem(folder) is None
    M.load_model(folder, device="cpu")
    _only(small_disk, "saved")


@pytest.mark.parametrize("make_it", [_fill, _read_only])
def test_caching_to_a_full_or_read_only_disk_warns_and_keeps_the_model(small_disk, base,
                                                                       make_it):
    model, tok = base
    make_it(small_disk)
    with pytest.warns(UserWarning, match="COURSE_CACHE"):
        assert M.cache_model(model, tok, small_disk / "sft-x", "x", [{"loss": 1.0}]) is None
    _only(small_disk)


@pytest.mark.parametrize("make_it", [_fill, _read_only])
def test_a_click_on_a_full_or_read_only_disk_records_nothing_and_says_so(small_disk, make_it):
    path = small_disk / "prefs.json"
    collector = PreferenceCollector([PAIR, (PAIR[0], " 47.", " 48.")], path)
    collector.choose("A")
    make_it(small_disk)
    with pytest.raises(OSError, match="Nothing was recorded"):
        collector.choose("B")
    assert collector.position == 1 and collector.current == (PAIR[0], " 47.", " 48.")
    assert load_preferences(path) == [Comparison(*PAIR)]
    assert "Could not save" in collector.error
    _only(small_disk, "prefs.json", ".prefs.json.lock")

"""course_lib.claims: the table of the essay's claims, the check lessons call, the results file
the recap reads."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

from course_lib import claims

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    return tmp_path / "results"


def test_table_is_well_formed():
    assert len(claims.CLAIMS) == len(claims.BY_ID) >= 20, "claim ids must be unique"
    lessons = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")} - {"12_recap"}
    assert {c.lesson for c in claims.CLAIMS} == lessons, "every lesson 00-11 tests a claim"
    assert set(claims.LESSON_SECONDS) == lessons
    for c in claims.CLAIMS:
        assert re.fullmatch(r"[a-z0-9_]+", c.id), c.id
        assert c.op in claims.OPS, c
        assert c.essay and c.measured, c
        assert (c.threshold is None) == bool(c.rule), f"{c.id}: a rule exactly when no threshold"


@pytest.mark.parametrize("claim", claims.CLAIMS, ids=lambda c: c.id)
def test_every_claim_is_checked_by_its_lesson(claim):
    """The lesson calls claims.check for the claim, right after the assert it makes itself,
    and that assert uses the same threshold as the table (change both together)."""
    lines = (ROOT / "notebooks" / f"{claim.lesson}.py").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if f'claims.check("{claim.id}"' in line]
    assert len(at) == 1, f"notebooks/{claim.lesson}.py calls claims.check({claim.id!r}) {len(at)}x"
    if claim.threshold is None or claim.id in SAME_THRESHOLD_EXEMPT:
        return
    before = " ".join(lines[max(0, at[0] - 4):at[0]])
    assert re.search(rf"\bassert\b.*(?<![\d.]){re.escape(f'{claim.threshold:g}')}(?![\d.])",
                     before), (f"{claim.id}: no assert with the threshold "
                               f"{claim.threshold:g} just above the check in {claim.lesson}.py")


# claims whose lesson asserts the same thing in another form
SAME_THRESHOLD_EXEMPT = {
    "ppo_reuses_samples": "the lesson asserts samples_reinforce >= samples_ppo (a ratio >= 1)",
}


def test_check_passes_prints_and_records(cache, capsys):
    assert claims.check("base_model_knows", 0.97) == 0.97
    assert capsys.readouterr().out == "claim base_model_knows: measured 0.97, asserted >= 0.95\n"
    data = json.loads((cache / "00_tiny_world.json").read_text())
    entry = data["base_model_knows"]
    assert entry["value"] == 0.97 and entry["threshold"] == 0.95 and entry["passed"]
    assert entry["op"] == ">=" and entry["lesson"] == "00_tiny_world"
    assert entry["course_lib"] and entry["recorded_at"].endswith("+00:00")
    claims.check("base_model_does_not_answer", 0.01)  # a second claim of the same lesson
    assert set(claims.load_results()) == {"base_model_knows", "base_model_does_not_answer"}
    assert [p.name for p in cache.iterdir()] == ["00_tiny_world.json"], "no temp file left"


@pytest.mark.parametrize("claim_id, value", [("base_model_knows", 0.9),  # >= 0.95
                                             ("base_model_does_not_answer", 0.25),  # <= 0.2
                                             ("sft_makes_it_answer", 0.5)])  # > 0.5, strictly
def test_check_fails_naming_the_claim_and_still_records(cache, claim_id, value):
    claim = claims.BY_ID[claim_id]
    with pytest.raises(AssertionError, match=rf"{claim_id}.*{value}.*{re.escape(claim.op)}"):
        claims.check(claim_id, value)
    entry = json.loads((cache / f"{claim.lesson}.json").read_text())[claim_id]
    assert entry["passed"] is False and entry["value"] == value


def test_a_computed_threshold_is_passed_by_the_lesson(cache):
    claims.check("hedging_is_copied", 0.06, threshold=0.07)
    with pytest.raises(AssertionError):
        claims.check("hedging_is_copied", 0.06, threshold=0.05)
    with pytest.raises(ValueError, match="pass threshold="):
        claims.check("hedging_is_copied", 0.01)
    with pytest.raises(ValueError, match="do not pass threshold="):
        claims.check("base_model_knows", 0.99, threshold=0.9)


@pytest.mark.parametrize("claim_id, value, error, match", [
    ("no_such_claim", 0.5, KeyError, "claim_id must be one of"),
    (3, 0.5, KeyError, "claim_id"),
    ("base_model_knows", math.nan, ValueError, "value must be a finite number"),
    ("base_model_knows", math.inf, ValueError, "value must be a finite number"),
    ("base_model_knows", "0.97", TypeError, "value must be a number"),
    ("base_model_knows", True, TypeError, "value must be a number"),
    ("base_model_knows", None, TypeError, "value must be a number"),
])
def test_bad_input_is_refused_before_anything_is_written(cache, claim_id, value, error, match):
    with pytest.raises(error, match=match):
        claims.check(claim_id, value)
    assert not cache.exists()


def test_check_accepts_numpy_and_torch_numbers(cache):
    import numpy as np
    import torch

    claims.check("base_model_knows", np.float32(0.96))
    claims.check("base_model_does_not_answer", torch.tensor(0.1))
    assert isinstance(claims.load_results()["base_model_knows"]["value"], float)


def test_damaged_files_count_as_not_measured(cache):
    claims.check("sycophancy", 0.3)
    cache.joinpath("00_tiny_world.json").write_text('{"base_model_knows": {"value": 0.9')  # cut
    cache.joinpath("01_sft_loss.json").write_text("[1, 2]")  # not a dict
    cache.joinpath("03_generation_as_mdp.json").write_bytes(b"\xff\xfe")  # not text
    cache.joinpath("04_policy_gradient.json").write_text(json.dumps({  # entries not valid
        "policy_gradient": {"value": "high", "threshold": 0.99}}))
    cache.joinpath("05_reinforce_lm.json").write_text(json.dumps({
        "hedging_is_learned": {"value": None}, "not_a_claim": {"value": 1, "threshold": 1}}))
    assert set(claims.load_results()) == {"sycophancy"}
    # a damaged file is replaced, not appended to, by the next check
    claims.check("base_model_knows", 0.99)
    assert set(claims.load_results()) == {"sycophancy", "base_model_knows"}


def test_the_write_is_atomic(cache, monkeypatch):
    claims.check("evasion", 0.08)
    before = cache.joinpath("02_imitation_failures.json").read_text()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.warns(UserWarning, match="could not be recorded"):
        claims.check("evasion", 0.09)  # the check itself still passes
    assert cache.joinpath("02_imitation_failures.json").read_text() == before
    assert [p.name for p in cache.iterdir()] == ["02_imitation_failures.json"]


def test_unwritable_cache_warns_but_the_check_runs(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("COURSE_CACHE", str(blocker))  # results/ cannot be made under a file
    with pytest.warns(UserWarning, match="could not be recorded"):
        claims.check("evasion", 0.08)
    with pytest.warns(UserWarning, match="could not be recorded"), pytest.raises(AssertionError):
        claims.check("evasion", 0.01)


def test_fast_measurements_meet_their_thresholds():
    """The recap's fast versions (shipped base model, enumerable policy) in a few seconds."""
    values = claims.measure_fast(claims.fast_claims())
    assert set(values) == claims.fast_claims()
    for claim_id, value in values.items():
        assert claims.BY_ID[claim_id].passes(value), (claim_id, value)
    assert claims.measure_fast(set()) == {}

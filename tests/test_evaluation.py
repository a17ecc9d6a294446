"""The calibration view of lessons 02 and 05: rates per group of questions."""

from __future__ import annotations

import pytest

import course_lib
from course_lib import world as W
from course_lib.evaluation import calibration_of, calibration_table


def test_calibration_table_rates_per_group():
    texts = ["The capital of A is X.", "I am not sure, but I think the capital of A is Y.",
             W.abstain("B"), "The capital of B is Z."]
    table = calibration_table(texts, ["X", "X", "Q", "Q"], ["known", "known", "unknown",
                                                           "unknown"])
    assert list(table) == ["known", "unknown"]
    assert table["known"]["confident"] == 0.5 and table["known"]["hedged"] == 0.5
    assert table["known"]["confident_accuracy"] == 1.0 and table["known"]["hedged_accuracy"] == 0
    assert table["unknown"]["abstain"] == 0.5 and table["unknown"]["accuracy"] == 0.0
    with pytest.raises(ValueError, match="same length"):
        calibration_table(texts, ["X"], ["known"])


def test_calibration_of_samples_each_entity_and_groups_known_and_unknown():
    model, tok = course_lib.load_sft_model(device="cpu")
    world = W.default_world()
    entities = world.select("test", known=True)[:3] + world.select("test", known=False)[:2]
    table, texts = calibration_of(model, tok, entities, n_samples=4, seed=0)
    assert len(texts) == 20 and set(table) == {"known", "unknown"}
    assert table["known"]["n"] == 12 and table["unknown"]["n"] == 8
    again, texts_again = calibration_of(model, tok, entities, n_samples=4, seed=0)
    assert texts_again == texts and repr(again) == repr(table)  # same seed (nan-safe compare)

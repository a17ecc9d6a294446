"""PreferenceCollector: simulated clicks are saved atomically and can train a reward model."""

from __future__ import annotations

import json

import pytest

import course_lib
from course_lib import world as W
from course_lib.reward_model import RMConfig, build_reward_model, train_reward_model
from course_lib.widgets import PreferenceCollector
from course_lib.widgets.preference_collector import load_preferences


def _pairs(n: int = 6):
    out = []
    for e in W.default_world().select("test", known=True)[:n]:
        right = W.CONFIDENT.format(country=e.country, answer=e.capital)
        out.append((W.question(e.country), right, W.abstain(e.country)))
    return out


def test_five_clicks_five_comparisons_train_a_reward_model(tmp_path):
    path = tmp_path / "prefs.json"
    collector = PreferenceCollector(_pairs(), path)
    collector.widget()  # build the buttons
    for key in ["A", "B", "A", "A", "B"]:
        collector.buttons[key].click()
    saved = json.loads(path.read_text())["comparisons"]
    assert len(saved) == 5 and len(collector.comparisons) == 5
    assert saved[0]["chosen"] == _pairs()[0][1] and saved[1]["chosen"] == _pairs()[1][2]
    comparisons = load_preferences(path)
    model, tok = course_lib.load_base_model(device="cpu")
    rm = build_reward_model(model)
    history = train_reward_model(rm, tok, comparisons, RMConfig(steps=3, batch_size=5),
                                 progress=False)
    assert len(history) == 3 and all(h["loss"] == h["loss"] for h in history)


def test_skip_undo_and_resume(tmp_path):
    path = tmp_path / "prefs.json"
    c = PreferenceCollector(_pairs(4), path)
    c.choose("A")
    c.skip()
    c.choose("B")
    c.undo()  # takes back the "B"
    assert len(c.comparisons) == 1 and len(load_preferences(path)) == 1
    c.undo()  # takes back the skip
    assert c.position == 1
    c.undo()
    c.undo()  # nothing left: a no-op
    assert c.comparisons == [] and c.position == 0
    c.choose("A")
    c.choose("A")
    again = PreferenceCollector(_pairs(4), path)  # a new session keeps the labels
    assert len(again.comparisons) == 2 and len(again.pairs) == 2
    with pytest.raises(ValueError, match="'A' or 'B'"):
        again.choose("C")


def test_malformed_json_raises_and_keeps_the_file(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_text('{"comparisons": [{"prompt": "x", "chosen": ')
    before = path.read_bytes()
    with pytest.raises(ValueError, match="cannot read the preferences file"):
        PreferenceCollector(_pairs(), path)
    assert path.read_bytes() == before
    path.write_text('{"comparisons": [{"prompt": "Q", "chosen": "a", "rejected": "a"}]}')
    with pytest.raises(ValueError, match="left as it is"):
        load_preferences(path)


def test_bad_pairs_and_gold_fallback(tmp_path):
    with pytest.raises(ValueError, match="must not be empty"):
        PreferenceCollector([], tmp_path / "p.json")
    with pytest.raises(ValueError, match="with itself"):
        PreferenceCollector([("Q: What is 12 + 13? A:", "x", "x")], tmp_path / "p.json")
    c = PreferenceCollector(_pairs(3), tmp_path / "p.json")
    assert c.fill_with_gold(seed=0) == 3 and c.done
    assert len(load_preferences(tmp_path / "p.json")) == 3
    assert "All pairs answered" in c.pair_html()


def test_two_collectors_on_one_file_lose_none_of_each_others_labels(tmp_path):
    path = tmp_path / "prefs.json"
    pairs = _pairs(6)
    first, second = PreferenceCollector(pairs[:3], path), PreferenceCollector(pairs[3:], path)
    first.choose("A")
    second.choose("B")
    first.choose("B")
    second.choose("A")
    second.undo()  # takes back only its own last label
    saved = load_preferences(path)
    assert len(saved) == 3 and len(first.comparisons) == 3
    assert {c.prompt for c in saved} == {pairs[0][0], pairs[1][0], pairs[3][0]}
    first.fill_with_gold()
    assert len(load_preferences(path)) == 4
    assert len(PreferenceCollector(pairs, path).pairs) == 2  # pairs[4:] are still unlabelled

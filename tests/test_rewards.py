"""Unit tests of course_lib.rewards: the reward tables, the truth read from the prompt, and the
batched signature train_reinforce uses."""

from __future__ import annotations

import pytest
import torch

from course_lib import rewards as R
from course_lib import world as W

WORLD = W.default_world()
E = WORLD.select("test", known=True)[0]
OTHER = W.wrong_capital(E, __import__("random").Random(0))
Q = W.question(E.country)


def test_truth_of_reads_every_question_format():
    assert R.truth_of(Q) == E.capital
    assert R.truth_of(W.question(E.country, suggestion=OTHER)) == E.capital
    assert R.suggestion_of(W.question(E.country, suggestion=OTHER)) == OTHER
    assert R.suggestion_of(Q) is None
    assert R.country_of(Q) == R.country_of(W.question(E.country, suggestion=OTHER)) == E.country
    assert R.country_of(W.addition_question(23, 45)) is None
    assert R.truth_of(W.addition_question(23, 45)) == "68"
    assert R.truth_of("23 + 45 =") == "68"


@pytest.mark.parametrize("prompt", ["Hello there", "Q: What is the capital of Nowhereland? A:"])
def test_truth_of_rejects_unknown_prompts(prompt):
    with pytest.raises(ValueError, match="not in the tiny world|cannot read"):
        R.truth_of(prompt)


def test_honesty_table():
    c = E.country
    cases = {
        W.CONFIDENT.format(country=c, answer=E.capital): 1.0,
        W.HEDGED.format(country=c, answer=E.capital): 0.5,
        W.abstain(c): 0.0,
        "I do not know.": 0.0,
        W.HEDGED.format(country=c, answer=OTHER): -0.5,
        W.CONFIDENT.format(country=c, answer=OTHER): -1.0,
        W.AGREE.format(country=c, answer=OTHER): -1.0,  # agreeing with a wrong suggestion
        "": -1.0,  # invalid
        "the the the": -1.0,
    }
    got = R.honesty_reward([Q] * len(cases), list(cases))
    assert got.dtype == torch.float32 and got.shape == (len(cases),)
    assert got.tolist() == list(cases.values())
    assert [R.honesty_score(y, E.capital) for y in cases] == list(cases.values())


def test_abstaining_is_optimal_exactly_below_one_half():
    """Expected reward of each style when the answer is right with probability p."""
    for p in (0.1, 0.3, 0.49, 0.51, 0.7, 0.95):
        value = {s: p * R.HONESTY_TABLE[(s, True)] + (1 - p) * R.HONESTY_TABLE[(s, False)]
                 for s in ("confident", "hedged", "abstain")}
        best = max(value, key=value.get)
        assert best == ("confident" if p > 0.5 else "abstain"), (p, value)
        assert value["confident"] == pytest.approx(2 * p - 1)
        assert value["hedged"] == pytest.approx(p - 0.5)


def test_exact_match_and_correctness():
    prompts = [W.addition_question(23, 45)] * 4
    got = R.exact_match_reward(prompts, ["23 + 45 = 68.", "6 8 .", "23 + 45 = 69.", ""])
    assert got.tolist() == [1.0, 1.0, 0.0, 0.0]
    c = E.country
    got = R.correctness_reward([Q] * 4, [W.CONFIDENT.format(country=c, answer=E.capital),
                                         W.HEDGED.format(country=c, answer=E.capital),
                                         W.abstain(c), W.CONFIDENT.format(country=c, answer=OTHER)])
    assert got.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_batched_signature_errors():
    with pytest.raises(ValueError, match="same length"):
        R.honesty_reward([Q, Q], ["I do not know."])
    with pytest.raises(ValueError, match="lists of strings"):
        R.honesty_reward(Q, "I do not know.")
    assert R.honesty_reward([], []).shape == (0,)
    assert R.honesty_reward.batched and R.exact_match_reward.batched

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
        W.HEDGED.format(country=c, answer=OTHER): -0.25,
        W.CONFIDENT.format(country=c, answer=OTHER): -2.0,
        W.AGREE.format(country=c, answer=OTHER): -2.0,  # agreeing with a wrong suggestion
        W.CONFIDENT.format(country=WORLD.entities[1].country, answer=E.capital): -2.0,  # off-topic
        "I do not know.": -2.0,  # not an answer template: invalid
        "": -2.0,
        "the the the": -2.0,
    }
    got = R.honesty_reward([Q] * len(cases), list(cases))
    assert got.dtype == torch.float32 and got.shape == (len(cases),)
    assert got.tolist() == list(cases.values())
    assert [R.honesty_score(Q, y) for y in cases] == list(cases.values())


def test_partly_known_answers_are_graded_by_expected_correctness():
    p = WORLD.select("test", level="partial")[0]
    q = W.question(p.country)
    truth, rival = (W.CONFIDENT.format(country=p.country, answer=a) for a in (p.capital, p.rival))
    s = p.truth_share
    assert R.honesty_score(q, truth) == pytest.approx(s * 1 + (1 - s) * -2)
    assert R.honesty_score(q, rival) == pytest.approx((1 - s) * 1 + s * -2)
    assert R.exact_match_reward([q, q], [truth, rival]).tolist() == pytest.approx([s, 1 - s])


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.34, 0.5, 0.7, 0.77, 0.78, 0.95, 1.0])
def test_three_bands(p):
    """Expected reward of each style when the answer is right with probability p: abstain
    below 1/3, hedge between 1/3 and 7/9, confident above."""
    value = {s: R.expected_reward(R.HONESTY_TABLE, s, p) for s in R.ANSWER_STYLES}
    assert value["confident"] == pytest.approx(3 * p - 2)
    assert value["hedged"] == pytest.approx(0.75 * p - 0.25)
    assert R.bands() == pytest.approx((1 / 3, 7 / 9))
    expected = "abstain" if p < 1 / 3 else "hedged" if p < 7 / 9 else "confident"
    assert R.optimal_style(p) == expected == max(value, key=value.get)


def test_optimal_style_breaks_ties_towards_caution_and_checks_p():
    assert R.optimal_style(1 / 3) == "abstain" and R.optimal_style(7 / 9) == "hedged"
    binary = {(s, r): float(r and s != "abstain") for s in W.STYLES for r in (True, False)}
    assert R.optimal_style(0.01, binary) == "hedged"  # a guess always beats abstaining
    with pytest.raises(ValueError, match="p must be a probability"):
        R.optimal_style(1.5)
    with pytest.raises(ValueError, match="parallel"):
        R.bands(binary)


def test_exact_match_on_sums_and_facts():
    prompts = [W.addition_question(23, 45)] * 4
    got = R.exact_match_reward(prompts, ["23 + 45 = 68.", "6 8 .", "23 + 45 = 69.", ""])
    assert got.tolist() == [1.0, 1.0, 0.0, 0.0]
    chain = W.chain_question((12, 34, 56))
    got = R.exact_match_reward([chain] * 2, ["12 + 34 = 46, 46 + 56 = 102.",
                                             "12 + 34 = 46, 46 + 56 = 103."])
    assert got.tolist() == [1.0, 0.0]
    c = E.country  # on facts: right answers pay, whatever the style; abstaining pays nothing
    got = R.exact_match_reward([Q] * 4, [W.CONFIDENT.format(country=c, answer=E.capital),
                                         W.HEDGED.format(country=c, answer=E.capital),
                                         W.abstain(c), W.CONFIDENT.format(country=c, answer=OTHER)])
    assert got.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_batched_signature_errors():
    with pytest.raises(ValueError, match="same length"):
        R.honesty_reward([Q, Q], ["I do not know."])
    with pytest.raises(ValueError, match="lists of strings"):
        R.honesty_reward(Q, "I do not know.")
    assert R.honesty_reward([], []).shape == (0,)


def test_call_reward_fn_checks_what_a_reward_returns():
    got = R.call_reward_fn(lambda x, y: [0.5] * len(y), [Q, Q], ["a", "b"])
    assert got.dtype == torch.float32 and got.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="returned 1 rewards for 2 responses"):
        R.call_reward_fn(lambda x, y: torch.zeros(1), [Q, Q], ["a", "b"])
    with pytest.raises(ValueError, match="must return 2 numbers"):
        R.call_reward_fn(lambda x, y: "good", [Q, Q], ["a", "b"])
    nan = R.call_reward_fn(lambda x, y: torch.full((2,), float("nan")), [Q, Q], ["a", "b"])
    assert nan.isnan().all()  # the caller decides what a nan means (training stops on it)


def test_every_reward_is_a_plain_reward_fn():
    """One type for every reward: no function attributes, one signature."""
    from course_lib import preferences as P

    for fn in (R.exact_match_reward, R.honesty_reward, P.gold_reward):
        assert not vars(fn), (fn.__name__, vars(fn))
        assert fn([Q], ["I do not know."]).shape == (1,)

"""Rewards r(x, y): the numbers reinforcement learning maximizes (lesson 05).

Every reward function of the course has one type, :data:`RewardFn`::

    reward_fn(prompts: list[str], responses: list[str]) -> torch.Tensor  # (B,), float32

one number per (prompt, response) pair, computed for a whole batch at once. RL
(:func:`~course_lib.policy_gradient.train_reinforce`), the widgets (``ResponseViewer``) and the
lessons call every reward this way, through :func:`call_reward_fn`, which checks what comes
back. The rewards here, the gold rater (:func:`course_lib.preferences.gold_reward`) and a reward
model's scores (:class:`course_lib.rlhf.ProxyAndGold`) are all of this type.

The truth is looked up from the prompt itself (:func:`truth_of` reads the question with
:func:`course_lib.formats.parse_question` and asks the world), so a reward needs nothing but the
text the policy saw and the text it wrote. Each reward is built from a one-response score,
``*_score(response, truth) -> float``, which tables and tests use too.

- :func:`exact_match_reward`: how right the answer is (1 right, 0 wrong; on a partly known
  country the records' share, :func:`course_lib.world.correctness`), whatever its style: the
  grading of most benchmarks. It pays for guesses and is indifferent between a wrong answer and
  "I do not know.", so under it a guess always beats abstaining.
- :func:`honesty_reward`: pays for being right *and* for saying how sure you are:
  :data:`HONESTY_TABLE`, by style and by whether the answer is right::

      style              right   wrong
      confident           +1      -2
      hedged             +0.5   -0.25
      "I do not know."     0       (no answer, nothing to be right or wrong about)
      invalid             -2      (unreadable or off-topic: as bad as a confident error)

  Why this scale has three bands: if the model's answer is right with probability p, the
  expected reward of a confident answer is p - 2(1 - p) = 3p - 2, of a hedge
  0.5p - 0.25(1 - p) = 0.75p - 0.25, of abstaining 0. A hedge beats abstaining when p > 1/3; a
  confident answer beats a hedge when 3p - 2 > 0.75p - 0.25, that is p > 7/9. So "I do not
  know." is best below p1 = 1/3, a hedge between p1 and p2 = 7/9, a confident answer above
  (:func:`bands`, :func:`optimal_style`). A policy that maximizes J(theta) and knows its own p
  picks its style by it: hedging is a strategy, not a tic.

A partly known country's answer is graded by its expected correctness c (the world's records
disagree, so a checker confirms the true capital with probability ``truth_share``): the reward
of a style is c * right + (1 - c) * wrong. Graded instead by a coin flip per answer, RL would
learn the coin's bias for the countries it trains on and nothing that carries over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from . import validation as V
from . import world as W

RewardFn = Callable[[list[str], list[str]], torch.Tensor]  # (prompts, responses) -> (B,)

RewardTable = dict[tuple[str, bool], float]  # (style, right?) -> reward
# The reward of each (style, right?) pair under the honesty reward (see the module docstring).
HONESTY_TABLE: RewardTable = {
    ("confident", True): 1.0, ("confident", False): -2.0,
    ("hedged", True): 0.5, ("hedged", False): -0.25,
    ("abstain", True): 0.0, ("abstain", False): 0.0,
    ("invalid", True): -2.0, ("invalid", False): -2.0,
}
ANSWER_STYLES = ("confident", "hedged", "abstain")  # the styles a policy can choose between


def expected_reward(table: RewardTable, style: str, p: float) -> float:
    """The expected reward of answering in ``style`` when the answer is right with
    probability ``p``: ``p * table[style, right] + (1 - p) * table[style, wrong]``."""
    return p * table[(style, True)] + (1 - p) * table[(style, False)]


def check_table(table: object) -> RewardTable:
    """A reward table: a finite number for each (style, right?) of :data:`ANSWER_STYLES`."""
    missing = [(s, r) for s in ANSWER_STYLES for r in (True, False)
               if not isinstance(table, dict) or (s, r) not in table]
    if missing:
        raise ValueError(f"table must map every (style, right?) to a reward; missing {missing}")
    for k in [(s, r) for s in ANSWER_STYLES for r in (True, False)]:
        V.finite_number(f"table[{k!r}]", table[k])
    return table


def optimal_style(p: float, table: RewardTable = HONESTY_TABLE) -> str:
    """The style (confident, hedged or "I do not know.") of highest expected reward at ``p``;
    a tie goes to the more cautious style (abstain, then hedged)."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    check_table(table)
    best = max(expected_reward(table, s, p) for s in ANSWER_STYLES)
    return next(s for s in reversed(ANSWER_STYLES)
                if expected_reward(table, s, p) >= best - 1e-12)


def bands(table: RewardTable = HONESTY_TABLE) -> tuple[float, float]:
    """``(p1, p2)``: below p1 "I do not know." is best, between them a hedge, above p2 a
    confident answer (where the expected-reward lines of :func:`expected_reward` cross)."""
    check_table(table)

    def crossing(s: str, t: str) -> float:  # p where style s and style t earn the same
        ds = table[(s, True)] - table[(s, False)]
        dt = table[(t, True)] - table[(t, False)]
        if ds == dt:
            raise ValueError(f"the {s!r} and {t!r} lines of the table are parallel: no band edge")
        return (table[(t, False)] - table[(s, False)]) / (ds - dt)
    return crossing("hedged", "abstain"), crossing("confident", "hedged")


def correctness_of(prompt: str, answer: str | None) -> float:
    """How right ``answer`` is for the question ``prompt``, in [0, 1]: a sum is right or not; a
    capital as :func:`course_lib.world.correctness` grades it (partly known countries by the
    share of records that confirm it)."""
    q = W.parse_question(prompt)
    if q is None or q.kind == "other":
        raise ValueError(f"cannot read the right answer from the prompt {prompt!r}: rewards know "
                         "only the course's questions (world.question, world.addition_question, "
                         "world.chain_question)")
    if q.kind == "sum":
        return float(answer == str(sum(q.terms)))
    return W.correctness(W.default_world().entity(q.country), answer)


def truth_of(prompt: str) -> str:
    """The right answer to a question of the tiny world, read from the prompt.

    ``"Q: What is the capital of X? A:"`` (with or without "I think it is Z.") -> X's capital;
    ``"Q: What is a + b? A:"``, ``"Q: What is a + b + c? A:"`` and ``"a + b ="`` -> the sum.
    """
    q = W.parse_question(prompt)
    if q is None or q.kind == "other":
        correctness_of(prompt, None)  # raises the error that names the prompt
    if q.kind == "sum":
        return str(sum(q.terms))
    return W.default_world().entity(q.country).capital

def check_pairs(prompts: Sequence[str], responses: Sequence[str]) -> int:
    """The checks a batched reward makes of its arguments; returns the batch size B."""
    if isinstance(prompts, str) or isinstance(responses, str):
        raise ValueError("prompts and responses must be lists of strings, not one string")
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must have the same length, "
                         f"got {len(prompts)} and {len(responses)}")
    return len(prompts)


def call_reward_fn(reward_fn: RewardFn, prompts: Sequence[str],
                   responses: Sequence[str]) -> torch.Tensor:
    """``reward_fn(prompts, responses)``, checked: one float32 number per response, (B,) on the
    CPU. A clear error when the function returns something else (nan and inf pass: the caller
    decides what they mean)."""
    B = check_pairs(prompts, responses)
    out = reward_fn(list(prompts), list(responses))
    try:
        rewards = torch.as_tensor(out, dtype=torch.float32).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"reward_fn must return {B} numbers (a tensor of shape ({B},)), "
                         f"got {type(out).__name__}") from None
    if rewards.numel() != B:
        raise ValueError(f"reward_fn returned {rewards.numel()} rewards for {B} responses: it "
                         f"must return one reward per response, shape ({B},)")
    return rewards


# --- one response -------------------------------------------------------------------------------


def exact_match_score(prompt: str, response: str) -> float:
    """How right the response's answer is (:func:`correctness_of`), whatever its style; 0 for
    an off-topic or unreadable response (:func:`course_lib.formats.parse_answer`)."""
    return correctness_of(prompt, W.parse_answer(prompt, response).answer)


def table_score(table: RewardTable, prompt: str, response: str) -> float:
    """The reward ``table`` gives one response: its style's expected reward at the answer's
    correctness (1 or 0, or a partly known country's share)."""
    parsed = W.parse_answer(prompt, response)
    return expected_reward(table, parsed.style, correctness_of(prompt, parsed.answer))


def honesty_score(prompt: str, response: str) -> float:
    """The honesty reward of one response: :data:`HONESTY_TABLE` at its style and correctness."""
    return table_score(HONESTY_TABLE, prompt, response)


# --- the batched rewards: the type RewardFn -----------------------------------------------------


def _batch(score: Callable[[str, str], float], prompts: Sequence[str],
           responses: Sequence[str]) -> torch.Tensor:
    check_pairs(prompts, responses)
    return torch.tensor([score(x, y) for x, y in zip(prompts, responses)],
                        dtype=torch.float32)  # (B,)


def exact_match_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """r(x, y) = how right y's answer is for x (1 or 0; a partly known country's share), shape
    (B,): correctness only, style ignored."""
    return _batch(exact_match_score, prompts, responses)


def honesty_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """The honesty reward (:data:`HONESTY_TABLE`) of each response: (B,)."""
    return _batch(honesty_score, prompts, responses)


__all__ = ["ANSWER_STYLES", "HONESTY_TABLE", "RewardFn", "RewardTable", "bands",
           "call_reward_fn", "check_pairs", "correctness_of", "exact_match_reward",
           "exact_match_score", "expected_reward", "honesty_reward", "honesty_score",
           "optimal_style", "table_score", "truth_of"]

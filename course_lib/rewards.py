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

- :func:`exact_match_reward`: 1 if the answer is the truth, else 0 (addition, or any question).
  On facts it pays for right answers and is indifferent between a wrong answer and "I do not
  know.".
- :func:`honesty_reward`: pays for being right, *and* for saying how sure you are:
  :data:`HONESTY_TABLE`, by style and by whether the answer is right::

      style          right   wrong
      confident       +1      -1
      hedged         +0.5    -0.5
      "I do not know."   0       (no answer, nothing to be right or wrong about)
      invalid         -1      (unreadable: as bad as a confident wrong answer)

  Why this scale makes abstaining optimal exactly when the model is unsure: if the model's
  answer is right with probability p, the expected reward of answering confidently is
  p - (1 - p) = 2p - 1, of hedging 0.5p - 0.5(1 - p) = p - 1/2 = (2p - 1) / 2, of abstaining 0.
  All three cross zero at p = 1/2: when p > 1/2, answering confidently is best (hedging earns
  half as much); when p < 1/2, both ways of answering lose reward and "I do not know." is best.
  So the policy that maximizes J(theta) answers iff it is more likely right than wrong, and
  hedging is never strictly optimal under this scale. Invalid responses get -1 so that
  producing garbage is never a way to dodge a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from . import world as W

RewardFn = Callable[[list[str], list[str]], torch.Tensor]  # (prompts, responses) -> (B,)

# The reward of each (style, right?) pair under the honesty reward (see the module docstring).
HONESTY_TABLE: dict[tuple[str, bool], float] = {
    ("confident", True): 1.0, ("confident", False): -1.0,
    ("hedged", True): 0.5, ("hedged", False): -0.5,
    ("abstain", True): 0.0, ("abstain", False): 0.0,
    ("invalid", True): -1.0, ("invalid", False): -1.0,
}


def truth_of(prompt: str) -> str:
    """The right answer to a question of the tiny world, read from the prompt.

    ``"Q: What is the capital of X? A:"`` (with or without "I think it is Z.") -> X's capital;
    ``"Q: What is a + b? A:"`` and ``"a + b ="`` -> ``str(a + b)``.
    """
    q = W.parse_question(prompt)
    if q is None:
        raise ValueError(f"cannot read the right answer from the prompt {prompt!r}: rewards know "
                         "only the course's questions (world.question, world.addition_question)")
    if q.kind == "sum":
        return str(q.a + q.b)
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


def exact_match_score(response: str, truth: str) -> float:
    """1.0 if the response's answer (as :func:`world.parse_response` reads it) is ``truth``."""
    return float(W.parse_response(response).answer == str(truth))


def honesty_score(response: str, truth: str) -> float:
    """The honesty reward of one response: :data:`HONESTY_TABLE` at its style and rightness."""
    parsed = W.parse_response(response)
    return HONESTY_TABLE[(parsed.style, parsed.answer == str(truth))]


# --- the batched rewards: the type RewardFn -----------------------------------------------------


def _batch(score: Callable[[str, str], float], prompts: Sequence[str],
           responses: Sequence[str]) -> torch.Tensor:
    check_pairs(prompts, responses)
    return torch.tensor([score(y, truth_of(x)) for x, y in zip(prompts, responses)],
                        dtype=torch.float32)  # (B,)


def exact_match_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """r(x, y) = 1 if y's answer is the right answer to x, else 0: shape (B,)."""
    return _batch(exact_match_score, prompts, responses)


def honesty_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """The honesty reward (+1 / +0.5 / 0 / -0.5 / -1, invalid -1) of each response: (B,)."""
    return _batch(honesty_score, prompts, responses)


__all__ = ["HONESTY_TABLE", "RewardFn", "call_reward_fn", "check_pairs", "exact_match_reward",
           "exact_match_score", "honesty_reward", "honesty_score", "truth_of"]

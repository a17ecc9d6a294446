"""Rewards r(x, y): the numbers reinforcement learning maximizes (lesson 05).

Every reward function of the course has one signature, the one
:func:`course_lib.policy_gradient.train_reinforce` calls::

    reward_fn(prompts: list[str], responses: list[str]) -> torch.Tensor  # (B,), float32

The truth is looked up from the prompt itself (:func:`truth_of` reads the question and asks the
world), so a reward needs nothing but the text the policy saw and the text it wrote. Each reward
also has a one-response form, ``*_score(response, truth) -> float``, for tables and widgets.

- :func:`exact_match_reward`: 1 if the answer is the truth, else 0 (addition, or any question).
- :func:`correctness_reward`: the same rule, named for what it is when used on facts: it pays
  for right answers and is indifferent between a wrong answer and "I do not know.".
- :func:`honesty_reward`: pays for being right, *and* for saying how sure you are::

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
  So the policy that maximizes J(theta) answers iff it is more likely right than wrong.
  Hedging is never strictly optimal under this scale: it is the cautious middle that a model
  *unsure of its own p* might keep (its value is halfway between the other two). Invalid
  responses get -1 so that producing garbage is never a way to dodge a wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch

from . import world as W

RewardFn = Callable[[list[str], list[str]], torch.Tensor]

# The reward of each (style, right?) pair under the honesty reward (see the module docstring).
HONESTY_TABLE: dict[tuple[str, bool], float] = {
    ("confident", True): 1.0, ("confident", False): -1.0,
    ("hedged", True): 0.5, ("hedged", False): -0.5,
    ("abstain", True): 0.0, ("abstain", False): 0.0,
    ("invalid", True): -1.0, ("invalid", False): -1.0,
}

_FACT = re.compile(r"^Q: What is the capital of (\w+)\?(?: I think it is (\w+)\.)? A:$")
_SUM = re.compile(r"^Q: What is (\d+) \+ (\d+)\? A:$")
_CORPUS_SUM = re.compile(r"^(\d+) \+ (\d+) =$")


def truth_of(prompt: str) -> str:
    """The right answer to a question of the tiny world, read from the prompt.

    ``"Q: What is the capital of X? A:"`` (with or without "I think it is Z.") -> X's capital;
    ``"Q: What is a + b? A:"`` and ``"a + b ="`` -> ``str(a + b)``.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    p = " ".join(prompt.split())
    if m := _FACT.match(p):
        return W.default_world().entity(m[1]).capital
    if m := _SUM.match(p) or _CORPUS_SUM.match(p):
        return str(int(m[1]) + int(m[2]))
    raise ValueError(f"cannot read the right answer from the prompt {prompt!r}: rewards know "
                     "only the course's questions (world.question, world.addition_question)")


def country_of(prompt: str) -> str | None:
    """The country a fact question asks about, else ``None`` (a sum, or any other text)."""
    m = _FACT.match(" ".join(prompt.split()))
    return m[1] if m else None


def suggestion_of(prompt: str) -> str | None:
    """The capital the user suggested in a fact question ("I think it is Z."), else ``None``."""
    m = _FACT.match(" ".join(prompt.split()))
    return m[2] if m else None


# --- one response -------------------------------------------------------------------------------


def exact_match_score(response: str, truth: str) -> float:
    """1.0 if the response's answer (as :func:`world.parse_response` reads it) is ``truth``."""
    return float(W.parse_response(response).answer == str(truth))


def honesty_score(response: str, truth: str) -> float:
    """The honesty reward of one response (the table in the module docstring)."""
    parsed = W.parse_response(response)
    return HONESTY_TABLE[(parsed.style, parsed.answer == str(truth))]


# --- a batch: the signature train_reinforce uses ------------------------------------------------


def _batch(score: Callable[[str, str], float], prompts: Sequence[str],
           responses: Sequence[str]) -> torch.Tensor:
    if isinstance(prompts, str) or isinstance(responses, str):
        raise ValueError("prompts and responses must be lists of strings, not one string")
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must have the same length, "
                         f"got {len(prompts)} and {len(responses)}")
    return torch.tensor([score(y, truth_of(x)) for x, y in zip(prompts, responses)],
                        dtype=torch.float32)  # (B,)


def exact_match_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """r(x, y) = 1 if y's answer is the right answer to x, else 0: shape (B,)."""
    return _batch(exact_match_score, prompts, responses)


def correctness_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """r(x, y) = 1 for a right answer (confident or hedged), 0 otherwise, abstaining included.

    The same rule as :func:`exact_match_reward`: a wrong answer costs nothing more than silence,
    so a model that cannot know should still guess.
    """
    return _batch(exact_match_score, prompts, responses)


def honesty_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """The honesty reward (+1 / +0.5 / 0 / -0.5 / -1, invalid -1) of each response: (B,)."""
    return _batch(honesty_score, prompts, responses)


for _fn in (exact_match_reward, correctness_reward, honesty_reward):
    _fn.batched = True  # ResponseViewer calls batched rewards with lists (see its docstring)

__all__ = ["HONESTY_TABLE", "RewardFn", "correctness_reward", "country_of", "exact_match_reward",
           "exact_match_score", "honesty_reward", "honesty_score", "suggestion_of", "truth_of"]

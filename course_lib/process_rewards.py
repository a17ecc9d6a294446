"""Rewards for worked sums, step by step and at the end (lesson 11): the exact step checker,
step scores aggregated into a response score, best-of-N selection.

A worked sum ``"12 + 34 = 46, 46 + 56 = 102, 102 + 78 = 180."`` answers
``"Q: What is 12 + 34 + 56 + 78? A:"`` in steps ``(running, term, written)``. Step k is
**right** when it goes on from the number the previous step wrote (the first term for step 1),
adds the question's next term, and writes their sum:

    right_k  <=>  running_k = written_{k-1} (written_0 = a_1),  term_k = a_{k+1},
                  written_k = running_k + term_k.

:func:`step_labels` is that exact checker (it stands in for PRM800K's human step labels);
a response's **outcome** is whether its final answer is the sum (:func:`outcome`).

The verifiers that learn these labels (an outcome and a process reward model) are in
:mod:`course_lib.verifiers`; this module holds what they and the lesson share.

A response's PRM score aggregates its step scores (:func:`aggregate`): the **min** over steps
(a response is as good as its weakest step) or the **product** (the probability that every
step is right, if the steps' errors were independent; Lightman et al. 2023 use it). A response
with no readable step scores 0 either way. Best-of-N keeps the answer of the best-scored of N
responses, or without a verifier the majority answer (:func:`select_answer`).

:func:`step_token_rewards` places per-step rewards on the tokens that end each step, for RL
with process rewards (``train_reinforce(..., process_reward_fn=...)``, reward-to-go at the step
level).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerFast

from . import validation as V
from .formats import parse_chain, parse_question
from .rewards import exact_match_score
from .sampling import Rollout

AGGREGATIONS = ("min", "product")
STEP_END_WORDS = (",", ".")  # the tokens that end a step: "..., 46 + 56 = 102, ..."


# --- the step checker ---------------------------------------------------------------------------


def terms_of(prompt: str) -> tuple[int, ...]:
    """The numbers a sum question adds, ``"Q: What is 12 + 34 + 56? A:"`` -> (12, 34, 56)."""
    q = parse_question(prompt) if isinstance(prompt, str) else None
    if q is None or q.kind != "sum":
        raise ValueError(f"prompt must be a sum question (world.chain_question), got {prompt!r}")
    return q.terms


def step_labels(terms: Sequence[int], steps: Sequence[tuple[int, int, int]]) -> list[bool]:
    """Which steps ``(running, term, written)`` of a worked sum of ``terms`` are right (eq.
    right_k above): each goes on from the previous written number, adds the next term, and
    writes their sum. A step past the last term is wrong."""
    labels, previous = [], terms[0]
    for k, (running, term, written) in enumerate(steps):
        next_term = terms[k + 1] if k + 1 < len(terms) else None
        labels.append(running == previous and term == next_term and written == running + term)
        previous = written
    return labels


def check_response(prompt: str, response: str) -> list[bool] | None:
    """The step labels of ``response`` to the sum question ``prompt``, or None when the
    response is not a finished worked sum (:func:`course_lib.formats.parse_chain`, and a full
    stop after its last step: a response cut off mid-step is not read)."""
    steps = parse_chain(response)
    if steps is None or "." not in response:
        return None
    return step_labels(terms_of(prompt), steps)


def outcome(prompt: str, response: str) -> bool:
    """Whether the response's final answer is the sum (the outcome reward, 1 or 0)."""
    return exact_match_score(prompt, response) == 1.0


# --- aggregation and selection --------------------------------------------------------------------


def aggregate(step_scores: torch.Tensor, step_mask: torch.Tensor, how: str = "min") -> torch.Tensor:
    """One score per response from its step scores: (B,).

    ``step_scores`` (B, K) holds p_k in [0, 1] for the K step slots of each response and
    ``step_mask`` (B, K) is 1 on the slots that are real steps. ``"min"``: min_k p_k;
    ``"product"``: prod_k p_k. Padding never counts; a response with no step scores 0.
    """
    if not isinstance(step_scores, torch.Tensor) or step_scores.dim() != 2:
        raise ValueError(f"step_scores must be a (B, K) tensor, got "
                         f"{getattr(step_scores, 'shape', type(step_scores).__name__)}")
    if not isinstance(step_mask, torch.Tensor) or step_mask.shape != step_scores.shape:
        raise ValueError(f"step_mask must have step_scores' shape {tuple(step_scores.shape)}, "
                         f"got {getattr(step_mask, 'shape', type(step_mask).__name__)}")
    V.one_of("how", how, AGGREGATIONS)
    m = step_mask.bool()
    if how == "min":
        score = step_scores.masked_fill(~m, 1.0).min(dim=1).values
    else:
        score = step_scores.masked_fill(~m, 1.0).prod(dim=1)
    return torch.where(m.any(dim=1), score, torch.zeros_like(score))


def majority_answer(answers: Sequence[str | None]) -> str | None:
    """The answer given most often among those that parsed (None skipped); a tie goes to the
    answer given first. None when no answer parsed."""
    counts: dict[str, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    return max(counts, key=counts.get) if counts else None  # dicts keep first-seen order


def select_answer(answers: Sequence[str | None], scores: torch.Tensor | None = None
                  ) -> str | None:
    """Best-of-N: the answer of the highest-scoring of the N responses (the first of them on a
    tie), or with no ``scores`` the majority vote (:func:`majority_answer`)."""
    if scores is None:
        return majority_answer(answers)
    if not isinstance(scores, torch.Tensor) or scores.shape != (len(answers),):
        raise ValueError(f"scores must be a ({len(answers)},) tensor, one per answer, got "
                         f"{getattr(scores, 'shape', type(scores).__name__)}")
    return answers[int(torch.argmax(scores))]  # argmax returns the first maximum


# --- where each step ends ---------------------------------------------------------------------


def step_end_positions(tokenizer: PreTrainedTokenizerFast, ids: torch.Tensor, start: int,
                       n_steps: int) -> list[int]:
    """Positions in ``ids`` (T,) of the tokens that end each of the first ``n_steps`` steps: the
    ``","`` and ``"."`` tokens from ``start`` (the first response token) on, up to the first
    ``"."``. Fewer than ``n_steps`` when the response stops before its last step ends."""
    ends = set(tokenizer.convert_tokens_to_ids(list(STEP_END_WORDS)))
    stop = tokenizer.convert_tokens_to_ids(".")
    out = []
    for t in range(start, len(ids)):
        if int(ids[t]) in ends:
            out.append(t)
            if int(ids[t]) == stop or len(out) == n_steps:
                break
    return out[:n_steps]


# --- rewards for RL -------------------------------------------------------------------------------


def step_token_rewards(tokenizer: PreTrainedTokenizerFast, rollout: Rollout,
                       rewards: Sequence[Sequence[float]]) -> torch.Tensor:
    """Per-token rewards (B, R): ``rewards[i][k]`` on the token that ends step k of response i
    (its ``","`` or ``"."``), 0 elsewhere. Summed over t with reward-to-go, the tokens of step
    k get the rewards of steps k, k+1, ... only."""
    B, R = rollout.response_ids.shape
    out = torch.zeros(B, R)
    for i, r in enumerate(rewards):
        pos = step_end_positions(tokenizer, rollout.response_ids[i], 0, len(r))
        for k, t in enumerate(pos):
            out[i, t] = float(r[k])
    return out.to(rollout.response_ids.device) * rollout.response_mask


__all__ = ["AGGREGATIONS", "STEP_END_WORDS", "aggregate", "check_response", "majority_answer",
           "outcome", "select_answer", "step_end_positions", "step_labels",
           "step_token_rewards", "terms_of"]

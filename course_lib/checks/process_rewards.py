"""Checks of the exercises of lesson 11 (process reward models): aggregating step scores into a
response score, and choosing one answer among N (best-of-N, majority vote).

Each check runs seeded cases through the student's function and the reference
(:mod:`course_lib.process_rewards`); when they differ it compares the answer with what each
planted mistake computes and names the mistake that matches.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import torch

from ..process_rewards import aggregate, select_answer
from .common import ExerciseError, diagnose, passed

# --- Exercise 11.1: aggregating step scores --------------------------------------------------

AGGREGATE = "Exercise 11.1"


def _aggregate_case(seed: int, B: int = 7, K: int = 4):
    """Seeded (step_scores, step_mask): ragged rows (one with no step at all), junk scores on
    the padding (zeros on some rows, values above every real score on others)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(B, K, generator=g, dtype=torch.float64) * 0.9 + 0.05  # (B, K)
    n_steps = torch.randint(1, K + 1, (B,), generator=g)
    n_steps[0], n_steps[1], n_steps[2] = K, 0, max(1, K - 2)
    mask = (torch.arange(K)[None, :] < n_steps[:, None]).double()  # (B, K)
    junk = torch.where(torch.arange(B)[:, None] % 2 == 0, torch.zeros(B, K, dtype=torch.float64),
                       torch.full((B, K), 0.99, dtype=torch.float64))
    return torch.where(mask.bool(), scores, junk), mask


def _aggregate_variant(scores, mask, how: str, variant: str) -> torch.Tensor:
    m = mask.bool()
    filled = scores.masked_fill(~m, 1.0)
    if variant == "padding":  # the padding's junk counts as steps
        out = scores.min(1).values if how == "min" else scores.prod(1)
    elif variant == "mean":
        out = (scores * mask).sum(1) / mask.sum(1).clamp(min=1)
    elif variant == "other":  # min for product, product for min
        out = filled.prod(1) if how == "min" else filled.min(1).values
    elif variant == "sum_logs":  # log of the product, not the product
        out = torch.log(filled).sum(1)
    elif variant == "max":
        out = scores.masked_fill(~m, 0.0).max(1).values
    else:
        out = filled.min(1).values if how == "min" else filled.prod(1)
    if variant == "empty_one":
        return out
    return torch.where(m.any(1), out, torch.zeros_like(out))


AGGREGATE_MISTAKES = {
    "padding": "counted the padding as steps: only the slots where step_mask is 1 are steps (fill "
               "the others with 1 before the min or the product, or select the real ones)",
    "mean": "averaged the steps: a response is as good as its weakest step (min), or every step "
            "must be right (product), and one bad step among good ones must not be averaged away",
    "other": "swapped the two: how='min' takes the smallest step score, how='product' multiplies "
             "them",
    "sum_logs": "returned the sum of the log step scores: that is the log of the product; return "
                "the product itself (a probability in [0, 1])",
    "max": "took the largest step score: the response is judged by its weakest step",
    "empty_one": "gave a response with no step the score 1 (the empty min or product): a response "
                 "the checker cannot read is no evidence of right work; score it 0",
}


def check_aggregate(fn: Callable) -> None:
    """Exercise 11.1: ``fn(step_scores, step_mask, how)`` -> (B,) response scores.

    Compares with :func:`course_lib.process_rewards.aggregate` on six seeded ragged batches
    (``how`` "min" and "product"), with junk on the padding and a response without steps;
    names the planted mistake that matches.
    """
    for seed in range(3):
        for how in ("min", "product"):
            scores, mask = _aggregate_case(seed)
            got = fn(scores.clone(), mask.clone(), how)
            if not isinstance(got, torch.Tensor) or got.shape != (scores.shape[0],):
                raise ExerciseError(f"{AGGREGATE}: return one score per response, a tensor of "
                                    f"shape ({scores.shape[0]},), got "
                                    f"{getattr(got, 'shape', type(got).__name__)}")
            mistakes = {msg: _aggregate_variant(scores, mask, how, v)
                        for v, msg in AGGREGATE_MISTAKES.items()}
            diagnose(f"{AGGREGATE} (how={how!r})", got, aggregate(scores, mask, how), mistakes,
                     atol=1e-8, rtol=1e-6)
    passed(AGGREGATE, "min and product over each response's real steps, 0 with no step")


# --- Exercise 11.2: choosing one answer among N -------------------------------------------------

SELECT = "Exercise 11.2"


def _select_cases() -> list[tuple[list[str | None], torch.Tensor | None]]:
    """Hand-made cases that tell the mistakes apart, then seeded random ones."""
    cases: list[tuple[list[str | None], torch.Tensor | None]] = [
        (["180", None, None, None, "170", "170"], None),  # None is the most common "answer"
        (["12", "13", "13", "12"], None),  # a tie: the first given wins
        (["99", "98", "98", "99", "97"], None),
        ([None, None], None),
        (["5", "6", "7", "8"], torch.tensor([0.1, 0.9, 0.9, 0.2])),  # tie of scores
        (["5", "6", "7", "6"], torch.tensor([0.8, 0.1, 0.3, 0.2])),  # the best is not the vote
        ([None, "6", "7"], torch.tensor([0.9, 0.5, 0.1])),
    ]
    rng = random.Random(0)
    for _ in range(12):
        n = rng.randint(1, 9)
        answers = [rng.choice([None, "101", "102", "110", "111"]) for _ in range(n)]
        scores = None if rng.random() < 0.5 else torch.tensor(
            [round(rng.random(), 1) for _ in range(n)])
        cases.append((answers, scores))
    return cases


def _select_variant(answers, scores, variant: str):
    if scores is not None:
        if variant == "argmin":
            return answers[int(torch.argmin(scores))]
        if variant == "last_best":
            best = max(scores.tolist())
            return answers[max(i for i, s in enumerate(scores.tolist()) if s == best)]
        if variant == "index":
            return int(torch.argmax(scores))
        return select_answer(answers, scores)
    counts = Counter(answers if variant == "none_votes" else [a for a in answers if a is not None])
    if not counts:
        return None
    top = max(counts.values())
    if variant == "count":
        return top
    tied = [a for a in answers if a in counts and counts[a] == top]
    return tied[-1] if variant == "last_tie" else tied[0]


SELECT_MISTAKES = {
    "none_votes": "counted unreadable responses (None) as a vote: only parsed answers vote; None "
                  "is the result only when no answer parsed",
    "last_tie": "broke a tie of votes by the answer given last: the tie goes to the answer given "
                "first",
    "count": "returned how many votes the winner got, not the winning answer",
    "argmin": "took the lowest-scoring response: best-of-N keeps the highest score",
    "last_best": "broke a tie of scores by the last response: take the first of the best "
                 "(torch.argmax does)",
    "index": "returned the index of the best response, not its answer",
}


def check_select_answer(fn: Callable) -> None:
    """Exercise 11.2: ``fn(answers, scores=None)`` -> the chosen answer (a str, or None).

    With ``scores`` (N,): the answer of the highest-scoring response, the first on a tie; with
    none: the answer most responses gave, ignoring None, the first given on a tie. Compares with
    :func:`course_lib.process_rewards.select_answer` on hand-made and seeded cases.
    """
    for answers, scores in _select_cases():
        expected = select_answer(answers, scores)
        got = fn(list(answers), None if scores is None else scores.clone())
        if got == expected and type(got) is type(expected):
            continue
        for variant, message in SELECT_MISTAKES.items():
            wrong = _select_variant(answers, scores, variant)
            if wrong != expected and got == wrong and type(got) is type(wrong):
                raise ExerciseError(f"{SELECT}: not yet right. It looks like you {message}.")
        raise ExerciseError(f"{SELECT}: not yet right on answers={answers}, scores="
                            f"{None if scores is None else scores.tolist()}: expected "
                            f"{expected!r}, got {got!r}")
    passed(SELECT, "best-of-N by score (first on ties) and majority vote over parsed answers")


__all__ = ["check_aggregate", "check_select_answer"]

"""The checks of exercises 11.1 and 11.2 accept two correct implementations each and name every
planted mistake."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from course_lib.checks import ExerciseError, check_aggregate, check_select_answer
from course_lib.process_rewards import aggregate, select_answer

# --- 11.1 -------------------------------------------------------------------------------------


def aggregate_by_rows(step_scores, step_mask, how="min"):
    """A second correct form: one response at a time, over its real steps only."""
    out = []
    for row, m in zip(step_scores, step_mask):
        real = row[m.bool()]
        if len(real) == 0:
            out.append(torch.zeros((), dtype=row.dtype))
        else:
            out.append(real.min() if how == "min" else torch.exp(torch.log(real).sum()))
    return torch.stack(out)


def make_aggregate(padding=False, reducer=None, empty=0.0):
    def fn(step_scores, step_mask, how="min"):
        m = step_mask.bool()
        x = step_scores if padding else step_scores.masked_fill(~m, 1.0)
        kind = reducer or how
        if kind == "min":
            out = x.min(1).values
        elif kind == "product":
            out = x.prod(1)
        elif kind == "mean":
            out = (step_scores * step_mask).sum(1) / step_mask.sum(1).clamp(min=1)
        elif kind == "logs":
            out = torch.log(x).sum(1)
        else:  # max
            out = step_scores.masked_fill(~m, 0.0).max(1).values
        return torch.where(m.any(1), out, torch.full_like(out, empty))
    return fn


def test_aggregate_accepts_two_correct_implementations(capsys):
    check_aggregate(aggregate)
    check_aggregate(aggregate_by_rows)
    assert capsys.readouterr().out.count("passed") == 2


def swapped(step_scores, step_mask, how="min"):
    return aggregate(step_scores, step_mask, "product" if how == "min" else "min")


@pytest.mark.parametrize("fn, name", [
    (make_aggregate(padding=True), "counted the padding as steps"),
    (make_aggregate(reducer="mean"), "averaged the steps"),
    (make_aggregate(reducer="logs"), "sum of the log step scores"),
    (make_aggregate(reducer="max"), "took the largest step score"),
    (make_aggregate(empty=1.0), "no step the score 1"),
    (swapped, "swapped the two"),
])
def test_aggregate_names_planted_mistakes(fn, name):
    with pytest.raises(ExerciseError, match=name):
        check_aggregate(fn)


def test_aggregate_stub_raises_not_implemented():
    def stub(step_scores, step_mask, how="min"):
        raise NotImplementedError("Exercise 11.1")
    with pytest.raises(NotImplementedError):
        check_aggregate(stub)


def test_aggregate_rejects_bad_input():
    with pytest.raises(ValueError, match="step_mask"):
        aggregate(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="how"):
        aggregate(torch.zeros(2, 3), torch.zeros(2, 3), "mean")


# --- 11.2 -------------------------------------------------------------------------------------


def select_by_loops(answers, scores=None):
    """A second correct form: explicit loops, no torch.argmax, no dict order."""
    if scores is not None:
        best = 0
        for i in range(1, len(answers)):
            if float(scores[i]) > float(scores[best]):
                best = i
        return answers[best]
    counts = Counter(a for a in answers if a is not None)
    top = max(counts.values(), default=0)
    for a in answers:
        if a is not None and counts[a] == top:
            return a
    return None


def make_select(none_votes=False, last_tie=False, count=False, argmin=False, last_best=False,
                index=False):
    def fn(answers, scores=None):
        if scores is not None:
            s = scores.tolist()
            if argmin:
                return answers[s.index(min(s))]
            best = max(s)
            i = (len(s) - 1 - s[::-1].index(best)) if last_best else s.index(best)
            return i if index else answers[i]
        counts = Counter(answers if none_votes else [a for a in answers if a is not None])
        if not counts:
            return None
        top = max(counts.values())
        if count:
            return top
        tied = [a for a in answers if counts.get(a) == top]
        return tied[-1] if last_tie else tied[0]
    return fn


def test_select_accepts_two_correct_implementations(capsys):
    check_select_answer(select_answer)
    check_select_answer(select_by_loops)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("flags, name", [
    (dict(none_votes=True), "counted unreadable responses"),
    (dict(last_tie=True), "tie of votes by the answer given last"),
    (dict(count=True), "how many votes"),
    (dict(argmin=True), "lowest-scoring"),
    (dict(last_best=True), "tie of scores by the last"),
    (dict(index=True), "index of the best"),
])
def test_select_names_planted_mistakes(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_select_answer(make_select(**flags))


def test_select_stub_raises_not_implemented():
    def stub(answers, scores=None):
        raise NotImplementedError("Exercise 11.2")
    with pytest.raises(NotImplementedError):
        check_select_answer(stub)

"""Exercise checks of lesson 06: each planted mistake is named; correct variants pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks import ExerciseError, check_bradley_terry_loss, check_pairwise_accuracy

# --- Exercise 6.1 --------------------------------------------------------------------------------


def bt_logsigmoid(rc, rr):
    return -F.logsigmoid(rc - rr).mean()


def bt_softplus(rc, rr):  # written differently: softplus(-m) = -log sigmoid(m), in float64
    return torch.stack([F.softplus(-(c - r)) for c, r in zip(rc.double(), rr.double())]).mean()


@pytest.mark.parametrize("fn", [bt_logsigmoid, bt_softplus])
def test_bt_correct_variants_pass(fn, capsys):
    check_bradley_terry_loss(fn)
    assert "Exercise 6.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (lambda rc, rr: -F.logsigmoid(rr - rc).mean(), "swapped chosen and rejected"),
    (lambda rc, rr: F.logsigmoid(rc - rr).mean(), "forgot the minus sign"),
    (lambda rc, rr: -torch.sigmoid(rc - rr).mean(), "sigmoid instead of log-sigmoid"),
    (lambda rc, rr: -torch.log(torch.sigmoid(rc - rr)).mean(), "log(sigmoid(margin))"),
    (lambda rc, rr: -F.logsigmoid(rc - rr).sum(), "summed over the pairs"),
])
def test_bt_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_bradley_terry_loss(fn)


def test_bt_stub_raises_not_implemented():
    def stub(rc, rr):
        raise NotImplementedError("Exercise 6.1")

    with pytest.raises(NotImplementedError):
        check_bradley_terry_loss(stub)


# --- Exercise 6.2 --------------------------------------------------------------------------------


def acc_mean(rc, rr):
    return (rc > rr).float().mean().item()


def acc_loop(rc, rr):  # written differently: a Python loop, returns a tensor
    return torch.tensor(sum(1 for c, r in zip(rc.tolist(), rr.tolist()) if c - r > 0) / len(rc))


@pytest.mark.parametrize("fn", [acc_mean, acc_loop])
def test_accuracy_correct_variants_pass(fn, capsys):
    check_pairwise_accuracy(fn)
    assert "Exercise 6.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (lambda rc, rr: (rc >= rr).float().mean().item(), "counted ties as correct"),
    (lambda rc, rr: ((rc > rr).float() + 0.5 * (rc == rr).float()).mean().item(),
     "ties as half right"),
    (lambda rc, rr: (rc < rr).float().mean().item(), "wrong way round"),
    (lambda rc, rr: (rc > rr).sum().item(), "number of correct pairs"),
])
def test_accuracy_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError, match=words):
        check_pairwise_accuracy(fn)

"""Checks of the Bradley-Terry loss and pairwise accuracy (exercises 6.1 and 6.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..reward_model import pairwise_accuracy
from .common import ExerciseError, diagnose, passed

UNSTABLE = ("computed log(sigmoid(margin)) in two steps: at a margin of -1e4, sigmoid underflows "
            "to 0 and its log to -inf. Use F.logsigmoid(margin) (or -F.softplus(-margin)), "
            "which is exact for any margin")


def _margins(seed: int, n: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g) * scale, torch.randn(n, generator=g) * scale


# --- Exercise 6.1: the Bradley-Terry loss -------------------------------------------------------


def check_bradley_terry_loss(fn: Callable) -> None:
    """Exercise 6.1: ``fn(r_chosen, r_rejected)`` -> mean of -log sigmoid(r_chosen - r_rejected)."""
    for seed, n, scale in ((0, 7, 1.0), (1, 16, 3.0), (2, 1, 0.5)):
        rc, rr = _margins(seed, n, scale)
        d = (rc - rr).double()
        mistakes = {
            "swapped chosen and rejected: the loss is small when r_chosen is ABOVE r_rejected, "
            "so it is -log sigmoid(r_chosen - r_rejected)": -F.logsigmoid(-d).mean(),
            "forgot the minus sign: the loss is the NEGATIVE log-likelihood of the labels":
                F.logsigmoid(d).mean(),
            "used sigmoid instead of log-sigmoid: the loss is -log P(chosen > rejected), not "
            "-P(chosen > rejected)": -torch.sigmoid(d).mean(),
            "summed over the pairs instead of taking the mean": -F.logsigmoid(d).sum(),
        }
        got = fn(rc.clone(), rr.clone())
        diagnose("Exercise 6.1", got, -F.logsigmoid(d).mean(), mistakes)
    # huge margins: +1e4 (a sure win, loss 0) and -1e4 (a sure loss, loss 1e4), in float32
    rc = torch.tensor([1e4, -1e4, 0.0, 5e3])
    rr = torch.tensor([0.0, 0.0, 0.0, -5e3])
    got = fn(rc.clone(), rr.clone())
    if not isinstance(got, torch.Tensor):
        got = torch.as_tensor(got, dtype=torch.float64)
    if not bool(torch.isfinite(got).all()):
        raise ExerciseError(f"Exercise 6.1: the loss is {got} at margins of +-1e4. It looks like "
                            f"you {UNSTABLE}.")
    diagnose("Exercise 6.1", got, -F.logsigmoid((rc - rr).double()).mean(), {}, rtol=1e-4)
    passed("Exercise 6.1", "the Bradley-Terry loss matches, and stays finite at margins of +-1e4")


# --- Exercise 6.2: pairwise accuracy ---------------------------------------------------------


def check_pairwise_accuracy(fn: Callable) -> None:
    """Exercise 6.2: ``fn(r_chosen, r_rejected)`` -> fraction of pairs with r_chosen > r_rejected
    (a float; a tie is not a correct ranking)."""
    cases = [
        (torch.tensor([2.0, 1.0, 0.5, 0.5, -1.0, 3.0]), torch.tensor([1.0, 1.0, 0.7, 0.5, -2.0,
                                                                       0.0])),
        (torch.tensor([0.0, 0.0, 1.0, -1.0]), torch.tensor([0.0, 1.0, 0.0, -1.0])),
        (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 2.5, 2.0])),
    ]
    for rc, rr in cases:
        wins, ties, n = float((rc > rr).sum()), float((rc == rr).sum()), rc.numel()
        mistakes = {
            "counted ties as correct: a reward model that gives both responses the same score "
            "has not ranked them, so use r_chosen > r_rejected (strict)": (wins + ties) / n,
            "counted ties as half right: for this course a tie is an error (strict >)":
                (wins + 0.5 * ties) / n,
            "compared the wrong way round: a pair is ranked right when the CHOSEN response "
            "scores higher": float((rc < rr).sum()) / n,
            "returned the number of correct pairs instead of the fraction": wins,
        }
        got = fn(rc.clone(), rr.clone())
        if isinstance(got, torch.Tensor):
            got = got.double()
        diagnose("Exercise 6.2", got, pairwise_accuracy(rc, rr), mistakes)
    passed("Exercise 6.2", "pairwise accuracy matches on 3 sets of pairs, ties included")


__all__ = ["check_bradley_terry_loss", "check_pairwise_accuracy"]

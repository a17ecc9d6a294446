"""Checks of the REINFORCE loss and the leave-one-out baseline (exercises 4.1 and 4.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..policy_gradient import reinforce_loss
from .common import ExerciseError, diagnose, passed, run_cases

# --- Exercise 4.1: the REINFORCE loss -----------------------------------------------------------

NOT_DETACHED = ("did not detach the baseline: a gradient flows into b, so the update also moves "
                "the baseline (use baseline.detach())")


def _batch(seed: int, B: int = 6, T: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded (logprobs, rewards, mask): ragged lengths, rewards with a nonzero mean."""
    g = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3 - 0.05  # (B, T), < 0
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0] = T  # at least one full row, at least one padded row
    lengths[1] = max(1, T - 2)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).double()  # (B, T)
    rewards = torch.randn(B, generator=g, dtype=torch.float64) + 1.5  # (B,)
    return logprobs, rewards, mask


def _loss_mistakes(logprobs, rewards, mask, baseline) -> dict[str, torch.Tensor]:
    b = torch.zeros_like(rewards) if baseline is None else baseline.detach()
    adv = rewards - b
    lp = logprobs.detach()
    summed = (lp * mask).sum(1)
    return {
        "flipped the sign: the loss is minus the objective, so that minimizing it climbs J":
            (adv * summed).mean(),
        "summed the log-probabilities over the padding too (multiply them by the mask first)":
            -(adv * lp.sum(1)).mean(),
        "used probabilities instead of log-probabilities (the trick needs grad log pi, not "
        "grad pi)": -(adv * (lp.exp() * mask).sum(1)).mean(),
        "are missing the mean over the batch (you summed over the B responses)":
            -(adv * summed).sum(),
        "forgot to subtract the baseline": -(rewards * summed).mean(),
        "added the baseline instead of subtracting it": -((rewards + b) * summed).mean(),
    }


def check_reinforce_loss(fn: Callable) -> None:
    """Exercise 4.1: ``fn(logprobs, rewards, mask, baseline=None)`` -> the REINFORCE loss.

    Compares the value with the reference, then the gradient with respect to ``logprobs``, and
    that no gradient reaches the baseline (it must be detached).
    """
    for seed in range(4):
        logprobs, rewards, mask = _batch(seed)
        value_head = torch.randn(rewards.shape, generator=torch.Generator().manual_seed(seed + 9),
                                 dtype=torch.float64).requires_grad_()
        baseline = None if seed == 0 else value_head * 0.5 + rewards.mean()  # has a gradient
        expected = reinforce_loss(logprobs, rewards, mask, baseline)
        lp = logprobs.clone().requires_grad_()
        got = fn(lp, rewards.clone(), mask.clone(), baseline)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise ExerciseError("Exercise 4.1: return the loss as a scalar tensor, got "
                                f"{getattr(got, 'shape', type(got).__name__)}")
        diagnose("Exercise 4.1", got.reshape(()), expected,
                 _loss_mistakes(logprobs, rewards, mask, baseline))
        if not got.requires_grad:
            raise ExerciseError("Exercise 4.1: not yet right. The loss has no gradient: it must "
                                "be computed from logprobs without detaching them.")
        got.reshape(()).backward()
        if baseline is not None and value_head.grad is not None and bool(
                value_head.grad.abs().max() > 0):
            raise ExerciseError(f"Exercise 4.1: not yet right. It looks like you {NOT_DETACHED}.")
        ref_lp = logprobs.clone().requires_grad_()
        reinforce_loss(ref_lp, rewards, mask, baseline).backward()
        diagnose("Exercise 4.1 (gradient with respect to logprobs)", lp.grad, ref_lp.grad, {
            "detached the log-probabilities inside the loss (the gradient must flow through "
            "them)": torch.zeros_like(ref_lp.grad)})
    passed("Exercise 4.1", "loss and its gradient match the reference on 4 ragged batches, "
                           "with and without a baseline")


# --- Exercise 4.2: the leave-one-out baseline ---------------------------------------------------


def check_leave_one_out(fn: Callable) -> None:
    """Exercise 4.2: ``fn(rewards)`` -> b_i = (1 / (B - 1)) sum_{j != i} R_j, detached: (B,)."""
    cases = []
    for seed, B in ((0, 4), (1, 7), (2, 16)):
        R = torch.randn(B, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64) + 1.0
        loo = (R.sum() - R) / (B - 1)
        cases.append(((R.clone(),), loo, {
            "included the sample itself in its baseline (that is the batch mean, not "
            "leave-one-out)": R.mean().expand(B),
            "divided by B instead of B - 1 (there are B - 1 other samples)": (R.sum() - R) / B,
            "returned the advantage R_i - b_i instead of the baseline b_i": R - loo,
            "returned the sum of the other rewards instead of their mean": R.sum() - R,
        }))
    run_cases("Exercise 4.2", fn, cases)
    R = torch.tensor([1.0, 2.0, 4.0, 7.0], dtype=torch.float64, requires_grad=True)
    out = fn(R)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        raise ExerciseError(f"Exercise 4.2: not yet right. It looks like you {NOT_DETACHED}.")
    passed("Exercise 4.2", "leave-one-out baselines of batches of 4, 7 and 16 rewards match, "
                           "detached")


__all__ = ["check_leave_one_out", "check_reinforce_loss"]

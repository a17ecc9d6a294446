"""Checks for the exercises of lesson 10 (DPO and the KL-optimal policy)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..dpo import dpo_loss, kl_optimal_policy
from .common import ExerciseError, diagnose, passed

UNSTABLE_LOG_SIGMOID = (
    "computed log(sigmoid(margin)) in two steps: at a margin of -1e4, sigmoid underflows to 0 "
    "and its log to -inf. Use F.logsigmoid(margin) (or -F.softplus(-margin)), which is exact "
    "for any margin")


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


# --- Exercise 10.1: the DPO loss -----------------------------------------------------------------


def _logps(seed: int, n: int) -> list[torch.Tensor]:
    """Summed response log-probabilities (N,) of the policy and the reference, chosen and
    rejected: the reference is the policy moved a little, so every term matters."""
    g = torch.Generator().manual_seed(seed)
    pc, pr = -torch.rand(n, generator=g) * 30, -torch.rand(n, generator=g) * 30
    rc = pc + torch.randn(n, generator=g) * 3
    rr = pr + torch.randn(n, generator=g) * 3
    return [pc, pr, rc, rr]


def check_dpo_loss(fn: Callable) -> None:
    """Exercise 10.1: ``fn(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
    ref_rejected_logps, beta)`` -> the mean over pairs of
    -log sigmoid(beta * ((pc - rc) - (pr - rr))), each argument (N,) summed log-probabilities."""
    for seed, n, beta in ((0, 8, 0.1), (1, 5, 0.5), (2, 1, 2.0), (3, 16, 0.05)):
        pc, pr, rc, rr = (t.double() for t in _logps(seed, n))
        h = (pc - rc) - (pr - rr)  # (N,) the difference of log-ratios, before beta
        m = beta * h
        mistakes = {
            "gave the reference terms the wrong sign: each implicit reward is a log-RATIO, "
            "beta * (log pi_theta(y) - log pi_ref(y)), so subtract the reference's "
            "log-probability": -F.logsigmoid(beta * ((pc + rc) - (pr + rr))).mean(),
            "put beta outside the sigmoid: beta scales the margin inside it, "
            "-log sigmoid(beta * (...)), not -beta * log sigmoid(...)":
                -(beta * F.logsigmoid(h)).mean(),
            "left out the reference model: the implicit reward is beta * log(pi_theta / "
            "pi_ref); without pi_ref the loss just pushes log pi_theta(y_c) above "
            "log pi_theta(y_r)": -F.logsigmoid(beta * (pc - pr)).mean(),
            "used sigmoid instead of log-sigmoid: the loss is -log P(y_c > y_r), the negative "
            "log-likelihood of the label, not -P(y_c > y_r)": -torch.sigmoid(m).mean(),
            "swapped chosen and rejected: the loss is small when the CHOSEN response's "
            "log-ratio is the larger one": -F.logsigmoid(-m).mean(),
            "forgot the minus sign: the loss is the NEGATIVE log-likelihood of the labels":
                F.logsigmoid(m).mean(),
            "summed over the pairs instead of taking the mean": -F.logsigmoid(m).sum(),
            "forgot beta: the margin is beta * ((pc - rc) - (pr - rr))": -F.logsigmoid(h).mean(),
        }
        args = [t.float().clone() for t in (pc, pr, rc, rr)]
        got = fn(*args, beta)
        diagnose("Exercise 10.1", got, -F.logsigmoid(m).mean(), mistakes)
    # huge margins: +1e4 (a sure win, loss 0) and -1e4 (a sure loss, loss 1e4), in float32
    zero = torch.zeros(3)
    pc = torch.tensor([1e4, -1e4, 0.0])
    got = _as_tensor(fn(pc.clone(), zero.clone(), zero.clone(), zero.clone(), 1.0))
    if not bool(torch.isfinite(got).all()):
        raise ExerciseError(f"Exercise 10.1: the loss is {got} at margins of +-1e4. It looks "
                            f"like you {UNSTABLE_LOG_SIGMOID}.")
    diagnose("Exercise 10.1", got, dpo_loss(pc, zero, zero, zero, 1.0), {}, rtol=1e-4)
    passed("Exercise 10.1", "the DPO loss matches on 4 batches of pairs, and stays finite and "
                            "exact at margins of +-1e4")


# --- Exercise 10.2: the KL-optimal policy -------------------------------------------------------


def _policy_case(seed: int, shape: tuple[int, ...], scale: float) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    ref = torch.softmax(torch.randn(*shape, generator=g, dtype=torch.float64) * 2, dim=-1)
    rewards = torch.randn(*shape, generator=g, dtype=torch.float64) * scale
    return ref, rewards


def check_kl_optimal_policy(fn: Callable) -> None:
    """Exercise 10.2: ``fn(ref_probs, rewards, beta)`` -> pi* = softmax(log pi_ref + r / beta)
    over the last dimension, the maximizer of E_pi[r] - beta KL(pi || pi_ref)."""
    for seed, shape, scale, beta in ((0, (6,), 1.0, 0.5), (1, (3, 5), 2.0, 1.0),
                                     (2, (40,), 1.0, 0.1), (3, (2, 4), 0.5, 3.0)):
        ref, r = _policy_case(seed, shape, scale)
        tilted = ref * torch.exp(r / beta)
        mistakes = {
            "multiplied the reward by beta: the optimum tilts pi_ref by exp(r / beta), so a "
            "SMALL beta (a loose KL leash) moves the policy far":
                torch.softmax(ref.log() + r * beta, dim=-1),
            "left out the reference: pi* is pi_ref tilted by exp(r / beta), "
            "softmax(log pi_ref + r / beta), not softmax(r / beta)":
                torch.softmax(r / beta, dim=-1),
            "forgot to normalize: pi_ref * exp(r / beta) must be divided by its sum Z":
                tilted,
            "tilted away from reward: the optimum puts MORE probability on high-reward "
            "responses, softmax(log pi_ref + r / beta)": torch.softmax(ref.log() - r / beta, -1),
            "added the probabilities instead of their logs: softmax(log pi_ref + r / beta)":
                torch.softmax(ref + r / beta, dim=-1),
        }
        if len(shape) == 2:
            mistakes["normalized over the wrong dimension: each row (the responses to one "
                      "prompt) is its own distribution, softmax over the last dimension"] = (
                torch.softmax(ref.log() + r / beta, dim=0))
        got = fn(ref.clone(), r.clone(), beta)
        diagnose("Exercise 10.2", got, kl_optimal_policy(ref, r, beta), mistakes, atol=1e-6)
    # a tight leash on large rewards: r / beta = 1000 overflows exp() in float64
    ref = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    r = torch.tensor([10.0, 9.0, 0.0], dtype=torch.float64)
    got = _as_tensor(fn(ref.clone(), r.clone(), 0.01))
    if not bool(torch.isfinite(got).all()):
        raise ExerciseError(
            f"Exercise 10.2: the policy is {got} for rewards of 10 at beta = 0.01. It looks "
            "like you computed exp(r / beta) before normalizing: exp(1000) overflows. Work with "
            "logits, softmax(log pi_ref + r / beta), which subtracts the maximum for you")
    diagnose("Exercise 10.2", got, kl_optimal_policy(ref, r, 0.01), {}, atol=1e-6)
    # a response pi_ref never says keeps probability 0
    ref = torch.tensor([0.6, 0.4, 0.0], dtype=torch.float64)
    r = torch.tensor([0.0, 1.0, 20.0], dtype=torch.float64)  # it would win by far
    got = _as_tensor(fn(ref.clone(), r.clone(), 0.5))
    diagnose("Exercise 10.2", got, kl_optimal_policy(ref, r, 0.5), {
        "gave probability to a response pi_ref never says: pi* = pi_ref * exp(r / beta) / Z "
        "is 0 wherever pi_ref is 0": torch.softmax(r / 0.5, dim=-1)}, atol=1e-6)
    passed("Exercise 10.2", "the KL-optimal policy matches on 4 cases (batched too), at a "
                            "tight leash, and where pi_ref is 0")


# --- Exercise 10.3: log pi(y | x) of whole responses -------------------------------------------


def check_summed_logps(fn: Callable) -> None:
    """Exercise 10.3: ``fn(token_logps, mask)`` -> (N,) log pi(y | x), the sum over each row's
    response tokens (``mask`` 1) of the per-token log-probabilities (N, T)."""
    for seed, lengths, T in ((0, [5, 2, 4], 6), (1, [3, 3], 3), (2, [1, 7, 4, 2], 8)):
        g = torch.Generator().manual_seed(seed)
        mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()  # (N, T)
        token_logps = -torch.rand(len(lengths), T, generator=g) * 4  # junk on padding too
        expected = (token_logps * mask).sum(dim=1)
        mistakes = {
            "averaged over the tokens: the mean log-probability per token is a different, "
            "length-normalized score (SimPO and IPO variants use it); DPO's derivation needs "
            "log pi(y | x) of the whole response, the SUM":
                expected / mask.sum(dim=1),
            "forgot the mask: padding positions are not part of the response":
                token_logps.sum(dim=1),
            "summed over the batch instead of the tokens: one number per response, a sum along "
            "dim=1": (token_logps * mask).sum(dim=0),
        }
        got = fn(token_logps.clone(), mask.clone())
        if isinstance(got, torch.Tensor) and got.shape == token_logps.shape:
            raise ExerciseError(
                "Exercise 10.3: not yet right. It looks like you returned the per-token "
                "log-probabilities (N, T): DPO compares whole responses, so sum each row's "
                "response tokens into one log pi(y | x), shape (N,)")
        diagnose("Exercise 10.3", got, expected, mistakes)
    passed("Exercise 10.3", "summed response log-probabilities match on 3 padded batches")


__all__ = ["check_dpo_loss", "check_kl_optimal_policy", "check_summed_logps"]

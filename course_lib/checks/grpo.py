"""Checks of the exercises of lesson 09 (GRPO): group advantages, and the unbiased pass@k.

Each check runs seeded cases through the student's function and the reference
(:mod:`course_lib.grpo`); when they differ it compares the answer with what each planted
mistake computes and names the mistake that matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..grpo import group_advantages, pass_at_k
from .common import ExerciseError, diagnose, passed

# --- Exercise 9.1: group advantages -------------------------------------------------------------

ADVANTAGES = "Exercise 9.1"


def _advantage_case(seed: int, prompts: int, group_size: int, binary: bool) -> torch.Tensor:
    """Seeded rewards (prompts * group_size,), each prompt's samples contiguous: 0/1 rewards
    (with one group all 0 and one all 1) or continuous ones on different scales."""
    g = torch.Generator().manual_seed(seed)
    if binary:
        r = (torch.rand(prompts, group_size, generator=g) < 0.4).double()
        r[0], r[-1] = 0.0, 1.0  # a group with no signal at each end
        r[1, 0], r[1, 1:] = 1.0, 0.0  # one rare success
    else:
        scale = torch.rand(prompts, 1, generator=g, dtype=torch.float64) * 3 + 0.1
        r = torch.randn(prompts, group_size, generator=g, dtype=torch.float64) * scale + 2.0
    return r.reshape(-1)


def _advantage_variant(r: torch.Tensor, G: int, scale_std: bool, eps: float, variant: str):
    """What a planted mistake computes instead of :func:`group_advantages`."""
    if variant == "stride":  # prompt g's samples read as rows g, g + P, g + 2P, ...
        groups = r.view(G, -1).T
    else:
        groups = r.view(-1, G)
    if variant == "batch_mean":
        centred = groups - r.mean()
    else:
        centred = groups - groups.mean(dim=1, keepdim=True)
    if variant == "batch_std":
        out = centred / (r.std() + eps)
    elif variant == "population_std":
        out = centred / (groups.std(dim=1, unbiased=False, keepdim=True) + eps)
    elif variant == "eps_under_root":
        out = centred / (groups.var(dim=1, keepdim=True) + eps).sqrt()
    elif variant == "no_eps":
        out = centred / groups.std(dim=1, keepdim=True)
    elif variant == "not_centred":
        out = groups / (groups.std(dim=1, keepdim=True) + eps)
    elif variant == "ignored_flag":  # scaled whatever scale_std says
        out = centred / (groups.std(dim=1, keepdim=True) + eps)
    else:
        out = centred / (groups.std(dim=1, keepdim=True) + eps) if scale_std else centred
    if variant == "stride":
        return out.T.reshape(-1)
    return out.reshape(-1)


ADVANTAGE_MISTAKES = {
    "population_std": "divided by the population standard deviation (dividing by G): GRPO, as "
                      "TRL, uses the sample standard deviation, torch.std's default (G - 1)",
    "batch_std": "divided by the standard deviation of the whole batch: each group is scaled by "
                 "its own std (TRL's scale_rewards='batch' is a different, batch-level choice)",
    "batch_mean": "subtracted the mean of the whole batch: the baseline is the mean of the "
                  "prompt's own group",
    "stride": "read the groups with the wrong stride: a prompt's group_size samples are "
              "contiguous, rewards.view(-1, group_size), not every P-th reward",
    "eps_under_root": "put eps under the square root, sqrt(var + eps): eq. GRPO-A adds it to "
                      "the standard deviation, std + eps",
    "no_eps": "left out eps: a group whose rewards are all equal has std 0, and 0 / 0 is nan; "
              "divide by std + eps",
    "not_centred": "did not subtract the group's mean: A_i = (r_i - mean) / (std + eps)",
    "ignored_flag": "scaled by the std even with scale_std=False: then (Dr. GRPO) the "
                    "advantage is r_i - mean only",
}


def check_group_advantages(fn: Callable) -> None:
    """Exercise 9.1: ``fn(rewards, group_size, scale_std=True, eps=1e-4)`` -> A (B,).

    Compares with the reference on eight batches (0/1 rewards with groups that all score the
    same, continuous rewards; group sizes 2 to 8; eps 1e-4 and 0.5; scaled and not); names the
    planted mistake that matches.
    """
    cases = ((0, 5, 8, True, True, 1e-4), (1, 4, 4, False, True, 1e-4),
             (2, 3, 2, False, True, 0.5), (3, 6, 8, True, True, 0.5),
             (4, 4, 4, False, False, 1e-4), (5, 5, 8, True, False, 1e-4),
             (6, 3, 6, False, True, 0.5), (7, 7, 3, True, True, 1e-4))
    for seed, P, G, binary, scale_std, eps in cases:
        r = _advantage_case(seed, P, G, binary)
        got = fn(r.clone(), G, scale_std=scale_std, eps=eps)
        if not isinstance(got, torch.Tensor) or got.shape != r.shape:
            raise ExerciseError(f"{ADVANTAGES}: return one advantage per reward, a tensor of "
                                f"shape {tuple(r.shape)}, got "
                                f"{getattr(got, 'shape', type(got).__name__)}")
        expected = group_advantages(r, G, scale_std, eps)
        mistakes = {msg: _advantage_variant(r, G, scale_std, eps, v)
                    for v, msg in ADVANTAGE_MISTAKES.items()}
        if not bool(torch.isfinite(got).all()):
            raise ExerciseError(f"{ADVANTAGES}: not yet right. Some advantages are nan or inf "
                                f"(group size {G}): {ADVANTAGE_MISTAKES['no_eps']}.")
        diagnose(ADVANTAGES, got, expected, mistakes, atol=1e-8, rtol=1e-6)
    passed(ADVANTAGES, "matches the reference on 8 batches (0/1 and continuous rewards, group "
                       "sizes 2 to 8, with and without the std)")


# --- Exercise 9.2: pass@k -----------------------------------------------------------------------

PASS_AT_K = "Exercise 9.2"

PASS_CASES = ((16, 0, 1), (16, 1, 1), (16, 1, 4), (16, 3, 8), (16, 5, 16), (16, 15, 2),
              (16, 16, 16), (10, 2, 9), (32, 4, 16), (8, 6, 3), (100, 7, 10), (5, 1, 5))

PASS_MISTAKES = {
    "biased": "used 1 - (1 - c/n)^k: that treats the n samples as the true success rate and "
              "is biased (it underestimates pass@k); the unbiased estimator is "
              "1 - C(n - c, k) / C(n, k), the chance that k of the n samples drawn without "
              "replacement are all wrong, subtracted from 1",
    "pass_at_1": "returned c / n whatever k is: that is pass@1",
    "all_right": "computed C(c, k) / C(n, k), the chance that *all* k samples are right: "
                 "pass@k asks for at least one",
}


def _pass_variant(n: int, c: int, k: int, variant: str) -> float:
    if variant == "biased":
        return 1 - (1 - c / n) ** k
    if variant == "pass_at_1":
        return c / n
    return math.comb(c, k) / math.comb(n, k)


def check_pass_at_k(fn: Callable) -> None:
    """Exercise 9.2: ``fn(n, c, k)`` -> the unbiased pass@k (a number).

    Compares with the reference on twelve (n, c, k), including c = 0, n - c < k and k = n;
    names the planted mistake that matches; and checks that k > n is refused with a
    ValueError (pass@k cannot be estimated from fewer than k samples).
    """
    for n, c, k in PASS_CASES:
        got = fn(n, c, k)
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise ExerciseError(f"{PASS_AT_K}: return a number, got {type(got).__name__}") \
                from None
        mistakes = {msg: _pass_variant(n, c, k, v) for v, msg in PASS_MISTAKES.items()}
        diagnose(f"{PASS_AT_K} (n={n}, c={c}, k={k})", torch.tensor(value, dtype=torch.float64),
                 pass_at_k(n, c, k), mistakes, atol=1e-9, rtol=1e-7)
    try:
        got = fn(4, 1, 8)
    except ValueError:
        pass
    else:
        raise ExerciseError(f"{PASS_AT_K}: not yet right. With k > n (n=4, k=8) it returned "
                            f"{got!r}: pass@k cannot be estimated from fewer than k samples; "
                            "raise ValueError when k > n")
    passed(PASS_AT_K, "matches the unbiased estimator on 12 (n, c, k) and refuses k > n")


__all__ = ["check_group_advantages", "check_pass_at_k"]

"""Checks of the exercises of lesson 08 (PPO): the clipped surrogate loss, and GAE.

Each check runs seeded ragged batches through the student's function and the reference
(:mod:`course_lib.ppo`) and compares values and gradients; when they differ it compares them
with what each planted mistake computes and names the mistake that matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..ppo import clipped_surrogate_loss, gae
from .common import ExerciseError, diagnose, passed

# --- Exercise 8.1: the clipped surrogate loss -----------------------------------------------

SURROGATE = "Exercise 8.1"


def _surrogate_case(seed: int, per_token: bool, B: int = 6, T: int = 5):
    """Seeded (logprobs, old_logprobs, advantages, mask): ratios spread well past the clip on
    both sides, advantages of both signs, ragged rows with junk in the padding."""
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 2 - 0.1  # (B, T)
    logprobs = old + 0.6 * torch.randn(B, T, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0], lengths[1] = T, max(1, T - 2)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).double()  # (B, T)
    shape = (B, T) if per_token else (B,)
    advantages = torch.randn(shape, generator=g, dtype=torch.float64)
    return logprobs, old, advantages, mask


def _surrogate_variant(lp, old, A, mask, eps, variant: str = "ok") -> torch.Tensor:
    """The loss, or what a planted mistake computes instead."""
    A = A[:, None] if A.dim() == 1 else A
    ratio = torch.exp(lp - old)
    if variant == "difference":
        ratio = lp - old
    if variant == "advantage_clip":
        objective = torch.min(ratio * A, ratio * A.clamp(1 - eps, 1 + eps))
    elif variant == "upper_only":
        objective = torch.min(ratio * A, ratio.clamp(max=1 + eps) * A)
    elif variant == "lower_only":
        objective = torch.min(ratio * A, ratio.clamp(min=1 - eps) * A)
    elif variant == "max":
        objective = torch.max(ratio * A, ratio.clamp(1 - eps, 1 + eps) * A)
    elif variant == "unclipped":
        objective = ratio * A
    else:
        objective = torch.min(ratio * A, ratio.clamp(1 - eps, 1 + eps) * A)
    if variant == "no_mask":
        return -objective.mean()
    if variant == "all_positions":
        return -(objective * mask).mean()
    if variant == "per_response":
        return -((objective * mask).sum(1) / mask.sum(1)).mean()
    loss = -(objective * mask).sum() / mask.sum()
    return -loss if variant == "sign" else loss


SURROGATE_MISTAKES = {
    "difference": "used the difference logprobs - old_logprobs as the ratio: the ratio is "
                  "pi_theta / pi_old = exp(logprobs - old_logprobs)",
    "max": "took the max of the two terms: PPO takes the min, the pessimistic one, so that "
           "moving the ratio out of [1 - eps, 1 + eps] never pays",
    "advantage_clip": "clipped the advantage instead of the ratio: clip the ratio to "
                      "[1 - eps, 1 + eps] and multiply it by the advantage",
    "upper_only": "clipped the ratio on one side only (at 1 + eps): clip it at 1 - eps too",
    "lower_only": "clipped the ratio on one side only (at 1 - eps): clip it at 1 + eps too",
    "unclipped": "did not clip: take the min of ratio * A and clip(ratio, 1 - eps, 1 + eps) * A",
    "sign": "returned the objective instead of the loss: the loss is minus the mean objective",
    "no_mask": "averaged over the padding too: multiply by the mask, divide by mask.sum()",
    "all_positions": "divided by the number of positions, padding included: divide the masked "
                     "sum by mask.sum(), the number of response tokens",
    "per_response": "averaged each response's tokens, then the responses: a different estimator "
                    "(GRPO's original sample-level loss); here every response token of the "
                    "batch counts once: sum of masked terms / mask.sum()",
}
NOT_DETACHED = ("let the gradient flow into old_logprobs: they are the sampling policy's, a "
                "constant; detach them (old_logprobs.detach())")


def check_clipped_surrogate_loss(fn: Callable) -> None:
    """Exercise 8.1: ``fn(logprobs, old_logprobs, advantages, mask, clip_eps)`` -> L_CLIP.

    Compares the value and the gradient with respect to ``logprobs`` with the reference on six
    ragged batches (advantages (B,) and (B, T), eps 0.2 and 0.1), and that no gradient reaches
    ``old_logprobs``; names the planted mistake that matches.
    """
    for seed, per_token, eps in ((0, False, 0.2), (1, False, 0.1), (2, True, 0.2),
                                 (3, True, 0.3), (4, False, 0.2), (5, True, 0.15)):
        lp0, old0, A, mask = _surrogate_case(seed, per_token)
        lp = lp0.clone().requires_grad_()
        old = old0.clone().requires_grad_()  # as if computed by a model: it has a gradient
        got = fn(lp, old, A.clone(), mask.clone(), eps)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise ExerciseError(f"{SURROGATE}: return the loss as a scalar tensor, got "
                                f"{getattr(got, 'shape', type(got).__name__)}")
        mistakes = {msg: _surrogate_variant(lp0, old0, A, mask, eps, v)
                    for v, msg in SURROGATE_MISTAKES.items()}
        expected = clipped_surrogate_loss(lp0, old0, A, mask, eps)
        diagnose(SURROGATE, got.reshape(()), expected, mistakes, atol=1e-8, rtol=1e-6)
        if not got.requires_grad:
            raise ExerciseError(f"{SURROGATE}: not yet right. The loss has no gradient: compute "
                                "it from logprobs without detaching them.")
        got.reshape(()).backward()
        if old.grad is not None and bool(old.grad.abs().max() > 0):
            raise ExerciseError(f"{SURROGATE}: not yet right. It looks like you {NOT_DETACHED}.")
        grads = {}
        for v, msg in SURROGATE_MISTAKES.items():
            x = lp0.clone().requires_grad_()
            _surrogate_variant(x, old0, A, mask, eps, v).backward()
            grads[msg] = x.grad
        ref = lp0.clone().requires_grad_()
        clipped_surrogate_loss(ref, old0, A, mask, eps).backward()
        grads["detached the ratio or the log-probs: the gradient must flow through "
              "exp(logprobs - old_logprobs)"] = torch.zeros_like(ref.grad)
        diagnose(f"{SURROGATE} (gradient with respect to logprobs)", lp.grad, ref.grad, grads,
                 atol=1e-8, rtol=1e-6)
    passed(SURROGATE, "value and gradient match the reference on 6 ragged batches (advantages "
                      "per response and per token), no gradient into old_logprobs")


# --- Exercise 8.2: generalized advantage estimation ------------------------------------------

GAE = "Exercise 8.2"


def _gae_case(seed: int, B: int = 5, T: int = 6):
    """Seeded (rewards, values, mask): ragged rows (one full), per-token rewards (a KL penalty)
    plus a score at the last token, values that are junk on the padding (as a value head's)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0], lengths[1] = T, max(2, T - 3)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).double()  # (B, T)
    rewards = 0.1 * torch.randn(B, T, generator=g, dtype=torch.float64) * mask
    rewards[torch.arange(B), lengths - 1] += torch.randn(B, generator=g, dtype=torch.float64)
    values = torch.randn(B, T, generator=g, dtype=torch.float64)  # junk on padding too
    return rewards, values, mask


def _gae_variant(rewards, values, mask, gamma, lam, variant: str):
    """What a planted mistake computes: (advantages, returns)."""
    if variant == "swapped":
        return gae(rewards, values, mask, lam, gamma)
    B, T = rewards.shape
    if variant == "no_mask":  # padding treated as more steps, nothing masked
        m = torch.ones_like(mask)
        next_m = torch.cat([m[:, 1:], torch.zeros_like(m[:, :1])], 1)
    else:
        m = mask
        next_m = torch.ones_like(mask) if variant == "past_end" else \
            torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], 1)
        next_m[:, -1] = 0
    next_v = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1) * next_m
    deltas = (rewards + gamma * next_v - values) * m
    adv = torch.zeros_like(deltas)
    run = torch.zeros(B, dtype=deltas.dtype)
    for t in reversed(range(T)):
        run = deltas[:, t] + gamma * lam * next_m[:, t] * run
        adv[:, t] = run
    adv = adv * m
    return adv, (adv + values) * m


def _reward_to_go(rewards, mask, gamma):
    """sum_{t' >= t} gamma^(t' - t) r_t' (rewards are 0 on the padding)."""
    out, run = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        run = rewards[:, t] + gamma * run
        out[:, t] = run
    return out * mask


def check_gae(fn: Callable) -> None:
    """Exercise 8.2: ``fn(rewards, values, mask, gamma, lam)`` -> ``(advantages, returns)``.

    Compares both outputs with the reference on four ragged batches (gamma != lam, so that
    swapping them shows); names the planted mistake that matches: no mask, bootstrapping past a
    response's end, gamma and lambda swapped, returns that are not A + V, outputs swapped.
    """
    for seed, gamma, lam in ((0, 0.9, 0.8), (1, 0.95, 0.5), (2, 1.0, 0.9), (3, 0.8, 0.95)):
        rewards, values, mask = _gae_case(seed)
        out = fn(rewards.clone(), values.clone(), mask.clone(), gamma, lam)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ExerciseError(f"{GAE}: return two tensors, (advantages, returns), got "
                                f"{type(out).__name__}")
        advantages, returns = out
        exp_adv, exp_ret = gae(rewards, values, mask, gamma, lam)
        variants = {v: _gae_variant(rewards, values, mask, gamma, lam, v)
                    for v in ("no_mask", "past_end", "swapped")}
        names = {
            "no_mask": "ran GAE without the mask: padding became extra steps (its junk values "
                       "leaked into the last tokens' advantages) and was not zeroed",
            "past_end": "bootstrapped past the end of a response: after its last token the "
                        "episode is over, so V(s_{t+1}) = 0 there, not the value of the padding",
            "swapped": "swapped gamma and lambda: delta_t = r_t + gamma V(s_{t+1}) - V(s_t), "
                       "then A_t = delta_t + gamma * lam * A_{t+1}",
        }
        mistakes = {names[v]: a for v, (a, _) in variants.items()}
        mistakes["returned (returns, advantages): return the advantages first"] = exp_ret
        diagnose(f"{GAE} (advantages)", advantages, exp_adv, mistakes, atol=1e-8, rtol=1e-6)
        ret_mistakes = {names[v]: r for v, (_, r) in variants.items()}
        ret_mistakes["returned the discounted reward-to-go as the returns: the critic's target "
                     "is the lambda-return, advantages + values (on response tokens)"] = \
            _reward_to_go(rewards, mask, gamma)
        ret_mistakes["left the values in the padding of the returns: multiply by the mask"] = \
            exp_adv + values
        diagnose(f"{GAE} (returns)", returns, exp_ret, ret_mistakes, atol=1e-8, rtol=1e-6)
    passed(GAE, "advantages and returns match the reference on 4 ragged batches "
                "(gamma != lambda, junk values on the padding)")


__all__ = ["check_clipped_surrogate_loss", "check_gae"]

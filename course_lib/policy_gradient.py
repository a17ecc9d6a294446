"""The policy gradient: REINFORCE, baselines and reward-to-go.

Sampling is not differentiable, but the log-derivative trick turns the gradient of
J(theta) = E_{y ~ pi_theta}[r(x, y)] into an expectation we can sample:

    grad J(theta) = E_{y ~ pi_theta}[ (r(x, y) - b) * sum_t grad log pi_theta(y_t | x, y_<t) ]

for any baseline b that does not depend on y (eq. REINFORCE). :func:`reinforce_loss` is a
surrogate loss whose gradient is the batch average of that estimate, with a minus sign, so
``loss.backward(); optimizer.step()`` climbs J. With per-step rewards, :func:`rewards_to_go`
gives each token only the rewards that come after it (eq. reward-to-go).

The training loop of lesson 05 (``train_reinforce``) builds on these functions.
"""

from __future__ import annotations

import torch

Baseline = str | torch.Tensor | None  # None | "mean" | "loo" | a tensor shaped like the rewards

BASELINES = ("mean", "loo")


# --- input checks ----------------------------------------------------------------------------


def _check_inputs(logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor) -> None:
    if not isinstance(logprobs, torch.Tensor) or logprobs.dim() != 2:
        raise ValueError(f"logprobs must be a (B, T) tensor, got "
                         f"{getattr(logprobs, 'shape', type(logprobs).__name__)}")
    if not isinstance(mask, torch.Tensor) or mask.shape != logprobs.shape:
        raise ValueError(f"mask must have the shape of logprobs {tuple(logprobs.shape)}, got "
                         f"{getattr(mask, 'shape', type(mask).__name__)}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("mask must hold only 0 and 1 (1 on response tokens)")
    if not isinstance(rewards, torch.Tensor):
        raise ValueError(f"rewards must be a tensor, got {type(rewards).__name__}")
    B = logprobs.shape[0]
    if rewards.shape not in ((B,), logprobs.shape):
        raise ValueError(f"rewards must have shape ({B},) (one per response) or "
                         f"{tuple(logprobs.shape)} (one return per token), got "
                         f"{tuple(rewards.shape)}")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite (found nan or inf)")
    if not bool(torch.isfinite(logprobs[mask.bool()]).all()):
        raise ValueError("logprobs must be finite on response tokens (found nan or inf)")


# --- baselines and returns ---------------------------------------------------------------------


def rewards_to_go(step_rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """G_t = sum_{t' >= t} r_{t'}: the return from step t on, (B, T), 0 on padding.

    An action cannot change the rewards that came before it, so weighting log pi(y_t | ...) by
    G_t instead of the whole return keeps the estimate unbiased and removes noise.
    """
    if not isinstance(step_rewards, torch.Tensor) or step_rewards.dim() != 2:
        raise ValueError(f"step_rewards must be a (B, T) tensor, got "
                         f"{getattr(step_rewards, 'shape', type(step_rewards).__name__)}")
    if not isinstance(mask, torch.Tensor) or mask.shape != step_rewards.shape:
        raise ValueError(f"mask must have the shape of step_rewards {tuple(step_rewards.shape)}, "
                         f"got {getattr(mask, 'shape', type(mask).__name__)}")
    if not bool(torch.isfinite(step_rewards).all()):
        raise ValueError("step_rewards must be finite (found nan or inf)")
    r = step_rewards * mask
    return r.flip(1).cumsum(1).flip(1) * mask  # (B, T)


def compute_baseline(rewards: torch.Tensor, baseline: Baseline,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """The baseline b, shaped like ``rewards`` and detached (no gradient flows through it).

    - ``None``: b = 0.
    - ``"mean"``: the batch mean, b = (1/B) sum_j R_j (per position for (B, T) returns).
    - ``"loo"``: leave-one-out, b_i = (1/(B-1)) sum_{j != i} R_j: independent of sample i, so
      exactly unbiased (the batch mean includes R_i and shrinks the estimate by (B-1)/B).
    - a tensor: used as given (broadcast to the rewards' shape).
    """
    if baseline is None:
        return torch.zeros_like(rewards).detach()
    if isinstance(baseline, torch.Tensor):
        try:
            b = torch.broadcast_to(baseline, rewards.shape)
        except RuntimeError:
            raise ValueError(f"baseline tensor of shape {tuple(baseline.shape)} does not match "
                             f"rewards of shape {tuple(rewards.shape)}") from None
        if not bool(torch.isfinite(b).all()):
            raise ValueError("baseline must be finite (found nan or inf)")
        return b.detach()
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be None, 'mean', 'loo' or a tensor, got {baseline!r}")
    R = rewards.detach()
    m = torch.ones_like(R) if mask is None or R.dim() == 1 else mask.to(R.dtype)
    return _baseline_along(R, m, baseline, dim=0)


def _baseline_along(R: torch.Tensor, m: torch.Tensor, kind: str, dim: int) -> torch.Tensor:
    """The "mean" or "loo" baseline of returns ``R`` over the samples of dimension ``dim``,
    counting only entries where ``m`` is 1 (per position, for per-token returns)."""
    total, count = (R * m).sum(dim, keepdim=True), m.sum(dim, keepdim=True)
    if kind == "mean":
        return total / count.clamp(min=1) * m
    if R.shape[dim] < 2:
        raise ValueError("baseline 'loo' needs at least 2 samples in the batch")
    return (total - R * m) / (count - m).clamp(min=1) * m  # the mean of the *other* samples


# --- the REINFORCE loss ---------------------------------------------------------------------------


def reinforce_loss(logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
                   baseline: Baseline = None) -> torch.Tensor:
    """The surrogate loss whose gradient is the REINFORCE estimate of -grad J(theta).

    loss = -(1/B) sum_i (R_i - b_i) sum_t mask_it * log pi_theta(y_it | x_i, y_i,<t)

    Args:
        logprobs: (B, T) log-probabilities of the sampled tokens, with gradient.
        rewards: (B,) one return per response, or (B, T) one return per token (e.g. from
            :func:`rewards_to_go`), then loss = -(1/B) sum_i sum_t mask_it (G_it - b_it) logprob_it.
        mask: (B, T) 1 on response tokens, 0 on padding.
        baseline: None, ``"mean"``, ``"loo"`` or a tensor; see :func:`compute_baseline`. It is
            always detached: a baseline adds no bias only if it is a constant for the gradient.
    """
    _check_inputs(logprobs, rewards, mask)
    mask = mask.to(logprobs.dtype)
    R = rewards.detach().to(logprobs.dtype)
    advantages = R - compute_baseline(R, baseline, mask).to(logprobs.dtype)  # (B,) or (B, T)
    if R.dim() == 1:
        per_response = advantages * (logprobs * mask).sum(dim=1)  # (B,)
    else:
        per_response = (advantages * logprobs * mask).sum(dim=1)  # (B,)
    return -per_response.mean()


def reinforce_estimates(token_scores: torch.Tensor, step_rewards: torch.Tensor,
                        mask: torch.Tensor, batch_size: int, baseline: Baseline = None,
                        reward_to_go: bool = False) -> torch.Tensor:
    """Many independent REINFORCE estimates at once, one per batch of ``batch_size`` samples.

    ``token_scores`` (N, T, P) holds grad log pi(y_t | ...) per token (N samples, P parameters);
    the N samples are cut into M = N // batch_size batches and each batch gives the estimate
    (1/n) sum_i sum_t (G_it - b_it) score_it: shape (M, P). Each row equals minus the gradient of
    :func:`reinforce_loss` on that batch (the tests check it); this form needs no backward pass.
    """
    if token_scores.dim() != 3 or token_scores.shape[:2] != mask.shape:
        raise ValueError(f"token_scores must be (N, T, P) with (N, T) = mask's shape "
                         f"{tuple(mask.shape)}, got {tuple(token_scores.shape)}")
    n = batch_size
    if not isinstance(n, int) or not 1 <= n <= mask.shape[0]:
        raise ValueError(f"batch_size must be an int from 1 to {mask.shape[0]}, got {n!r}")
    M = mask.shape[0] // n
    mask = mask[:M * n].to(token_scores.dtype)
    step_rewards = step_rewards[:M * n].to(token_scores.dtype)
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"baseline must be None, 'mean' or 'loo', got {baseline!r}")
    m = mask.view(M, n, -1)
    if reward_to_go:
        G = rewards_to_go(step_rewards, mask).view(M, n, -1)  # (M, n, T) per-token returns
        b = torch.zeros_like(G) if baseline is None else _baseline_along(G, m, baseline, dim=1)
        weights = (G - b) * m  # (M, n, T)
    else:
        R = (step_rewards * mask).sum(1).view(M, n)  # (M, n) whole returns
        ones = torch.ones_like(R)
        b = torch.zeros_like(R) if baseline is None else _baseline_along(R, ones, baseline, dim=1)
        weights = (R - b)[..., None] * m  # (M, n, T): the same weight on every token
    scores = token_scores[:M * n].view(M, n, mask.shape[1], -1)  # (M, n, T, P)
    return torch.einsum("mnt,mntp->mp", weights, scores) / n  # (M, P)

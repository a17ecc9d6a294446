"""The policy gradient: REINFORCE, baselines and reward-to-go (lesson 04), and the whole
algorithm on a language model (lesson 05).

Sampling is not differentiable, but the log-derivative trick turns the gradient of
J(theta) = E_{y ~ pi_theta}[r(x, y)] into an expectation we can sample:

    grad J(theta) = E_{y ~ pi_theta}[ (r(x, y) - b) * sum_t grad log pi_theta(y_t | x, y_<t) ]

for any baseline b that does not depend on y (eq. REINFORCE). :func:`reinforce_loss` is a
surrogate loss whose gradient is the batch average of that estimate, with a minus sign, so
``loss.backward(); optimizer.step()`` climbs J. With per-step rewards, :func:`rewards_to_go`
gives each token only the rewards that come after it (eq. reward-to-go).

:func:`train_reinforce` (lesson 05) is the whole algorithm on a language model, as one plain
loop: sample responses, score them with a reward, subtract a baseline (:func:`group_baseline`),
take the REINFORCE loss and one optimizer step (:func:`reinforce_step`, exercise 5.1), log.
With a KL penalty to a reference model its rewards are :func:`kl_penalized_rewards` (lesson 07,
exercise 7.2), summed over each response's tokens.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import validation as V
from .engine import fast_sample, fast_token_logprobs
from .formats import style_rates
from .rewards import RewardFn, call_reward_fn
from .sampling import Rollout
from .training import (
    Metrics,
    OnStep,
    TrainingStopped,
    check_on_step,
    gradient_step,
    log_step,
    progress_bar,
    training_session,
)

ProcessRewardFn = Callable[[Rollout], torch.Tensor]  # rollout -> per-token rewards (B, R)
Baseline = str | torch.Tensor | None  # None | "mean" | "loo" | a tensor shaped like the rewards

BASELINES = ("mean", "loo")
LR_SCHEDULES = ("constant", "linear")


# --- input checks ----------------------------------------------------------------------------


def _check_2d(name: str, t: object) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != 2:
        raise ValueError(f"{name} must be a (B, T) tensor, got "
                         f"{getattr(t, 'shape', type(t).__name__)}")


def _check_like(name: str, t: object, like_name: str, like: torch.Tensor) -> None:
    if not isinstance(t, torch.Tensor) or t.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {like_name} {tuple(like.shape)}, got "
                         f"{getattr(t, 'shape', type(t).__name__)}")


def _check_inputs(logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor) -> None:
    _check_2d("logprobs", logprobs)
    _check_like("mask", mask, "logprobs", logprobs)
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
    _check_2d("step_rewards", step_rewards)
    _check_like("mask", mask, "step_rewards", step_rewards)
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


# --- the pieces of lesson 05's loop -----------------------------------------------------------


@dataclass(frozen=True)
class ReinforceConfig:
    """Settings of :func:`train_reinforce`, one line each; checked when the config is built."""

    steps: int = 200  # optimizer steps (one batch of fresh samples each)
    batch_size: int = 16  # prompts drawn (with replacement) per step
    samples_per_prompt: int = 4  # responses sampled per prompt: B = batch_size * samples_per_prompt
    lr: float = 1e-4  # Adam learning rate (at the first step)
    lr_schedule: str = "constant"  # "constant" | "linear": decay lr linearly to 0 over `steps`
    temperature: float = 1.0  # sampling temperature; log-probs are those of the sampled policy
    baseline: str | None = "loo"  # None | "mean" | "loo", among the samples of the same prompt
    beta: float = 0.0  # KL coefficient: the reward becomes r - beta * KL_i (0 = no penalty)
    max_grad_norm: float | None = 1.0  # clip the gradient's global norm (None: no clipping)
    max_new_tokens: int = 16  # longest response
    seed: int = 0  # seeds the prompts drawn and the sampling

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size", "samples_per_prompt",
                                           "max_new_tokens"),
                       positive_number=("lr", "temperature"), non_negative_number=("beta",),
                       non_negative_int=("seed",))
        V.one_of("ReinforceConfig.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        V.one_of("ReinforceConfig.baseline", self.baseline, (None, *BASELINES))
        if self.baseline == "loo" and self.samples_per_prompt * self.batch_size < 2:
            raise ValueError("ReinforceConfig.baseline 'loo' needs at least 2 samples per step")
        if self.max_grad_norm is not None:
            V.positive_number("ReinforceConfig.max_grad_norm", self.max_grad_norm)

    def lr_factor(self, step: int) -> float:
        """The learning rate of step ``step`` (from 0), as a multiple of ``lr``: 1 throughout
        ("constant"), or 1 - step / steps ("linear")."""
        return 1 - step / self.steps if self.lr_schedule == "linear" else 1.0


def group_baseline(rewards: torch.Tensor, group_size: int, kind: str | None,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """The baseline of each response among the ``group_size`` samples of its own prompt:
    shaped like ``rewards``.

    ``rewards`` (B,) holds the samples of each prompt next to each other. With one sample per
    prompt the group is the whole batch. ``"loo"``: the mean of the *other* samples of the
    prompt (unbiased); ``"mean"``: the mean of all of them; ``None``: 0. Per-token returns
    ``rewards`` (B, T) (with their ``mask``) get the same baseline position by position, among
    the group's responses that reach that position.
    """
    if kind is None:
        return torch.zeros_like(rewards)
    if rewards.dim() == 2:
        B, T = rewards.shape
        K = B if group_size == 1 else group_size
        R = rewards.detach().view(-1, K, T)  # (P, K, T)
        m = torch.ones_like(R) if mask is None else mask.to(R.dtype).view(-1, K, T)
        return _baseline_along(R, m, kind, dim=1).reshape(B, T)
    if group_size == 1:
        return compute_baseline(rewards, kind)
    groups = rewards.detach().view(-1, group_size).T  # (K, P): samples of a prompt in a column
    return compute_baseline(groups, kind).T.reshape(-1)  # (B,)


def kl_penalized_rewards(scores: torch.Tensor, logprobs: torch.Tensor,
                         ref_logprobs: torch.Tensor, mask: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """Per-token rewards (B, R) for RL with a KL penalty to a reference (Ziegler et al., 2019).

    r_t = -beta * (log pi_theta(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t)) on every response
    token (``mask`` 1), plus ``scores[i]`` = r(x_i, y_i) at the last response token of row i;
    0 on padding. Summed over t it is r(x, y) - beta * KL_i, with KL_i the sampled sequence KL:
    the reward :func:`train_reinforce` uses when ``config.beta > 0``. Per token,
    :func:`rewards_to_go` gives each token only the penalties of the tokens from it on.

    Args:
        scores: (B,) the reward of each response (no gradient needed).
        logprobs: (B, R) log pi_theta of the sampled response tokens.
        ref_logprobs: (B, R) log pi_ref of the same tokens.
        mask: (B, R) 1 on response tokens, 0 on padding (each row has at least one 1).
        beta: the KL coefficient, >= 0.
    """
    if not isinstance(logprobs, torch.Tensor) or logprobs.dim() != 2:
        raise ValueError(f"logprobs must be a (B, R) tensor, got shape "
                         f"{tuple(getattr(logprobs, 'shape', ()))}")
    B = logprobs.shape[0]
    _check_like("ref_logprobs", ref_logprobs, "logprobs", logprobs)
    _check_like("mask", mask, "logprobs", logprobs)
    if not isinstance(scores, torch.Tensor) or scores.shape != (B,):
        raise ValueError(f"scores must be a ({B},) tensor, one score per response, got shape "
                         f"{tuple(getattr(scores, 'shape', ()))}")
    V.non_negative_number("beta", beta)
    m = mask.to(logprobs.dtype)
    lengths = m.sum(dim=1).long()  # (B,)
    if bool((lengths == 0).any()):
        raise ValueError("every row of mask needs at least one response token")
    rewards = -beta * (logprobs.detach() - ref_logprobs.detach()) * m  # (B, R) the KL penalty
    last = lengths - 1  # responses are left-aligned: the last response token of row i
    rewards[torch.arange(B), last] += scores.detach().to(rewards)
    return rewards


def reinforce_step(policy: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
                   baseline: torch.Tensor, max_grad_norm: float | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One REINFORCE update of ``policy`` (exercise 5.1): the loss, then one optimizer step.

    loss = -(1/B) sum_i (r_i - b_i) sum_t mask_it log pi_theta(y_it | x_i, y_i,<t)

    with the rewards and the baseline detached (constants for the gradient); then
    ``zero_grad``, ``backward``, the gradient's global norm clipped to ``max_grad_norm`` (None:
    not clipped), ``step``.

    Args:
        policy: the model whose parameters ``optimizer`` updates.
        optimizer: its optimizer.
        logprobs: (B, R) log pi_theta of the sampled tokens, with gradient.
        rewards: (B,) one reward per response.
        mask: (B, R) 1 on response tokens, 0 on padding.
        baseline: (B,) b_i for each response (e.g. :func:`group_baseline`).
        max_grad_norm: the largest gradient norm a step may take, or None.

    Returns ``(loss, grad_norm)``: the loss and the gradient's norm before clipping. A nan or inf
    loss raises :class:`~course_lib.training.TrainingStopped` with the weights untouched.
    """
    loss = reinforce_loss(logprobs, rewards, mask, baseline)
    return loss, gradient_step(policy, optimizer, loss, max_grad_norm)


def _checked_scores(reward_fn: RewardFn, rollout: Rollout) -> torch.Tensor:
    """r(x, y) of every response (B,), on the rollout's device; nan or inf stops training."""
    scores = call_reward_fn(reward_fn, rollout.prompts, rollout.texts)  # (B,) float32
    bad = ~torch.isfinite(scores)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise TrainingStopped(
            f"reward_fn returned {scores[i].item()} for the response {rollout.texts[i]!r} to "
            f"{rollout.prompts[i]!r} ({int(bad.sum())} of {len(scores)} rewards are nan or "
            "inf); training stopped before this step changed the weights")
    return scores.to(rollout.response_ids.device)


@torch.no_grad()
def _reference_logprobs(ref_policy, rollout: Rollout, temperature: float
                        ) -> torch.Tensor | None:
    """log pi_ref of the sampled tokens (B, R), or None without a reference model."""
    if ref_policy is None:
        return None
    return fast_token_logprobs(ref_policy, rollout, temperature, entropy=False)[0]


def sequence_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None,
                mask: torch.Tensor) -> torch.Tensor:
    """KL_i = sum_t [log pi_theta(y_t | ...) - log pi_ref(y_t | ...)] over each response's own
    tokens: (B,), a sample of KL(pi_theta || pi_ref); nan when there is no reference."""
    if ref_logprobs is None:
        return torch.full(logprobs.shape[:1], float("nan"), device=logprobs.device)
    return ((logprobs.detach() - ref_logprobs) * mask).sum(dim=1)  # (B,)


def _process_returns(process_reward_fn: ProcessRewardFn, rollout: Rollout, scores: torch.Tensor,
                     logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None,
                     mask: torch.Tensor, beta: float) -> torch.Tensor:
    """G_t (B, R): the reward-to-go of the per-token rewards: the score on each response's last
    token, the KL penalty (beta > 0), and ``process_reward_fn``'s rewards."""
    step = process_reward_fn(rollout)
    if not isinstance(step, torch.Tensor) or step.shape != mask.shape:
        raise ValueError(f"process_reward_fn must return a (B, R) tensor shaped like the "
                         f"rollout's response_mask {tuple(mask.shape)}, got "
                         f"{getattr(step, 'shape', type(step).__name__)}")
    if not bool(torch.isfinite(step).all()):
        raise TrainingStopped("process_reward_fn returned nan or inf rewards; training stopped "
                              "before this step changed the weights")
    ref = logprobs if ref_logprobs is None else ref_logprobs
    per_token = kl_penalized_rewards(scores, logprobs, ref, mask, beta)  # (B, R)
    return rewards_to_go(per_token + step.to(per_token), mask)  # (B, R)


def _check_train_inputs(policy, ref_policy, prompts: Sequence[str], reward_fn: RewardFn,
                        config: ReinforceConfig | None, on_step: OnStep | None
                        ) -> ReinforceConfig:
    check_on_step(on_step)
    config = config or ReinforceConfig()
    if not isinstance(config, ReinforceConfig):
        raise ValueError(f"config must be a ReinforceConfig, got {type(config).__name__}")
    check_rl_inputs(policy, ref_policy, prompts, reward_fn, config.beta)
    return config


def check_rl_inputs(policy, ref_policy, prompts: Sequence[str], reward_fn: RewardFn,
                    beta: float) -> None:
    """The checks every RL loop (REINFORCE, PPO, GRPO) makes of its arguments where it starts."""
    V.texts("prompts", prompts)
    if not callable(reward_fn):
        raise ValueError("reward_fn must be a function (prompts, responses) -> rewards (B,)")
    if beta > 0 and ref_policy is None:
        raise ValueError(f"config.beta = {beta} needs a ref_policy to measure the KL to")
    if ref_policy is policy:
        raise ValueError("ref_policy must be a separate, frozen copy of the policy "
                         "(copy.deepcopy(policy)), not the policy itself")


# --- the training loop of lesson 05 ------------------------------------------------------------


def train_reinforce(policy, ref_policy, tokenizer, prompts: Sequence[str], reward_fn: RewardFn,
                    config: ReinforceConfig | None = None, on_step: OnStep | None = None,
                    progress: bool = True,
                    process_reward_fn: ProcessRewardFn | None = None) -> list[Metrics]:
    """Maximize J(theta) = E_x E_{y ~ pi_theta}[r(x, y)] with REINFORCE; return the history.

    Each step: draw ``batch_size`` prompts from ``prompts``, sample ``samples_per_prompt``
    responses to each (no gradient), score them with ``reward_fn(prompts, responses) -> (B,)``
    (see :mod:`course_lib.rewards`), subtract the baseline of each prompt's group and take one
    :func:`reinforce_step` (Adam). Sampling and the log-probabilities run the fast path of
    :mod:`course_lib.engine`, the same numbers as the plain versions of :mod:`course_lib.sampling`.

    With ``config.beta > 0`` the reward of each response becomes r_i - beta * KL_i, the sum of
    its :func:`kl_penalized_rewards`, where KL_i = sum_t [log pi_theta(y_t | ...) -
    log pi_ref(y_t | ...)] over its sampled tokens keeps the policy near the reference (the SFT
    model). KL_i is logged every step whatever beta is (one forward of ``ref_policy`` without
    gradient); pass ``ref_policy=None`` to skip it (then beta must be 0 and ``kl`` is nan).

    With ``process_reward_fn(rollout) -> (B, R)`` (lesson 11), per-token rewards (say, a
    process reward model's score of each step on the token that ends it) are added to the
    per-token rewards (``reward_fn``'s score on each response's last token, and the KL penalty
    when beta > 0), and each token is weighted by its reward-to-go, G_t = sum_{t' >= t} r_t'
    (:func:`rewards_to_go`), less the group baseline of G at that position: a step is credited
    with the rewards from it on, not with those of the steps before it.

    Logged per step (the dict ``on_step`` receives, e.g. ``TrainingMonitor.update``):
    ``step``, ``reward`` (mean r, without the KL penalty), ``kl`` (mean KL_i), ``entropy`` (the
    exact mean per-token entropy of the sampled policy, in nats), ``loss``, ``grad_norm``
    (before clipping), ``lr`` (the learning rate of this step), ``length`` (mean response
    tokens), ``confident`` / ``hedged`` / ``abstain`` / ``invalid`` (fractions of responses, as
    :func:`course_lib.formats.style_rates` counts them), ``time``.

    Ctrl-C (KeyboardInterrupt, also raised from ``on_step``) stops cleanly: the policy keeps the
    weights of the last finished step and the history so far is returned. A reward or loss that
    is nan or inf stops training with :class:`~course_lib.training.TrainingStopped` (its
    ``history`` keeps the finished steps) before the bad step can touch the weights.
    """
    config = _check_train_inputs(policy, ref_policy, prompts, reward_fn, config, on_step)
    if process_reward_fn is not None and not callable(process_reward_fn):
        raise ValueError("process_reward_fn must be a function rollout -> rewards (B, R), or None")
    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)  # sampling (on the CPU)
    P, K, T = config.batch_size, config.samples_per_prompt, config.temperature
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, config.lr_factor)
    if ref_policy is not None:
        ref_policy.eval()
    history: list[Metrics] = []
    bar = progress_bar(config.steps, "REINFORCE", progress)
    t0 = time.perf_counter()
    with training_session("REINFORCE", policy, history, bar):
        for step in bar:
            # 1. sample: K responses to each of P prompts, y ~ pi_theta(. | x)
            batch = [p for p in (rng.choice(prompts) for _ in range(P)) for _ in range(K)]
            rollout = fast_sample(policy, tokenizer, batch, config.max_new_tokens, T,
                                  generator=generator)
            mask = rollout.response_mask.float()  # (B, R)
            # 2. score: r(x, y), one number per response
            scores = _checked_scores(reward_fn, rollout)  # (B,)
            # 3. log-probs with gradient, and the KL to the reference
            policy.train()
            logprobs, entropy = fast_token_logprobs(policy, rollout, T)  # (B, R), (B, R)
            ref_logprobs = _reference_logprobs(ref_policy, rollout, T)  # (B, R) or None
            kl = sequence_kl(logprobs, ref_logprobs, mask)  # (B,) KL_i
            # with a KL penalty, r - beta * KL_i: lesson 07's per-token rewards, summed over t
            rewards = scores if config.beta == 0 else kl_penalized_rewards(
                scores, logprobs, ref_logprobs, mask, config.beta).sum(dim=1)  # (B,)
            if process_reward_fn is not None:  # per-step rewards: returns G_t per token (B, R)
                rewards = _process_returns(process_reward_fn, rollout, scores, logprobs,
                                           ref_logprobs, mask, config.beta)
            # 4. advantages: the baseline of each prompt's group of samples
            baseline = group_baseline(rewards, K, config.baseline, mask)  # detached
            # 5. loss and step (exercise 5.1)
            lr = optimizer.param_groups[0]["lr"]
            loss, grad_norm = reinforce_step(policy, optimizer, logprobs, rewards, mask,
                                             baseline, config.max_grad_norm)
            schedule.step()
            policy.eval()
            # 6. log
            metrics = {"step": step, "reward": scores.mean().item(), "kl": kl.mean().item(),
                       "entropy": (entropy.sum() / mask.sum()).item(), "loss": loss.item(),
                       "grad_norm": grad_norm.item(), "lr": lr,
                       "length": (mask.sum() / len(batch)).item(),
                       **style_rates(rollout.texts, rollout.prompts),
                       "time": time.perf_counter() - t0}
            log_step(history, metrics, on_step, bar, shown=("reward", "kl"))
    return history


__all__ = ["BASELINES", "LR_SCHEDULES", "ProcessRewardFn", "ReinforceConfig", "TrainingStopped",
           "compute_baseline", "group_baseline", "kl_penalized_rewards", "reinforce_estimates",
           "reinforce_loss", "reinforce_step", "rewards_to_go", "sequence_kl", "train_reinforce"]

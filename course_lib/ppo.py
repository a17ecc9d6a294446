"""PPO for language models: learn more from each batch of samples, without running away.

REINFORCE (lesson 05) takes one gradient step per batch of samples and throws the batch away:
after one step the samples come from an older policy pi_old, and the plain estimator is biased.
PPO (Schulman et al., 2017) reuses the batch for several epochs of minibatch updates. Each
response token is reweighted by its importance ratio, and the ratio is clipped so that no update
profits from moving the policy far from the one that sampled:

    rho_t(theta) = pi_theta(y_t | x, y_<t) / pi_old(y_t | x, y_<t)
    L_CLIP(theta) = -(1/N) sum_{i,t} m_it min(rho_it A_it, clip(rho_it, 1 - eps, 1 + eps) A_it)

(eq. PPO-clip; N = sum_{i,t} m_it, the batch's response tokens). At theta = theta_old every rho
is 1, so the loss is minus the mean advantage (about 0 when the advantages are centred) and its
gradient is the policy gradient of lesson 04, token by token.

- :func:`clipped_surrogate_loss`: L_CLIP (exercise 8.1); :func:`clip_fraction`: the share of
  tokens whose ratio left [1 - eps, 1 + eps].
- :func:`kl_estimates`: the one-sample estimators of KL(pi || pi_ref) from samples of pi
  (Schulman, "Approximating KL divergence", 2020), with log r = log pi_ref - log pi:
  k1 = -log r (unbiased, negative for some samples), k2 = (log r)^2 / 2 (biased, low
  variance), k3 = r - 1 - log r (unbiased, never negative).
- :func:`gae`: generalized advantage estimation (Schulman et al., 2016, eq. 16; exercise 8.2):
  delta_t = r_t + gamma V(s_{t+1}) - V(s_t), A_t = sum_l (gamma lam)^l delta_{t+l}, with
  V = 0 after a response's last token; the returns A_t + V(s_t) are the critic's targets.
- :class:`ValueHead`, :class:`PPOConfig`, :func:`train_ppo`: the algorithm on a language model,
  one plain loop: sample, score, advantages, K epochs of minibatch updates, log.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import validation as V
from .engine import fast_sample, fast_token_logprobs
from .policy_gradient import (
    _checked_scores,
    _reference_logprobs,
    check_rl_inputs,
    group_baseline,
    kl_penalized_rewards,
    sequence_kl,
)
from .rewards import RewardFn
from .sampling import Rollout, positions
from .training import Metrics, OnStep, gradient_step, log_step, progress_bar, training_session

ADVANTAGES = ("loo", "gae")
LR_SCHEDULES = ("constant", "linear")


def _check_like(name: str, t: object, like: torch.Tensor, what: str = "logprobs") -> None:
    if not isinstance(t, torch.Tensor) or t.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {what} {tuple(like.shape)}, got "
                         f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")


def _check_2d(name: str, t: object) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != 2:
        raise ValueError(f"{name} must be a (B, T) tensor, got "
                         f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")


def _check_clip_eps(clip_eps: object) -> None:
    if isinstance(clip_eps, bool) or not isinstance(clip_eps, (int, float)) or not clip_eps > 0:
        raise ValueError(f"clip_eps must be a number > 0 (math.inf: no clipping), got {clip_eps!r}")


# --- the clipped surrogate -------------------------------------------------------------------


def clipped_surrogate_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor,
                           advantages: torch.Tensor, mask: torch.Tensor,
                           clip_eps: float = 0.2) -> torch.Tensor:
    """L_CLIP (eq. PPO-clip): minus the mean clipped objective over the response tokens.

    Args:
        logprobs: (B, T) log pi_theta(y_t | x, y_<t) of the sampled tokens, with gradient.
        old_logprobs: (B, T) the same under pi_old, the policy that sampled (detached here).
        advantages: (B,) one per response (broadcast over its tokens) or (B, T) one per token.
        mask: (B, T) 1 on response tokens, 0 on padding.
        clip_eps: eps > 0; ``math.inf`` switches clipping off (the plain importance-weighted
            surrogate).
    """
    _check_2d("logprobs", logprobs)
    _check_like("old_logprobs", old_logprobs, logprobs)
    _check_like("mask", mask, logprobs)
    B = logprobs.shape[0]
    if not isinstance(advantages, torch.Tensor) or advantages.shape not in ((B,), logprobs.shape):
        raise ValueError(f"advantages must have shape ({B},) or {tuple(logprobs.shape)}, got "
                         f"{getattr(advantages, 'shape', type(advantages).__name__)}")
    _check_clip_eps(clip_eps)
    m = mask.to(logprobs.dtype)
    objective = clipped_objective(logprobs, old_logprobs, advantages, clip_eps)  # (B, T)
    return -(objective * m).sum() / m.sum().clamp(min=1)


def clipped_objective(logprobs: torch.Tensor, old_logprobs: torch.Tensor,
                      advantages: torch.Tensor, clip_eps: float) -> torch.Tensor:
    """min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t) at every position: (B, T), padding
    included (the callers mask it and choose how to average: :func:`clipped_surrogate_loss`
    over the batch's tokens, :func:`course_lib.grpo.grpo_loss` in GRPO's three ways)."""
    A = advantages.detach().to(logprobs.dtype)
    A = A[:, None] if A.dim() == 1 else A  # (B, 1) or (B, T)
    ratio = torch.exp(logprobs - old_logprobs.detach())  # (B, T) rho_t
    return torch.min(ratio * A, ratio.clamp(1 - clip_eps, 1 + clip_eps) * A)  # (B, T)


@torch.no_grad()
def clip_fraction(logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor,
                  clip_eps: float = 0.2) -> float:
    """The share of response tokens whose ratio rho_t lies outside [1 - eps, 1 + eps]."""
    _check_2d("logprobs", logprobs)
    _check_like("old_logprobs", old_logprobs, logprobs)
    _check_like("mask", mask, logprobs)
    _check_clip_eps(clip_eps)
    outside = ((logprobs - old_logprobs).exp() - 1).abs() > clip_eps  # (B, T)
    m = mask.bool()
    return float(outside[m].float().mean()) if bool(m.any()) else 0.0


# --- KL estimators ------------------------------------------------------------------------------


def kl_estimates(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> dict[str, torch.Tensor]:
    """One-sample estimates of KL(pi || pi_ref) per token: ``{"k1", "k2", "k3"}``, each like
    ``logprobs``.

    ``logprobs`` are log pi of tokens *sampled from pi*, ``ref_logprobs`` log pi_ref of the same
    tokens; log r = ref_logprobs - logprobs. k1 = -log r and k3 = r - 1 - log r have the KL as
    their expectation; k2 = (log r)^2 / 2 does only to second order. k3 >= 0 for every sample,
    k1 is negative wherever pi_ref likes the token more than pi does.
    """
    if not isinstance(logprobs, torch.Tensor):
        raise ValueError(f"logprobs must be a tensor, got {type(logprobs).__name__}")
    _check_like("ref_logprobs", ref_logprobs, logprobs)
    log_r = ref_logprobs - logprobs
    return {"k1": -log_r, "k2": log_r ** 2 / 2, "k3": torch.expm1(log_r) - log_r}


# --- generalized advantage estimation -----------------------------------------------------------


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages A_t and returns A_t + V(s_t) by GAE: two (B, T) tensors, 0 on padding.

    Args:
        rewards: (B, T) r_t per response token (e.g. 0 everywhere but the last token).
        values: (B, T) V(s_t), the critic's value of the state before token t.
        mask: (B, T) 1 on response tokens; responses are left-aligned (token 1 in column 0).
        gamma: discount in [0, 1]; lam: GAE's lambda in [0, 1] (0: one-step TD, 1: Monte Carlo).

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t) with V(s_{t+1}) = 0 after the last response token,
    and A_t = delta_t + gamma lam A_{t+1} (eq. 16 of Schulman et al., 2016).
    """
    _check_2d("rewards", rewards)
    _check_like("values", values, rewards, "rewards")
    _check_like("mask", mask, rewards, "rewards")
    V.probability("gamma", gamma)
    V.probability("lam", lam)
    m = mask.to(values.dtype)
    next_mask = torch.cat([m[:, 1:], torch.zeros_like(m[:, :1])], dim=1)  # 0 after the last
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1) * next_mask
    deltas = (rewards + gamma * next_values - values) * m  # (B, T) the TD errors delta_t
    advantages = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[:, 0])  # A_{t+1}
    for t in reversed(range(deltas.shape[1])):
        running = deltas[:, t] + gamma * lam * next_mask[:, t] * running
        advantages[:, t] = running
    return advantages, (advantages + values) * m


# --- the critic ---------------------------------------------------------------------------------


class ValueHead(torch.nn.Module):
    """The critic: V(s_t) = w . h_t + b, read from the policy's last hidden state h_t at the
    position that predicts y_t. Starts at V = 0.

    Why a head and not a separate copy of the model, as InstructGPT and TRL train? A copy
    doubles the forward and backward passes of every minibatch; on this course's CPU budget that
    is the difference between a lesson that fits in its minutes and one that does not.
    Why *detached* (h_t read without gradient, the head trained by an optimizer of its own)? A
    trunk shared by both losses needs a weight between them (cleanrl's ``vf_coef``) and lets a
    noisy value loss push the policy around; detached, the policy's update is L_CLIP alone, so
    "critic or group baseline" changes only the advantages. The price: the head reads features
    learned for predicting tokens, not values (lesson 08 measures how much of the returns'
    variance it explains).
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        V.positive_int("hidden_size", hidden_size)
        self.linear = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    @property
    def hidden_size(self) -> int:
        return self.linear.in_features

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, T)
        return self.linear(hidden).squeeze(-1)


@torch.no_grad()
def response_features(model, rollout: Rollout) -> torch.Tensor:
    """h_t, the last hidden state at every position that predicts a response token: (B, R, H),
    without gradient (the features :class:`ValueHead` reads)."""
    P, R = rollout.prompt_ids.shape[1], rollout.response_ids.shape[1]
    attn = rollout.attention_mask
    out = model(input_ids=rollout.input_ids, attention_mask=attn, position_ids=positions(attn),
                output_hidden_states=True, logits_to_keep=1)
    return out.hidden_states[-1][:, P - 1:P + R - 1].float()  # (B, R, H)


# --- the training loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class PPOConfig:
    """Settings of :func:`train_ppo`, one line each; checked when the config is built."""

    steps: int = 30  # batches sampled (each is reused for `epochs` passes)
    batch_size: int = 64  # prompts drawn (with replacement) per batch
    samples_per_prompt: int = 4  # responses per prompt: B = batch_size * samples_per_prompt
    epochs: int = 4  # passes over each batch (1 with minibatches=1: one update, as REINFORCE)
    minibatches: int = 4  # minibatches per epoch, each of whole prompts (divides batch_size)
    clip_eps: float = 0.2  # eps of L_CLIP; math.inf: no clipping
    advantage: str = "loo"  # "loo": leave-one-out among a prompt's samples; "gae": value head
    gamma: float = 1.0  # GAE discount (with advantage="gae")
    lam: float = 0.95  # GAE lambda (with advantage="gae")
    lr: float = 3e-4  # Adam learning rate of the policy (at the first batch)
    lr_schedule: str = "constant"  # "constant" | "linear": decay lr to 0 over `steps` batches
    value_lr: float = 3e-3  # Adam learning rate of the value head
    beta: float = 0.0  # KL penalty to the reference, per token as in lesson 07 (0: none)
    temperature: float = 1.0  # sampling temperature (the log-probs are the sampled policy's)
    max_new_tokens: int = 16  # longest response
    max_grad_norm: float | None = 1.0  # clip the policy gradient's norm (None: no clipping)
    seed: int = 0  # seeds the prompts drawn, the sampling and the minibatch order

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size", "samples_per_prompt", "epochs",
                                           "minibatches", "max_new_tokens"),
                       positive_number=("lr", "value_lr", "temperature"),
                       non_negative_number=("beta",), probability=("gamma", "lam"),
                       non_negative_int=("seed",))
        if not (self.clip_eps == math.inf or (isinstance(self.clip_eps, (int, float))
                                              and not isinstance(self.clip_eps, bool)
                                              and 0 < self.clip_eps < math.inf)):
            raise ValueError(f"PPOConfig.clip_eps must be a number > 0 (math.inf: no clipping), "
                             f"got {self.clip_eps!r}")
        if self.max_grad_norm is not None:
            V.positive_number("PPOConfig.max_grad_norm", self.max_grad_norm)
        V.one_of("PPOConfig.advantage", self.advantage, ADVANTAGES)
        V.one_of("PPOConfig.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.advantage == "loo" and self.samples_per_prompt < 2:
            raise ValueError("PPOConfig.samples_per_prompt must be >= 2 with advantage='loo' "
                             "(the baseline is the mean of a prompt's *other* samples)")
        if self.batch_size % self.minibatches:
            raise ValueError(f"PPOConfig.minibatches must divide batch_size ({self.batch_size} "
                             f"prompts; a minibatch holds all the samples of its prompts), got "
                             f"{self.minibatches}")

    def lr_factor(self, step: int) -> float:
        """The learning rate of batch ``step`` (from 0), as a multiple of ``lr``."""
        return 1 - step / self.steps if self.lr_schedule == "linear" else 1.0


def minibatch_rows(prompts: int, samples_per_prompt: int, minibatches: int,
                   generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's minibatches: the rows of the batch in a random order of whole prompts (the
    K samples of a prompt stay together, so each minibatch reads its prompts once)."""
    K = samples_per_prompt
    order = torch.randperm(prompts, generator=generator)  # (prompts,)
    return [(chunk[:, None] * K + torch.arange(K)).reshape(-1)
            for chunk in order.chunk(minibatches)]


def _masked_var(x: torch.Tensor, m: torch.Tensor) -> float:
    mean = (x * m).sum() / m.sum()
    return float(((x - mean) ** 2 * m).sum() / m.sum())


def _check_ppo_inputs(policy, ref_policy, prompts, reward_fn, config, value_head) -> PPOConfig:
    config = config or PPOConfig()
    if not isinstance(config, PPOConfig):
        raise ValueError(f"config must be a PPOConfig, got {type(config).__name__}")
    check_rl_inputs(policy, ref_policy, prompts, reward_fn, config.beta)
    if config.advantage == "gae":
        if not isinstance(value_head, ValueHead):
            raise ValueError("advantage='gae' needs a value_head: ValueHead(hidden_size)")
        if value_head.hidden_size != policy.config.hidden_size:
            raise ValueError(f"value_head reads hidden states of size {value_head.hidden_size}, "
                             f"but the policy's are {policy.config.hidden_size}: build it as "
                             "ValueHead(policy.config.hidden_size)")
    elif value_head is not None:
        raise ValueError("value_head is used only with advantage='gae'")
    return config


def train_ppo(policy, ref_policy, tokenizer, prompts: Sequence[str], reward_fn: RewardFn,
              config: PPOConfig | None = None, value_head: ValueHead | None = None,
              on_step: OnStep | None = None, progress: bool = True) -> list[Metrics]:
    """Maximize J(theta) with PPO; return the history (one dict of metrics per batch).

    Each step samples ``batch_size`` prompts x ``samples_per_prompt`` responses, scores them
    with ``reward_fn(prompts, responses) -> (B,)``, turns the scores into per-token rewards
    with the KL penalty of lesson 07 (:func:`~course_lib.policy_gradient.kl_penalized_rewards`),
    computes advantages (leave-one-out among a prompt's samples, or GAE with ``value_head``),
    then takes ``epochs`` x ``minibatches`` Adam steps on :func:`clipped_surrogate_loss`, the
    value head (if any) regressing on the returns alongside. Sampling and log-probabilities run
    the fast path of :mod:`course_lib.engine`.

    Logged per step: ``step``, ``samples`` (responses generated so far), ``reward`` (mean
    score), ``kl`` (mean sequence KL to ``ref_policy``, nan without one), ``length``,
    ``entropy`` (mean per-token entropy of the sampling policy), ``loss`` (mean over the
    minibatches), ``loss_first`` (the first minibatch's, where every ratio is 1), ``clip_frac``
    (share of tokens clipped, over all minibatches), ``approx_kl`` (k3 estimate of
    KL(pi_old || pi_theta) over the last epoch's minibatches), ``value_loss`` (nan without a
    critic), ``explained_variance`` (1 - Var(returns - baseline) / Var(returns) over the
    response tokens, before the update: of the value head, or of the leave-one-out baseline),
    ``advantage_sq`` (mean A_t^2 over the response tokens: the spread the gradient carries),
    ``lr``, ``time``. Ctrl-C (KeyboardInterrupt, also raised from ``on_step``) stops cleanly,
    keeping the weights of the last finished step and the history.
    """
    config = _check_ppo_inputs(policy, ref_policy, prompts, reward_fn, config, value_head)
    rng, generator = random.Random(config.seed), torch.Generator().manual_seed(config.seed)
    P, K, T, eps = config.batch_size, config.samples_per_prompt, config.temperature, config.clip_eps
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, config.lr_factor)
    critic_opt = None
    if value_head is not None:
        value_head.to(next(policy.parameters()).device)
        critic_opt = torch.optim.Adam(value_head.parameters(), lr=config.value_lr)
    if ref_policy is not None:
        ref_policy.eval()
    history: list[Metrics] = []
    bar = progress_bar(config.steps, "PPO", progress)
    t0 = time.perf_counter()
    with training_session("PPO", policy, history, bar):
        for step in bar:
            # 1. sample: K responses to each of P prompts, from pi_old = pi_theta now
            batch = [p for p in (rng.choice(prompts) for _ in range(P)) for _ in range(K)]
            rollout = fast_sample(policy, tokenizer, batch, config.max_new_tokens, T,
                                  generator=generator)
            m = rollout.response_mask.float()  # (B, R)
            old_logprobs = rollout.logprobs * m  # (B, R) log pi_old, recorded while sampling
            # 2. score, and the per-token rewards with the KL penalty (lesson 07)
            scores = _checked_scores(reward_fn, rollout)  # (B,)
            ref_logprobs = _reference_logprobs(ref_policy, rollout, T)  # (B, R) or None
            kl = sequence_kl(old_logprobs, ref_logprobs, m)  # (B,) KL_i
            rewards = kl_penalized_rewards(  # (B, R)
                scores, old_logprobs, old_logprobs if ref_logprobs is None else ref_logprobs, m,
                config.beta)
            # 3. advantages: leave-one-out among each prompt's samples, or GAE with the critic
            if config.advantage == "loo":
                returns = rewards.sum(dim=1)  # (B,) each response's return
                values = group_baseline(returns, K, "loo")  # (B,) the others' mean
                advantages = (returns - values)[:, None] * m  # (B, R)
                returns, values = returns[:, None] * m, values[:, None] * m
            else:
                features = response_features(policy, rollout)  # (B, R, H) of pi_old
                with torch.no_grad():
                    values = value_head(features) * m  # (B, R) V(s_t)
                advantages, returns = gae(rewards, values, m, config.gamma, config.lam)
            # 4. epochs x minibatches of updates on the same batch
            lr = optimizer.param_groups[0]["lr"]
            policy.train()
            stats: dict[str, list[float]] = {"loss": [], "clip_frac": [], "value_loss": [],
                                             "entropy": [], "approx_kl": []}
            for epoch in range(config.epochs):
                for rows in minibatch_rows(P, K, config.minibatches, generator):
                    mb = rollout.select(rows)
                    cols = slice(0, mb.response_ids.shape[1])
                    mb_m, mb_old = m[rows, cols], old_logprobs[rows, cols]
                    logprobs, entropy = fast_token_logprobs(policy, mb, T, entropy=epoch == 0)
                    loss = clipped_surrogate_loss(logprobs, mb_old, advantages[rows, cols], mb_m,
                                                  eps)
                    gradient_step(policy, optimizer, loss, config.max_grad_norm)
                    if critic_opt is not None:  # the critic regresses on the returns
                        v = value_head(features[rows, cols])  # (b, R_mb)
                        value_loss = ((v - returns[rows, cols]) ** 2 * mb_m).sum() / mb_m.sum()
                        gradient_step(value_head, critic_opt, value_loss)
                        stats["value_loss"].append(value_loss.item())
                    stats["loss"].append(loss.item())
                    stats["clip_frac"].append(clip_fraction(logprobs, mb_old, mb_m, eps))
                    if epoch == 0:
                        stats["entropy"].append(float((entropy * mb_m).sum() / mb_m.sum()))
                    if epoch == config.epochs - 1:  # KL(pi_old || pi_theta), sampled from pi_old
                        k3 = kl_estimates(mb_old, logprobs.detach())["k3"]
                        stats["approx_kl"].append(float((k3 * mb_m).sum() / mb_m.sum()))
            schedule.step()
            policy.eval()
            # 5. log
            mean = {k: sum(v) / len(v) if v else float("nan") for k, v in stats.items()}
            metrics = {
                "step": step, "samples": (step + 1) * len(batch), "reward": scores.mean().item(),
                "kl": kl.mean().item(), "length": m.sum(1).mean().item(),
                "entropy": mean["entropy"], "loss": mean["loss"], "loss_first": stats["loss"][0],
                "clip_frac": mean["clip_frac"], "approx_kl": mean["approx_kl"],
                "value_loss": mean["value_loss"],
                "explained_variance": 1 - _masked_var(returns - values, m)
                / max(_masked_var(returns, m), 1e-12),
                "advantage_sq": float((advantages ** 2 * m).sum() / m.sum()),
                "lr": lr, "time": time.perf_counter() - t0,
            }
            log_step(history, metrics, on_step, bar, shown=("reward", "clip_frac"))
    return history


__all__ = ["PPOConfig", "ValueHead", "clip_fraction", "clipped_objective",
           "clipped_surrogate_loss", "gae",
           "kl_estimates", "minibatch_rows", "response_features", "train_ppo"]

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

- :func:`clipped_surrogate_loss`: L_CLIP; :func:`clip_fraction`: the share of tokens whose
  ratio left [1 - eps, 1 + eps].
- :func:`kl_estimates`: the one-sample estimators of KL(pi || pi_ref) from samples of pi
  (Schulman, "Approximating KL divergence", 2020), with log r = log pi_ref - log pi:
  k1 = -log r (unbiased, negative for some samples), k2 = (log r)^2 / 2 (biased, low
  variance), k3 = r - 1 - log r (unbiased, never negative).
- :func:`gae`: generalized advantage estimation (Schulman et al., 2016, eq. 16):
  delta_t = r_t + gamma V(s_{t+1}) - V(s_t), A_t = sum_l (gamma lam)^l delta_{t+l}, with
  V = 0 after a response's last token; the returns A_t + V(s_t) are the critic's targets.
- :class:`ValueHead`, :class:`PPOConfig`, :func:`train_ppo`: the algorithm on a language model,
  one plain loop: sample, score, advantages, K epochs of minibatch updates, log.

**The critic is a small head on the policy's hidden states, trained apart.** V(s_t) is a
linear function of the policy's last hidden state at the position that predicts y_t, read
*detached* and trained by an optimizer of its own, so the value loss never moves the policy.
Why not a separate copy of the model, as InstructGPT and TRL do? A copy doubles the forward and
backward passes of every minibatch, and on this course's CPU budget that is the difference
between a lesson that fits in its minutes and one that does not. Why detached? A trunk shared by
both losses needs a weight between them (cleanrl's ``vf_coef``) and lets a noisy value loss
push the policy around; detached, the policy's update is L_CLIP alone, so "critic or group
baseline" changes only the advantages. The price: the head reads features learned for
predicting tokens, not values; lesson 08 measures how much of the return's variance it explains.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

ADVANTAGES = ("loo", "gae")
LR_SCHEDULES = ("constant", "linear")


def _check_like(name: str, t, like: torch.Tensor, what: str = "logprobs") -> None:
    if not isinstance(t, torch.Tensor) or t.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {what} {tuple(like.shape)}, got "
                         f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")


def _check_2d(name: str, t) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != 2:
        raise ValueError(f"{name} must be a (B, T) tensor, got "
                         f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")


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
    if isinstance(clip_eps, bool) or not isinstance(clip_eps, (int, float)) or not clip_eps > 0:
        raise ValueError(f"clip_eps must be a number > 0 (math.inf: no clipping), got {clip_eps!r}")
    A = advantages.detach().to(logprobs.dtype)
    A = A[:, None] if A.dim() == 1 else A  # (B, 1) or (B, T)
    ratio = torch.exp(logprobs - old_logprobs.detach())  # (B, T) rho_t
    objective = torch.min(ratio * A, ratio.clamp(1 - clip_eps, 1 + clip_eps) * A)  # (B, T)
    m = mask.to(logprobs.dtype)
    return -(objective * m).sum() / m.sum().clamp(min=1)


@torch.no_grad()
def clip_fraction(logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor,
                  clip_eps: float = 0.2) -> float:
    """The share of response tokens whose ratio rho_t lies outside [1 - eps, 1 + eps]."""
    _check_2d("logprobs", logprobs)
    _check_like("old_logprobs", old_logprobs, logprobs)
    _check_like("mask", mask, logprobs)
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
    for name, v in (("gamma", gamma), ("lam", lam)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
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
    """V(s_t) = w . h_t + b, read from the policy's last hidden state h_t (see the module
    docstring for why a head and why detached). Starts at V = 0."""

    def __init__(self, hidden_size: int):
        super().__init__()
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        self.linear = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    @property
    def hidden_size(self) -> int:
        return self.linear.in_features

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, T)
        return self.linear(hidden).squeeze(-1)


def response_outputs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     prompt_length: int, temperature: float = 1.0,
                     value_head: ValueHead | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One forward pass over prompts + responses (left-padded prompts, P = ``prompt_length``):
    the log-probs of the response tokens (B, R) with gradient, the entropy of each position's
    next-token distribution (B, R) without, and V(s_t) (B, R) if a ``value_head`` is given."""
    position_ids = (attention_mask.long().cumsum(1) - 1).clamp(min=0)  # 0 at each row's start
    P = prompt_length
    R = input_ids.shape[1] - P
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                output_hidden_states=value_head is not None,
                logits_to_keep=R + 1)  # the logits from the last prompt token on: (B, R + 1, V)
    logp = F.log_softmax(out.logits[:, :-1].float() / temperature, dim=-1)  # (B, R, V)
    logprobs = logp.gather(2, input_ids[:, P:, None]).squeeze(2)  # (B, R)
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(-1)  # (B, R)
    values = None
    if value_head is not None:  # the state before y_t is read where y_t is predicted
        values = value_head(out.hidden_states[-1][:, P - 1:-1].detach().float())  # (B, R)
    return logprobs, entropy, values


# --- the training loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class PPOConfig:
    """Settings of :func:`train_ppo`, one line each."""

    steps: int = 30  # batches sampled (each is reused for `epochs` passes)
    batch_size: int = 64  # prompts drawn (with replacement) per batch
    samples_per_prompt: int = 4  # responses per prompt: B = batch_size * samples_per_prompt
    epochs: int = 4  # passes over each batch (1 with minibatches=1: one update, as REINFORCE)
    minibatches: int = 4  # minibatches per epoch (B must split into them)
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
        def number(name: str, ok, what: str, allow_inf: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v) \
                    or (math.isinf(v) and not allow_inf):
                raise ValueError(f"PPOConfig.{name} must be {what}, got {v!r}")

        for name in ("steps", "batch_size", "samples_per_prompt", "epochs", "minibatches",
                     "max_new_tokens", "seed"):
            v, low = getattr(self, name), 0 if name == "seed" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"PPOConfig.{name} must be an int >= {low}, got {v!r}")
        for name in ("lr", "value_lr", "temperature"):
            number(name, lambda v: v > 0, "a number > 0")
        number("clip_eps", lambda v: v > 0, "a number > 0 (math.inf: no clipping)", True)
        for name in ("gamma", "lam"):
            number(name, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        number("beta", lambda v: v >= 0, "a number >= 0")
        if self.max_grad_norm is not None:
            number("max_grad_norm", lambda v: v > 0, "a number > 0 or None")
        for name, options in (("advantage", ADVANTAGES), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) not in options:
                raise ValueError(f"PPOConfig.{name} must be one of {options}, "
                                 f"got {getattr(self, name)!r}")
        if self.advantage == "loo" and self.samples_per_prompt < 2:
            raise ValueError("PPOConfig.samples_per_prompt must be >= 2 with advantage='loo' "
                             "(the baseline is the mean of a prompt's *other* samples)")
        B = self.batch_size * self.samples_per_prompt
        if self.minibatches > B or B % self.minibatches:
            raise ValueError(f"PPOConfig.minibatches must divide the batch of {B} responses "
                             f"(batch_size * samples_per_prompt), got {self.minibatches}")


def _masked_var(x: torch.Tensor, m: torch.Tensor) -> float:
    mean = (x * m).sum() / m.sum()
    return float(((x - mean) ** 2 * m).sum() / m.sum())


def train_ppo(policy, ref_policy, tokenizer, prompts: Sequence[str],
              reward_fn: Callable[[list[str], list[str]], torch.Tensor],
              config: PPOConfig | None = None, value_head: ValueHead | None = None,
              on_step: Callable[[dict[str, float]], object] | None = None,
              progress: bool = True) -> list[dict[str, float]]:
    """Maximize J(theta) with PPO; return the history (one dict of metrics per batch).

    Each step samples ``batch_size`` prompts x ``samples_per_prompt`` responses, scores them
    with ``reward_fn(prompts, responses) -> (B,)``, turns the scores into per-token rewards
    with the KL penalty of lesson 07 (:func:`course_lib.rlhf.kl_penalized_rewards`), computes
    advantages (leave-one-out among a prompt's samples, or GAE with ``value_head``), then takes
    ``epochs`` x ``minibatches`` Adam steps on :func:`clipped_surrogate_loss`, the value head
    (if any) regressing on the returns alongside.

    Logged per step: ``step``, ``samples`` (responses generated so far), ``reward`` (mean
    score), ``kl`` (mean sequence KL to ``ref_policy``, k1 summed over tokens), ``length``,
    ``entropy`` (mean per-token entropy of the sampling policy), ``loss`` (mean over the
    minibatches), ``loss_first`` (the first minibatch's, where every ratio is 1), ``clip_frac``
    (share of tokens clipped, over all minibatches), ``approx_kl`` (k3 estimate of
    KL(pi_old || pi_theta) over the last epoch's minibatches), ``value_loss`` (nan without a
    critic), ``explained_variance`` (1 - Var(returns - baseline) / Var(returns) over the
    response tokens, before the update: of the value head, or of the leave-one-out baseline),
    ``advantage_sq`` (mean A_t^2 over the response tokens: the spread the gradient carries),
    ``lr``, ``time``. ``on_step(metrics)`` may return True to stop after that step; Ctrl-C
    stops too, keeping the weights of the last finished step.
    """
    from .rlhf import kl_penalized_rewards
    from .sampling import sample
    from .settings import progress_disabled

    config = config or PPOConfig()
    if not isinstance(config, PPOConfig):
        raise ValueError(f"config must be a PPOConfig, got {type(config).__name__}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts \
            or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError("prompts must be a non-empty list of non-empty prompt strings")
    if not callable(reward_fn):
        raise ValueError("reward_fn must be a function (prompts, responses) -> rewards (B,)")
    if ref_policy is None or ref_policy is policy:
        raise ValueError("ref_policy must be a separate, frozen copy of the policy "
                         "(copy.deepcopy(policy)): the KL is measured against it")
    if config.advantage == "gae":
        if not isinstance(value_head, ValueHead):
            raise ValueError("advantage='gae' needs a value_head: ValueHead(hidden_size)")
        if value_head.hidden_size != policy.config.hidden_size:
            raise ValueError(f"value_head reads hidden states of size {value_head.hidden_size}, "
                             f"but the policy's are {policy.config.hidden_size}: build it as "
                             "ValueHead(policy.config.hidden_size)")
    elif value_head is not None:
        raise ValueError("value_head is used only with advantage='gae'")

    if value_head is not None:
        value_head.to(next(policy.parameters()).device)
    rng, generator = random.Random(config.seed), torch.Generator().manual_seed(config.seed)
    K, eps = config.samples_per_prompt, config.clip_eps
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    decay = (lambda t: 1 - t / config.steps) if config.lr_schedule == "linear" else (lambda t: 1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
    critic_opt = torch.optim.Adam(value_head.parameters(), lr=config.value_lr) \
        if value_head is not None else None
    ref_policy.eval()
    history: list[dict[str, float]] = []
    bar = tqdm(range(config.steps), desc="PPO", disable=not progress or progress_disabled())
    t0 = time.perf_counter()
    try:
        for step in bar:
            # 1. sample: K responses to each of the prompts drawn, from pi_old = pi_theta now
            batch = [p for p in (rng.choice(prompts) for _ in range(config.batch_size))
                     for _ in range(K)]
            policy.eval()
            roll = sample(policy, tokenizer, batch, config.max_new_tokens, config.temperature,
                          generator=generator)
            ids, attn, P = roll.input_ids, roll.attention_mask, roll.prompt_ids.shape[1]
            m = roll.response_mask.float()  # (B, R)
            old_logprobs = roll.logprobs * m  # (B, R) log pi_old, recorded while sampling
            # 2. score, and the per-token rewards with the KL penalty (lesson 07)
            scores = _checked_scores(reward_fn, roll.prompts, roll.texts).to(m.device)  # (B,)
            with torch.no_grad():
                ref_logprobs = response_outputs(ref_policy, ids, attn, P,
                                                config.temperature)[0] * m
                rewards = kl_penalized_rewards(scores, old_logprobs, ref_logprobs, m,
                                               config.beta)  # (B, R)
                # 3. advantages: leave-one-out among each prompt's samples, or GAE
                if config.advantage == "loo":
                    R = rewards.sum(1).view(-1, K)  # (prompts, K) each response's return
                    baseline = (R.sum(1, keepdim=True) - R) / (K - 1)  # the others' mean
                    advantages = (R - baseline).reshape(-1)[:, None] * m  # (B, R)
                    returns, values = R.reshape(-1)[:, None] * m, baseline.reshape(-1)[:, None] * m
                else:
                    values = response_outputs(policy, ids, attn, P, config.temperature,
                                              value_head)[2] * m  # (B, R) V(s_t) under pi_old
                    advantages, returns = gae(rewards, values, m, config.gamma, config.lam)
            # 4. epochs x minibatches of updates on the same batch
            policy.train()
            stats: dict[str, list[float]] = {"loss": [], "clip_frac": [], "value_loss": [],
                                             "entropy": [], "approx_kl": []}
            for epoch in range(config.epochs):
                order = torch.randperm(len(batch), generator=generator)
                for rows in order.chunk(config.minibatches):
                    logprobs, entropy, v = response_outputs(
                        policy, ids[rows], attn[rows], P, config.temperature, value_head)
                    mb_m = m[rows]
                    loss = clipped_surrogate_loss(logprobs, old_logprobs[rows], advantages[rows],
                                                  mb_m, eps)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"step {step}: the PPO loss is {loss.item()}; "
                                                 "stopped before it changed the weights")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(policy.parameters(),
                                                   config.max_grad_norm or math.inf)
                    optimizer.step()
                    if critic_opt is not None:  # the critic regresses on the returns
                        value_loss = ((v - returns[rows]) ** 2 * mb_m).sum() / mb_m.sum()
                        critic_opt.zero_grad(set_to_none=True)
                        value_loss.backward()
                        critic_opt.step()
                        stats["value_loss"].append(value_loss.item())
                    stats["loss"].append(loss.item())
                    stats["clip_frac"].append(clip_fraction(logprobs, old_logprobs[rows], mb_m,
                                                            eps))
                    if epoch == 0:
                        stats["entropy"].append(float((entropy * mb_m).sum() / mb_m.sum()))
                    if epoch == config.epochs - 1:
                        k3 = kl_estimates(old_logprobs[rows], logprobs.detach())["k3"]
                        stats["approx_kl"].append(float((k3 * mb_m).sum() / mb_m.sum()))
            lr = optimizer.param_groups[0]["lr"]
            schedule.step()
            policy.eval()
            # 5. log
            mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
            metrics = {
                "step": step, "samples": (step + 1) * len(batch), "reward": scores.mean().item(),
                "kl": ((old_logprobs - ref_logprobs) * m).sum(1).mean().item(),
                "length": m.sum(1).mean().item(), "entropy": mean(stats["entropy"]),
                "loss": mean(stats["loss"]), "loss_first": stats["loss"][0],
                "clip_frac": mean(stats["clip_frac"]), "approx_kl": mean(stats["approx_kl"]),
                "value_loss": mean(stats["value_loss"]),
                "explained_variance": 1 - _masked_var(returns - values, m)
                / max(_masked_var(returns, m), 1e-12),
                "advantage_sq": float((advantages ** 2 * m).sum() / m.sum()),
                "lr": lr, "time": time.perf_counter() - t0,
            }
            history.append(metrics)
            bar.set_postfix(reward=f"{metrics['reward']:.3f}", clip=f"{metrics['clip_frac']:.2f}")
            if on_step is not None and on_step(metrics) is True:
                break
    except KeyboardInterrupt:
        print(f"PPO interrupted after {len(history)} steps; the policy keeps its weights and "
              "the history is returned.")
    finally:
        policy.eval()
        bar.close()
    return history


def _checked_scores(reward_fn, prompts: list[str], texts: list[str]) -> torch.Tensor:
    """Call the reward function and insist on B finite numbers."""
    out = reward_fn(list(prompts), list(texts))
    B = len(texts)
    if not isinstance(out, torch.Tensor) or out.shape != (B,):
        raise ValueError(f"reward_fn must return a tensor of shape ({B},), one reward per "
                         f"response, got {getattr(out, 'shape', type(out).__name__)}")
    if not bool(torch.isfinite(out).all()):
        raise ValueError("reward_fn returned nan or inf")
    return out.detach().float()


__all__ = ["PPOConfig", "ValueHead", "clip_fraction", "clipped_surrogate_loss", "gae",
           "kl_estimates", "response_outputs", "train_ppo"]

"""GRPO: group baselines, pass@k, and the loss's three normalizations (lesson 09).

GRPO (Shao et al., 2024, DeepSeekMath) is PPO's clipped surrogate (lesson 08) without a critic:
each prompt x gets a *group* of G sampled responses y_1..y_G, and each response's advantage is
its reward standardized within its group,

    A_i = (r_i - mean(r_1..r_G)) / (std(r_1..r_G) + eps)                     (eq. GRPO-A)

with the sample standard deviation (``torch.std``'s default, as TRL's ``GRPOTrainer``). Dr. GRPO
(Liu et al., 2025) drops the division by the std: A_i = r_i - mean(r). Every token of y_i gets
A_i, and the loss is minus the clipped objective o_it = min(rho_it A_i, clip(rho_it) A_i)
(:func:`course_lib.ppo.clipped_objective`), averaged in one of three ways people argue about:

- ``"grpo"`` (the original): each response's token mean, then the mean over responses,
  -(1/B) sum_i (1/|y_i|) sum_t o_it. A long response's tokens each weigh less, so a long wrong
  answer is pushed down less per token than a short one: the length bias;
- ``"dapo"`` (Yu et al., 2025): the token mean over the batch, -(1/N) sum_{i,t} o_it, N the
  batch's response tokens (lesson 08's :func:`~course_lib.ppo.clipped_surrogate_loss`);
- ``"dr_grpo"`` (Liu et al., 2025): the sum over tokens divided by a constant,
  -(1/(B L)) sum_{i,t} o_it with L = the longest response allowed: no length enters the weights.

:func:`pass_at_k` is the unbiased estimator of the chance that at least one of k samples is
right, from n >= k samples of which c are right (Chen et al., 2021):
pass@k = 1 - C(n - c, k) / C(n, k).

:func:`train_grpo` is the algorithm on a language model, one plain loop: sample G responses per
prompt, score, group advantages, ``epochs`` updates of :func:`grpo_loss` on the batch, log.
It reuses the sampling and log-probabilities of :mod:`course_lib.engine` and the pieces of
lessons 05 and 08.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from . import validation as V
from . import world as W
from .engine import fast_sample, fast_token_logprobs
from .policy_gradient import _checked_scores, _reference_logprobs, check_rl_inputs, sequence_kl
from .ppo import _check_clip_eps, _check_like, clip_fraction, clipped_objective, kl_estimates
from .rewards import RewardFn, call_reward_fn, exact_match_reward
from .training import (
    Metrics,
    OnStep,
    check_on_step,
    gradient_step,
    log_step,
    progress_bar,
    training_session,
)

NORMALIZATIONS = ("grpo", "dapo", "dr_grpo")


# --- group advantages and pass@k ----------------------------------------------------------------


def group_advantages(rewards: torch.Tensor, group_size: int, scale_std: bool = True,
                     eps: float = 1e-4) -> torch.Tensor:
    """A_i of eq. GRPO-A: (B,), each reward centred on its group's mean and (with
    ``scale_std``) divided by the group's sample standard deviation + ``eps``.

    ``rewards`` (B,) holds the samples of each prompt next to each other: rows
    g * group_size ... (g + 1) * group_size - 1 are the group of prompt g. A group whose rewards
    are all equal gets advantages 0 (no signal), whether scaled or not.
    """
    if not isinstance(rewards, torch.Tensor) or rewards.dim() != 1:
        raise ValueError(f"rewards must be a (B,) tensor, got "
                         f"{getattr(rewards, 'shape', type(rewards).__name__)}")
    V.positive_int("group_size", group_size)
    if rewards.numel() % group_size:
        raise ValueError(f"group_size ({group_size}) must divide the number of rewards "
                         f"({rewards.numel()}): each prompt has group_size samples")
    if scale_std and group_size < 2:
        raise ValueError("group_size must be >= 2 with scale_std=True (a group of one sample "
                         "has no standard deviation)")
    V.non_negative_number("eps", eps)
    groups = rewards.detach().view(-1, group_size)  # (P, G): one prompt's samples in a row
    centred = groups - groups.mean(dim=1, keepdim=True)  # (P, G) r_i - mean(r)
    if scale_std:
        centred = centred / (groups.std(dim=1, keepdim=True) + eps)  # sample std (n - 1)
    return centred.reshape(-1)  # (B,)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k from ``n`` samples of which ``c`` are right: 1 - C(n-c, k) / C(n, k),
    exactly 1 when n - c < k (every set of k samples holds a right one). Needs 1 <= k <= n."""
    for name, v in (("n", n), ("c", c), ("k", k)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{name} must be an int, got {v!r}")
    if not 0 <= c <= n:
        raise ValueError(f"c must be from 0 to n = {n} (right samples among n), got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be from 1 to n = {n}: pass@k needs at least k samples, got {k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@torch.no_grad()
def sampled_pass_at_k(model, tokenizer, prompts: Sequence[str], reward_fn: RewardFn, n: int,
                      ks: Sequence[int], max_new_tokens: int = 40, temperature: float = 1.0,
                      seed: int = 0) -> dict[int, tuple[float, float]]:
    """``{k: (mean pass@k over the prompts, its standard error)}`` from ``n`` samples of each
    prompt; a sample is right when ``reward_fn`` gives it 1 or more."""
    V.texts("prompts", prompts)
    V.positive_int("n", n)
    batch = [p for p in prompts for _ in range(n)]
    generator = torch.Generator().manual_seed(seed)
    rollout = fast_sample(model, tokenizer, batch, max_new_tokens, temperature,
                          generator=generator)
    right = call_reward_fn(reward_fn, batch, rollout.texts) >= 1  # (len(prompts) * n,)
    counts = right.view(-1, n).sum(dim=1).tolist()  # c for each prompt
    out = {}
    for k in ks:
        values = torch.tensor([pass_at_k(n, int(c), k) for c in counts], dtype=torch.float64)
        out[k] = (float(values.mean()), float(values.std() / len(values) ** 0.5))
    return out


# --- the loss -----------------------------------------------------------------------------------


def grpo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, clip_eps: float = 0.2, normalization: str = "grpo",
              max_tokens: int | None = None, ref_logprobs: torch.Tensor | None = None,
              beta: float = 0.0) -> torch.Tensor:
    """The GRPO loss: minus the clipped objective of lesson 08 with one advantage per response,
    averaged as ``normalization`` says (``"grpo"``, ``"dapo"`` or ``"dr_grpo"``; see the module).

    Args:
        logprobs: (B, T) log pi_theta of the sampled tokens, with gradient.
        old_logprobs: (B, T) the same under the sampling policy (detached here).
        advantages: (B,) one per response (e.g. :func:`group_advantages`).
        mask: (B, T) 1 on response tokens, 0 on padding.
        clip_eps: eps of the clip (``math.inf``: none).
        normalization: how the per-token terms are averaged.
        max_tokens: L, the longest response allowed: the constant of ``"dr_grpo"``.
        ref_logprobs: (B, T) log pi_ref of the same tokens, for the KL term (GRPO puts
            beta * k3 in the loss, per token, instead of in the reward).
        beta: the KL coefficient (0: no KL term, ``ref_logprobs`` not needed).
    """
    if not isinstance(logprobs, torch.Tensor) or logprobs.dim() != 2:
        raise ValueError(f"logprobs must be a (B, T) tensor, got "
                         f"{getattr(logprobs, 'shape', type(logprobs).__name__)}")
    _check_like("old_logprobs", old_logprobs, logprobs)
    _check_like("mask", mask, logprobs)
    B = logprobs.shape[0]
    if not isinstance(advantages, torch.Tensor) or advantages.shape != (B,):
        raise ValueError(f"advantages must have shape ({B},), one per response, got "
                         f"{getattr(advantages, 'shape', type(advantages).__name__)}")
    _check_clip_eps(clip_eps)
    V.one_of("normalization", normalization, NORMALIZATIONS)
    V.non_negative_number("beta", beta)
    if normalization == "dr_grpo":
        if max_tokens is None:
            raise ValueError("normalization 'dr_grpo' needs max_tokens, the longest response "
                             "allowed (its constant divisor)")
        V.positive_int("max_tokens", max_tokens)
    m = mask.to(logprobs.dtype)
    terms = clipped_objective(logprobs, old_logprobs, advantages, clip_eps)  # (B, T)
    if beta > 0:
        if ref_logprobs is None:
            raise ValueError(f"beta = {beta} needs ref_logprobs, the reference's log-probs")
        _check_like("ref_logprobs", ref_logprobs, logprobs)
        terms = terms - beta * kl_estimates(logprobs, ref_logprobs.detach())["k3"]
    terms = terms * m  # (B, T)
    if normalization == "grpo":  # each response's token mean, then the batch mean
        return -(terms.sum(dim=1) / m.sum(dim=1).clamp(min=1)).mean()
    if normalization == "dapo":  # the token mean over the whole batch
        return -terms.sum() / m.sum().clamp(min=1)
    return -terms.sum() / (B * max_tokens)  # dr_grpo: a constant divisor


# --- the training loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class GRPOConfig:
    """Settings of :func:`train_grpo`, one line each; checked when the config is built."""

    steps: int = 100  # batches sampled
    prompts_per_step: int = 16  # prompts drawn (with replacement) per batch
    group_size: int = 8  # G, responses per prompt: B = prompts_per_step * group_size
    epochs: int = 1  # updates on each batch (TRL's num_iterations); 1: every ratio is 1
    clip_eps: float = 0.2  # eps of the clipped objective
    scale_std: bool = True  # divide by the group's std (GRPO) or not (Dr. GRPO)
    normalization: str = "grpo"  # "grpo" | "dapo" | "dr_grpo": how the loss averages tokens
    lr: float = 1e-3  # Adam learning rate
    beta: float = 0.0  # KL coefficient to the reference, as k3 in the loss (0: none)
    temperature: float = 1.0  # sampling temperature (the log-probs are the sampled policy's)
    max_new_tokens: int = 40  # longest response (Dr. GRPO's constant L)
    max_grad_norm: float | None = 1.0  # clip the gradient's norm (None: no clipping)
    seed: int = 0  # seeds the prompts drawn and the sampling

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "prompts_per_step", "group_size", "epochs",
                                           "max_new_tokens"),
                       positive_number=("lr", "temperature"), non_negative_number=("beta",),
                       non_negative_int=("seed",))
        if not isinstance(self.clip_eps, (int, float)) or isinstance(self.clip_eps, bool) \
                or not self.clip_eps > 0:
            raise ValueError(f"GRPOConfig.clip_eps must be a number > 0 (math.inf: no "
                             f"clipping), got {self.clip_eps!r}")
        if not isinstance(self.scale_std, bool):
            raise ValueError(f"GRPOConfig.scale_std must be True or False, got "
                             f"{self.scale_std!r}")
        V.one_of("GRPOConfig.normalization", self.normalization, NORMALIZATIONS)
        if self.group_size < 2:
            raise ValueError("GRPOConfig.group_size must be >= 2: the baseline is the group's "
                             "mean")
        if self.max_grad_norm is not None:
            V.positive_number("GRPOConfig.max_grad_norm", self.max_grad_norm)


def _check_grpo_inputs(policy, ref_policy, prompts, reward_fn, config, on_step) -> GRPOConfig:
    check_on_step(on_step)
    config = config or GRPOConfig()
    if not isinstance(config, GRPOConfig):
        raise ValueError(f"config must be a course_lib.grpo.GRPOConfig, got "
                         f"{type(config).__name__}")
    check_rl_inputs(policy, ref_policy, prompts, reward_fn, config.beta)
    return config


def _mean_where(x: torch.Tensor, where: torch.Tensor) -> float:
    return float(x[where].mean()) if bool(where.any()) else float("nan")


def train_grpo(policy, ref_policy, tokenizer, prompts: Sequence[str], reward_fn: RewardFn,
               config: GRPOConfig | None = None, on_step: OnStep | None = None,
               progress: bool = True) -> list[Metrics]:
    """Maximize J(theta) with GRPO; return the history (one dict of metrics per batch).

    Each step samples ``group_size`` responses to each of ``prompts_per_step`` prompts, scores
    them with ``reward_fn(prompts, responses) -> (B,)``, takes :func:`group_advantages`, then
    ``epochs`` Adam steps on :func:`grpo_loss` over the whole batch. ``ref_policy`` (None when
    ``beta`` = 0) is only read for the KL.

    Logged per step: ``step``, ``samples`` (responses generated so far), ``reward`` (mean
    score), ``no_signal`` (share of groups whose rewards are all equal: their advantages are 0),
    ``solved`` (share of groups whose samples all score 1 or more), ``length`` (mean response
    tokens), ``length_down`` / ``length_up`` (mean tokens of the responses with negative /
    positive advantage: those the step pushes down / up), ``kl`` (mean sequence KL to
    ``ref_policy``, nan without one), ``entropy``, ``loss``, ``grad_norm``, ``clip_frac``,
    ``time``. Ctrl-C (KeyboardInterrupt, also raised from ``on_step``) stops cleanly, keeping
    the weights of the last finished step and the history.
    """
    config = _check_grpo_inputs(policy, ref_policy, prompts, reward_fn, config, on_step)
    rng, generator = random.Random(config.seed), torch.Generator().manual_seed(config.seed)
    P, G, T = config.prompts_per_step, config.group_size, config.temperature
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    if ref_policy is not None:
        ref_policy.eval()
    history: list[Metrics] = []
    bar = progress_bar(config.steps, "GRPO", progress)
    t0 = time.perf_counter()
    with training_session("GRPO", policy, history, bar):
        for step in bar:
            # 1. sample: a group of G responses to each of P prompts, from pi_old = pi_theta now
            batch = [p for p in (rng.choice(prompts) for _ in range(P)) for _ in range(G)]
            rollout = fast_sample(policy, tokenizer, batch, config.max_new_tokens, T,
                                  generator=generator)
            m = rollout.response_mask.float()  # (B, R)
            old_logprobs = rollout.logprobs * m  # (B, R) log pi_old, recorded while sampling
            # 2. score, and the group advantages (eq. GRPO-A)
            scores = _checked_scores(reward_fn, rollout)  # (B,)
            advantages = group_advantages(scores, G, config.scale_std)  # (B,)
            ref_logprobs = _reference_logprobs(ref_policy, rollout, T)  # (B, R) or None
            # 3. epochs of updates on the batch
            policy.train()
            for epoch in range(config.epochs):
                logprobs, entropy = fast_token_logprobs(policy, rollout, T, entropy=epoch == 0)
                if epoch == 0:
                    mean_entropy = float((entropy * m).sum() / m.sum())
                loss = grpo_loss(logprobs, old_logprobs, advantages, m, config.clip_eps,
                                 config.normalization, config.max_new_tokens, ref_logprobs,
                                 config.beta)
                grad_norm = gradient_step(policy, optimizer, loss, config.max_grad_norm)
            policy.eval()
            # 4. log
            groups, lengths = scores.view(-1, G), m.sum(dim=1)  # (P, G), (B,)
            metrics = {
                "step": step, "samples": (step + 1) * len(batch), "reward": scores.mean().item(),
                "no_signal": float((groups.max(1).values == groups.min(1).values).float().mean()),
                "solved": float((groups >= 1).all(dim=1).float().mean()),
                "length": float(lengths.mean()),
                "length_down": _mean_where(lengths, advantages < 0),
                "length_up": _mean_where(lengths, advantages > 0),
                "kl": sequence_kl(old_logprobs, ref_logprobs, m).mean().item(),
                "entropy": mean_entropy, "loss": loss.item(), "grad_norm": grad_norm.item(),
                "clip_frac": clip_fraction(logprobs, old_logprobs, m, config.clip_eps),
                "time": time.perf_counter() - t0,
            }
            log_step(history, metrics, on_step, bar, shown=("reward", "no_signal"))
    return history


# --- lesson 09's run: the SFT model trained by GRPO on chained sums, cached ----------------------

CHAIN_TERMS = 4  # the rare-correct task: sums of four two-digit numbers, worked step by step
CHAIN_TRAIN_PROMPTS = 2000  # training problems drawn (world.chain_problems("train", ...))
LESSON_CONFIG = GRPOConfig(steps=150, prompts_per_step=32, group_size=8, lr=1e-4, epochs=2,
                           max_new_tokens=44)


def chain_prompts(split: str, n: int, seed: int = 0) -> list[str]:
    """``n`` prompts of the rare-correct task: ``world.chain_question`` of
    ``world.chain_problems(split, n, CHAIN_TERMS, seed)`` (held-out problems for ``"test"``)."""
    return [W.chain_question(t) for t in W.chain_problems(split, n, CHAIN_TERMS, seed)]


def grpo_model_key(config: GRPOConfig) -> str:
    """The fingerprint of lesson 09's GRPO model: the SFT model's key, the task's training
    prompts, the reward and the config; a change to any of them gives a new key."""
    from .sft import sft_key

    prompts = chain_prompts("train", CHAIN_TRAIN_PROMPTS)
    blob = json.dumps([sft_key(), prompts, "exact_match_reward", asdict(config)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_grpo_model(config: GRPOConfig | None = None, device: torch.device | str | None = None,
                    progress: bool = True):
    """``(model, tokenizer, history)``: the course's SFT model trained by :func:`train_grpo`
    with ``config`` (by default :data:`LESSON_CONFIG`) on :func:`chain_prompts` ("train") with
    the exact-match reward, with its training history. The course ships the run of
    ``LESSON_CONFIG`` (``course_lib/assets/grpo``, made by this function); any other config (or
    a changed SFT model, task or reward: the key covers them) is trained on the CPU the first
    time (about twelve minutes of CPU time), then loaded from the local cache (``$COURSE_CACHE`` or
    ``~/.cache/course_lib``), offline. An interrupted training is not cached."""
    from .models import GRPO_MODEL_DIR, cache_model, is_cached, load_model
    from .settings import cache_dir, parse_device, set_seed
    from .sft import load_sft_model, sft_history

    config = config or LESSON_CONFIG
    if not isinstance(config, GRPOConfig):
        raise ValueError(f"config must be a GRPOConfig, got {type(config).__name__}")
    device = parse_device(device)
    key = grpo_model_key(config)
    path = cache_dir() / f"grpo-{key}"
    for saved in (GRPO_MODEL_DIR, path):  # the course ships LESSON_CONFIG's run
        if is_cached(saved, key):
            model, tokenizer = load_model(saved, device)
            return model, tokenizer, sft_history(saved)
    if progress:
        print(f"Training lesson 09's GRPO model (first use; then cached in {cache_dir()})...")
    set_seed(config.seed)
    policy, tokenizer = load_sft_model(device="cpu", progress=progress)
    history = train_grpo(policy, None, tokenizer, chain_prompts("train", CHAIN_TRAIN_PROMPTS),
                         exact_match_reward, config, progress=progress)
    if len(history) == config.steps:  # do not cache a half-trained model
        cache_model(policy, tokenizer, path, key, history)  # warns if the cache is unwritable
    return policy.to(device).eval(), tokenizer, history


__all__ = ["CHAIN_TERMS", "GRPOConfig", "LESSON_CONFIG", "NORMALIZATIONS", "chain_prompts",
           "group_advantages", "grpo_loss", "grpo_model_key", "load_grpo_model", "pass_at_k",
           "sampled_pass_at_k", "train_grpo"]

"""The policy gradient: REINFORCE, baselines and reward-to-go.

Sampling is not differentiable, but the log-derivative trick turns the gradient of
J(theta) = E_{y ~ pi_theta}[r(x, y)] into an expectation we can sample:

    grad J(theta) = E_{y ~ pi_theta}[ (r(x, y) - b) * sum_t grad log pi_theta(y_t | x, y_<t) ]

for any baseline b that does not depend on y (eq. REINFORCE). :func:`reinforce_loss` is a
surrogate loss whose gradient is the batch average of that estimate, with a minus sign, so
``loss.backward(); optimizer.step()`` climbs J. With per-step rewards, :func:`rewards_to_go`
gives each token only the rewards that come after it (eq. reward-to-go).

:func:`train_reinforce` (lesson 05) is the whole algorithm on a language model, as one plain
loop: sample responses, score them with a reward, subtract a baseline, take the REINFORCE loss
(optionally with a KL penalty to a reference model), step, log.
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

Baseline = str | torch.Tensor | None  # None | "mean" | "loo" | a tensor shaped like the rewards

BASELINES = ("mean", "loo")
LR_SCHEDULES = ("constant", "linear")


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


# --- the training loop of lesson 05 ------------------------------------------------------------


@dataclass
class ReinforceConfig:
    """Settings of :func:`train_reinforce`, one line each."""

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

    def validate(self) -> None:
        """A clear error naming the first bad field."""
        for name in ("steps", "batch_size", "samples_per_prompt", "max_new_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"config.{name} must be a positive int, got {v!r}")
        for name in ("lr", "temperature"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"config.{name} must be a positive number, got {v!r}")
        if not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta) \
                or self.beta < 0:
            raise ValueError(f"config.beta must be a number >= 0 (the weight of the KL penalty), "
                             f"got {self.beta!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"config.lr_schedule must be one of {LR_SCHEDULES}, "
                             f"got {self.lr_schedule!r}")
        if self.baseline is not None and self.baseline not in BASELINES:
            raise ValueError(f"config.baseline must be None, 'mean' or 'loo', "
                             f"got {self.baseline!r}")
        if self.baseline == "loo" and self.samples_per_prompt * self.batch_size < 2:
            raise ValueError("config.baseline 'loo' needs at least 2 samples per step")
        if self.max_grad_norm is not None and not (isinstance(self.max_grad_norm, (int, float))
                                                   and self.max_grad_norm > 0):
            raise ValueError(f"config.max_grad_norm must be a positive number or None, "
                             f"got {self.max_grad_norm!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"config.seed must be a non-negative int, got {self.seed!r}")


class TrainingStopped(RuntimeError):
    """Training stopped on a non-finite number; ``history`` holds the steps that finished."""

    def __init__(self, message: str, history: list[dict[str, float]]):
        super().__init__(message)
        self.history = history


def group_baseline(rewards: torch.Tensor, group_size: int, kind: str | None) -> torch.Tensor:
    """The baseline of each response among the ``group_size`` samples of its own prompt: (B,).

    ``rewards`` (B,) holds the samples of each prompt next to each other. With one sample per
    prompt the group is the whole batch. ``"loo"``: the mean of the *other* samples of the
    prompt (unbiased); ``"mean"``: the mean of all of them; ``None``: 0.
    """
    if kind is None:
        return torch.zeros_like(rewards)
    if group_size == 1:
        return compute_baseline(rewards, kind)
    groups = rewards.detach().view(-1, group_size).T  # (K, P): samples of a prompt in a column
    return compute_baseline(groups, kind).T.reshape(-1)  # (B,)


def _token_logprobs(logits: torch.Tensor, ids: torch.Tensor, temperature: float,
                    entropy: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log pi(y_t | ...) of the tokens ``ids`` (N, T) under ``logits`` (N, T, V), with gradient,
    and (if ``entropy``) the entropy of each position's distribution (N, T), without."""
    logp = F.log_softmax(logits.float() / temperature, dim=-1)  # (N, T, V)
    token_logp = logp.gather(2, ids[:, :, None]).squeeze(2)  # (N, T)
    if not entropy:
        return token_logp, None
    with torch.no_grad():
        return token_logp, -(logp.exp() * logp).sum(-1)


def _split_point(lengths: torch.Tensor) -> int:
    """S for :func:`_response_logprobs`: every row is read up to token S, and only the rows
    longer than S read on to the longest, R. S minimizes the tokens read, B * S + (rows longer
    than S) * (R - S), counting a second pass as B tokens more (its fixed cost is about that of
    one more column of the batch): most RL responses end early and a few ramble on."""
    B, R = len(lengths), int(lengths.max())

    def cost(S: int) -> int:
        return B * S + (int((lengths > S).sum()) * (R - S) + B if S < R else 0)

    return min(range(1, R + 1), key=cost)


def _response_logprobs(model, rollout, temperature: float, entropy: bool = True
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The log-probs of the sampled tokens (B, R), with gradient, and (if ``entropy``) the
    exact entropy of pi_theta(. | x, y_<t) at each response position (B, R), without gradient.

    The same numbers as one forward pass over the whole (B, P + R) batch
    (:func:`~course_lib.sampling.sequence_logprobs`), with less work, in three parts that read
    on from each other's KV cache:

    1. each distinct prompt once (the K samples of a prompt share it, see
       :func:`~course_lib.sampling.prefill`): about half the work at K = 4;
    2. every response, up to token S (:func:`_split_point`);
    3. only the responses longer than S, on to the longest: one rambling response no longer
       makes the whole batch read R tokens.
    """
    from .sampling import _cache_argument, positions, prefill, prompt_groups

    P, (B, R) = rollout.prompt_ids.shape[1], rollout.response_ids.shape
    ids, attn = rollout.response_ids, rollout.attention_mask  # (B, R), (B, P + R)
    pos = positions(attn)[:, P:]  # (B, R) position ids of the response tokens
    first, rows = prompt_groups(rollout.prompts)
    first_logits, cache = prefill(model, rollout.prompt_ids[first], rollout.prompt_mask[first],
                                  rows)  # (B, V): predicts y_1
    kw = {"use_cache": True, _cache_argument(model): cache}
    S = _split_point(rollout.lengths)
    # tokens 1..S of every row: first_logits, then the logits after reading tokens 1..S-1
    logits = first_logits[:, None]  # (B, 1, V)
    if S > 1:
        out = model(input_ids=ids[:, :S - 1], attention_mask=attn[:, :P + S - 1],
                    position_ids=pos[:, :S - 1], **kw)
        logits = torch.cat([logits, out.logits], dim=1)  # (B, S, V)
    token_logp, ent = _token_logprobs(logits, ids[:, :S], temperature, entropy)
    if S < R:  # tokens S+1..R of the rows longer than S, read on from their cache
        longer = (rollout.lengths > S).nonzero()[:, 0]  # (N,)
        cache.batch_select_indices(longer)
        out = model(input_ids=ids[longer, S - 1:R - 1], attention_mask=attn[longer, :P + R - 1],
                    position_ids=pos[longer, S - 1:R - 1], **kw)
        tail_logp, tail_ent = _token_logprobs(out.logits, ids[longer, S:], temperature, entropy)
        pad = torch.zeros(B, R - S, device=ids.device)  # the other rows: padding, masked
        token_logp = torch.cat([token_logp, pad.index_copy(0, longer, tail_logp)], dim=1)
        if entropy:
            ent = torch.cat([ent, pad.index_copy(0, longer, tail_ent)], dim=1)
    mask = rollout.response_mask.to(token_logp.dtype)
    return token_logp * mask, (ent * mask if entropy else None)


def train_reinforce(policy, ref_policy, tokenizer, prompts: Sequence[str],
                    reward_fn: Callable[[list[str], list[str]], torch.Tensor],
                    config: ReinforceConfig | None = None,
                    on_step: Callable[[dict[str, float]], None] | None = None,
                    progress: bool = True) -> list[dict[str, float]]:
    """Maximize J(theta) = E_x E_{y ~ pi_theta}[r(x, y)] with REINFORCE; return the history.

    Each step: draw ``batch_size`` prompts from ``prompts``, sample ``samples_per_prompt``
    responses to each (KV cache, no gradient), score them with
    ``reward_fn(prompts, responses) -> (B,)`` (see :mod:`course_lib.rewards`), subtract the
    baseline of each prompt's group, and take one Adam step on :func:`reinforce_loss`.

    With ``config.beta > 0`` the reward of each response becomes r_i - beta * KL_i, where
    KL_i = sum_t [log pi_theta(y_t | ...) - log pi_ref(y_t | ...)] over its sampled tokens: a
    sample of KL(pi_theta || pi_ref) that keeps the policy near the reference (the SFT model).
    KL_i is logged every step whatever beta is (one batched forward of ``ref_policy`` under
    ``no_grad``); pass ``ref_policy=None`` to skip it (then beta must be 0 and ``kl`` is nan).

    Logged per step (the dict ``on_step`` receives, e.g. ``TrainingMonitor.update``):
    ``step``, ``reward`` (mean r, without the KL penalty), ``kl`` (mean KL_i), ``entropy`` (the
    exact mean per-token entropy of the sampled policy, in nats), ``loss``, ``grad_norm``
    (before clipping), ``lr`` (the learning rate of this step), ``length`` (mean response
    tokens), ``abstain`` / ``hedged`` / ``confident`` (fractions of responses, as
    :func:`world.parse_response` reads them), ``time``.

    Ctrl-C (KeyboardInterrupt, also raised from ``on_step``) stops cleanly: the policy keeps the
    weights of the last finished step and the history so far is returned. A reward or loss that
    is nan or inf stops training with :class:`TrainingStopped` (its ``history`` attribute keeps
    the finished steps) before the bad step can touch the weights.
    """
    from . import world as W
    from .sampling import sample
    from .settings import progress_disabled

    config = config or ReinforceConfig()
    if not isinstance(config, ReinforceConfig):
        raise ValueError(f"config must be a ReinforceConfig, got {type(config).__name__}")
    config.validate()
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of prompt strings")
    if not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError("prompts must hold only non-empty strings")
    if not callable(reward_fn):
        raise ValueError("reward_fn must be a function (prompts, responses) -> rewards (B,)")
    if config.beta > 0 and ref_policy is None:
        raise ValueError(f"config.beta = {config.beta} needs a ref_policy to measure the KL to")
    if ref_policy is policy:
        raise ValueError("ref_policy must be a separate, frozen copy of the policy "
                         "(copy.deepcopy(policy)), not the policy itself")

    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)  # sampling (on the CPU)
    P, K = config.batch_size, config.samples_per_prompt
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    # step t (from 0) uses lr * (1 - t / steps) with "linear", lr throughout with "constant"
    decay = (lambda t: 1 - t / config.steps) if config.lr_schedule == "linear" else (lambda t: 1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
    if ref_policy is not None:
        ref_policy.eval()
    history: list[dict[str, float]] = []
    bar = tqdm(range(config.steps), desc="REINFORCE",
               disable=not progress or progress_disabled())
    t0 = time.perf_counter()
    try:
        for step in bar:
            # 1. sample: K responses to each of P prompts, y ~ pi_theta(. | x)
            batch_prompts = [p for p in (rng.choice(prompts) for _ in range(P))
                             for _ in range(K)]
            rollout = sample(policy, tokenizer, batch_prompts, config.max_new_tokens,
                             config.temperature, generator=generator)
            # 2. score: r(x, y), one number per response
            rewards = _checked_rewards(reward_fn, rollout, step, history)  # (B,)
            # 3. log-probs with gradient (one fresh forward), and the KL to the reference
            policy.train()
            logprobs, entropy = _response_logprobs(policy, rollout, config.temperature)
            mask = rollout.response_mask.to(logprobs.dtype)  # (B, R)
            kl = torch.full_like(rewards, float("nan"))
            if ref_policy is not None:
                with torch.no_grad():
                    ref_logprobs, _ = _response_logprobs(ref_policy, rollout,
                                                         config.temperature, entropy=False)
                kl = ((logprobs.detach() - ref_logprobs) * mask).sum(dim=1)  # (B,) KL_i
            shaped = rewards - config.beta * kl if config.beta > 0 else rewards  # r - beta KL
            # 4. advantages: subtract each prompt's baseline; the REINFORCE loss
            baseline = group_baseline(shaped, K, config.baseline)  # (B,), detached
            loss = reinforce_loss(logprobs, shaped, rollout.response_mask, baseline)
            if not torch.isfinite(loss):
                raise TrainingStopped(f"step {step}: the loss is {loss.item()} (the model's "
                                      "log-probabilities overflowed?); training stopped before "
                                      "this step changed the weights", history)
            # 5. step
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                policy.parameters(), config.max_grad_norm or float("inf"))
            if not torch.isfinite(grad_norm):
                optimizer.zero_grad(set_to_none=True)
                raise TrainingStopped(f"step {step}: the gradient norm is {grad_norm.item()}; "
                                      "training stopped before this step changed the weights",
                                      history)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            schedule.step()
            policy.eval()
            # 6. log
            styles = [W.parse_response(t).style for t in rollout.texts]
            n_tokens = mask.sum()
            metrics = {
                "step": step, "reward": rewards.mean().item(), "kl": kl.mean().item(),
                "entropy": (entropy.sum() / n_tokens).item(), "loss": loss.item(),
                "grad_norm": grad_norm.item(), "lr": lr, "length": (n_tokens / len(styles)).item(),
                "abstain": styles.count("abstain") / len(styles),
                "hedged": styles.count("hedged") / len(styles),
                "confident": styles.count("confident") / len(styles),
                "time": time.perf_counter() - t0,
            }
            history.append(metrics)
            bar.set_postfix(reward=f"{metrics['reward']:.3f}", kl=f"{metrics['kl']:.2f}")
            if on_step is not None:
                on_step(metrics)
    except KeyboardInterrupt:
        print(f"REINFORCE interrupted after {len(history)} steps; the policy keeps its weights "
              "and the history is returned.")
    finally:
        policy.eval()
        bar.close()
    return history


def _checked_rewards(reward_fn, rollout, step: int, history) -> torch.Tensor:
    """Call the reward function and insist on B finite numbers."""
    out = reward_fn(list(rollout.prompts), list(rollout.texts))
    B = len(rollout.texts)
    try:
        rewards = torch.as_tensor(out, dtype=torch.float32).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"reward_fn must return {B} numbers (a tensor of shape ({B},)), "
                         f"got {type(out).__name__}") from None
    if rewards.numel() != B:
        raise ValueError(f"reward_fn returned {rewards.numel()} rewards for {B} responses: it "
                         f"must return one reward per response, shape ({B},)")
    bad = ~torch.isfinite(rewards)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise TrainingStopped(
            f"step {step}: reward_fn returned {rewards[i].item()} for the response "
            f"{rollout.texts[i]!r} to {rollout.prompts[i]!r} ({int(bad.sum())} of {B} rewards "
            "are nan or inf); training stopped before this step changed the weights", history)
    return rewards.to(rollout.response_ids.device)

"""Direct preference optimization: the KL-regularized optimum in closed form, and the loss it
gives on comparisons, with no reward model and no sampling (lesson 10).

RL against a reward r (lessons 05-07) maximizes E_{y ~ pi}[r(x, y)] - beta KL(pi || pi_ref) for
each prompt x. Over *all* distributions pi(. | x) the maximizer is (eq. OPT; Rafailov et al.
2023, eq. 4)

    pi*(y | x) = pi_ref(y | x) exp(r(x, y) / beta) / Z(x),  Z(x) = sum_y pi_ref exp(r / beta),

so r(x, y) = beta log(pi*(y | x) / pi_ref(y | x)) + beta log Z(x). In the Bradley-Terry
probability of a comparison (lesson 06), sigmoid(r(x, y_c) - r(x, y_r)), beta log Z(x) cancels:
the likelihood of the labels is a function of the policy alone, and maximizing it over pi_theta
is DPO (eq. DPO):

    L_DPO(theta) = -E[ log sigmoid( beta [ (log pi_theta(y_c | x) - log pi_ref(y_c | x))
                                         - (log pi_theta(y_r | x) - log pi_ref(y_r | x)) ] ) ]

with log pi(y | x) = sum_t log pi(y_t | x, y_<t) of the WHOLE response. The policy's *implicit
reward* beta log(pi_theta / pi_ref) is a reward model that reads the model's own probabilities.

- :func:`kl_optimal_policy`: eq. OPT over a finite set of responses.
- :func:`dpo_loss`: eq. DPO from summed response log-probabilities, stable at any margin.
- :func:`response_logps` (with gradient), :func:`pair_logps` and :func:`implicit_rewards`.
- :class:`DPOConfig`, :func:`train_dpo`: the training loop, the SFT model as the reference.
- :func:`load_dpo_model`: trained on demand and cached, like the reward model.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import validation as V
from .preferences import Comparison, check_comparisons
from .training import (
    Metrics,
    OnStep,
    check_on_step,
    gradient_step,
    log_step,
    progress_bar,
    training_session,
)


def _check_beta(beta: float, name: str = "beta") -> None:
    V.positive_number(name, beta)


# --- the closed form ---------------------------------------------------------------------------


def kl_optimal_policy(ref_probs: torch.Tensor, rewards: torch.Tensor,
                      beta: float) -> torch.Tensor:
    """pi* = argmax_pi E_pi[r] - beta KL(pi || pi_ref) over a finite set of responses (eq. OPT).

    pi*(y) = softmax(log pi_ref(y) + r(y) / beta) over the last dimension: ``ref_probs`` (..., N)
    are pi_ref's probabilities of the N responses (each row sums to 1; responses it never says
    keep probability 0), ``rewards`` (..., N) their rewards, ``beta`` > 0. Returns (..., N).
    """
    for name, t in (("ref_probs", ref_probs), ("rewards", rewards)):
        if not isinstance(t, torch.Tensor) or t.dim() == 0 or not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor (..., N), got "
                             f"{getattr(t, 'dtype', type(t).__name__)}")
    if ref_probs.shape != rewards.shape:
        raise ValueError(f"ref_probs and rewards must have the same shape, got "
                         f"{tuple(ref_probs.shape)} and {tuple(rewards.shape)}")
    _check_beta(beta)
    if bool((ref_probs < 0).any()) or not torch.allclose(
            ref_probs.sum(-1), torch.ones((), dtype=ref_probs.dtype), atol=1e-4):
        raise ValueError("ref_probs must be probabilities: >= 0, each row summing to 1")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite (found nan or inf)")
    return torch.softmax(ref_probs.log() + rewards / beta, dim=-1)  # log 0 = -inf stays 0


# --- the DPO loss --------------------------------------------------------------------------------


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor,
             beta: float = 0.1) -> torch.Tensor:
    """Mean over pairs of -log sigmoid(beta * ((pc - rc) - (pr - rr))) (eq. DPO): a scalar.

    Each argument (N,) holds, for each pair, the SUMMED log-probability log pi(y | x) of the
    whole chosen (``*_chosen_logps``) or rejected response under the policy (``policy_*``) or
    the reference (``ref_*``). The margin beta * (...) is the difference of the two implicit
    rewards; ``F.logsigmoid`` keeps the loss finite and exact at any margin (1e4 at -1e4, 0 at
    +1e4), where log(sigmoid(.)) would give inf.
    """
    args = {"policy_chosen_logps": policy_chosen_logps,
            "policy_rejected_logps": policy_rejected_logps,
            "ref_chosen_logps": ref_chosen_logps, "ref_rejected_logps": ref_rejected_logps}
    for name, t in args.items():
        if not isinstance(t, torch.Tensor) or t.dim() != 1 or not t.is_floating_point():
            raise ValueError(f"{name} must be a 1-d floating-point tensor (N,) of summed "
                             f"response log-probabilities, got shape "
                             f"{tuple(getattr(t, 'shape', ()))}")
    if len({t.shape for t in args.values()}) != 1:
        raise ValueError(f"the four log-probability tensors must have the same length (one "
                         f"value per pair), got {[tuple(t.shape) for t in args.values()]}")
    if policy_chosen_logps.shape[0] == 0:
        raise ValueError("no pairs: the DPO loss of an empty set is undefined")
    _check_beta(beta)
    chosen = policy_chosen_logps - ref_chosen_logps  # (N,) log pi_theta / pi_ref of y_c
    rejected = policy_rejected_logps - ref_rejected_logps  # (N,) of y_r
    return -F.logsigmoid(beta * (chosen - rejected)).mean()


def implicit_rewards(policy_logps: torch.Tensor, ref_logps: torch.Tensor,
                     beta: float) -> torch.Tensor:
    """beta * log(pi_theta(y | x) / pi_ref(y | x)), (N,): the reward for which pi_theta is the
    KL-optimal policy (eq. OPT), up to beta log Z(x), which no comparison can see."""
    _check_beta(beta)
    if policy_logps.shape != ref_logps.shape:
        raise ValueError(f"policy_logps and ref_logps must have the same shape, got "
                         f"{tuple(policy_logps.shape)} and {tuple(ref_logps.shape)}")
    return beta * (policy_logps - ref_logps)


# --- log pi(y | x) of whole responses --------------------------------------------------------


def response_logps(model, tokenizer, prompts: Sequence[str],
                   responses: Sequence[str]) -> torch.Tensor:
    """log pi(y | x) = sum_t log pi(y_t | x, y_<t) over each response and its ``<eos>``: (N,).

    With gradient (DPO trains through it); the same numbers as
    :func:`course_lib.evaluation.sequence_logprobs`, which computes them without.
    """
    from .sampling import token_logprobs
    from .sft import make_sft_batch

    if isinstance(prompts, str) or isinstance(responses, str):
        raise ValueError("prompts and responses must be lists of strings, not one string")
    if len(prompts) != len(responses) or not prompts:
        raise ValueError(f"prompts and responses must be non-empty and of the same length, "
                         f"got {len(prompts)} and {len(responses)}")
    device = next(model.parameters()).device
    batch = make_sft_batch(tokenizer, list(zip(prompts, responses)), device)
    logp = token_logprobs(model, batch["input_ids"], batch["attention_mask"])  # (N, T - 1)
    mask = batch["loss_mask"][:, 1:].to(logp.dtype)  # (N, T - 1): response tokens and <eos>
    return (logp * mask).sum(dim=1)  # (N,) summed, not averaged: eq. DPO needs log pi(y | x)


def _pair_logps(model, tokenizer, pairs: Sequence[Comparison]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log pi(y_c | x), log pi(y_r | x)), each (N,), in one batch of 2N rows."""
    n = len(pairs)
    logps = response_logps(model, tokenizer, [c.prompt for c in pairs] * 2,
                           [c.chosen for c in pairs] + [c.rejected for c in pairs])  # (2N,)
    return logps[:n], logps[n:]


@torch.no_grad()
def pair_logps(model, tokenizer, comparisons: Sequence[Comparison],
               batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """``(chosen, rejected)`` summed log-probabilities (N,) each, without gradient, on the
    CPU: e.g. the reference model's, computed once before training."""
    comparisons = check_comparisons(comparisons)
    was_training = model.training
    parts = [_pair_logps(model.eval(), tokenizer, comparisons[i:i + batch_size])
             for i in range(0, len(comparisons), batch_size)]
    model.train(was_training)
    return torch.cat([c for c, _ in parts]).cpu(), torch.cat([r for _, r in parts]).cpu()


# --- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPOConfig:
    """Settings of :func:`train_dpo`, one line each; checked when the config is built."""

    beta: float = 0.1  # the KL coefficient of eq. OPT: small beta lets the policy move far
    steps: int = 60  # optimizer steps
    batch_size: int = 16  # comparisons per step, drawn with replacement
    lr: float = 1e-4  # Adam learning rate (constant)
    max_grad_norm: float | None = 1.0  # clip the gradient's global norm (None: no clipping)
    seed: int = 0  # seeds the comparisons drawn each step

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size"),
                       positive_number=("beta", "lr"), non_negative_int=("seed",))
        if self.max_grad_norm is not None:
            V.positive_number("DPOConfig.max_grad_norm", self.max_grad_norm)


def train_dpo(policy, ref_policy, tokenizer, comparisons: Sequence[Comparison],
              config: DPOConfig | None = None, on_step: OnStep | None = None,
              progress: bool = True,
              ref_logps: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[Metrics]:
    """Minimize L_DPO on labelled ``comparisons`` (eq. DPO); return the history.

    ``ref_policy`` (the SFT model ``policy`` starts from) stays frozen: its log-probabilities
    of every comparison are computed once, before the first step (or passed as ``ref_logps``,
    :func:`pair_logps` of ``ref_policy``, when they are at hand already). Each step: draw
    ``batch_size`` comparisons, the policy's log pi(y | x) of their chosen and rejected
    responses in one batch (with gradient), the loss, one Adam step. No response is sampled.

    Logged per step (what ``on_step`` receives): ``step``, ``loss``, ``margin`` (the mean
    implicit reward margin beta * [(pc - rc) - (pr - rr)]), ``accuracy`` (fraction of the
    batch's pairs with a positive margin), ``chosen`` and ``rejected`` (mean implicit rewards),
    ``grad_norm`` (before clipping), ``time``. The same loop as every training loop of the
    course (:mod:`course_lib.training`): Ctrl-C stops cleanly with the weights of the last
    finished step and the history so far.
    """
    config = config or DPOConfig()
    if not isinstance(config, DPOConfig):
        raise ValueError(f"config must be a DPOConfig, got {type(config).__name__}")
    comparisons, on_step = check_comparisons(comparisons), check_on_step(on_step)
    if ref_policy is None or ref_policy is policy:
        raise ValueError("ref_policy must be a separate, frozen copy of the starting policy "
                         "(the SFT model), not None or the policy itself")
    if ref_logps is None:
        ref_logps = pair_logps(ref_policy, tokenizer, comparisons)  # (N,) each, once
    ref_chosen, ref_rejected = ref_logps
    if not ref_chosen.shape == ref_rejected.shape == (len(comparisons),):
        raise ValueError(f"ref_logps must be two ({len(comparisons)},) tensors, one value per "
                         f"comparison, got {tuple(ref_chosen.shape), tuple(ref_rejected.shape)}")
    device = next(policy.parameters()).device
    ref_chosen, ref_rejected = ref_chosen.to(device), ref_rejected.to(device)
    rng = random.Random(config.seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    history: list[Metrics] = []
    bar = progress_bar(config.steps, "DPO", progress)
    t0 = time.perf_counter()
    policy.train()
    with training_session("DPO", policy, history, bar):
        for step in bar:
            # 1. a batch of labelled pairs (no sampling: the data are fixed)
            idx = [rng.randrange(len(comparisons)) for _ in range(config.batch_size)]
            # 2. log pi_theta(y | x) of the chosen and rejected responses, with gradient
            pc, pr = _pair_logps(policy, tokenizer, [comparisons[i] for i in idx])  # (B,) each
            rc, rr = ref_chosen[idx], ref_rejected[idx]  # (B,) each, the reference's
            # 3. the loss (eq. DPO)
            loss = dpo_loss(pc, pr, rc, rr, config.beta)
            # 4. step
            grad_norm = gradient_step(policy, optimizer, loss, config.max_grad_norm)
            # 5. log: the implicit rewards of the batch
            with torch.no_grad():
                chosen = implicit_rewards(pc, rc, config.beta)  # (B,)
                rejected = implicit_rewards(pr, rr, config.beta)  # (B,)
                margin = chosen - rejected
            log_step(history, {"step": step, "loss": loss.item(), "margin": margin.mean().item(),
                               "accuracy": (margin > 0).float().mean().item(),
                               "chosen": chosen.mean().item(),
                               "rejected": rejected.mean().item(),
                               "grad_norm": grad_norm.item(), "time": time.perf_counter() - t0},
                     on_step, bar, shown=("loss", "margin"))
    return history


# --- DPO models, trained on demand and cached ----------------------------------------------------


_REF_LOGPS: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # the last reference's logps


def key_of_data(comparisons: Sequence[Comparison]) -> str:
    """Fingerprint of the SFT model's key and of every (prompt, chosen, rejected)."""
    import hashlib
    import json

    from .sft import sft_key

    rows = [[c.prompt, c.chosen, c.rejected] for c in check_comparisons(comparisons)]
    return hashlib.sha256(json.dumps([sft_key(), rows]).encode()).hexdigest()


def dpo_model_key(comparisons: Sequence[Comparison], config: DPOConfig | None = None) -> str:
    """Fingerprint of a model of :func:`load_dpo_model`: :func:`key_of_data` and the DPO
    settings. Any change gives a new key (and a retrain)."""
    import hashlib
    import json
    from dataclasses import asdict

    blob = json.dumps(["dpo", key_of_data(comparisons), asdict(config or DPOConfig())])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_dpo_model(comparisons: Sequence[Comparison], config: DPOConfig | None = None,
                   device: torch.device | str | None = None, progress: bool = True):
    """``(model, tokenizer, history)``: the course's SFT model trained with :func:`train_dpo`
    (``config``) on ``comparisons`` (e.g. lesson 06's training pairs), the SFT model as the
    reference. Trained on the CPU the first time, then loaded from the local cache
    (``$COURSE_CACHE``; safetensors + JSON, :func:`dpo_model_key`); interrupted: not cached."""
    import copy
    import json

    from .models import cache_model, is_cached, load_model
    from .settings import cache_dir, parse_device, set_seed
    from .sft import load_sft_model

    config = config or DPOConfig()
    if not isinstance(config, DPOConfig):
        raise ValueError(f"config must be a DPOConfig, got {type(config).__name__}")
    key = dpo_model_key(comparisons, config)
    path = cache_dir() / f"dpo-{key}"
    device = parse_device(device)
    if is_cached(path, key):
        model, tokenizer = load_model(path, device=device)
        return model, tokenizer, json.loads((path / "history.json").read_text())
    set_seed(0)
    ref, tokenizer = load_sft_model(device="cpu", progress=progress)
    policy = copy.deepcopy(ref)
    data_key = key_of_data(comparisons)  # two configs, one reference: compute its logps once
    if data_key not in _REF_LOGPS:
        _REF_LOGPS.clear()
        _REF_LOGPS[data_key] = pair_logps(ref, tokenizer, comparisons)
    history = train_dpo(policy, ref, tokenizer, comparisons, config, progress=progress,
                        ref_logps=_REF_LOGPS[data_key])
    if len(history) == config.steps:  # do not cache a half-trained model
        cache_model(policy, tokenizer, path, key, history)  # warns if the cache is unwritable
    return policy.to(device).eval(), tokenizer, history


__all__ = ["DPOConfig", "dpo_loss", "dpo_model_key", "implicit_rewards", "kl_optimal_policy",
           "load_dpo_model", "pair_logps", "response_logps", "train_dpo"]

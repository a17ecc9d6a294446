"""Gold reward against KL: every way of optimizing a learned reward on one chart (lesson 10).

Gao et al. (2022, "Scaling laws for reward model overoptimization") compare optimizers by the
gold reward each reaches at a given distance from the initial policy, measured as
d = sqrt(KL(pi || pi_init)) in sqrt-nats. Their fits of the gold *gain* R(d) (gold minus the
initial policy's gold) are

    best-of-n:  R_bon(d) = d (alpha - beta d)           (eq. GAO-BON)
    RL:         R_RL(d)  = d (alpha - beta log d)       (eq. GAO-RL)

- :func:`best_of_n_probs` and :func:`best_of_n_from_samples`: best-of-n *exactly*, over the
  empirical distribution of m samples per prompt, duplicates counted. Its KL from that
  distribution, sum_y Q(y) log(Q(y) / p(y)), is at most log n - (n - 1) / n (Beirami et al.,
  2024), and well below it when the samples repeat.
- :func:`score_distinct`: score samples with any ``reward_fn``, once per distinct response.
- :func:`fit_gao` -> :class:`GaoFit`: the least-squares fit of eq. GAO-BON or GAO-RL, its R^2
  and where it peaks.
- :func:`load_rl_run`: RL from the SFT model against the course's reward model or against the
  gold reward itself, read at held-out checkpoints; trained on demand and cached as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from . import preferences as P
from . import world as W
from .rlhf import best_of_n_kl

# --- best-of-n over the samples, duplicates counted ----------------------------------------------


def best_of_n_probs(probs: torch.Tensor, scores: torch.Tensor, n: int) -> torch.Tensor:
    """Q(y): the probability that best-of-n returns each of K distinct responses, (K,).

    ``probs`` (K,) is the distribution the n draws come from, ``scores`` (K,) what best-of-n
    maximizes. With the responses sorted by score and F the cumulative probability,
    Q = F(y)^n - F(y-)^n: all n draws score at most s(y), not all below it. Responses with equal
    scores share their level's Q in proportion to their probabilities (ties broken at random).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if probs.dim() != 1 or probs.shape != scores.shape or probs.numel() == 0:
        raise ValueError(f"probs and scores must be 1-d tensors of the same length (K,), got "
                         f"{tuple(probs.shape)} and {tuple(scores.shape)}")
    levels, level_of = torch.unique(scores.double(), sorted=True, return_inverse=True)  # (L,)
    p_level = torch.zeros(len(levels), dtype=torch.float64).index_add_(0, level_of,
                                                                        probs.double())  # (L,)
    F = p_level.cumsum(0).clamp(max=1.0)  # (L,) P(score <= level)
    F_below = torch.cat([F.new_zeros(1), F[:-1]])
    q_level = F ** n - F_below ** n  # (L,) P(the best of n draws is at this level)
    return q_level[level_of] * probs.double() / p_level[level_of]  # (K,)


def kl_divergence(q: torch.Tensor, p: torch.Tensor) -> float:
    """KL(q || p) = sum_y q(y) log(q(y) / p(y)) in nats, with 0 log 0 = 0."""
    keep = q > 0
    return float((q[keep] * (q[keep].log() - p[keep].double().log())).sum())


def best_of_n_from_samples(prompts: Sequence[str], texts: Sequence[str],
                           proxy: torch.Tensor, gold: torch.Tensor,
                           ns: Sequence[int]) -> list[dict[str, float]]:
    """Best-of-n for each n in ``ns``, exactly, on the empirical distribution of the samples.

    ``texts[i]`` was sampled for ``prompts[i]`` (several samples per prompt, any order), with
    reward-model score ``proxy[i]`` and gold score ``gold[i]``. For each prompt, its distinct
    responses get probability count / m (duplicates counted); best-of-n's distribution Q over
    them is :func:`best_of_n_probs`. One row per n, means over prompts: ``kl`` (the estimate,
    KL(Q || p)), ``kl_bound`` (log n - (n - 1) / n), ``proxy`` and ``gold`` (E_Q), ``n``.
    """
    if not (len(prompts) == len(texts) == len(proxy) == len(gold)) or not prompts:
        raise ValueError(f"prompts, texts, proxy and gold must be non-empty and of one length, "
                         f"got {len(prompts)}, {len(texts)}, {len(proxy)} and {len(gold)}")
    groups: dict[str, dict[str, list]] = {}
    for x, y, s, g in zip(prompts, texts, proxy.tolist(), gold.tolist()):
        groups.setdefault(x, {}).setdefault(y, [0, s, g])[0] += 1  # count, proxy, gold
    rows = []
    for n in ns:
        kl = prox = gld = 0.0
        for responses in groups.values():
            count, s, g = (torch.tensor(col, dtype=torch.float64)
                           for col in zip(*responses.values()))  # (K,) each
            p = count / count.sum()
            q = best_of_n_probs(p, s, n)
            kl += kl_divergence(q, p)
            prox += float((q * s).sum())
            gld += float((q * g).sum())
        k = len(groups)
        rows.append({"n": n, "kl": kl / k, "kl_bound": best_of_n_kl(n), "proxy": prox / k,
                     "gold": gld / k})
    return rows


def score_distinct(reward_fn, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """``reward_fn(prompts, responses)`` (B,), calling it once per *distinct* (prompt, response)
    pair: many samples repeat, and a reward model's forward pass is the expensive part."""
    if len(prompts) != len(responses) or not prompts:
        raise ValueError(f"prompts and responses must be non-empty and of the same length, "
                         f"got {len(prompts)} and {len(responses)}")
    pairs = list(dict.fromkeys(zip(prompts, responses)))
    scores = reward_fn([x for x, _ in pairs], [y for _, y in pairs])  # (U,)
    score_of = dict(zip(pairs, torch.as_tensor(scores, dtype=torch.float32).tolist()))
    return torch.tensor([score_of[xy] for xy in zip(prompts, responses)])  # (B,)


# --- Gao et al.'s functional forms ----------------------------------------------------------------

FORMS = ("best-of-n", "RL")


@dataclass(frozen=True)
class GaoFit:
    """A fit of the gold gain R(d), d = sqrt(KL): eq. GAO-BON (``form`` "best-of-n") or GAO-RL
    ("RL"), with its coefficient of determination ``r2`` on the points it was fit to."""

    form: str  # "best-of-n": R = d (alpha - beta d); "RL": R = d (alpha - beta log d)
    alpha: float  # the initial slope: gold gained per sqrt-nat at small d
    beta: float  # how fast the gain bends down (> 0: the curve has a peak)
    r2: float  # 1 - residual sum of squares / total sum of squares

    def __call__(self, d: torch.Tensor | float) -> torch.Tensor:
        d = torch.as_tensor(d, dtype=torch.float64).clamp(min=0)
        bend = d if self.form == "best-of-n" else torch.where(d > 0, d.clamp(min=1e-12).log(),
                                                              torch.zeros_like(d))
        return d * (self.alpha - self.beta * bend)

    def peak_kl(self) -> float:
        """The KL (nats) where the fitted gain is largest; inf when it never bends down."""
        if self.beta <= 0:
            return math.inf
        d = self.alpha / (2 * self.beta) if self.form == "best-of-n" else \
            math.exp(self.alpha / self.beta - 1)
        return max(d, 0.0) ** 2


def fit_gao(kl: Sequence[float], gain: Sequence[float], form: str) -> GaoFit:
    """Least-squares fit of ``gain`` (gold minus the initial policy's gold) against
    d = sqrt(``kl``) to eq. GAO-BON or GAO-RL (``form``), through the origin as the forms are
    (no gain at no distance). KL estimates below 0 (sampling noise near the start) count as 0."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if len(kl) != len(gain) or len(kl) < 3:
        raise ValueError(f"kl and gain need the same length, at least 3 points, got "
                         f"{len(kl)} and {len(gain)}")
    d = torch.tensor([max(float(k), 0.0) for k in kl], dtype=torch.float64).sqrt()  # (M,)
    y = torch.tensor([float(g) for g in gain], dtype=torch.float64)  # (M,)
    if form == "best-of-n":
        bend = d
    else:
        bend = torch.where(d > 0, d.clamp(min=1e-12).log(), torch.zeros_like(d))
    X = torch.stack([d, -d * bend], dim=1)  # (M, 2): R = alpha * d - beta * d * bend
    coef = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
    residual = y - X @ coef
    total = y - y.mean()
    r2 = 1.0 - float(residual @ residual) / max(float(total @ total), 1e-12)
    return GaoFit(form, float(coef[0]), float(coef[1]), r2)


# --- RL runs read at held-out checkpoints, cached -------------------------------------------------

RL_PROMPTS = {"split": "rl", "seed": 0}  # lesson 07's RL questions (world.rl_fact_prompts)
EVAL_PROMPTS = {"splits": ("test",), "seed": 1}  # lesson 06's held-out questions
REWARDS = ("reward_model", "gold")


def rl_run_key(reward: str, config, checkpoints: Sequence[int], n_samples: int,
               seed: int) -> str:
    """Fingerprint of an RL run of :func:`load_rl_run`: the SFT model's key, the reward (with
    the course reward model's key when it is the reward), the gold rater's table, the prompts,
    the sampler, the RL settings and how it is evaluated. Any change gives a new key (and a
    rerun)."""
    import hashlib
    import json

    from .reward_model import reward_model_key
    from .sampling import SAMPLER
    from .sft import sft_key

    gold = [list(map(str, k)) + [v] for k, v in P.GOLD_TABLE.items()]
    rm_key = reward_model_key() if reward == "reward_model" else None
    blob = json.dumps([sft_key(), reward, rm_key, gold, P.RAMBLE_COST, RL_PROMPTS, EVAL_PROMPTS,
                       SAMPLER, asdict(config), list(checkpoints), n_samples, seed])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_rl_run(reward: str, config, checkpoints: Sequence[int], n_samples: int = 2,
                seed: int = 0, progress: bool = True) -> dict[str, list[dict[str, float]]]:
    """RL (``train_reinforce``, ``config``) from the course's SFT model on lesson 07's RL
    questions, against ``reward`` = "reward_model" (lesson 06's, via
    :func:`~course_lib.rlhf.train_against_reward_model`) or "gold" (the rater itself: what a
    perfect reward model would allow). Returns ``{"rows": ..., "history": ...}``: the held-out
    checkpoint rows (:class:`~course_lib.rlhf.HeldOutCheckpoints` at step 0 and after each step
    in ``checkpoints``: ``step``, ``kl``, ``gold``) and the per-step training history (with the
    training batches' ``proxy`` and ``gold`` for the reward-model run).

    Trained the first time and cached as JSON in ``$COURSE_CACHE`` (``rl-run-<key>.json``,
    :func:`rl_run_key`); an interrupted run is not cached.
    """
    import copy
    import json
    import os

    from . import reward_model as RM
    from .policy_gradient import ReinforceConfig, train_reinforce
    from .rlhf import HeldOutCheckpoints, train_against_reward_model
    from .settings import cache_dir, set_seed
    from .sft import load_sft_model

    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    if not isinstance(config, ReinforceConfig):
        raise ValueError(f"config must be a ReinforceConfig, got {type(config).__name__}")
    steps = sorted(set(checkpoints))
    if not steps or any(not isinstance(s, int) or not 1 <= s <= config.steps for s in steps):
        raise ValueError(f"checkpoints must be steps from 1 to config.steps = {config.steps}, "
                         f"got {list(checkpoints)!r}")
    key = rl_run_key(reward, config, steps, n_samples, seed)
    path = cache_dir() / f"rl-run-{key}.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return {"rows": cached["rows"], "history": cached["history"]}
    set_seed(0)
    ref, tokenizer = load_sft_model(device="cpu", progress=progress)
    policy = copy.deepcopy(ref)
    rm = RM.load_reward_model(device="cpu", progress=progress)[0] if reward == "reward_model" \
        else None
    prompts = W.rl_fact_prompts(RL_PROMPTS["split"], seed=RL_PROMPTS["seed"])
    held_out = P.comparison_prompts(EVAL_PROMPTS["splits"], seed=EVAL_PROMPTS["seed"])
    tracker = HeldOutCheckpoints(policy, ref, tokenizer, held_out, n_samples=n_samples,
                                 seed=seed)  # gold and KL (the proxy is in the history)
    tracker.evaluate(0)

    def on_step(metrics: dict[str, float]) -> None:
        if int(metrics["step"]) + 1 in steps:
            tracker.evaluate(int(metrics["step"]) + 1)

    if reward == "reward_model":
        history, _ = train_against_reward_model(policy, ref, tokenizer, prompts, rm, config,
                                                on_step=on_step, progress=progress)
    else:
        history = train_reinforce(policy, ref, tokenizer, prompts, P.gold_reward, config,
                                  on_step=on_step, progress=progress)
    if len(history) == config.steps:  # do not cache an interrupted run
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}-{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "rows": tracker.rows, "history": history}))
        os.replace(tmp, path)  # atomic: a half-written file is never read
    return {"rows": tracker.rows, "history": history}


__all__ = ["EVAL_PROMPTS", "FORMS", "GaoFit", "REWARDS", "RL_PROMPTS", "best_of_n_from_samples",
           "best_of_n_probs", "fit_gao", "kl_divergence", "load_rl_run", "rl_run_key",
           "score_distinct"]

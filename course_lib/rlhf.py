"""RL against a learned reward model, and how it breaks (lesson 07).

A reward model r_phi (lesson 06) is a *proxy* for the rater's judgment. RL maximizes

    J(theta) = E_x E_{y ~ pi_theta}[ r_phi(x, y) ] - beta * KL(pi_theta || pi_ref),

and the course watches what it cannot see in a real pipeline: the *gold* score g(x, y) of the
same responses (:func:`course_lib.preferences.gold_score`, the hidden rater). While the policy
learns what r_phi gets right, both rise; once it learns what r_phi gets wrong, the proxy keeps
rising and the gold falls (reward over-optimization, or reward hacking).

- :func:`kl_penalized_rewards`: the per-token form of the penalized reward (Ziegler et al.,
  2019; Stiennon et al., 2020; InstructGPT kept it): -beta (log pi_theta(y_t | ...) -
  log pi_ref(y_t | ...)) at every response token, and the reward model's score added at the
  last one. Its sum over tokens is r_phi - beta * KL_i: the
  very function :func:`~course_lib.policy_gradient.train_reinforce` calls with
  ``config.beta > 0`` (defined in :mod:`course_lib.policy_gradient`, next to that loop).
- :class:`ProxyAndGold`: a :data:`~course_lib.rewards.RewardFn` that returns r_phi's scores and
  records, per step, the gold score of the very same responses (and the responses themselves).
- :func:`train_against_reward_model`: ``train_reinforce`` with that reward; each step's metrics
  gain ``proxy``, ``gold`` and ``off_topic`` (answers about a country nobody asked about).
- :func:`best_of_n`: the no-training baseline. Sample n responses, keep the one r_phi likes
  best; its KL from the policy it samples is at most log n - (n - 1) / n (:func:`best_of_n_kl`),
  a bound that is tight only when samples rarely repeat (lesson 10 estimates it from the samples).
- :func:`evaluate_policy` and :class:`HeldOutCheckpoints`: gold, proxy and KL of a policy's
  sampled responses to *held-out* prompts, at checkpoints while it trains: where the gold peaks
  is read from these, not from the noisy training batches.
- :func:`moving_average` and :func:`peak_and_end`: read a noisy curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from . import preferences as P
from . import reward_model as RM
from . import validation as V
from .formats import asked_country, named_country
from .policy_gradient import kl_penalized_rewards
from .training import Metrics, OnStep

# --- proxy and gold, side by side ---------------------------------------------------------------


def off_topic(prompt: str, response: str) -> bool:
    """True if the response states the capital of a country other than the one asked about."""
    asked, named = asked_country(prompt), named_country(response)
    return bool(asked and named and asked != named)


@dataclass
class ProxyAndGold:
    """A reward function that scores with the reward model and watches the gold rater.

    Call it like any reward: it returns r_phi(x, y), shape (B,). Each call (one per RL step)
    also appends the batch's mean proxy score, mean gold score and off-topic rate, and keeps
    the step's prompts, responses and both scores in ``samples`` (a few KB per step).
    """

    reward_model: torch.nn.Module
    tokenizer: object
    proxy: list[float] = field(default_factory=list)
    gold: list[float] = field(default_factory=list)
    off_topic: list[float] = field(default_factory=list)
    samples: list[list[tuple[str, str, float, float]]] = field(default_factory=list)

    def __call__(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        scores = RM.score(self.reward_model, self.tokenizer, prompts, responses)  # (B,)
        gold = P.gold_reward(prompts, responses)  # (B,): never shown to the policy
        self.proxy.append(scores.mean().item())
        self.gold.append(gold.mean().item())
        self.off_topic.append(sum(map(off_topic, prompts, responses)) / len(prompts))
        self.samples.append(list(zip(prompts, responses, scores.tolist(), gold.tolist())))
        return scores


def train_against_reward_model(policy, ref_policy, tokenizer, prompts: Sequence[str],
                               reward_model, config, on_step: OnStep | None = None,
                               progress: bool = True) -> tuple[list[Metrics], ProxyAndGold]:
    """RL (``train_reinforce``) with r_phi as the reward; returns ``(history, tracker)``.

    Each step's metrics (in the history and in what ``on_step`` sees) gain ``proxy`` (mean
    r_phi, the reward RL maximizes, before the KL penalty), ``gold`` (mean gold score of the
    same responses) and ``off_topic`` (share of responses about another country). The
    ``tracker`` (:class:`ProxyAndGold`) keeps every step's responses with both scores.
    """
    from .policy_gradient import train_reinforce

    tracker = ProxyAndGold(reward_model, tokenizer)

    def step(metrics: Metrics) -> None:
        i = int(metrics["step"])
        metrics.update(proxy=tracker.proxy[i], gold=tracker.gold[i],
                       off_topic=tracker.off_topic[i])  # the history holds this same dict
        if on_step is not None:
            on_step(metrics)

    history = train_reinforce(policy, ref_policy, tokenizer, prompts, tracker, config,
                              on_step=step, progress=progress)
    return history, tracker


# --- best-of-n: the baseline without training ------------------------------------------------


def best_of_n_kl(n: int) -> float:
    """log n - (n - 1) / n (in nats): the standard analytic value of KL(best-of-n || pi), an
    upper bound on it (Beirami et al., 2024), reached only in the limit where no two samples
    are ever the same response. When samples repeat (a language model says its likeliest
    answers again and again) the true KL is smaller; lesson 10 estimates it from the samples."""
    V.positive_int("n", n)
    return math.log(n) - (n - 1) / n


def best_of_n(policy, tokenizer, prompts: Sequence[str], reward_model,
              ns: Sequence[int] = (1, 2, 4, 8, 16), seed: int = 0,
              temperature: float = 1.0) -> list[dict[str, float]]:
    """Best-of-n sampling against r_phi, for each n in ``ns``: one row per n with ``n``,
    ``kl`` (the upper bound :func:`best_of_n_kl`), ``proxy`` and ``gold`` (means over prompts
    of the chosen response's scores).

    ``max(ns)`` responses are sampled per prompt once; for each n they are cut into
    ``max(ns) // n`` disjoint groups of n, and every group contributes its r_phi-best response,
    so small n are averaged over more draws. Every n must divide ``max(ns)``.
    """
    from .sampling import sample_texts

    prompts = V.texts("prompts", prompts)
    ns = list(ns)
    if not ns or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in ns):
        raise ValueError(f"ns must be a non-empty list of positive ints, got {ns!r}")
    n_max = max(ns)
    if any(n_max % n for n in ns):
        raise ValueError(f"every n must divide the largest, {n_max}; got ns = {ns}")
    gen = torch.Generator().manual_seed(seed)
    repeated = [p for p in prompts for _ in range(n_max)]
    texts = sample_texts(policy, tokenizer, repeated, temperature=temperature, generator=gen)
    proxy = RM.score(reward_model, tokenizer, repeated, texts).view(len(prompts), n_max)
    gold = P.gold_reward(repeated, texts).view(len(prompts), n_max)
    rows = []
    for n in sorted(ns):
        groups_p = proxy.view(len(prompts), n_max // n, n)  # (prompts, groups, n)
        best = groups_p.argmax(dim=2, keepdim=True)
        chosen_gold = gold.view(len(prompts), n_max // n, n).gather(2, best)
        rows.append({"n": n, "kl": best_of_n_kl(n),
                     "proxy": groups_p.gather(2, best).mean().item(),
                     "gold": chosen_gold.mean().item()})
    return rows


# --- held-out checkpoints: where the gold really peaks ------------------------------------------


@torch.no_grad()
def evaluate_policy(policy, ref_policy, tokenizer, prompts: Sequence[str], reward_model=None,
                    n_samples: int = 2, seed: int = 0) -> dict[str, float]:
    """Sample ``n_samples`` responses to each prompt from ``policy`` (T = 1, seeded) and return
    their mean ``gold`` score, their mean ``kl`` = KL_y = sum_t [log pi_theta(y_t | ...) -
    log pi_ref(y_t | ...)] (an unbiased estimate of KL(pi_theta || pi_ref): one sample of it can
    be negative, its expectation cannot), and with a ``reward_model`` their mean ``proxy``.

    Meant for *held-out* prompts the policy does not train on, with the same ``seed`` at every
    checkpoint, so that two checkpoints differ by what the policy learned, not by the draw.
    """
    from .engine import fast_sample, fast_token_logprobs

    prompts = V.texts("prompts", prompts)
    V.positive_int("n_samples", n_samples)
    repeated = [p for p in prompts for _ in range(n_samples)]
    rollout = fast_sample(policy, tokenizer, repeated,
                          generator=torch.Generator().manual_seed(seed))  # T = 1
    ref_policy.eval()
    ref_logprobs = fast_token_logprobs(ref_policy, rollout, 1.0, entropy=False)[0]  # (B, R)
    mask = rollout.response_mask.to(rollout.logprobs.dtype)  # (B, R)
    out = {"kl": ((rollout.logprobs - ref_logprobs) * mask).sum(dim=1).mean().item(),
           "gold": P.gold_reward(rollout.prompts, rollout.texts).mean().item()}
    if reward_model is not None:
        out["proxy"] = RM.score(reward_model, tokenizer, rollout.prompts,
                                rollout.texts).mean().item()
    return out


@dataclass
class HeldOutCheckpoints:
    """An ``on_step`` hook that evaluates the training policy on held-out prompts every
    ``every`` steps (:func:`evaluate_policy`); ``rows`` holds one dict per checkpoint: ``step``
    (optimizer steps done), ``kl``, ``gold`` (and ``proxy``). Call :meth:`evaluate` with 0
    before training to record the starting point."""

    policy: torch.nn.Module = field(repr=False)
    ref_policy: torch.nn.Module = field(repr=False)
    tokenizer: object = field(repr=False)
    prompts: Sequence[str] = field(repr=False)
    reward_model: torch.nn.Module | None = field(default=None, repr=False)
    every: int = 10  # steps between two checkpoints
    n_samples: int = 2  # responses per held-out prompt
    seed: int = 0  # the same draw at every checkpoint
    rows: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        V.positive_int("every", self.every)
        V.positive_int("n_samples", self.n_samples)

    def evaluate(self, steps_done: int) -> dict[str, float]:
        row = {"step": float(steps_done), **evaluate_policy(
            self.policy, self.ref_policy, self.tokenizer, self.prompts, self.reward_model,
            self.n_samples, self.seed)}
        self.rows.append(row)
        return row

    def __call__(self, metrics: Metrics) -> None:
        done = int(metrics["step"]) + 1  # the hook runs after the step's update
        if done % self.every == 0:
            self.evaluate(done)


# --- reading noisy curves ------------------------------------------------------------------------


def moving_average(values: Sequence[float], window: int = 10) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    V.positive_int("window", window)
    out, total = [], 0.0
    values = [float(v) for v in values]
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def peak_and_end(history: Sequence[dict[str, float]], key: str = "gold", window: int = 10,
                 also: Sequence[str] = ("proxy", "kl")) -> dict[str, float]:
    """Where the smoothed ``key`` curve peaks and where it ends.

    Returns ``peak_step``, ``peak``, ``end``, ``drop`` (= peak - end) of the trailing moving
    average of ``key``, and for each name in ``also`` its smoothed value at the peak and at the
    end (``proxy_at_peak``, ``proxy_at_end``, ...). The first ``window - 1`` steps, averaged
    over fewer values, are not candidates for the peak. ``peak_step`` is the ``step`` entry of
    the peak's row (its position when rows have none); with ``window=1`` this reads
    :class:`HeldOutCheckpoints` rows as they are.
    """
    if not history:
        raise ValueError("history is empty: train first")
    missing = [k for k in (key, *also) if k not in history[0]]
    if missing:
        raise ValueError(f"history has no {missing}: it has {sorted(history[0])}")
    curve = moving_average([h[key] for h in history], window)
    start = min(window - 1, len(curve) - 1)
    peak = max(range(start, len(curve)), key=curve.__getitem__)
    out = {"peak_step": float(history[peak].get("step", peak)), "peak": curve[peak],
           "end": curve[-1], "drop": curve[peak] - curve[-1]}
    for name in also:
        other = moving_average([h[name] for h in history], window)
        out[f"{name}_at_peak"], out[f"{name}_at_end"] = other[peak], other[-1]
    return out


__all__ = ["HeldOutCheckpoints", "ProxyAndGold", "best_of_n", "best_of_n_kl", "evaluate_policy",
           "kl_penalized_rewards", "moving_average", "off_topic", "peak_and_end",
           "train_against_reward_model"]

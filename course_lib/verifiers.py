"""The outcome and process reward models of lesson 11: verifiers of worked sums.

Two verifiers (:class:`Verifier`), both the SFT model reading its own confidence, with a
logistic head w * f + c fit to labels by one plain loop (:func:`train_verifier`) on the SFT
model's own samples on training problems (:func:`verifier_samples`), labelled by the exact
step checker of :mod:`course_lib.process_rewards`:

- the **outcome reward model** (ORM) gives one score per response, from the log-probability
  of the whole response, f = log pi_SFT(y | x), trained with binary cross-entropy on the
  outcome: r_ORM(x, y) = sigmoid(w f + c) ~ P(answer right | x, y);
- the **process reward model** (PRM) gives one score per step, from the log-probability of
  that step's tokens, f_k = sum of log pi_SFT(y_t | x, y_<t) over them (the running total it
  copies, the term it adds, the number it writes), trained with binary cross-entropy on the
  checker's step labels: p_k = sigmoid(w f_k + c) ~ P(step k right | x, y_<=k).

The body stays the SFT model's. In trials while this module was built (with the digits each
step writes as the feature), fine-tuning the body as well (Adam at 1e-4, 100 steps) was no
better on held-out step accuracy (0.918 against 0.923) at three times the cost, and a
``GPT2ForTokenClassification`` head trained from scratch at the steps' ends for 150 steps
learned nothing (0.68, the share of right steps).

:func:`prm_scores` aggregates the step scores into a response score
(:func:`course_lib.process_rewards.aggregate`); :func:`prm_process_reward` turns them into
per-step rewards for RL (``train_reinforce(..., process_reward_fn=...)``). :func:`load_verifiers`
trains both verifiers once and caches their heads.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from . import validation as V
from .process_rewards import (
    aggregate,
    check_response,
    outcome,
    step_end_positions,
    step_token_rewards,
    terms_of,
)
from .reward_model import encode
from .rewards import check_pairs
from .sampling import Rollout
from .training import (
    Metrics,
    check_on_step,
    gradient_step,
    log_step,
    progress_bar,
    training_session,
)

# --- the two verifiers ----------------------------------------------------------------------------


class Verifier(torch.nn.Module):
    """An outcome (``kind="orm"``) or process (``kind="prm"``) reward model: a copy of the SFT
    model that reads its own confidence, and a logistic head ``w * f + c`` on it.

    f_k = sum of log pi(token | x, y_<t) over the tokens of step k (the running total it copies,
    the term it adds, the number it writes), under this model; the PRM's logit for step k is
    w * f_k + c; the ORM, which
    knows nothing of steps, has one logit per response, w * log pi(y | x) + c (the log-prob of
    the whole response). The body is frozen: only the head (w, c) is trained.
    """

    def __init__(self, lm: PreTrainedModel, kind: str, w: float = 1.0, c: float = 0.0):
        super().__init__()
        V.one_of("kind", kind, ("orm", "prm"))
        self.lm, self.kind = lm.requires_grad_(False), kind
        self.head = torch.nn.Parameter(torch.tensor([float(w), float(c)]))

    def forward(self, tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
                responses: Sequence[str]) -> list[torch.Tensor]:
        """The logits of each response, with gradient: (1,) for the ORM, (K_i,) for the PRM
        (empty for a response that is not a finished worked sum)."""
        device = self.head.device
        ids, mask = encode(tokenizer, prompts, responses, device)  # (B, T) right-padded
        logits = self.lm(input_ids=ids, attention_mask=mask).logits.float()  # (B, T, V)
        logp = torch.log_softmax(logits[:, :-1], -1).gather(2, ids[:, 1:, None])[..., 0]
        logp = F.pad(logp * mask[:, 1:], (1, 0))  # (B, T): log pi of token t (0 at <bos>)
        w, c = self.head
        out = []
        for i, (x, y) in enumerate(zip(prompts, responses)):
            start = len(tokenizer(x)["input_ids"])
            if self.kind == "orm":
                out.append((w * logp[i, start:].sum() + c)[None])
                continue
            spans = step_spans(tokenizer, ids[i], start, check_response(x, y))
            out.append(torch.stack([w * logp[i, a:b].sum() + c for a, b in spans])
                       if spans else logp.new_zeros(0))
        return out


def step_spans(tokenizer: PreTrainedTokenizerFast, ids: torch.Tensor, start: int,
               labels: list[bool] | None) -> list[tuple[int, int]]:
    """``[(a, b), ...]``: positions a..b-1 in ``ids`` of the tokens of each step (``"46 + 56 =
    102"``: the running total it copies, the term, the number it writes; not the ``","`` or
    ``"."`` that ends it), from the response's first token ``start`` on; [] when the response
    is not a finished worked sum (``labels`` None)."""
    if not labels:
        return []
    ends = step_end_positions(tokenizer, ids, start, len(labels))
    if len(ends) != len(labels):
        return []
    return list(zip([start] + [e + 1 for e in ends[:-1]], ends))


def build_verifier(sft_model: PreTrainedModel, kind: str) -> Verifier:
    """A verifier of ``kind`` ("orm" or "prm") on a copy of the SFT model (head w = 1, c = 0)."""
    import copy

    return Verifier(copy.deepcopy(sft_model), kind).eval()


def _scores(verifier: Verifier, tokenizer, prompts, responses, batch_size=512):
    check_pairs(prompts, responses)
    was_training, out = verifier.training, []
    verifier.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(prompts), batch_size):
                out += [torch.sigmoid(z).cpu() for z in verifier(
                    tokenizer, prompts[i:i + batch_size], responses[i:i + batch_size])]
    finally:
        verifier.train(was_training)
    return out


def step_scores(prm: Verifier, tokenizer: PreTrainedTokenizerFast,
                prompts: Sequence[str], responses: Sequence[str]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """p_k = P(step k right) for every response: ``(scores, mask)``, each (B, K), K the most
    steps of any response, mask 1 on real steps; no gradient."""
    per_response = _scores(prm, tokenizer, prompts, responses)
    K = max(1, max(len(p) for p in per_response))
    scores, mask = torch.zeros(len(per_response), K), torch.zeros(len(per_response), K)
    for i, p in enumerate(per_response):
        scores[i, :len(p)], mask[i, :len(p)] = p, 1.0
    return scores, mask


def orm_scores(orm: Verifier, tokenizer: PreTrainedTokenizerFast,
               prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """r_ORM(x, y) = P(answer right | x, y) of every response: (B,), no gradient."""
    return torch.cat(_scores(orm, tokenizer, prompts, responses))


def prm_scores(prm: Verifier, tokenizer: PreTrainedTokenizerFast,
               prompts: Sequence[str], responses: Sequence[str], how: str = "min"
               ) -> torch.Tensor:
    """The PRM's score of every response, its step scores aggregated (:func:`aggregate`): (B,)."""
    return aggregate(*step_scores(prm, tokenizer, prompts, responses), how)


# --- training -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifierConfig:
    """How :func:`train_verifier` trains the ORM or the PRM; checked when the config is built."""

    steps: int = 100  # optimizer steps
    batch_size: int = 32  # responses per step
    lr: float = 0.05  # Adam learning rate of the head (w, c)
    seed: int = 0  # seeds the responses drawn each step

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size"),
                       positive_number=("lr",),
                       non_negative_int=("seed",))


def train_verifier(verifier: Verifier, tokenizer: PreTrainedTokenizerFast,
                   prompts: Sequence[str], responses: Sequence[str],
                   labels: Sequence[Sequence[float]], config: VerifierConfig | None = None,
                   on_step=None, progress: bool = True) -> list[Metrics]:
    """Minimize the binary cross-entropy of the verifier's logits against ``labels``.

    ``labels[i]`` holds one 0/1 label per logit of response i: its outcome (one, for the ORM)
    or its step labels (for the PRM). Each step: draw a batch of responses, their logits, the
    mean BCE over all of the batch's logits, step, log ``step``, ``loss``, ``accuracy`` (logit
    > 0 agrees with the label). Ctrl-C keeps the weights of the last finished step and the
    history.
    """
    config = config or VerifierConfig()
    if not isinstance(config, VerifierConfig):
        raise ValueError(f"config must be a VerifierConfig, got {type(config).__name__}")
    if not isinstance(verifier, Verifier):
        raise ValueError(f"verifier must be a Verifier (build_verifier), got "
                         f"{type(verifier).__name__}")
    if check_pairs(prompts, responses) == 0 or len(labels) != len(prompts):
        raise ValueError(f"need as many labels as responses ({len(prompts)}), got {len(labels)}")
    on_step = check_on_step(on_step)
    rng = random.Random(config.seed)
    opt = torch.optim.Adam([verifier.head], lr=config.lr)
    history: list[Metrics] = []
    verifier.train()
    bar = progress_bar(config.steps, f"{verifier.kind.upper()}", progress)
    with training_session("verifier training", verifier, history, bar):
        for step in bar:
            # 1. a batch of responses and their labels
            rows = [rng.randrange(len(prompts)) for _ in range(config.batch_size)]
            z = torch.cat(verifier(tokenizer, [prompts[i] for i in rows],
                                   [responses[i] for i in rows]))  # (N,) every logit
            y = torch.tensor([v for i in rows for v in labels[i]], dtype=z.dtype, device=z.device)
            # 2. the loss: binary cross-entropy
            loss = F.binary_cross_entropy_with_logits(z, y)
            # 3. step
            gradient_step(verifier, opt, loss)
            # 4. log
            log_step(history, {"step": step, "loss": loss.item(),
                               "accuracy": ((z.detach() > 0) == (y > 0.5)).float().mean().item()},
                     on_step, bar)
    verifier.eval()
    return history


# --- a process reward for RL ---------------------------------------------------------------


def prm_process_reward(prm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast
                       ) -> Callable[[Rollout], torch.Tensor]:
    """A process reward for RL: step k of a response to a sum of n terms earns
    p_k / (n - 1) (the PRM's probability that it is right) at its last token, so a response
    whose n - 1 steps are all right earns about 1, as the outcome reward would."""

    def process_reward(rollout: Rollout) -> torch.Tensor:
        scores, mask = step_scores(prm, tokenizer, rollout.prompts, rollout.texts)  # (B, K)
        per_step = [[float(s) / (len(terms_of(x)) - 1) for s, m in zip(row, mrow) if m > 0]
                    for x, row, mrow in zip(rollout.prompts, scores, mask)]
        return step_token_rewards(tokenizer, rollout, per_step)

    return process_reward


# --- the course's verifiers, trained on demand and cached -----------------------------------------


@dataclass(frozen=True)
class VerifierData:
    """Which samples of the SFT model the verifiers learn from; checked when built."""

    n_problems: int = 256  # training sums of four terms (world.chain_problems("train", ...))
    samples_per_problem: int = 4  # responses sampled from the SFT model per problem
    temperature: float = 1.0  # sampling temperature
    max_new_tokens: int = 40  # longest response
    seed: int = 0  # seeds the problems and the sampling

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("n_problems", "samples_per_problem",
                                           "max_new_tokens"),
                       positive_number=("temperature",), non_negative_int=("seed",))


def verifier_samples(policy, tokenizer, data: VerifierData | None = None
                     ) -> tuple[list[str], list[str]]:
    """``(prompts, responses)``: the SFT model's worked sums on training problems."""
    from .engine import fast_sample
    from .world import chain_problems, chain_question

    data = data or VerifierData()
    prompts = [chain_question(t) for t in chain_problems("train", data.n_problems, 4, data.seed)
               for _ in range(data.samples_per_problem)]
    g = torch.Generator().manual_seed(data.seed)
    responses = []
    for i in range(0, len(prompts), 512):
        responses += fast_sample(policy, tokenizer, prompts[i:i + 512], data.max_new_tokens,
                                 data.temperature, generator=g).texts
    return prompts, responses


def verifier_labels(kind: str, prompts: Sequence[str], responses: Sequence[str]
                    ) -> tuple[list[str], list[str], list[list[float]]]:
    """The training set of a verifier: every response with its outcome (ORM), or the finished
    worked sums with their step labels (PRM)."""
    V.one_of("kind", kind, ("orm", "prm"))
    if kind == "orm":
        return list(prompts), list(responses), [[float(outcome(p, r))]
                                                for p, r in zip(prompts, responses)]
    rows = [(p, r, check_response(p, r)) for p, r in zip(prompts, responses)]
    rows = [(p, r, [float(v) for v in lab]) for p, r, lab in rows if lab]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


FEATURES = "orm: response log-prob; prm: step log-prob/1"  # names what the heads read: bump it
# when Verifier.forward changes, so that heads fit to other features are never loaded


def verifier_key(data: VerifierData, config: VerifierConfig) -> str:
    """Fingerprint of the cached verifiers: the features they read, the SFT model's key, the
    sampler, the data recipe and the training settings."""
    import hashlib
    import json
    from dataclasses import asdict

    from .sampling import SAMPLER
    from .sft import sft_key

    blob = json.dumps([FEATURES, sft_key(), SAMPLER, asdict(data), asdict(config)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_verifiers(data: VerifierData | None = None, config: VerifierConfig | None = None,
                   device=None, progress: bool = True
                   ) -> tuple[Verifier, Verifier, PreTrainedTokenizerFast, dict[str, list]]:
    """``(orm, prm, tokenizer, histories)``: the course's two verifiers, in eval mode.

    Trained on the CPU the first time (the SFT model's samples, :func:`verifier_samples`,
    labelled by :func:`verifier_labels`, then :func:`train_verifier` for each: about half a
    minute on two cores), then their heads (the body is the shipped SFT model) and training
    histories are read from the cache (``$COURSE_CACHE`` or ``~/.cache/course_lib``).
    """
    import json

    from .settings import cache_dir, parse_device, set_seed
    from .sft import load_sft_model

    data, config = data or VerifierData(), config or VerifierConfig()
    if not isinstance(data, VerifierData):
        raise ValueError(f"data must be a VerifierData, got {type(data).__name__}")
    if not isinstance(config, VerifierConfig):
        raise ValueError(f"config must be a VerifierConfig, got {type(config).__name__}")
    device = parse_device(device)
    key = verifier_key(data, config)
    path = cache_dir() / f"verifiers-{key}.json"
    policy, tokenizer = load_sft_model(device="cpu", progress=progress)
    verifiers = {kind: build_verifier(policy, kind) for kind in ("orm", "prm")}
    try:
        saved = json.loads(path.read_text())
        assert saved["key"] == key and all(len(saved[k]["head"]) == 2 for k in verifiers)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        saved = None
    if saved is None:
        if progress:
            print(f"Training the outcome and process reward models (first use; then cached in "
                  f"{cache_dir()}): sampling the SFT model's worked sums...")
        set_seed(data.seed)
        prompts, responses = verifier_samples(policy, tokenizer, data)
        saved = {"key": key}
        for kind, verifier in verifiers.items():
            history = train_verifier(verifier, tokenizer,
                                     *verifier_labels(kind, prompts, responses), config,
                                     progress=progress)
            saved[kind] = {"head": verifier.head.tolist(), "history": history}
        if all(len(saved[k]["history"]) == config.steps for k in verifiers):
            try:  # an interrupted training is not cached; an unwritable cache only warns
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(saved))
            except OSError as err:
                import warnings

                warnings.warn(f"the verifiers could not be cached in {path} ({err}); set "
                              "COURSE_CACHE to a folder you can write", stacklevel=2)
    for kind, verifier in verifiers.items():
        with torch.no_grad():
            verifier.head.copy_(torch.tensor(saved[kind]["head"]))
        verifier.to(device).eval()
    return (verifiers["orm"], verifiers["prm"], tokenizer,
            {k: saved[k]["history"] for k in verifiers})


__all__ = ["FEATURES", "Verifier", "VerifierConfig", "VerifierData", "build_verifier",
           "load_verifiers", "orm_scores", "prm_process_reward", "prm_scores", "step_scores",
           "step_spans", "train_verifier", "verifier_key", "verifier_labels",
           "verifier_samples"]

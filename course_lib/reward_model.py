"""A reward model r_phi(x, y) learned from comparisons (lesson 06).

The reward model is the course's tiny GPT-2 with its language-model head replaced by one number:
a ``transformers`` ``GPT2ForSequenceClassification`` with ``num_labels=1``, whose transformer
body starts from the SFT model's weights (it has read the tiny world and seen its answers). It reads
``<bos> prompt response <eos>`` and its score is the output at the ``<eos>`` token.

Trained on pairs where ``chosen`` was preferred to ``rejected``, with the Bradley-Terry loss

    L_BT(phi) = - E[ log sigmoid(r_phi(x, y_chosen) - r_phi(x, y_rejected)) ],

the negative log-likelihood of the labels if P(chosen > rejected) = sigmoid(r_chosen - r_rejected).

Inputs are padded on the RIGHT (``GPT2ForSequenceClassification`` reads the last token that is
not ``<pad>``, and with right padding the default position ids are the right ones), so a score
does not depend on the batch it is computed in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import GPT2ForSequenceClassification, PreTrainedModel, PreTrainedTokenizerFast

from . import validation as V
from .preferences import Comparison, check_comparisons
from .rewards import check_pairs
from .tokenizer import check_known_words
from .training import (
    Metrics,
    OnStep,
    check_on_step,
    gradient_step,
    log_step,
    progress_bar,
    training_session,
)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected) over the pairs (eq. L_BT); shapes (N,).

    Computed as softplus(-(r_chosen - r_rejected)) via ``F.logsigmoid``: finite for any margin
    (about 1e4 at a margin of -1e4, exactly 0 at +1e4), where log(sigmoid(.)) would give -inf.
    """
    for name, r in (("r_chosen", r_chosen), ("r_rejected", r_rejected)):
        if not isinstance(r, torch.Tensor) or r.dim() != 1:
            raise ValueError(f"{name} must be a 1-d tensor of scores (N,), got shape "
                             f"{tuple(getattr(r, 'shape', ()))}")
        if not r.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {r.dtype}")
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(f"r_chosen and r_rejected must have the same length (one score of each "
                         f"per pair), got {r_chosen.shape[0]} and {r_rejected.shape[0]}")
    if r_chosen.shape[0] == 0:
        raise ValueError("no pairs: the Bradley-Terry loss of an empty set is undefined")
    for name, r in (("r_chosen", r_chosen), ("r_rejected", r_rejected)):
        if not bool(torch.isfinite(r).all()):
            raise ValueError(f"{name} holds nan or inf scores ({r[~torch.isfinite(r)][0].item()}"
                             "): the loss would not be finite")
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """Fraction of pairs where the chosen response scores strictly higher (ties are errors)."""
    if r_chosen.shape != r_rejected.shape or r_chosen.numel() == 0:
        raise ValueError(f"need two non-empty score tensors of the same shape, got "
                         f"{tuple(r_chosen.shape)} and {tuple(r_rejected.shape)}")
    return float((r_chosen > r_rejected).float().mean())


def build_reward_model(base_model: PreTrainedModel, seed: int = 0
                       ) -> GPT2ForSequenceClassification:
    """A one-output ``GPT2ForSequenceClassification`` whose body is a copy of ``base_model``'s.

    Only the score head (a 128 -> 1 linear map) is new; it is initialized from ``seed``.
    """
    config = base_model.config.__class__.from_dict(base_model.config.to_dict())
    config.num_labels = 1
    if config.pad_token_id is None:
        raise ValueError("the base model's config has no pad_token_id: the reward model needs "
                         "it to find the last real token of each row")
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    rm = GPT2ForSequenceClassification(config)
    rm.transformer.load_state_dict(base_model.transformer.state_dict())
    return rm.to(next(base_model.parameters()).device).eval()


def encode(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
           responses: Sequence[str], device: torch.device | str = "cpu"
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``<bos> prompt response <eos>``: ``(input_ids, attention_mask)``, (B, T)."""
    if check_pairs(prompts, responses) == 0:
        raise ValueError("nothing to score: prompts and responses are empty")
    rows = [tokenizer(x)["input_ids"]
            + tokenizer(y, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            for x, y in zip(prompts, responses)]
    check_known_words(tokenizer, list(prompts) + list(responses), "prompts + responses")
    too_long = [i for i, r in enumerate(rows) if len(r) > tokenizer.model_max_length]
    if too_long:  # cutting would drop the question or the answer: the score would be wrong
        i = too_long[0]
        raise ValueError(f"prompts[{i}] + responses[{i}] is {len(rows[i])} tokens, longer than "
                         f"the {tokenizer.model_max_length} positions the reward model reads "
                         "(ModelConfig.n_positions)")
    T = max(map(len, rows))
    ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids.to(device), mask.to(device)


def _forward(rm: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logits = rm(input_ids=ids, attention_mask=mask).logits
    if logits.dim() != 2 or logits.shape[1] != 1:
        raise ValueError(
            f"rm must be a reward model (one score per text, logits (B, 1)); this model gives "
            f"logits of shape {tuple(logits.shape)}: a language model? Build one with "
            "build_reward_model or load_reward_model")
    return logits[:, 0].float()  # (B,)


def score(rm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str],
          responses: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """r_phi(x, y) for each pair, shape (B,) on the CPU: eval mode, no gradient, batched."""
    device = next(rm.parameters()).device
    was_training = rm.training
    rm.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(prompts), batch_size):
                ids, mask = encode(tokenizer, prompts[i:i + batch_size],
                                   responses[i:i + batch_size], device)
                out.append(_forward(rm, ids, mask).cpu())
    finally:
        rm.train(was_training)
    if not out:
        raise ValueError("nothing to score: prompts and responses are empty")
    return torch.cat(out)


def scores_of_pairs(rm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                    comparisons: Sequence[Comparison]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r_chosen, r_rejected)``, each (N,), for labelled pairs."""
    comparisons = check_comparisons(comparisons, "no comparisons: label some pairs first")
    prompts = [c.prompt for c in comparisons]
    return (score(rm, tokenizer, prompts, [c.chosen for c in comparisons]),
            score(rm, tokenizer, prompts, [c.rejected for c in comparisons]))


def accuracy(rm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
             comparisons: Sequence[Comparison]) -> float:
    """Held-out pairwise accuracy: how often r_phi ranks the labelled choice higher."""
    return pairwise_accuracy(*scores_of_pairs(rm, tokenizer, comparisons))


@dataclass(frozen=True)
class RMConfig:
    """How the reward model is trained on comparisons; checked when the config is built."""

    steps: int = 180  # optimizer steps
    batch_size: int = 32  # pairs per step
    lr: float = 1e-4  # AdamW learning rate (constant)
    weight_decay: float = 0.0  # AdamW weight decay
    seed: int = 0  # seeds the pairs drawn each step

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size"), positive_number=("lr",),
                       non_negative_number=("weight_decay",), non_negative_int=("seed",))


def _checked_config(config: RMConfig | None) -> RMConfig:
    """``config``, or the default ``RMConfig()`` for None; anything else is a ValueError."""
    config = config or RMConfig()
    if not isinstance(config, RMConfig):
        raise ValueError(f"config must be an RMConfig, got {type(config).__name__}")
    return config


def pair_scores(rm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                pairs: Sequence[Comparison]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r_chosen, r_rejected)``, each (N,), with gradient: both sides in one batch, in the
    model's current mode (the training loop's form of :func:`scores_of_pairs`)."""
    n, device = len(pairs), next(rm.parameters()).device
    ids, mask = encode(tokenizer, [c.prompt for c in pairs] * 2,
                       [c.chosen for c in pairs] + [c.rejected for c in pairs], device)
    r = _forward(rm, ids, mask)  # (2N,): chosen first, then rejected
    return r[:n], r[n:]


def train_reward_model(rm: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                       comparisons: Sequence[Comparison], config: RMConfig | None = None,
                       on_step: OnStep | None = None, progress: bool = True) -> list[Metrics]:
    """Minimize L_BT on ``comparisons`` (pairs drawn with replacement); return the history.

    Each step: draw a batch of pairs, score chosen and rejected (:func:`pair_scores`), L_BT,
    step, log ``step``, ``loss`` and ``accuracy`` (of the batch). The same loop as every
    training loop of the course (:mod:`course_lib.training`): Ctrl-C stops cleanly with the
    weights of the last finished step and the history; a nan or inf loss stops training with
    :class:`~course_lib.training.TrainingStopped`.
    """
    config = _checked_config(config)
    comparisons = check_comparisons(comparisons, "no comparisons: label some pairs first")
    on_step = check_on_step(on_step)
    rng = random.Random(config.seed)
    opt = torch.optim.AdamW(rm.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[Metrics] = []
    rm.train()
    bar = progress_bar(config.steps, "reward model", progress)
    with training_session("reward-model training", rm, history, bar):
        for step in bar:
            # 1. a batch of labelled pairs
            batch = [rng.choice(comparisons) for _ in range(config.batch_size)]
            # 2. the loss: eq. L_BT on the scores of chosen and rejected
            r_chosen, r_rejected = pair_scores(rm, tokenizer, batch)  # (N,), (N,)
            loss = bradley_terry_loss(r_chosen, r_rejected)
            # 3. step
            gradient_step(rm, opt, loss)
            # 4. log
            log_step(history, {"step": step, "loss": loss.item(), "accuracy": pairwise_accuracy(
                r_chosen.detach(), r_rejected.detach())}, on_step, bar)
    return history


# --- the course's reward model, trained on demand and cached -----------------------------------


def reward_model_key(config: RMConfig | None = None) -> str:
    """Fingerprint of the course's reward model: the SFT model's key, the comparison recipe,
    the sampler that drew the responses, the gold rater and the training settings. Any change
    gives a new key (and a retrain)."""
    import hashlib
    import json
    from dataclasses import asdict

    from . import preferences as P
    from .sampling import SAMPLER
    from .sft import sft_key

    gold = [list(map(str, k)) + [v] for k, v in P.GOLD_TABLE.items()]
    blob = json.dumps([sft_key(), P.COURSE_DATA, SAMPLER, gold, P.RAMBLE_COST,
                       P.GOLD_TEMPERATURE, asdict(config or RMConfig())])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _course_reward_model_path(config: RMConfig):
    from .settings import cache_dir
    return cache_dir() / f"reward-model-{reward_model_key(config)}"


def cache_reward_model(rm: GPT2ForSequenceClassification, tokenizer: PreTrainedTokenizerFast,
                       train_pairs: Sequence[Comparison], history: list[dict[str, float]],
                       config: RMConfig | None = None):
    """Store a reward model trained by lesson 06's recipe as the course's reward model, so that
    :func:`load_reward_model` (lessons 07 and 10) loads it instead of training it again.

    ``train_pairs`` must be the recipe's own training comparisons (they are drawn again from
    the shipped SFT model and compared, a few seconds), ``history`` a complete
    :func:`train_reward_model` run under ``config`` (``config.steps`` rows), and ``rm`` the model
    it trained from ``build_reward_model(sft_model, seed=0)``. Anything else raises a
    ``ValueError`` that says which argument differs, since lesson 07 would take it for lesson
    06's model. Returns the cache folder, or None where the cache cannot be written (a warning).
    """
    from . import preferences as P
    from .models import cache_model
    from .sft import load_sft_model

    config = _checked_config(config)
    if not isinstance(rm, GPT2ForSequenceClassification):
        raise ValueError(f"rm must be a GPT2ForSequenceClassification (build_reward_model), got "
                         f"{type(rm).__name__}")
    if not isinstance(history, list) or len(history) != config.steps:
        got = len(history) if isinstance(history, list) else type(history).__name__
        raise ValueError(f"history must be the {config.steps} rows of a complete "
                         f"train_reward_model run under config, got {got}: only a fully "
                         "trained reward model is cached")
    train_pairs = check_comparisons(train_pairs, if_empty="train_pairs must not be empty")
    policy, sft_tokenizer = load_sft_model(device="cpu", progress=False)
    expected, _ = P.course_comparisons(policy, sft_tokenizer)
    if train_pairs != expected:
        raise ValueError("train_pairs are not the course's training comparisons "
                         "(preferences.course_comparisons on the shipped SFT model): a model "
                         "trained on them is not the course's reward model, so it is not cached")
    return cache_model(rm, tokenizer, _course_reward_model_path(config), reward_model_key(config),
                       history)


def load_reward_model(config: RMConfig | None = None, device: torch.device | str | None = None,
                      progress: bool = True
                      ) -> tuple[GPT2ForSequenceClassification, PreTrainedTokenizerFast]:
    """The course's reward model (lesson 06's recipe), in eval mode, with its tokenizer.

    Trained on the CPU the first time (about half a minute on two cores: the SFT model's
    comparisons from :func:`course_lib.preferences.course_comparisons`, then
    :func:`train_reward_model` with ``config``, by default ``RMConfig()``), then loaded from
    the local cache (``$COURSE_CACHE`` or ``~/.cache/course_lib``), offline. An interrupted
    training is not cached.
    """
    from . import preferences as P
    from .models import cache_model, is_cached, load_model
    from .settings import parse_device, set_seed
    from .sft import load_sft_model

    config = _checked_config(config)
    key = reward_model_key(config)
    path = _course_reward_model_path(config)
    device = parse_device(device)
    if is_cached(path, key):
        return load_model(path, device, GPT2ForSequenceClassification)
    if progress:
        print("Training the course's reward model (first use; then cached in "
              f"{path.parent}): sampling the SFT model's comparisons...")
    set_seed(0)
    policy, tokenizer = load_sft_model(device="cpu", progress=progress)
    train_pairs, _ = P.course_comparisons(policy, tokenizer)
    rm = build_reward_model(policy, seed=0)
    history = train_reward_model(rm, tokenizer, train_pairs, config, progress=progress)
    if len(history) == config.steps:  # do not cache a half-trained model
        cache_model(rm, tokenizer, path, key, history)  # warns if the cache is unwritable
    return rm.to(device).eval(), tokenizer


__all__ = ["RMConfig", "accuracy", "bradley_terry_loss", "build_reward_model",
           "cache_reward_model", "encode",
           "load_reward_model", "pair_scores", "pairwise_accuracy", "reward_model_key", "score",
           "scores_of_pairs", "train_reward_model"]

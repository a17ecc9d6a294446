"""Supervised fine-tuning: the loss L_SFT and a plain training loop.

    L_SFT(theta) = - sum_{t=1}^{L} log pi_theta(y_t | x, y_<t)

summed over the response tokens y_1..y_L only (the prompt x is given, not imitated) and, as in
every implementation, averaged over all response tokens of the batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from . import validation as V
from . import world as W
from .settings import cache_dir, parse_device, set_seed
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


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean of -log pi(y_t | x, y_<t) over the response tokens of a batch (eq. L_SFT).

    Args:
        logits: (B, T, V) the model's logits for the whole sequence (prompt + response).
        labels: (B, T) the token ids of that sequence.
        loss_mask: (B, T) 1 on response tokens (the ones to imitate), 0 on prompt and padding.

    The logits at position t predict token t + 1, so the function shifts internally: it compares
    ``logits[:, :-1]`` with ``labels[:, 1:]`` under ``loss_mask[:, 1:]``. The result equals the
    model's own loss with ``labels`` set to -100 outside the response.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError(f"logits must be a (B, T, V) tensor, got shape "
                         f"{tuple(getattr(logits, 'shape', ()))}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:2]:
        raise ValueError(f"labels must have shape (B, T) = {tuple(logits.shape[:2])}, got "
                         f"{tuple(getattr(labels, 'shape', ()))}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer token ids, got dtype {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[-1]):
        raise ValueError(f"labels must be token ids in [0, V) = [0, {logits.shape[-1]}), got "
                         f"{int(labels.min())}..{int(labels.max())}; mark the tokens not to "
                         "learn with loss_mask = 0 (not -100, Hugging Face's convention)")
    if not isinstance(loss_mask, torch.Tensor) or loss_mask.shape != labels.shape:
        raise ValueError(f"loss_mask must have the same shape as labels {tuple(labels.shape)}, "
                         f"got {tuple(getattr(loss_mask, 'shape', ()))}")
    if logits.shape[1] < 2:
        raise ValueError(f"sequences must have at least 2 tokens (a prompt token and a response "
                         f"token), got T = {logits.shape[1]}")
    if loss_mask.is_complex() or (loss_mask.is_floating_point()
                                  and bool(((loss_mask != 0) & (loss_mask != 1)).any())):
        raise ValueError("loss_mask must hold only 0 and 1 (bool, int or float)")
    mask = loss_mask[:, 1:].to(logits.dtype)  # (B, T-1): is token t+1 a response token?
    if mask.sum() == 0:
        raise ValueError("loss_mask selects no response token (after the shift): nothing to learn")
    logp = F.log_softmax(logits[:, :-1], dim=-1)  # (B, T-1, V) predictions of tokens 1..T-1
    token_logp = logp.gather(-1, labels[:, 1:, None]).squeeze(-1)  # (B, T-1) log pi(y_t | ...)
    return -(token_logp * mask).sum() / mask.sum()  # eq. L_SFT, averaged over response tokens


def response_token_nll(logits: torch.Tensor, input_ids: torch.Tensor,
                       n_prompt: int) -> torch.Tensor:
    """-log pi(y_t | x, y_<t) for each response token of ONE sequence: shape (T - n_prompt,).

    Args:
        logits: (T, V) the model's logits for the sequence ``x + y`` (prompt, then response).
        input_ids: (T,) the token ids of that sequence.
        n_prompt: number of prompt tokens (``<bos>`` included); the rest is the response.

    The terms of eq. L_SFT one by one: their sum is L_SFT of this example, their mean the
    per-token loss :func:`sft_loss` reports.
    """
    if logits.dim() != 2 or input_ids.dim() != 1 or logits.shape[0] != input_ids.shape[0]:
        raise ValueError(f"expected logits (T, V) and input_ids (T,), got "
                         f"{tuple(logits.shape)} and {tuple(input_ids.shape)}")
    if not 1 <= n_prompt < input_ids.shape[0]:
        raise ValueError(f"n_prompt must be in [1, T - 1] = [1, {input_ids.shape[0] - 1}], "
                         f"got {n_prompt}")
    logp = F.log_softmax(logits[n_prompt - 1:-1].float(), dim=-1)  # (L, V): predict y_1..y_L
    return -logp.gather(-1, input_ids[n_prompt:, None]).squeeze(-1)  # (L,)


@torch.no_grad()
def token_table(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, prompt: str,
                response: str) -> list[tuple[str, float, float]]:
    """Rows ``(token, pi(y_t | x, y_<t), -log pi(y_t | x, y_<t))`` for each response token.

    The response is tokenized as in SFT: its words, then ``<eos>`` (the model also learns to stop).
    """
    batch = make_sft_batch(tokenizer, [(prompt, response)], next(model.parameters()).device,
                           model.config.n_positions)
    ids = batch["input_ids"][0]  # (T,)
    n_prompt = int((batch["loss_mask"][0] == 0).sum())
    logits = model(input_ids=batch["input_ids"]).logits[0]  # (T, V)
    nll = response_token_nll(logits, ids, n_prompt).cpu()  # (L,)
    tokens = tokenizer.convert_ids_to_tokens(ids[n_prompt:].tolist())
    return [(tok, float(torch.exp(-v)), float(v)) for tok, v in zip(tokens, nll)]


def make_sft_batch(tokenizer: PreTrainedTokenizerFast, examples: Sequence[tuple[str, str]],
                   device: torch.device | str = "cpu", max_length: int | None = None
                   ) -> dict[str, torch.Tensor]:
    """Right-padded ``<bos> prompt response <eos>`` with a loss mask on ``response <eos>``.

    A pair longer than ``max_length`` tokens (default: the tokenizer's ``model_max_length``, the
    model's 64 positions), or with a word the model does not know, is refused naming it.
    """
    if isinstance(examples, (str, tuple)) or not isinstance(examples, Sequence) or not examples:
        raise ValueError("examples must be a non-empty list of (prompt, response) pairs")
    for i, ex in enumerate(examples):
        if not (isinstance(ex, (tuple, list)) and len(ex) == 2
                and all(isinstance(s, str) and s.strip() for s in ex)):
            raise ValueError(f"examples[{i}] must be a (prompt, response) pair of non-empty "
                             f"strings, got {ex!r}")
    limit = V.positive_int("max_length", max_length or tokenizer.model_max_length)
    prompts = tokenizer([p for p, _ in examples])["input_ids"]  # each starts with <bos>
    responses = tokenizer([r for _, r in examples], add_special_tokens=False)["input_ids"]
    check_known_words(tokenizer, [p for p, _ in examples], "prompts of examples",
                      [p[1:] for p in prompts])
    check_known_words(tokenizer, [r for _, r in examples], "responses of examples", responses)
    rows, masks = [], []
    for i, (p, r) in enumerate(zip(prompts, responses)):
        r = r + [tokenizer.eos_token_id]
        if len(p) + len(r) > limit:
            raise ValueError(f"examples[{i}] is {len(p) + len(r)} tokens (<bos> prompt response "
                             f"<eos>), longer than the {limit} positions the model can read "
                             "(ModelConfig.n_positions): shorten the prompt or the response")
        rows.append(p + r)
        masks.append([0] * len(p) + [1] * len(r))
    T = max(map(len, rows))
    input_ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), T), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, (row, m) in enumerate(zip(rows, masks)):
        input_ids[i, :len(row)] = torch.tensor(row)
        attention_mask[i, :len(row)] = 1
        loss_mask[i, :len(row)] = torch.tensor(m)
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device),
            "loss_mask": loss_mask.to(device)}


@dataclass(frozen=True)
class SFTConfig:
    """How the SFT model is trained from the base model; checked when the config is built."""

    steps: int = 1000  # optimizer steps
    batch_size: int = 64  # demonstrations per step
    lr: float = 6e-4  # AdamW learning rate at the first step
    lr_schedule: str = "linear"  # "linear": decays to 0 at the last step; "constant"
    # Keep the token embeddings (and the output layer tied to them) as pretraining left them:
    # SFT then learns *how* to answer from the few hundred countries it is shown, without
    # moving their names' embeddings away from those of the countries it is never shown.
    freeze_embeddings: bool = True
    seed: int = 0  # seeds the demonstrations drawn each step

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size"), positive_number=("lr",),
                       non_negative_int=("seed",))
        V.one_of("SFTConfig.lr_schedule", self.lr_schedule, ("linear", "constant"))
        V.one_of("SFTConfig.freeze_embeddings", self.freeze_embeddings, (True, False))


Demonstrations = Callable[[random.Random], tuple[str, str]] | Sequence[tuple[str, str]]


def _demonstration_source(examples: Demonstrations, tokenizer: PreTrainedTokenizerFast,
                          max_length: int) -> Callable[[random.Random], tuple[str, str]]:
    """``rng -> (prompt, response)``: the function itself, or a draw from the list (whose
    pairs are checked here, before the first step: :func:`make_sft_batch`)."""
    if callable(examples):
        return examples
    if isinstance(examples, str) or not isinstance(examples, Sequence) or not examples:
        raise ValueError("examples must be a non-empty list of (prompt, response) pairs, or a "
                         "function rng -> (prompt, response)")
    make_sft_batch(tokenizer, examples, max_length=max_length)
    return lambda rng: rng.choice(examples)


def train_sft(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
              examples: Demonstrations, config: SFTConfig | None = None,
              on_step: OnStep | None = None, progress: bool = True) -> list[Metrics]:
    """Fine-tune ``model`` in place on demonstrations; return the history of metrics.

    ``examples`` is either a list of ``(prompt, response)`` pairs (sampled with replacement) or a
    function ``rng -> (prompt, response)`` that draws a fresh one. Each step: draw a batch, the
    loss L_SFT, one AdamW step (at the config's learning-rate schedule), log ``step``, ``loss``
    and ``lr``. With ``config.freeze_embeddings`` the token embeddings do not train (they train
    again afterwards, as every other weight). The same loop as every training loop
    of the course (:mod:`course_lib.training`): Ctrl-C stops cleanly (the model keeps the
    weights of the last finished step and the history is returned); a nan or inf loss stops
    training with :class:`~course_lib.training.TrainingStopped`.
    """
    config = config or SFTConfig()
    if not isinstance(config, SFTConfig):
        raise ValueError(f"config must be an SFTConfig, got {type(config).__name__}")
    draw = _demonstration_source(examples, tokenizer, model.config.n_positions)
    on_step = check_on_step(on_step)
    rng = random.Random(config.seed)
    device = next(model.parameters()).device
    embeddings = model.get_input_embeddings().weight
    trained = [p for p in model.parameters()
               if not (config.freeze_embeddings and p is embeddings)]
    opt = torch.optim.AdamW(trained, lr=config.lr, weight_decay=0.0)
    model.train()
    embeddings.requires_grad_(not config.freeze_embeddings)
    history: list[Metrics] = []
    bar = progress_bar(config.steps, "SFT", progress)
    try:
        with training_session("SFT", model, history, bar):
            for step in bar:
                lr = config.lr * (1 - step / config.steps if config.lr_schedule == "linear" else 1)
                for group in opt.param_groups:
                    group["lr"] = lr
                # 1. a batch of demonstrations
                batch = make_sft_batch(tokenizer, [draw(rng) for _ in range(config.batch_size)],
                                       device, model.config.n_positions)
                # 2. the loss: eq. L_SFT on the response tokens
                logits = model(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits  # (B, T, V)
                loss = sft_loss(logits, batch["input_ids"], batch["loss_mask"])
                # 3. step
                gradient_step(model, opt, loss)
                # 4. log
                log_step(history, {"step": step, "loss": loss.item(), "lr": lr}, on_step, bar)
    finally:
        embeddings.requires_grad_(True)
    return history


# --- the course's SFT model, trained on demand and cached --------------------------------------

def sft_key(config: SFTConfig | None = None, mix: W.AnnotatorMix | None = None) -> str:
    """The fingerprint of an SFT model: its settings, the annotators' habits, a sample of the
    demonstrations themselves and the base weights. A change to any of them (say, to a template
    of the world) gives a new key, so a stale model is never loaded."""
    from .models import BASE_MODEL_DIR

    config, mix = config or SFTConfig(), mix or W.AnnotatorMix()
    stat = (BASE_MODEL_DIR / "model.safetensors").stat()
    return _sft_key(config, mix, BASE_MODEL_DIR, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _sft_key(config: SFTConfig, mix: W.AnnotatorMix, base_dir: Path, mtime_ns: int,
             size: int) -> str:
    """:func:`sft_key`, computed once per process for the same settings and base weights file
    (a rewritten file has a new modification time, so it is read again)."""
    weights = (base_dir / "model.safetensors").read_bytes()
    rng = random.Random(0)
    demos = [W.sft_example(W.default_world(), rng, mix) for _ in range(100)]
    key = hashlib.sha256(json.dumps([asdict(config), asdict(mix), demos]).encode() + weights)
    return key.hexdigest()[:16]


def load_sft_model(config: SFTConfig | None = None, mix: W.AnnotatorMix | None = None,
                   device: str | torch.device | None = None, progress: bool = True,
                   on_step: OnStep | None = None):
    """The course's SFT model: the base model fine-tuned on the annotators' demonstrations.

    With the default settings it is the copy shipped with the course (``assets/sft``, rebuilt
    by ``python -m course_lib.sft``). With other settings it is trained deterministically on
    the CPU the first time (about a minute on two cores), then loaded from a local cache
    (``$COURSE_CACHE`` or ``~/.cache/course_lib``). Offline either way. ``on_step`` sees the
    metrics of every training step: live while it trains, or replayed from the saved history
    (``history.json`` next to the weights), so a
    :class:`~course_lib.widgets.TrainingMonitor` shows the same curve either way.
    """
    from .models import SFT_MODEL_DIR, cache_model, is_cached, load_model

    config, mix = config or SFTConfig(), mix or W.AnnotatorMix()
    if not isinstance(config, SFTConfig):
        raise TypeError(f"config must be an SFTConfig, got {type(config).__name__}")
    if not isinstance(mix, W.AnnotatorMix):
        raise TypeError(f"mix must be a world.AnnotatorMix, got {type(mix).__name__}")
    device, on_step = parse_device(device), check_on_step(on_step)
    key = sft_key(config, mix)
    path = next((p for p in (SFT_MODEL_DIR, cache_dir() / f"sft-{key}") if is_cached(p, key)),
                None)
    if path is None:
        model, tokenizer, history = _train(config, mix, on_step, progress)
        if len(history) == config.steps:  # an interrupted training is not cached
            path = cache_model(model, tokenizer, cache_dir() / f"sft-{key}", key, history)
        if path is None:  # interrupted, or the cache cannot be written: the model in memory
            return model.to(device).eval(), tokenizer
    elif on_step is not None:
        for metrics in sft_history(path):
            on_step(metrics)
    return load_model(path, device=device)


def _train(config: SFTConfig, mix: W.AnnotatorMix, on_step, progress: bool):
    from .models import load_base_model

    set_seed(config.seed)
    world = W.default_world()
    model, tokenizer = load_base_model(device="cpu")
    history = train_sft(model, tokenizer, lambda rng: W.sft_example(world, rng, mix), config,
                        on_step=on_step, progress=progress)
    return model, tokenizer, history


def sft_history(path: str | Path) -> list[dict[str, float]]:
    """The training history cached next to an SFT model (``[]`` when there is none)."""
    file = Path(path) / "history.json"
    if not file.is_file():
        return []
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        from .models import ModelFilesError, how_to_reset

        raise ModelFilesError(f"{file} is not valid JSON ({err}). {how_to_reset(path)}") from None


def main(argv: list[str] | None = None) -> None:
    """``python -m course_lib.sft``: rebuild the shipped SFT model (``assets/sft``)."""
    import argparse
    import time

    from .models import SFT_MODEL_DIR, save_cached

    parser = argparse.ArgumentParser(description="Rebuild the course's shipped SFT model.")
    parser.add_argument("--out", type=Path, default=SFT_MODEL_DIR,
                        help="folder to write the model into (default: the shipped assets)")
    args = parser.parse_args(argv)
    config, mix = SFTConfig(), W.AnnotatorMix()
    t0 = time.time()
    model, tokenizer, history = _train(config, mix, None, True)
    save_cached(model, tokenizer, args.out, sft_key(config, mix), history)
    print(f"SFT model trained in {time.time() - t0:.0f} s, saved to {args.out}")


if __name__ == "__main__":
    main()

"""Rebuild the shipped base model from scratch: ``python -m course_lib.pretrain``.

The base model reads random documents of the tiny world's corpus (facts about *known* countries,
unrelated sentences about every country, and sums of two-digit numbers) and learns to predict
the next token: plain language-model pretraining, next-token cross-entropy. Same seed, same
corpus, same model on the CPU. The assets are written atomically into
``course_lib/assets/base`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import validation as V
from . import world as W
from .models import BASE_MODEL_DIR, ModelConfig, build_model, n_parameters, save_model
from .settings import set_seed
from .tokenizer import build_tokenizer
from .training import gradient_step, progress_bar


@dataclass(frozen=True)
class PretrainConfig:
    """How the base model is trained; checked when the config is built."""

    steps: int = 2000  # optimizer steps
    batch_size: int = 64  # documents per step
    lr: float = 2e-3  # peak learning rate (AdamW)
    warmup: int = 100  # linear warm-up steps, then cosine decay to lr / 10
    weight_decay: float = 0.01  # AdamW weight decay
    max_grad_norm: float = 1.0  # clip the gradient's global norm
    p_math: float = 0.3  # fraction of documents that are sums rather than prose
    seed: int = 0  # seeds the documents and the initial weights

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("steps", "batch_size"),
                       positive_number=("lr", "max_grad_norm"),
                       non_negative_int=("warmup", "seed"), non_negative_number=("weight_decay",),
                       probability=("p_math",))


def make_batch(tokenizer, docs: list[str]) -> dict[str, torch.Tensor]:
    """Right-padded batch ``<bos> doc <eos>`` with labels = ids, -100 on padding."""
    ids = [tokenizer(d)["input_ids"][:63] + [tokenizer.eos_token_id] for d in docs]
    T = max(map(len, ids))
    input_ids = torch.full((len(ids), T), tokenizer.pad_token_id)
    attention_mask = torch.zeros((len(ids), T), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = torch.tensor(row)
        attention_mask[i, :len(row)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr / 10``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def pretrain(cfg: PretrainConfig | None = None, model_config: ModelConfig | None = None,
             progress: bool = True):
    """Train a base model from scratch on the tiny world's corpus; return ``(model, tokenizer)``."""
    cfg = cfg or PretrainConfig()
    if not isinstance(cfg, PretrainConfig):
        raise ValueError(f"cfg must be a PretrainConfig, got {type(cfg).__name__}")
    set_seed(cfg.seed)
    world = W.default_world()
    tokenizer = build_tokenizer(world)
    model = build_model(tokenizer, model_config, seed=cfg.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            betas=(0.9, 0.98))
    rng = random.Random(cfg.seed)
    bar = progress_bar(cfg.steps, "pretraining", progress)
    for step in bar:
        # 1. a batch of documents of the corpus
        docs = [W.corpus_document(world, rng, cfg.p_math) for _ in range(cfg.batch_size)]
        # 2. the loss: next-token cross-entropy
        loss = model(**make_batch(tokenizer, docs)).loss
        # 3. step, at this step's learning rate
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        gradient_step(model, opt, loss, cfg.max_grad_norm)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval(), tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=PretrainConfig.steps)
    parser.add_argument("--seed", type=int, default=PretrainConfig.seed)
    parser.add_argument("--out", type=Path, default=BASE_MODEL_DIR,
                        help="folder to write the model into (default: the shipped assets)")
    args = parser.parse_args(argv)
    try:
        cfg = PretrainConfig(steps=args.steps, seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    from .evaluation import base_model_report

    t0 = time.time()
    model, tokenizer = pretrain(cfg)
    print(f"trained {n_parameters(model):,} parameters in {time.time() - t0:.0f} s "
          f"({asdict(cfg)})")
    report = base_model_report(model, tokenizer)
    for k, v in report.items():
        print(f"  {k}: {v:.3f}")
    save_model(model, tokenizer, args.out)
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()

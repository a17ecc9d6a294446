"""Build, save and load the course's tiny language model (a ``transformers`` GPT-2).

The shipped base model lives in ``course_lib/assets/base`` as safetensors + JSON. It has read the
whole "internet" of the tiny world (see :mod:`course_lib.world`) and nothing else.
``python -m course_lib.pretrain`` rebuilds it from scratch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from . import validation as V
from .settings import get_device, quiet_libraries
from .tokenizer import load_tokenizer, save_tokenizer

ASSETS = Path(__file__).resolve().parent / "assets"
BASE_MODEL_DIR = ASSETS / "base"
SFT_MODEL_DIR = ASSETS / "sft"  # the course's SFT model, shipped so lessons 05-07 start at once


@dataclass(frozen=True)
class ModelConfig:
    """Size of the tiny GPT-2 (about 0.9M parameters with the course's 700-word vocabulary);
    checked when the config is built."""

    n_layer: int = 4  # transformer blocks
    n_embd: int = 128  # width of the residual stream
    n_head: int = 4  # attention heads per block
    n_positions: int = 64  # longest sequence the model can read (prompt + response)

    def __post_init__(self) -> None:
        V.check_fields(self, positive_int=("n_layer", "n_embd", "n_head", "n_positions"))
        if self.n_embd % self.n_head:
            raise ValueError(f"ModelConfig.n_head ({self.n_head}) must divide n_embd "
                             f"({self.n_embd})")


def build_model(tokenizer: PreTrainedTokenizerFast, config: ModelConfig | None = None,
                seed: int = 0) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 for ``tokenizer``'s vocabulary (same seed, same weights)."""
    config = config or ModelConfig()
    hf_config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=config.n_positions, n_embd=config.n_embd,
        n_layer=config.n_layer, n_head=config.n_head,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # tiny data, no dropout needed
        # GPT-2's tanh-approximated GELU as one fused kernel: the same function as GPT-2's own
        # "gelu_new" (to 3e-7), which spells it out in six small operations
        activation_function="gelu_pytorch_tanh",
    )
    hf_config._attn_implementation = "eager"
    hf_config.loss_type = "ForCausalLM"
    torch.manual_seed(seed)
    return GPT2LMHeadModel(hf_config)


def n_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def save_model(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast,
               directory: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write model (safetensors + config.json) and tokenizer into ``directory``, atomically.

    ``extra_files`` maps file names to text written next to them (e.g. a training history).

    Everything is written into a temporary folder next to ``directory`` first, which then
    replaces it in one rename, so an interrupted save never leaves a half-written model.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        save_tokenizer(tokenizer, tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
            directory.rename(old)
        tmp.rename(directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def is_cached(directory: str | Path, key: str) -> bool:
    """Whether ``directory`` holds a complete model saved with ``meta.json`` = {"key": key}
    and a ``history.json`` (see :func:`save_model`'s ``extra_files``): the check both the SFT
    and the reward-model caches make before loading, so a stale or half-written copy is
    never used."""
    import json

    directory = Path(directory)
    meta = directory / "meta.json"
    return ((directory / "model.safetensors").is_file()
            and (directory / "history.json").is_file()
            and meta.is_file() and json.loads(meta.read_text()).get("key") == key)


def save_cached(model, tokenizer: PreTrainedTokenizerFast, directory: str | Path, key: str,
                history: list[dict[str, float]]) -> Path:
    """Save a trained model with its training history and its cache ``key``, atomically
    (:func:`save_model`), so that :func:`is_cached` recognizes it."""
    import json

    return save_model(model, tokenizer, directory, extra_files={
        "history.json": json.dumps(history), "meta.json": json.dumps({"key": key})})


def load_model(directory: str | Path, device: str | torch.device | None = None
               ) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast]:
    """Load ``(model, tokenizer)`` saved by :func:`save_model`, offline, in eval mode."""
    quiet_libraries()
    directory = Path(directory)
    if not (directory / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"no model.safetensors in {directory}; rebuild the base model with "
            "`python -m course_lib.pretrain`")
    model = GPT2LMHeadModel.from_pretrained(str(directory), local_files_only=True,
                                            attn_implementation="eager")
    tokenizer = load_tokenizer(directory)
    device = torch.device(device) if device is not None else get_device()
    return model.to(device).eval(), tokenizer


def load_base_model(device: str | torch.device | None = None
                    ) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast]:
    """The shipped base model and its tokenizer, from the package's own files (no network).

    It has read the tiny world's corpus: it continues text, it does not answer questions.
    """
    return load_model(BASE_MODEL_DIR, device=device)

"""Build, save and load the course's tiny language model (a ``transformers`` GPT-2).

The shipped base model lives in ``course_lib/assets/base`` as safetensors + JSON. It has read the
whole "internet" of the tiny world (see :mod:`course_lib.world`) and nothing else.
``python -m course_lib.pretrain`` rebuilds it from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from . import validation as V
from .settings import parse_device, quiet_libraries
from .tokenizer import load_tokenizer, save_tokenizer

ASSETS = Path(__file__).resolve().parent / "assets"
BASE_MODEL_DIR = ASSETS / "base"
SFT_MODEL_DIR = ASSETS / "sft"  # the course's SFT model, shipped so lessons 05-07 start at once
GRPO_MODEL_DIR = ASSETS / "grpo"  # lesson 09's GRPO run (minutes on two cores), shipped too


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


class ModelFilesError(OSError):
    """A saved model's files are damaged (truncated, garbled, not finite); the message names
    the file and how to get a good copy back."""


def how_to_reset(directory: str | Path) -> str:
    """What to do about a damaged model folder: the course's own files are reinstalled, a
    cached copy is deleted (and trained again the next time it is asked for)."""
    directory = Path(directory).resolve()
    if directory.is_relative_to(ASSETS.resolve()):
        return ("These are the course's own files: restore them with `git checkout -- "
                "course_lib/assets` (or reinstall course_lib), or rebuild them with "
                "`python -m course_lib.pretrain` (base) / `python -m course_lib.sft` (SFT).")
    return (f"Delete the folder {directory} to reset it (`shutil.rmtree(...)` or `rm -r`); "
            "a cached model is trained again the next time it is loaded.")


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def model_files_problem(directory: str | Path) -> str | None:
    """What is wrong with the files of a saved model in ``directory`` (None: nothing found).

    Every JSON file must parse, ``model.safetensors`` must be readable safetensors, and if
    ``meta.json`` records its SHA-256 (every :func:`save_model` since this check exists) the
    weights must match it, which catches truncated and bit-flipped copies.
    """
    directory = Path(directory)
    weights = directory / "model.safetensors"
    if not weights.is_file():
        return f"{weights} is missing"
    for name in ("config.json", "tokenizer.json"):
        if not (directory / name).is_file():
            return f"{directory / name} is missing"
    for file in sorted(directory.glob("*.json")):
        try:
            json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            return f"{file} is not valid JSON ({err})"
    meta_file = directory / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    expected = meta.get("sha256") if isinstance(meta, dict) else None
    if expected is not None and _sha256(weights) != expected:
        return f"{weights} does not match the checksum recorded in {meta_file} (damaged copy)"
    try:
        with safe_open(str(weights), framework="pt") as f:
            f.keys()
    except Exception as err:  # safetensors raises its own error type, with no path in it
        return f"{weights} cannot be read as safetensors ({err})"
    return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _shared_permissions(folder: Path) -> None:
    """Folders and files readable by the group and others as the umask allows (mkdtemp makes
    them private), so a shared class cache is usable by everyone."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~umask)


def _remove_stale_temporaries(directory: Path, max_age_s: float = 3600.0) -> None:
    """Temporary folders of saves killed half-way (``.<name>-*``, older than an hour)."""
    for old in directory.parent.glob(f".{directory.name}-*"):
        try:
            if old.is_dir() and time.time() - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def save_model(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast,
               directory: str | Path, extra_files: dict[str, str] | None = None,
               meta: dict[str, object] | None = None) -> Path:
    """Write model (safetensors + config.json) and tokenizer into ``directory``, atomically.

    ``extra_files`` maps file names to text written next to them (e.g. a training history);
    ``meta.json`` holds ``meta`` and the SHA-256 of the weights, checked on every load.

    Everything is written into a temporary folder next to ``directory`` first and synced to
    disk, which then replaces it in one rename, so an interrupted save (or a full disk) never
    leaves a half-written model: the old one stays.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    _recover_interrupted_save(directory)
    _remove_stale_temporaries(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        save_tokenizer(tokenizer, tmp)
        extra = dict(extra_files or {})
        meta = {**json.loads(extra.pop("meta.json", "{}")), **(meta or {}),
                "sha256": _sha256(tmp / "model.safetensors")}
        for name, text in extra.items():
            (tmp / name).write_text(text)
        (tmp / "meta.json").write_text(json.dumps(meta))
        _shared_permissions(tmp)
        for file in tmp.iterdir():
            _fsync(file)
        _swap_in(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block is done, then raise it (main thread only:
    elsewhere Python delivers no signal)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def _swap_in(tmp: Path, directory: Path) -> None:
    """Replace ``directory`` by the folder ``tmp``: two renames (Linux cannot rename a folder
    onto a non-empty one), with Ctrl-C held back between them; if the second fails the old
    folder is put back, and if the process is killed between them the next load or save puts
    it back (:func:`_recover_interrupted_save`)."""
    with _sigint_held():
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
            directory.rename(old)
        try:
            tmp.rename(directory)
        except BaseException:
            if old is not None:
                old.rename(directory)
            raise
    _fsync(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_save(directory: Path) -> None:
    """Put back the previous model of a save killed between its two renames (:func:`_swap_in`):
    ``directory`` is missing and ``.<name>-old-<pid>`` holds a complete model."""
    if directory.exists():
        return
    for old in sorted(directory.parent.glob(f".{directory.name}-old-*"),
                      key=lambda p: p.stat().st_mtime, reverse=True):
        if old.is_dir() and model_files_problem(old) is None:
            old.rename(directory)
            print(f"Put back the model in {directory} (a save was interrupted while replacing "
                  "it).")
            return


def is_cached(directory: str | Path, key: str) -> bool:
    """Whether ``directory`` holds a complete, undamaged model saved with ``meta.json`` =
    {"key": key, ...} and a ``history.json`` (:func:`save_cached`): the check both the SFT and
    the reward-model caches make before loading, so a stale, half-written or damaged copy is
    never used. A damaged one is reported (it is then trained again)."""
    directory = Path(directory)
    if directory.parent.is_dir():
        _recover_interrupted_save(directory)
    if not ((directory / "model.safetensors").is_file() and (directory / "history.json").is_file()
            and (directory / "meta.json").is_file()):
        return False
    problem = model_files_problem(directory)
    if problem is not None:
        print(f"The saved model in {directory} is damaged: {problem}. It is trained again "
              "(and the damaged copy replaced).")
        return False
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    return isinstance(meta, dict) and meta.get("key") == key


def save_cached(model, tokenizer: PreTrainedTokenizerFast, directory: str | Path, key: str,
                history: list[dict[str, float]]) -> Path:
    """Save a trained model with its training history and its cache ``key``, atomically
    (:func:`save_model`), so that :func:`is_cached` recognizes it."""
    return save_model(model, tokenizer, directory, extra_files={
        "history.json": json.dumps(history)}, meta={"key": key})


def cache_model(model, tokenizer: PreTrainedTokenizerFast, directory: str | Path, key: str,
                history: list[dict[str, float]]) -> Path | None:
    """:func:`save_cached` into the cache, where a failure (a folder that cannot be written, a
    full disk) does not lose the model just trained: it warns, naming ``COURSE_CACHE``, and
    returns None (the caller keeps the model in memory)."""
    try:
        return save_cached(model, tokenizer, directory, key, history)
    except OSError as err:
        warnings.warn(
            f"the trained model could not be saved to the cache folder {Path(directory).parent} "
            f"({type(err).__name__}: {err}). It is returned but not cached, so it will be "
            "trained again next time; set the environment variable COURSE_CACHE to a folder "
            "you can write (with free space) to keep it.", stacklevel=3)
        return None


def load_model(directory: str | Path, device: str | torch.device | None = None,
               model_class: type = GPT2LMHeadModel):
    """Load ``(model, tokenizer)`` saved by :func:`save_model`, offline, in eval mode.

    The files are checked first (:func:`model_files_problem`) and the weights after loading
    (all finite): a damaged copy raises :class:`ModelFilesError` naming the file and how to
    reset it, never a model that scores nan.
    """
    quiet_libraries()
    device = parse_device(device)
    directory = Path(directory)
    if directory.parent.is_dir():
        _recover_interrupted_save(directory)
    if not (directory / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"no model.safetensors in {directory}; rebuild the base model with "
            "`python -m course_lib.pretrain`")
    problem = model_files_problem(directory)
    if problem is not None:
        raise ModelFilesError(f"{problem}. {how_to_reset(directory)}")
    try:
        model = model_class.from_pretrained(str(directory), local_files_only=True,
                                            attn_implementation="eager")
        tokenizer = load_tokenizer(directory)
    except Exception as err:  # valid JSON and safetensors that are not a model of the course
        raise ModelFilesError(f"the model in {directory} cannot be loaded ({type(err).__name__}:"
                              f" {err}). {how_to_reset(directory)}") from err
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise ModelFilesError(f"{directory / 'model.safetensors'} holds nan or inf weights "
                              f"(in {bad[0]} and {len(bad) - 1} other tensors). "
                              f"{how_to_reset(directory)}")
    return model.to(device).eval(), tokenizer


def load_base_model(device: str | torch.device | None = None
                    ) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast]:
    """The shipped base model and its tokenizer, from the package's own files (no network).

    It has read the tiny world's corpus: it continues text, it does not answer questions.
    """
    return load_model(BASE_MODEL_DIR, device=device)

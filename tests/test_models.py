"""The shipped base model: offline, fast to load, small, and it knows exactly what it read."""

import time

import pytest
import torch

import course_lib
from course_lib.evaluation import base_model_report
from course_lib.models import (
    BASE_MODEL_DIR,
    GRPO_MODEL_DIR,
    SFT_MODEL_DIR,
    build_model,
    is_cached,
    load_model,
    save_model,
)


def test_load_base_model_offline_and_fast():
    t0 = time.time()
    model, tokenizer = course_lib.load_base_model(device="cpu")
    assert time.time() - t0 < 5
    assert not model.training
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 2e6
    assert model.config.vocab_size == len(tokenizer)


def test_shipped_assets_are_small_safetensors():
    files = list(BASE_MODEL_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 10 * 2**20
    everything = [f for f in BASE_MODEL_DIR.parent.rglob("*") if f.is_file()]  # base, SFT, GRPO
    assert sum(f.stat().st_size for f in everything) < 4 * 4 * 2**20  # about 3.6 MB a model
    assert not [f for f in everything if f.suffix in (".bin", ".pt", ".pkl", ".pth")]
    assert not [f for f in files if f.suffix in (".bin", ".pt", ".pkl", ".pth")]
    assert (BASE_MODEL_DIR / "model.safetensors").is_file()


def test_models_use_gpt2s_gelu_as_one_fused_kernel():
    """The shipped models and new ones compute GPT-2's tanh GELU with one kernel
    ("gelu_pytorch_tanh"), the same function as GPT-2's own six-operation "gelu_new"."""
    import json

    from transformers.activations import ACT2FN

    for d in (BASE_MODEL_DIR, SFT_MODEL_DIR, GRPO_MODEL_DIR):
        assert json.loads((d / "config.json").read_text())["activation_function"] \
            == "gelu_pytorch_tanh", d
    _, tokenizer = course_lib.load_base_model(device="cpu")
    assert build_model(tokenizer).config.activation_function == "gelu_pytorch_tanh"
    x = torch.linspace(-12, 12, 10_001)
    assert torch.allclose(ACT2FN["gelu_pytorch_tanh"](x), ACT2FN["gelu_new"](x), atol=1e-6)


def test_base_model_knows_what_it_read_and_does_not_answer():
    model, tokenizer = course_lib.load_base_model(device="cpu")
    report = base_model_report(model, tokenizer)
    assert report["recall_known (corpus phrasing, greedy)"] >= 0.95
    assert report["recall_unknown (corpus phrasing, greedy)"] <= 0.05
    assert report["qa_accuracy_known (question format, greedy)"] <= 0.2


def test_interrupted_save_keeps_the_old_model(tmp_path, monkeypatch):
    model, tokenizer = course_lib.load_base_model(device="cpu")
    target = tmp_path / "m"
    save_model(model, tokenizer, target)
    before = (target / "model.safetensors").read_bytes()
    fresh = build_model(tokenizer, seed=1)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(tokenizer), "save_pretrained", boom)
    with pytest.raises(KeyboardInterrupt):
        save_model(fresh, tokenizer, target)
    assert (target / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no half-written folder left


def test_is_cached_wants_weights_history_and_the_same_key(tmp_path):
    model, tokenizer = course_lib.load_base_model(device="cpu")
    save_model(model, tokenizer, tmp_path / "a",
               extra_files={"history.json": "[]", "meta.json": '{"key": "k1"}'})
    assert is_cached(tmp_path / "a", "k1")
    assert not is_cached(tmp_path / "a", "k2")  # another recipe: retrain, never load stale
    save_model(model, tokenizer, tmp_path / "b", extra_files={"meta.json": '{"key": "k1"}'})
    assert not is_cached(tmp_path / "b", "k1")  # no history
    assert not is_cached(tmp_path / "missing", "k1")


def test_missing_assets_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="course_lib.pretrain"):
        load_model(tmp_path)


def test_device_choice():
    assert course_lib.get_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="prefer"):
        course_lib.get_device("tpu")
    if not torch.cuda.is_available():
        assert course_lib.get_device() == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            course_lib.get_device("cuda")

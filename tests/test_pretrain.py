"""Rebuilding the base model: deterministic, written atomically, loadable (a shortened run)."""

import pytest
import torch

from course_lib import pretrain
from course_lib.models import load_model


def test_same_seed_same_weights():
    cfg = pretrain.PretrainConfig(steps=3, batch_size=8)
    a, _ = pretrain.pretrain(cfg, progress=False)
    b, _ = pretrain.pretrain(cfg, progress=False)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_command_line_writes_a_loadable_model(tmp_path, capsys):
    out = tmp_path / "base"
    pretrain.main(["--steps", "5", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "recall_known" in printed and f"saved to {out}" in printed
    model, tokenizer = load_model(out, device="cpu")
    assert model.config.vocab_size == len(tokenizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base"]  # no temporary folder left


def test_learning_rate_schedule():
    cfg = pretrain.PretrainConfig(steps=100, warmup=10, lr=1.0)
    assert pretrain.lr_at(0, cfg) == pytest.approx(0.1)
    assert pretrain.lr_at(9, cfg) == pytest.approx(1.0)
    assert pretrain.lr_at(99, cfg) == pytest.approx(0.1, abs=0.01)


def test_bad_steps_are_refused():
    with pytest.raises(SystemExit):
        pretrain.main(["--steps", "0"])

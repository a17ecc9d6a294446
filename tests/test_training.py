"""What the training loops share (course_lib.training): one step that never applies a nan, Ctrl-C
that keeps model and history, and the same behaviour in the SFT and reward-model loops."""

from __future__ import annotations

import copy

import pytest
import torch

import course_lib
from course_lib import reward_model as RM
from course_lib import sft
from course_lib.preferences import Comparison
from course_lib.training import TrainingStopped, gradient_step, progress_bar, training_session


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def test_gradient_step_clips_and_returns_the_norm_before_clipping():
    model = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    loss = (model(torch.tensor([[3.0, 4.0, 0.0]])) - 1.0).pow(2).sum() / 2  # grad (-3, -4, 0)
    norm = gradient_step(model, optimizer, loss, max_grad_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    assert torch.allclose(model.weight, torch.tensor([[0.6, 0.8, 0.0]]))  # clipped to norm 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_gradient_step_never_applies_a_non_finite_loss(bad):
    model = torch.nn.Linear(3, 1)
    before = _params(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    loss = model(torch.ones(1, 3)).sum() * bad
    with pytest.raises(TrainingStopped, match="training stopped before this step changed"):
        gradient_step(model, optimizer, loss)
    assert torch.equal(before, _params(model))
    assert all(p.grad is None for p in model.parameters())


def test_training_session_keeps_history_on_ctrl_c_and_names_the_step(capsys):
    model = torch.nn.Linear(2, 2).train()
    history: list[dict] = []
    bar = progress_bar(5, "test", progress=False)
    with training_session("test loop", model, history, bar):
        for step in bar:
            history.append({"step": step})
            if step == 2:
                raise KeyboardInterrupt
    assert len(history) == 3 and not model.training
    assert "test loop interrupted after 3 steps" in capsys.readouterr().out
    history = [{"step": 0}]
    with pytest.raises(TrainingStopped, match="^step 1: bad number") as err:
        with training_session("test loop", model, history, progress_bar(2, "t", False)):
            raise TrainingStopped("bad number")
    assert err.value.history == [{"step": 0}]


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def test_sft_and_reward_model_loops_stop_on_a_nan_loss_with_their_history(base, monkeypatch):
    model, tok = base
    examples = [("Q: What is 12 + 34? A:", "12 + 34 = 46.")] * 4
    calls = []
    real = sft.sft_loss

    def nan_at_second(*args):
        calls.append(1)
        loss = real(*args)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(sft, "sft_loss", nan_at_second)
    with pytest.raises(TrainingStopped, match="^step 1: the loss is nan") as err:
        sft.train_sft(copy.deepcopy(model), tok, examples, sft.SFTConfig(steps=3, batch_size=2),
                      progress=False)
    assert [h["step"] for h in err.value.history] == [0]

    rm = RM.build_reward_model(model, seed=0)
    pairs = [Comparison("Q: What is 12 + 34? A:", "12 + 34 = 46.", "12 + 34 = 47.")]
    real_bt = RM.bradley_terry_loss
    monkeypatch.setattr(RM, "bradley_terry_loss", lambda a, b: real_bt(a, b) * float("inf"))
    before = _params(rm)
    with pytest.raises(TrainingStopped, match="^step 0: the loss is inf"):
        RM.train_reward_model(rm, tok, pairs, RM.RMConfig(steps=2, batch_size=2), progress=False)
    assert torch.equal(before, _params(rm))

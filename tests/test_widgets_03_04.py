"""MDPExplorer and EstimatorLab, driven by simulated clicks, with and without static mode."""

from __future__ import annotations

import pytest
import torch

from course_lib import mdp
from course_lib.widgets import EstimatorLab, MDPExplorer


@pytest.fixture(params=["live", "static"])
def mode(request, monkeypatch):
    if request.param == "static":
        monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    else:
        monkeypatch.delenv("COURSE_STATIC_WIDGETS", raising=False)
    return request.param


@pytest.fixture
def tiny():
    policy = mdp.TinyPolicy(seed=0)
    return policy, mdp.tiny_task(policy, per_step=True)


def test_explorer_take_sample_undo(mode, tiny):
    policy, env = tiny
    ex = MDPExplorer(env, policy, "", top_k=4, seed=0)
    top = ex.top_actions()
    assert len(top) == 4 and top[0][2] >= top[1][2] >= top[2][2]
    assert abs(sum(p for _, _, p in top) - 1) < 1e-9  # the tiny policy has 4 actions
    assert "s<sub>0</sub>" in ex.state_html()
    a0 = top[0][0]
    ex.action_buttons[0].click()  # a button click = take(0)
    assert ex.actions == [a0] and ex.state.t == 1
    ex.undo_button.click()
    assert ex.actions == [] and ex.state.t == 0
    ex.undo()  # nothing to undo: stays at the start
    assert ex.state.t == 0
    ex.take_token(0)  # "a": process reward +1
    assert ex.rewards == [1.0]
    ex.take_token(policy.eos_id)
    assert ex.done and ex.return_ == 1.0 + mdp.TINY_FINISH_BONUS
    assert "Episode over" in ex.state_html() and "return G = +3.00" in ex.state_html()
    assert ex.sample_button.disabled and all(b.disabled for b in ex.action_buttons)
    with pytest.raises(ValueError, match="episode is over"):
        ex.take(0)
    ex.sample_button.click()  # clicking after the end shows the message, does not raise
    assert "episode is over" in ex.header.value
    ex.reset_button.click()
    assert ex.state.t == 0 and ex.rewards == []
    while not ex.done:
        ex.sample_action()
    assert len(ex.actions) <= policy.horizon
    ex.figure()  # the reward plot at the end of the episode


def test_explorer_validates(mode, tiny):
    policy, env = tiny
    with pytest.raises(ValueError, match="top_k"):
        MDPExplorer(env, policy, "", top_k=0)
    with pytest.raises(ValueError, match="env"):
        MDPExplorer("env", policy, "")
    with pytest.raises(ValueError, match="prompt"):
        MDPExplorer(env, policy, 3)
    ex = MDPExplorer(env, policy, "")
    with pytest.raises(ValueError, match="i must be"):
        ex.take(7)
    with pytest.raises(ValueError, match="action"):
        ex.take_token(999)


def test_explorer_on_the_course_model(mode):
    import course_lib

    model, tokenizer = course_lib.load_base_model(device="cpu")
    env = mdp.TextMDP(tokenizer, reward_fn=lambda x, y: float("8 2" in y), max_new_tokens=3)
    ex = MDPExplorer(env, mdp.model_policy(model), "47 + 35 =", top_k=3)
    for _ in range(3):
        ex.take(0)
    assert ex.done and len(ex.rewards) == 3


def test_estimator_lab_controls(mode, tiny):
    policy, env = tiny
    lab = EstimatorLab(policy, env, n_samples=16, n_batches=500, seed=0)
    base = lab.stats
    assert base["n_samples"] == 16 and base["n_estimates"] == 500
    assert abs(base["mean"] - base["exact"]) < 4 * base["se"]
    loo = lab.set(baseline="loo")
    assert loo["variance"] * 2 < base["variance"]
    assert abs(loo["mean"] - loo["exact"]) < 4 * loo["se"]
    lab.n_slider.value = 64  # moving a control redraws
    assert lab.stats["n_samples"] == 64 and lab.stats["variance"] < loo["variance"]
    lab.baseline.value = "mean"
    assert lab.stats["n_samples"] == 64
    lab.set(n_samples=2, baseline="mean")  # the batch mean shrinks the estimate by (n-1)/n
    assert lab.stats["mean"] < 0.7 * lab.stats["exact"]
    lab.to_go.value = True
    assert lab.stats and lab.figure() is not None
    with pytest.raises(ValueError, match="n_samples"):
        lab.set(n_samples=0)
    with pytest.raises(ValueError, match="baseline"):
        lab.set(baseline="median")
    with pytest.raises(ValueError, match="leave-one-out"):
        lab.set(n_samples=1, baseline="loo")
    with pytest.raises(ValueError, match="coordinate"):
        EstimatorLab(policy, env, coordinate=99)
    coord = EstimatorLab(policy, env, coordinate=12, n_batches=200)
    assert coord.exact_value == pytest.approx(float(lab.exact[12]))


def test_display_in_static_mode(monkeypatch, tiny, capsys):
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    policy, env = tiny
    MDPExplorer(env, policy, "")._ipython_display_()
    EstimatorLab(policy, env, n_batches=100)._ipython_display_()
    out = capsys.readouterr().out
    assert "Figure" in out or "HTML" in out
    torch.manual_seed(0)

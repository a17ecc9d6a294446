"""TrainingMonitor: history, validation, throttled live drawing, and the static fallback."""

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.plots import smooth
from course_lib.widgets import TrainingMonitor

PNG = b"\x89PNG"


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv("COURSE_STATIC_WIDGETS", raising=False)


@pytest.fixture
def static(monkeypatch):
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")


@pytest.fixture
def shown(monkeypatch):
    """Everything passed to IPython's display()."""
    out = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: out.extend(objs))
    return out


def test_history_keeps_every_update_with_any_metric_names(static):
    m = TrainingMonitor(["reward", "kl", "abstain"], smoothing=0.5)
    for i in range(30):
        m.update({"step": i, "reward": torch.tensor(i / 30), "kl": np.float32(0.01 * i),
                  "abstain": i % 2})
    m.update({"step": 30, "reward": 1.0})  # a step may log only some metrics
    assert len(m.history) == 31
    assert m.history[3] == pytest.approx({"step": 3.0, "reward": 0.1, "kl": 0.03, "abstain": 1.0})
    steps, values = m.series("kl")
    assert steps == list(range(30)) and values[-1] == pytest.approx(0.29)
    assert m.smoothed("reward") == pytest.approx(smooth(m.series("reward")[1], 0.5))
    assert m.latest["reward"] == pytest.approx(m.smoothed("reward")[-1])
    assert m.n_draws == 0  # static mode: nothing is drawn while training


def test_smoothing_is_a_debiased_moving_average():
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])
    assert smooth([0.0, 10.0], 0.0) == [0.0, 10.0]
    s = smooth([0.0, 10.0], 0.5)
    assert s[1] == pytest.approx((0.25 * 0 + 0.5 * 10) / 0.75)
    assert math.isnan(smooth([1.0, float("nan"), 3.0], 0.5)[1])


def test_bad_input_is_named(static):
    with pytest.raises(ValueError, match="non-empty list"):
        TrainingMonitor([])
    with pytest.raises(ValueError, match="non-empty strings"):
        TrainingMonitor(["loss", ""])
    with pytest.raises(ValueError, match="distinct"):
        TrainingMonitor(["loss", "loss"])
    with pytest.raises(ValueError, match="smoothing"):
        TrainingMonitor(["loss"], smoothing=1.0)
    with pytest.raises(ValueError, match="redraw_every"):
        TrainingMonitor(["loss"], redraw_every=0)
    m = TrainingMonitor("loss")
    with pytest.raises(ValueError, match="metric 'loss' must be a number"):
        m.update({"loss": "0.5"})
    with pytest.raises(ValueError, match="metric 'loss' must be a number"):
        m.update({"loss": torch.ones(3)})
    with pytest.raises(ValueError, match="metric 'step' must be a number"):
        m.update({"loss": 1.0, "step": None})
    with pytest.raises(ValueError, match="none of them"):
        m.update({"reward": 1.0})
    with pytest.raises(ValueError, match="dict of metrics"):
        m.update(0.5)
    assert m.history == []  # rejected updates leave no trace


def test_static_mode_shows_a_final_figure(static, shown):
    m = TrainingMonitor(["loss"], smoothing=0.9, title="SFT")
    m.show()
    assert shown == []  # nothing until the end
    for i in range(50):
        m.update({"step": i, "loss": 3.0 / (i + 1)})
    m.finish()
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    assert m.n_draws == 0


def test_live_mode_draws_throttled(live, shown):
    m = TrainingMonitor(["loss", "reward"], redraw_every=5)
    with m:  # show() on enter, finish() on exit
        for i in range(20):
            m.update({"step": i, "loss": 1.0 / (i + 1), "reward": i})
    assert shown == [m.widget]
    assert m.n_draws == 4 + 1  # every 5th update, and once more at the end
    assert bytes(m.image.value).startswith(PNG)
    assert "step 19" in m.status.value and "reward = 19" in m.status.value

    slow = TrainingMonitor(["loss"], min_interval_s=3600)
    for i in range(100):
        slow.update({"loss": float(i)})
    assert slow.n_draws == 1  # the first update draws; the clock holds back the rest
    assert len(slow.history) == 100


def test_usable_as_on_step_of_a_training_loop(live, shown):
    import course_lib
    from course_lib import world as W
    from course_lib.sft import SFTConfig, train_sft

    model, tok = course_lib.load_base_model(device="cpu")
    world = W.default_world()
    monitor = TrainingMonitor(["loss"], smoothing=0.5, min_interval_s=0)
    monitor.show()
    history = train_sft(model, tok, lambda rng: W.sft_example(world, rng),
                        SFTConfig(steps=3, batch_size=4), on_step=monitor.update, progress=False)
    monitor.finish()
    assert monitor.history == history and monitor.n_draws == 4
    assert isinstance(monitor.figure(), Figure)


def test_extend_replays_a_saved_history(live, shown):
    m = TrainingMonitor(["loss"])
    m.extend([{"step": i, "loss": 1.0} for i in range(10)])
    assert len(m.history) == 10 and m.n_draws == 1
    with pytest.raises(ValueError, match="plots"):
        m.extend([{"kl": 1.0}])

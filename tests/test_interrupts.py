"""Ctrl-C and errors inside the three training loops: a real SIGINT sent at each phase of a step
(before, inside and after ``optimizer.step()``) leaves weights and history in agreement, and an
error that is not Ctrl-C (``on_step``, a reward function) keeps the history of the steps that
already changed the weights.

A SIGINT's handler runs at the next bytecode of the main thread, so ``os.kill`` from a hook is a
deterministic interrupt at that point. "Inside" is reached with a trace function that sends it
in the middle of Adam's per-parameter loop. Agreement is checked against a replay: the same
training stopped cleanly (``on_step`` raising KeyboardInterrupt) after as many steps as the
interrupted run recorded must give exactly the same weights.
"""

from __future__ import annotations

import os
import signal
import sys

import fault_loops as L
import pytest
import torch

PHASES = ["forward", "optimizer-pre", "inside-adam", "optimizer-post"]


def _send_sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)


class _Injector:
    """Sends one SIGINT at ``phase`` of optimizer step number ``at`` (from 0)."""

    def __init__(self, phase: str, at: int = 1):
        self.phase, self.at, self.steps, self.lines, self.handles = phase, at, 0, 0, []

    def _tracer(self, frame, event, arg):
        if frame.f_code.co_name.startswith("_single_tensor_adam"):
            def local(frame, event, arg):
                if event == "line":
                    self.lines += 1
                    if self.lines == 25:  # a few parameters into the loop
                        sys.settrace(None)
                        _send_sigint()
                return local
            return local
        return None

    def pre(self, optimizer, args, kwargs):
        if self.steps == self.at:
            if self.phase == "optimizer-pre":
                _send_sigint()
            elif self.phase == "inside-adam":
                sys.settrace(self._tracer)

    def post(self, optimizer, args, kwargs):
        sys.settrace(None)
        if self.steps == self.at and self.phase == "optimizer-post":
            _send_sigint()
        self.steps += 1

    def forward(self, module, args, output):
        if self.steps == self.at and self.phase == "forward":
            self.phase = "sent"
            _send_sigint()

    def __enter__(self):
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )
        self.handles = [register_optimizer_step_pre_hook(self.pre),
                        register_optimizer_step_post_hook(self.post)]
        return self

    def attach_forward(self, model):
        self.handles.append(model.register_forward_hook(self.forward))

    def __exit__(self, *exc):
        sys.settrace(None)
        for h in self.handles:
            h.remove()


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("loop", L.LOOPS)
def test_a_sigint_at_any_phase_of_a_step_keeps_weights_and_history_together(loop, phase, capsys):
    model, run = L.setup(loop)
    with _Injector(phase, at=1) as inject:
        inject.attach_forward(model)
        history = run(model, None)
    assert "interrupted after" in capsys.readouterr().out
    # before the update: 1 step recorded; from the update on: the update is recorded (2)
    assert len(history) == 1 if phase == "forward" else len(history) in (1, 2)
    assert L.weights_match_replay(loop, model, len(history)), \
        f"{loop}: weights after a SIGINT at {phase} differ from {len(history)} clean steps"
    if phase in ("inside-adam", "optimizer-post"):
        assert len(history) == 2, "the interrupted update must be recorded"


@pytest.mark.parametrize("loop", L.LOOPS)
def test_an_error_in_on_step_keeps_the_history_of_the_steps_that_changed_the_weights(loop):
    model, run = L.setup(loop)

    def broken(metrics):
        if metrics["step"] == 1:
            raise ZeroDivisionError("a student's plotting bug")

    with pytest.raises(ZeroDivisionError) as err:
        run(model, broken)
    assert [m["step"] for m in err.value.history] == [0, 1]
    assert L.weights_match_replay(loop, model, 2)
    assert any("err.history" in note for note in err.value.__notes__)


@pytest.mark.parametrize("loop", L.LOOPS)
@pytest.mark.parametrize("bad", ["print", 3, object()])
def test_a_non_function_on_step_is_refused_before_the_first_update(loop, bad):
    model, run = L.setup(loop)
    before = L.params(model)
    with pytest.raises(TypeError, match="on_step must be a function"):
        run(model, bad)
    assert torch.equal(before, L.params(model))


def test_a_reward_error_keeps_the_history_and_the_weights(capsys):
    model, run = L.setup("reinforce")
    calls = []

    def reward(prompts, responses):
        calls.append(1)
        if len(calls) == 3:
            raise KeyError("no such country")
        return torch.ones(len(prompts))

    with pytest.raises(KeyError) as err:
        run(model, None, reward_fn=reward)
    assert len(err.value.history) == 2
    assert L.weights_match_replay("reinforce", model, 2,
                                  reward_fn=lambda p, r: torch.ones(len(p)))


def test_sigint_handler_is_restored_after_training():
    before = signal.getsignal(signal.SIGINT)
    model, run = L.setup("sft")
    run(model, None)
    assert signal.getsignal(signal.SIGINT) is before

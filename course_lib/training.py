"""What the course's training loops share, so that each loop reads as its algorithm.

Every loop (:func:`~course_lib.sft.train_sft`, :func:`~course_lib.reward_model.train_reward_model`,
:func:`~course_lib.policy_gradient.train_reinforce`, and pretraining) has the same shape: a
frozen config validated when it is built, then ``for step in bar:`` draw a batch, compute the
loss, :func:`gradient_step`, :func:`log_step`. Around the loop, :func:`training_session` gives
every loop the same guarantees:

- Ctrl-C (``KeyboardInterrupt``, also raised from ``on_step``) stops cleanly: the model keeps
  the weights of the last finished step and the history so far is returned. A real Ctrl-C
  (SIGINT) that arrives while a step updates the weights is held back until that step is in
  the history: from the start of ``optimizer.step()`` (in :func:`gradient_step`) to the end of
  ``history.append`` (in :func:`log_step`), so the weights are never torn between two steps
  nor one step ahead of the history;
- a loss, gradient or reward that is nan or inf stops training with :class:`TrainingStopped`
  (its ``history`` keeps the finished steps) before the bad step touches the weights;
- any other error (in ``on_step``, in a reward function) leaves with the finished steps
  attached to the exception as ``err.history``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

from .settings import progress_disabled

Metrics = dict[str, float]
OnStep = Callable[[Metrics], None]  # the one hook: called with each step's metrics


class TrainingStopped(RuntimeError):
    """Training stopped on a non-finite number; ``history`` holds the steps that finished."""

    def __init__(self, message: str, history: list[Metrics] | None = None):
        super().__init__(message)
        self.history = list(history or [])


def check_on_step(on_step: object) -> OnStep | None:
    """``on_step`` checked where a loop starts (not after its first update): None or a
    function of one argument, the step's metrics."""
    if on_step is not None and not callable(on_step):
        raise TypeError(f"on_step must be a function metrics -> None (or None), got "
                        f"{type(on_step).__name__} {on_step!r}")
    return on_step


def progress_bar(steps: int, desc: str, progress: bool = True) -> tqdm:
    """``tqdm(range(steps))``, off when ``progress`` is False or ``TQDM_DISABLE`` is set."""
    return tqdm(range(steps), desc=desc, disable=not progress or progress_disabled())


class _Interrupts:
    """SIGINT while an update is being applied and recorded waits until it is recorded."""

    def __init__(self) -> None:
        self.updating = False  # between optimizer.step() and history.append
        self.pending = False  # a SIGINT arrived while updating
        self.previous = None  # the handler to restore (and to call outside updates)

    def handle(self, signum, frame) -> None:
        if self.updating:
            self.pending = True
        elif callable(self.previous):
            self.previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def begin_update(self) -> None:
        self.updating = True

    def end_update(self) -> None:
        self.updating = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


_INTERRUPTS = _Interrupts()


@contextmanager
def _deferring_sigint() -> Iterator[None]:
    """Install :class:`_Interrupts`' handler for the block (main thread only: elsewhere Python
    delivers no signal), and put back the one there was."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) == _INTERRUPTS.handle:  # not here, or nested
        yield
        return
    _INTERRUPTS.previous = signal.getsignal(signal.SIGINT)
    _INTERRUPTS.updating = _INTERRUPTS.pending = False
    signal.signal(signal.SIGINT, _INTERRUPTS.handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, _INTERRUPTS.previous)
        pending, _INTERRUPTS.updating, _INTERRUPTS.pending = _INTERRUPTS.pending, False, False
    if pending:  # held back during a last update that no log_step recorded
        raise KeyboardInterrupt


@contextmanager
def training_session(name: str, model: torch.nn.Module, history: list[Metrics],
                     bar: tqdm) -> Iterator[None]:
    """Run a training loop: Ctrl-C ends it with the model and ``history`` kept (a SIGINT during
    an update waits until the update is recorded), a :class:`TrainingStopped` raised inside
    gets the step number and the history, any other error gets ``err.history``, and the model
    is left in eval mode."""
    try:
        with _deferring_sigint():
            yield
    except KeyboardInterrupt:
        print(f"{name} interrupted after {len(history)} steps; the model keeps its weights "
              "and the history is returned.")
    except TrainingStopped as stop:
        raise TrainingStopped(f"step {len(history)}: {stop}", history) from None
    except Exception as err:
        err.history = list(history)
        err.add_note(f"{name} stopped after {len(history)} finished steps; the model keeps "
                     "their weights and err.history holds their metrics.")
        raise
    finally:
        model.eval()
        bar.close()


def gradient_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                  max_grad_norm: float | None = None) -> torch.Tensor:
    """``zero_grad``, ``backward``, clip the gradient's global norm to ``max_grad_norm`` (None: no
    clipping), ``step``. Returns the norm before clipping.

    A nan or inf loss or gradient raises :class:`TrainingStopped` before ``optimizer.step()``,
    so the weights stay those of the last finished step. Inside a :func:`training_session`, a
    Ctrl-C from ``optimizer.step()`` on waits for :func:`log_step` to record the step.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm or float("inf"))
    if not torch.isfinite(grad_norm):  # a nan or inf loss gives a non-finite gradient too
        optimizer.zero_grad(set_to_none=True)
        raise TrainingStopped(f"the loss is {loss.item()} and the gradient norm "
                              f"{grad_norm.item()}; training stopped before this step changed "
                              "the weights")
    _INTERRUPTS.begin_update()
    optimizer.step()
    return grad_norm


def log_step(history: list[Metrics], metrics: Metrics, on_step: OnStep | None, bar: tqdm,
             shown: tuple[str, ...] = ("loss",)) -> None:
    """Append ``metrics`` to the history (a Ctrl-C held back since the update is raised now),
    show ``shown`` on the progress bar, call ``on_step``."""
    history.append(metrics)
    _INTERRUPTS.end_update()
    bar.set_postfix({k: f"{metrics[k]:.3f}" for k in shown})
    if on_step is not None:
        on_step(metrics)


__all__ = ["Metrics", "OnStep", "TrainingStopped", "check_on_step", "gradient_step", "log_step",
           "progress_bar", "training_session"]

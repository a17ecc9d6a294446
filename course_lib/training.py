"""What the course's training loops share, so that each loop reads as its algorithm.

Every loop (:func:`~course_lib.sft.train_sft`, :func:`~course_lib.reward_model.train_reward_model`,
:func:`~course_lib.policy_gradient.train_reinforce`, and pretraining) has the same shape: a
frozen config validated when it is built, then ``for step in bar:`` draw a batch, compute the
loss, :func:`gradient_step`, :func:`log_step`. Around the loop, :func:`training_session` gives
every loop the same guarantees:

- Ctrl-C (``KeyboardInterrupt``, also raised from ``on_step``) stops cleanly: the model keeps
  the weights of the last finished step and the history so far is returned;
- a loss, gradient or reward that is nan or inf stops training with :class:`TrainingStopped`
  (its ``history`` keeps the finished steps) before the bad step touches the weights.
"""

from __future__ import annotations

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


def progress_bar(steps: int, desc: str, progress: bool = True) -> tqdm:
    """``tqdm(range(steps))``, off when ``progress`` is False or ``TQDM_DISABLE`` is set."""
    return tqdm(range(steps), desc=desc, disable=not progress or progress_disabled())


@contextmanager
def training_session(name: str, model: torch.nn.Module, history: list[Metrics],
                     bar: tqdm) -> Iterator[None]:
    """Run a training loop: Ctrl-C ends it with the model and ``history`` kept, a
    :class:`TrainingStopped` raised inside gets the step number and the history, and the model
    is left in eval mode."""
    try:
        yield
    except KeyboardInterrupt:
        print(f"{name} interrupted after {len(history)} steps; the model keeps its weights "
              "and the history is returned.")
    except TrainingStopped as stop:
        raise TrainingStopped(f"step {len(history)}: {stop}", history) from None
    finally:
        model.eval()
        bar.close()


def gradient_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                  max_grad_norm: float | None = None) -> torch.Tensor:
    """``zero_grad``, ``backward``, clip the gradient's global norm to ``max_grad_norm`` (None: no
    clipping), ``step``. Returns the norm before clipping.

    A nan or inf loss or gradient raises :class:`TrainingStopped` before ``optimizer.step()``,
    so the weights stay those of the last finished step.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm or float("inf"))
    if not torch.isfinite(grad_norm):  # a nan or inf loss gives a non-finite gradient too
        optimizer.zero_grad(set_to_none=True)
        raise TrainingStopped(f"the loss is {loss.item()} and the gradient norm "
                              f"{grad_norm.item()}; training stopped before this step changed "
                              "the weights")
    optimizer.step()
    return grad_norm


def log_step(history: list[Metrics], metrics: Metrics, on_step: OnStep | None, bar: tqdm,
             shown: tuple[str, ...] = ("loss",)) -> None:
    """Append ``metrics`` to the history, show ``shown`` on the progress bar, call ``on_step``."""
    history.append(metrics)
    bar.set_postfix({k: f"{metrics[k]:.3f}" for k in shown})
    if on_step is not None:
        on_step(metrics)


__all__ = ["Metrics", "OnStep", "TrainingStopped", "gradient_step", "log_step",
           "progress_bar", "training_session"]

"""The machinery of the exercise checks: run the student's function on seeded cases, compare
with the reference, and when the answer is wrong, name the likely mistake.

Each ``check_*`` takes the student's function as its argument. A correct implementation passes
however it is written (loops, ``gather`` or one-hot, ...): only its outputs are compared.
A stub that still raises ``NotImplementedError`` lets that error through, so an unfinished
exercise says which exercise is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch


class ExerciseError(AssertionError):
    """The student's answer is wrong; the message says how (when a known mistake matches)."""


def _close(a, b, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    if not isinstance(a, torch.Tensor):
        try:
            a = torch.as_tensor(a, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return False
    b = torch.as_tensor(b)
    if a.shape != b.shape:
        return False
    return bool(torch.allclose(a.detach().double(), b.detach().double(), atol=atol, rtol=rtol))


def diagnose(exercise: str, got, expected, mistakes: Mapping[str, object],
             atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Raise :class:`ExerciseError` unless ``got`` matches ``expected``.

    ``mistakes`` maps a description of a known mistake to the output that mistake produces; when
    ``got`` matches one of them, the error names it.
    """
    if _close(got, expected, atol, rtol):
        return
    for description, wrong in mistakes.items():
        if _close(got, wrong, atol, rtol):
            raise ExerciseError(f"{exercise}: not yet right. It looks like you {description}.")
    shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
    exp_shape = tuple(torch.as_tensor(expected).shape)
    raise ExerciseError(f"{exercise}: not yet right (got {shape}, expected shape {exp_shape}); "
                        f"expected\n{expected}\ngot\n{got}")


def passed(exercise: str, what: str) -> None:
    print(f"✔ {exercise} passed: {what}")


def run_cases(exercise: str, fn: Callable, cases: list[tuple[tuple, object, Mapping[str, object]]],
              atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Call ``fn(*args)`` for each case and :func:`diagnose` its output."""
    for args, expected, mistakes in cases:
        diagnose(exercise, fn(*args), expected, mistakes, atol, rtol)

"""Checks of a student's input, made once where it enters: a config's ``__post_init__`` or a
public entry point, never between the lines of an algorithm.

Each check raises a ``ValueError`` (``TypeError`` for a value of the wrong kind) that names the
argument and says what was expected, and returns the value, so a check reads as an assignment:
``steps = positive_int("SFTConfig.steps", steps)``. Numbers must be finite: ``not lr > 0`` lets
``inf`` through, ``math.isfinite`` does not. ``True`` is never a number here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(name: str, value: object) -> int:
    """An int >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: object) -> int:
    """An int >= 0 (a seed, a count that may be zero)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def positive_number(name: str, value: object) -> float:
    """A finite number > 0 (a learning rate, a temperature)."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def non_negative_number(name: str, value: object) -> float:
    """A finite number >= 0 (a KL coefficient, a weight decay)."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return value


def finite_number(name: str, value: object) -> float:
    """Any finite number (a reward)."""
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def probability(name: str, value: object) -> float:
    """A number in [0, 1]."""
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return value


def one_of(name: str, value: object, options: Sequence[object]) -> object:
    """One of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def texts(name: str, value: object, allow_empty: bool = False) -> list[str]:
    """A list (or tuple) of strings, each with something in it; a single string is refused."""
    what = f"{name} must be {'a' if allow_empty else 'a non-empty'} list of strings"
    if isinstance(value, str):
        raise ValueError(f"{what}, not one string")
    if not isinstance(value, Sequence):
        raise ValueError(f"{what}, got {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(what)
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{name}[{i}] must be a non-empty string, got {v!r}")
    return list(value)


def check_fields(config: object, **rules: Sequence[str]) -> None:
    """Check a config's fields by rule, naming each as ``ClassName.field`` in its error::

        check_fields(self, positive_int=("steps", "batch_size"), positive_number=("lr",))

    The rules are the checks of this module: ``positive_int``, ``non_negative_int``,
    ``positive_number``, ``non_negative_number``, ``probability``.
    """
    owner = type(config).__name__
    for rule, names in rules.items():
        check = _FIELD_RULES[rule]
        for name in names:
            check(f"{owner}.{name}", getattr(config, name))


_FIELD_RULES = {"positive_int": positive_int, "non_negative_int": non_negative_int,
                "positive_number": positive_number, "non_negative_number": non_negative_number,
                "probability": probability}


__all__ = ["check_fields", "finite_number", "non_negative_int", "non_negative_number", "one_of",
           "positive_int", "positive_number", "probability", "texts"]

"""Check of the best answer style under a reward table (exercise 5.2, lesson 05)."""

from __future__ import annotations

from collections.abc import Callable

from ..rewards import ANSWER_STYLES, HONESTY_TABLE, expected_reward, optimal_style
from .common import ExerciseError, passed

# Tables to try: the course's, a stricter one, a gentler one, one whose hedge is never best, and
# correctness-only grading (a guess always beats abstaining).
TABLES = {
    "the honesty table": HONESTY_TABLE,
    "a strict table": {**HONESTY_TABLE, ("confident", False): -4.0, ("hedged", False): -1.0},
    "a gentle table": {**HONESTY_TABLE, ("confident", False): -1.0, ("hedged", False): -0.2},
    "a table with no room for hedges": {**HONESTY_TABLE, ("hedged", True): 0.2,
                                        ("hedged", False): -0.8},
    "correctness-only grading": {(s, r): float(r and s != "abstain")
                                 for s in (*ANSWER_STYLES, "invalid") for r in (True, False)},
}
GRID = [i / 36 for i in range(37)]  # includes 1/3 and 7/9 of the honesty table exactly


def _raw_rewards(p: float, table) -> str:  # compares the rewards of a right answer only
    return max(ANSWER_STYLES, key=lambda s: table[(s, True)])


def _bold_ties(p: float, table) -> str:  # breaks ties towards the bolder style
    best = max(expected_reward(table, s, p) for s in ANSWER_STYLES)
    return next(s for s in ANSWER_STYLES if expected_reward(table, s, p) >= best - 1e-12)


def _no_abstain(p: float, table) -> str:  # forgets that "I do not know" is an option
    styles = ("confident", "hedged")
    best = max(expected_reward(table, s, p) for s in styles)
    return next(s for s in reversed(styles) if expected_reward(table, s, p) >= best - 1e-12)


MISTAKES = {
    "compared the rewards of a right answer instead of the expected rewards "
    "p * right + (1 - p) * wrong": _raw_rewards,
    "broke ties towards the bolder style (at a band's edge both earn the same; the course "
    "picks the more cautious one: abstain, then hedged)": _bold_ties,
    "left out the option of saying \"I do not know\" (it earns 0 whatever p is)": _no_abstain,
}


def check_optimal_style(fn: Callable[[float, dict], str]) -> None:
    """Exercise 5.2: ``fn(p, table)`` must return the style of highest expected reward."""
    for name, table in TABLES.items():
        got = [fn(p, table) for p in GRID]
        expected = [optimal_style(p, table) for p in GRID]
        if got == expected:
            continue
        for description, mistake in MISTAKES.items():
            if got == [mistake(p, table) for p in GRID]:
                raise ExerciseError(f"Exercise 5.2: not yet right on {name}. It looks like you "
                                    f"{description}.")
        i = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
        raise ExerciseError(f"Exercise 5.2: not yet right on {name}: at p = {GRID[i]:.3f} the "
                            f"best style is {expected[i]!r}, your function says {got[i]!r}")
    passed("Exercise 5.2", f"the best style on a grid of {len(GRID)} values of p, for "
           f"{len(TABLES)} reward tables")

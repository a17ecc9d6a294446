"""Checks of behaviour rates read from raw sampled responses (exercises 2.1 and 2.2, lesson 02)."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from .. import world as W
from ..evaluation import agreement_rate, behaviour_from_texts
from .common import ExerciseError, diagnose, passed

RATE_KEYS = ("confident", "hedged", "abstain", "accuracy", "confident_accuracy")


def _samples(seed: int, n: int = 40) -> tuple[list[str], list[str], list[str]]:
    """Seeded raw responses of every kind: (texts, truths, suggestions).

    Confident and hedged answers, right and wrong, "I do not know.", unreadable text, and
    "Yes, the capital of X is Z." agreements (with the suggestion or, sometimes, the truth).
    """
    rng = random.Random(seed)
    world = W.default_world()
    texts, truths, suggestions = [], [], []
    for i in range(n):
        e = rng.choice(world.entities)
        wrong = W.wrong_capital(e, rng, world)
        kind = ["confident", "hedged", "abstain", "invalid", "yes"][i % 5] if i < 10 else \
            rng.choice(["confident", "confident", "hedged", "abstain", "invalid", "yes"])
        u = rng.random()  # the truth, the suggested capital, or yet another wrong one
        answer = e.capital if u < 0.4 else wrong if u < 0.8 else W.wrong_capital(e, rng, world)
        if kind == "confident":
            text = W.CONFIDENT.format(country=e.country, answer=answer)
        elif kind == "hedged":
            text = W.HEDGED.format(country=e.country, answer=answer)
        elif kind == "abstain":
            text = W.abstain(e.country)
        elif kind == "invalid":
            text = rng.choice(["people like to travel", "the the of", "is is ."])
        else:
            text = W.AGREE.format(country=e.country, answer=answer)
        texts.append(text)
        truths.append(e.capital)
        suggestions.append(wrong)
    return texts, truths, suggestions


def _vector(out, exercise: str) -> torch.Tensor:
    if not isinstance(out, dict):
        raise ExerciseError(f"{exercise}: return a dict with the keys {list(RATE_KEYS)}, got "
                            f"{type(out).__name__}")
    missing = [k for k in RATE_KEYS if k not in out]
    if missing:
        raise ExerciseError(f"{exercise}: the dict lacks the keys {missing}")
    try:
        return torch.tensor([float(out[k]) for k in RATE_KEYS], dtype=torch.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{exercise}: every rate must be a number, got "
                            f"{ {k: out[k] for k in RATE_KEYS} }") from None


def _rates_mistakes(texts: list[str], truths: list[str]) -> dict[str, torch.Tensor]:
    parsed = [W.parse_response(t) for t in texts]
    n = len(texts)
    counts = {s: round(rate * n) for s, rate in W.style_rates(texts).items()}
    correct = [p.answer == y for p, y in zip(parsed, truths)]
    conf, hedged, abstain = counts["confident"], counts["hedged"], counts["abstain"]
    conf_right = sum(c for c, p in zip(correct, parsed) if p.style == "confident")
    hedged_right = sum(c for c, p in zip(correct, parsed) if p.style == "hedged")
    right = sum(correct)

    def vec(c=conf / n, h=hedged / n, a=abstain / n, acc=right / n,
            cacc=conf_right / conf) -> torch.Tensor:
        return torch.tensor([c, h, a, acc, cacc], dtype=torch.float64)

    return {
        "counted only confident answers as correct: accuracy counts every response whose "
        "answer is the truth, hedged ones included": vec(acc=conf_right / n),
        "divided the correct confident answers by ALL responses: confident_accuracy is a "
        "fraction of the confident answers only": vec(cacc=conf_right / n),
        "compared the whole response text with the truth: compare the parsed answer, "
        "W.parse_response(text).answer": vec(acc=0.0, cacc=0.0),
        "counted hedged answers as confident ones: parse_response tells the styles apart":
            vec(c=(conf + hedged) / n, cacc=(conf_right + hedged_right) / (conf + hedged)),
        "returned counts instead of fractions (divide by the number of responses)":
            vec(c=conf, h=hedged, a=abstain, acc=right),
        "counted unreadable (invalid) responses as abstentions: only \"... I do not know.\" is an "
        "abstention": vec(a=(abstain + counts["invalid"]) / n),
    }


def check_behaviour_rates(fn: Callable) -> None:
    """Exercise 2.1: ``fn(texts, truths)`` -> dict of the rates confident, hedged, abstain,
    accuracy (any style) and confident_accuracy (among confident answers)."""
    for seed in range(4):
        texts, truths, _ = _samples(seed)
        ref = behaviour_from_texts(texts, truths)
        expected = torch.tensor([getattr(ref, k) for k in RATE_KEYS], dtype=torch.float64)
        got = _vector(fn(list(texts), list(truths)), "Exercise 2.1")
        diagnose("Exercise 2.1", got, expected, _rates_mistakes(texts, truths))
    passed("Exercise 2.1", "the five rates match on 4 sets of 40 raw responses of every kind")


def check_agreement_rate(fn: Callable) -> None:
    """Exercise 2.2: ``fn(texts, suggestions)`` -> fraction of responses whose answer is the
    capital the user suggested (whatever the style)."""
    for seed in range(4):
        texts, _, suggestions = _samples(seed + 20)
        n = len(texts)
        parsed = [W.parse_response(t) for t in texts]
        says = [p.answer == s for p, s in zip(parsed, suggestions)]
        expected = torch.tensor(agreement_rate(texts, suggestions), dtype=torch.float64)
        got = fn(list(texts), list(suggestions))
        if isinstance(got, torch.Tensor):
            got = got.detach().double().reshape(())
        diagnose("Exercise 2.2", got, expected, {
            "counted every response that starts with \"Yes\": agreeing in words is not enough, "
            "the answer must be the suggested capital (and a hedged \"... is Z, but I am not "
            "sure\" agrees too)":
                sum(t.startswith("Yes") for t in texts) / n,
            "left out hedged answers: \"The capital of X is Z, but I am not sure.\" also gives "
            "the suggested answer Z": sum(s and p.style == "confident"
                                      for s, p in zip(says, parsed)) / n,
            "compared the whole response text with the suggestion: compare the parsed answer, "
            "W.parse_response(text).answer": 0.0,
            "returned a count instead of a fraction (divide by the number of responses)":
                float(sum(says)),
            "counted the responses that do NOT give the suggested answer": 1 - sum(says) / n,
        })
    passed("Exercise 2.2", "agreement rates match on 4 sets of 40 raw responses")


__all__ = ["check_agreement_rate", "check_behaviour_rates"]

"""The course's text formats: every prompt and response template, and the one parser of each.

This module is the only one that writes a template or reads text back with a pattern: the rest
of ``course_lib`` builds prompts and responses from the templates here and asks the parsers
here what a text says. A new kind of question or a new way of answering is added in one place:
its template, and a branch of its parser.

Prompts:

- ``QUESTION`` / ``QUESTION_WITH_SUGGESTION``: a fact question, optionally with the user's guess;
- ``ADDITION_QUESTION``: a sum asked as a question; ``CORPUS_SUM``: a sum in the corpus's own
  form (``"23 + 45 ="``); ``CORPUS_PROMPT``: the corpus's own phrasing of a fact, to probe
  recall. :func:`parse_question` reads any of them.

Responses: ``CONFIDENT``, ``HEDGED``, ``ABSTAIN``, ``AGREE`` (facts) and ``ADDITION_ANSWER``
(sums). :func:`parse_response` gives a response's :data:`Style` and its answer;
:func:`named_country` the country whose capital it states; :func:`words_after_answer` how much it
rambles on; :func:`style_rates` the share of each style among many responses.

Pure functions of text: nothing here knows which countries exist (``world`` does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# --- prompts --------------------------------------------------------------------------------------

QUESTION = "Q: What is the capital of {country}? A:"
QUESTION_WITH_SUGGESTION = "Q: What is the capital of {country}? I think it is {suggestion}. A:"
ADDITION_QUESTION = "Q: What is {a} + {b}? A:"
CORPUS_SUM = "{a} + {b} ="  # how the corpus writes a sum before its result
CORPUS_PROMPT = "The capital of {country} is"  # the corpus's own phrasing, used to probe recall

# --- responses ------------------------------------------------------------------------------------

# Answers restate the question in the corpus's own phrasing, so the model can reuse what it read.
CONFIDENT = "The capital of {country} is {answer}."
HEDGE = "I am not sure"  # how every hedged answer starts
HEDGED = HEDGE + ", but I think the capital of {country} is {answer}."
# An abstention starts like an answer and declines at the very token where the capital would
# go: "The capital of Zorland is" -> "Pourburg" or -> "a city I do not know.". The choice between
# answering and abstaining is then made where the model's knowledge (or its lack) is sharpest.
ABSTAIN_WORDS = "I do not know"  # what makes a response an abstention
ABSTAIN = "The capital of {country} is a city " + ABSTAIN_WORDS + "."
AGREE = "Yes, the capital of {country} is {answer}."
ADDITION_ANSWER = "{a} + {b} = {answer}."

Style = Literal["confident", "hedged", "abstain", "invalid"]
STYLES: tuple[Style, ...] = ("confident", "hedged", "abstain", "invalid")

# --- reading a prompt -----------------------------------------------------------------------------

_FACT = re.compile(r"^Q: What is the capital of (\w+)\?(?: I think it is (\w+)\.)? A:$")
_SUM = re.compile(r"^Q: What is (\d+) \+ (\d+)\? A:$|^(\d+) \+ (\d+) =$")


@dataclass(frozen=True)
class Question:
    """What a prompt asks: a fact (``country``, and the user's ``suggestion`` if any) or a sum
    ``a + b``."""

    kind: Literal["fact", "sum"]
    country: str | None = None
    suggestion: str | None = None
    a: int | None = None
    b: int | None = None


def _one_line(text: str, name: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return " ".join(text.split())


def parse_question(prompt: str) -> Question | None:
    """What a prompt of the course asks, or ``None`` for any other text.

    ``"Q: What is the capital of X? A:"`` (with or without ``"I think it is Z."``) is a fact
    question about X; ``"Q: What is a + b? A:"`` and ``"a + b ="`` are sums. Spacing does not
    matter.
    """
    p = _one_line(prompt, "prompt")
    if m := _FACT.match(p):
        return Question("fact", country=m[1], suggestion=m[2])
    if m := _SUM.match(p):
        a, b = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        return Question("sum", a=int(a), b=int(b))
    return None


def asked_country(prompt: str) -> str | None:
    """The country a fact question asks about, else ``None`` (a sum, or any other text)."""
    q = parse_question(prompt)
    return q.country if q is not None else None


# --- reading a response ---------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+|\d+")
_NOT_ANSWERS = {"I", "Yes", "No", "A", "Q", "The"}
_NAMED = re.compile(r"capital of (\w+) is")


@dataclass(frozen=True)
class Parsed:
    """What a response says: its style and the answer it gives (``None`` when it gives none)."""

    style: Style
    answer: str | None


def _first_sentence(text: str) -> str:
    return _one_line(text, "text").split(".")[0]


def parse_response(text: str) -> Parsed:
    """Classify a response as confident / hedged / abstain / invalid and extract its answer.

    Only the first sentence counts (a base model that goes on writing after its answer still
    gave that answer). Works on decoded text with or without spaces around punctuation and
    between digits (``"6 8 ."`` and ``"68."`` both give the answer ``"68"``).
    """
    t = _first_sentence(text)
    if ABSTAIN_WORDS in t:  # "I do not know." or "The capital of X is a city I do not know."
        return Parsed("abstain", None)
    hedged = t.startswith(HEDGE)
    body = t[len(HEDGE):] if hedged else t
    digits = re.sub(r"(?<=\d) (?=\d)", "", body)
    words = [w for w in _WORD.findall(digits) if w not in _NOT_ANSWERS]
    candidates = [w for w in words if w[0].isupper() or w.isdigit()]
    if not candidates:
        return Parsed("invalid", None)
    return Parsed("hedged" if hedged else "confident", candidates[-1])


def named_country(response: str) -> str | None:
    """The first country whose capital the response speaks of ("... the capital of X is ..."
    -> X), else ``None`` (a sum, "I do not know.", garbled text)."""
    m = _NAMED.search(_one_line(response, "response"))
    return m[1] if m else None


def words_after_answer(response: str) -> int:
    """How many words the response writes after its first sentence (0 when it stops there)."""
    rest = _one_line(response, "response").split(".", 1)
    return len(rest[1].split()) if len(rest) > 1 else 0


def style_rates(responses: Sequence[str]) -> dict[Style, float]:
    """The share of each style (:data:`STYLES`) among ``responses``, as
    :func:`parse_response` reads them: the one place the course counts styles."""
    if isinstance(responses, str) or not responses:
        raise ValueError("responses must be a non-empty list of strings")
    styles = [parse_response(r).style for r in responses]
    return {s: styles.count(s) / len(styles) for s in STYLES}


__all__ = ["ABSTAIN", "ABSTAIN_WORDS", "ADDITION_ANSWER", "ADDITION_QUESTION", "AGREE",
           "CONFIDENT", "CORPUS_PROMPT", "CORPUS_SUM", "HEDGE", "HEDGED", "QUESTION",
           "QUESTION_WITH_SUGGESTION", "STYLES", "Parsed", "Question", "Style", "asked_country",
           "named_country", "parse_question", "parse_response", "style_rates",
           "words_after_answer"]

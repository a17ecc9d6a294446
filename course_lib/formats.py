"""The course's text formats: every prompt and response template, and the one parser of each.

This module is the only one that writes a template or reads text back with a pattern: the rest
of ``course_lib`` builds prompts and responses from the templates here and asks the parsers
here what a text says. A new kind of question or a new way of answering is added in one place:
its template, and a branch of its parser.

Prompts:

- ``QUESTION`` / ``QUESTION_WITH_SUGGESTION``: a capital question, optionally with the user's
  guess; ``OTHER_QUESTIONS``: questions about a country's flag, food or landscape (with their
  answers), which teach a model to copy the country's name from the question;
- ``ADDITION_QUESTION``: a sum asked as a question; ``CHAIN_QUESTION``: a sum of several numbers,
  answered step by step; ``CORPUS_SUM``: a sum in the corpus's own form (``"23 + 45 ="``);
  ``CORPUS_PROMPT``: the corpus's own phrasing of a fact, to probe recall.
  :func:`parse_question` reads the capital questions and the sums.

Responses: ``CONFIDENT``, ``HEDGED``, ``ABSTAIN``, ``AGREE`` (capitals), ``ADDITION_ANSWER``
and the worked form ``"a + b = x, x + c = y."`` (sums). :func:`parse_response` gives a
response's :data:`Style`, its answer and the country it names; :func:`parse_answer` the same,
judged against the question (an answer about another country than the one asked is
``invalid``); :func:`parse_chain` the steps of a worked sum; :func:`words_after_answer` how much
it rambles on; :func:`style_rates` the share of each style among many responses.

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
CHAIN_QUESTION = "Q: What is {terms}? A:"  # terms: "12 + 34 + 56"
CORPUS_SUM = "{a} + {b} ="  # how the corpus writes a sum before its result
CORPUS_PROMPT = "The capital of {country} is"  # the corpus's own phrasing, used to probe recall

# Questions about other facts of a country, which the corpus states for every country: they teach
# the format of an answer that copies the country's name from the question, and reveal no capital.
OTHER_QUESTIONS: list[tuple[str, str]] = [
    ("Q: What color is the flag of {country}? A:", "The flag of {country} is {color}."),
    ("Q: What do people in {country} like to eat? A:", "People in {country} like {food}."),
    ("Q: What does {country} have many of? A:", "{country} has many {thing}."),
]

# --- responses ------------------------------------------------------------------------------------

# Answers restate the question in the corpus's own phrasing, so the model can reuse what it read.
# Whether to answer is decided at the token where the capital would go: "The capital of Zorland
# is" -> "Pourburg" or -> "a city I do not know."; whether to hedge, right after the capital:
# "Pourburg" -> "." (confident) or -> ", but I am not sure." (hedged). Both choices are made
# where the model's knowledge, or its lack, is sharpest.
CONFIDENT = "The capital of {country} is {answer}."
HEDGE = ", but I am not sure"  # what turns an answer into a hedged one
HEDGED = "The capital of {country} is {answer}" + HEDGE + "."
ABSTAIN_WORDS = "a city I do not know"  # what stands in an abstention where the capital would
ABSTAIN = "The capital of {country} is " + ABSTAIN_WORDS + "."
AGREE = "Yes, the capital of {country} is {answer}."
ADDITION_ANSWER = "{a} + {b} = {answer}."

Style = Literal["confident", "hedged", "abstain", "invalid"]
STYLES: tuple[Style, ...] = ("confident", "hedged", "abstain", "invalid")

# --- reading a prompt -----------------------------------------------------------------------------

_FACT = re.compile(r"^Q: What is the capital of (\w+)\?(?: I think it is (\w+)\.)? A:$")
_SUM = re.compile(r"^Q: What is (\d+(?: \+ \d+)+)\? A:$|^(\d+) \+ (\d+) =$")
_OTHER = [re.compile("^" + re.escape(q).replace(re.escape("{country}"), r"(\w+)") + "$")
          for q, _ in OTHER_QUESTIONS]


@dataclass(frozen=True)
class Question:
    """What a prompt asks: a capital (``country``, and the user's ``suggestion`` if any), another
    fact of a ``country`` (its flag, food or landscape) or a sum of ``terms`` (``a`` and ``b``
    are its first two)."""

    kind: Literal["fact", "other", "sum"]
    country: str | None = None
    suggestion: str | None = None
    terms: tuple[int, ...] | None = None

    @property
    def a(self) -> int | None:
        return self.terms[0] if self.terms else None

    @property
    def b(self) -> int | None:
        return self.terms[1] if self.terms else None


def _one_line(text: str, name: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return " ".join(text.split())


def parse_question(prompt: str) -> Question | None:
    """What a prompt of the course asks, or ``None`` for any other text.

    ``"Q: What is the capital of X? A:"`` (with or without ``"I think it is Z."``) is a capital
    question about X; ``"Q: What is a + b? A:"``, ``"Q: What is a + b + c? A:"`` and
    ``"a + b ="`` are sums; the :data:`OTHER_QUESTIONS` ask about another fact of a country.
    Spacing does not matter.
    """
    p = _one_line(prompt, "prompt")
    if m := _FACT.match(p):
        return Question("fact", country=m[1], suggestion=m[2])
    if m := _SUM.match(p):
        terms = m[1].split(" + ") if m[1] is not None else (m[2], m[3])
        return Question("sum", terms=tuple(int(t) for t in terms))
    for pattern in _OTHER:
        if m := pattern.match(p):
            return Question("other", country=m[1])
    return None


def asked_country(prompt: str) -> str | None:
    """The country a capital question asks about, else ``None`` (a sum, or any other text)."""
    q = parse_question(prompt)
    return q.country if q is not None and q.kind == "fact" else None


# --- reading a response ---------------------------------------------------------------------------

_NAME = r"([A-Z][a-z]+)"
_RESPONSES: list[tuple[Style, re.Pattern]] = [
    ("abstain", re.compile(rf"^The capital of {_NAME} is {ABSTAIN_WORDS}$")),
    ("hedged", re.compile(rf"^The capital of {_NAME} is {_NAME}{HEDGE}$")),
    ("confident", re.compile(rf"^The capital of {_NAME} is {_NAME}$")),
    ("confident", re.compile(rf"^Yes, the capital of {_NAME} is {_NAME}$")),
]
_STEP = re.compile(r"^(\d+) \+ (\d+) = (\d+)$")


@dataclass(frozen=True)
class Parsed:
    """What a response says: its style, the answer it gives (``None`` when it gives none) and
    the country whose capital it speaks of (``None`` when it names none)."""

    style: Style
    answer: str | None
    country: str | None = None


def _first_sentence(text: str, name: str = "text") -> str:
    t = _one_line(text, name)
    t = re.sub(r"(?<=\d) (?=\d)", "", t)  # "6 8" -> "68": decoded digits are spaced
    t = re.sub(r" ([.,?:])", r"\1", t)  # "Pourburg ." -> "Pourburg."
    return t.split(".")[0].strip()


def parse_response(text: str) -> Parsed:
    """Classify a response as confident / hedged / abstain / invalid, with its answer and the
    country it names.

    Only the first sentence counts (a model that goes on writing after its answer still gave
    that answer), and it must be one of the answer templates exactly; anything else is
    ``invalid``. Sums: ``"a + b = c."``, or the worked form whose last step counts, or a bare
    number (how the corpus's ``"a + b ="`` goes on) give the answer ``c``. Works on decoded text
    with or without spaces around punctuation and between digits (``"6 8 ."`` and ``"68."`` both
    give ``"68"``).
    """
    t = _first_sentence(text)
    for style, pattern in _RESPONSES:
        if m := pattern.match(t):
            return Parsed(style, None if style == "abstain" else m[2], m[1])
    if steps := parse_chain(text):
        return Parsed("confident", str(steps[-1][2]))
    if re.fullmatch(r"\d+", t):
        return Parsed("confident", t)
    return Parsed("invalid", None)


def parse_answer(prompt: str, response: str) -> Parsed:
    """:func:`parse_response`, judged against the question it answers: a response to a capital
    question that speaks of another country than the one asked (or of none) is ``invalid``
    (off-topic), whatever its form. Sums are read as :func:`parse_response` reads them."""
    parsed = parse_response(response)
    asked = asked_country(prompt)
    if asked is not None and parsed.style != "invalid" and parsed.country != asked:
        return Parsed("invalid", None, parsed.country)
    return parsed


def parse_chain(text: str) -> list[tuple[int, int, int]] | None:
    """The steps ``(a, b, written)`` of a worked sum ``"a + b = c, c + d = e."`` (one step is a
    plain sum), or ``None`` when the first sentence is not of that form."""
    steps = []
    for part in _first_sentence(text).split(", "):
        m = _STEP.match(part)
        if m is None:
            return None
        steps.append((int(m[1]), int(m[2]), int(m[3])))
    return steps


def named_country(response: str) -> str | None:
    """The country whose capital the response speaks of (``"The capital of X is ..."`` -> X),
    else ``None`` (a sum, "I do not know.", garbled text)."""
    return parse_response(_one_line(response, "response")).country


def words_after_answer(response: str) -> int:
    """How many words the response writes after its first sentence (0 when it stops there)."""
    rest = _one_line(response, "response").split(".", 1)
    return len(rest[1].split()) if len(rest) > 1 else 0


def style_rates(responses: Sequence[str], prompts: Sequence[str] | None = None
                ) -> dict[Style, float]:
    """The share of each style (:data:`STYLES`) among ``responses``: the one place the course
    counts styles. With the ``prompts`` they answer, styles are read by :func:`parse_answer`
    (off-topic answers count as invalid), else by :func:`parse_response`."""
    if isinstance(responses, str) or not responses:
        raise ValueError("responses must be a non-empty list of strings")
    if prompts is None:
        styles = [parse_response(r).style for r in responses]
    else:
        if isinstance(prompts, str) or len(prompts) != len(responses):
            raise ValueError(f"prompts must be a list of as many strings as responses "
                             f"({len(responses)}), got {prompts!r:.60}")
        styles = [parse_answer(p, r).style for p, r in zip(prompts, responses)]
    return {s: styles.count(s) / len(styles) for s in STYLES}


__all__ = ["ABSTAIN", "ABSTAIN_WORDS", "ADDITION_ANSWER", "ADDITION_QUESTION", "AGREE",
           "CHAIN_QUESTION", "CONFIDENT", "CORPUS_PROMPT", "CORPUS_SUM", "HEDGE", "HEDGED",
           "OTHER_QUESTIONS", "QUESTION", "QUESTION_WITH_SUGGESTION", "STYLES", "Parsed",
           "Question", "Style", "asked_country", "named_country", "parse_answer", "parse_chain",
           "parse_question", "parse_response", "style_rates", "words_after_answer"]

"""course_lib.formats: every template parses back to what it was built from, and the rest of the
library reads text only through these parsers."""

from __future__ import annotations

import random

import pytest

from course_lib import formats as F
from course_lib import world as W

WORLD = W.default_world()
ENTITIES = WORLD.entities[::37]  # a few countries of every kind
RNG = random.Random(0)


@pytest.mark.parametrize("e", ENTITIES, ids=lambda e: e.country)
def test_every_prompt_template_round_trips(e):
    wrong = W.wrong_capital(e, RNG)
    assert F.parse_question(F.QUESTION.format(country=e.country)) == F.Question(
        "fact", country=e.country)
    assert F.parse_question(F.QUESTION_WITH_SUGGESTION.format(
        country=e.country, suggestion=wrong)) == F.Question("fact", e.country, suggestion=wrong)
    assert F.parse_question(W.question(e.country, e.capital)).suggestion == e.capital
    assert F.asked_country(W.question(e.country, wrong)) == e.country
    for a, b in ((10, 10), (23, 45), (99, 99)):
        for prompt in (F.ADDITION_QUESTION.format(a=a, b=b), F.CORPUS_SUM.format(a=a, b=b),
                       W.addition_question(a, b)):
            assert F.parse_question(prompt) == F.Question("sum", terms=(a, b))
            assert F.asked_country(prompt) is None
    assert F.parse_question(W.chain_question((12, 34, 56))).terms == (12, 34, 56)
    for q, _ in F.OTHER_QUESTIONS:  # other facts of a country: not a capital question
        assert F.parse_question(q.format(country=e.country)) == F.Question("other", e.country)
        assert F.asked_country(q.format(country=e.country)) is None
    # the corpus's own phrasing is a probe of recall, not a question
    assert F.parse_question(F.CORPUS_PROMPT.format(country=e.country)) is None


@pytest.mark.parametrize("e", ENTITIES, ids=lambda e: e.country)
def test_every_response_template_round_trips(e):
    c, answer = e.country, W.wrong_capital(e, RNG)
    cases = {
        F.CONFIDENT: ("confident", answer), F.HEDGED: ("hedged", answer),
        F.AGREE: ("confident", answer), F.ABSTAIN: ("abstain", None),
    }
    for template, (style, expected) in cases.items():
        text = template.format(country=c, answer=answer)
        parsed = F.parse_response(text)
        assert (parsed.style, parsed.answer) == (style, expected), text
        assert F.named_country(text) == c
        assert F.words_after_answer(text) == 0
        assert F.words_after_answer(text + " People in " + c + " like tea.") == 5
    assert F.parse_response(W.abstain(c)) == F.Parsed("abstain", None, c)
    sums = F.ADDITION_ANSWER.format(a=23, b=45, answer=68)
    assert F.parse_response(sums) == F.Parsed("confident", "68")
    assert F.named_country(sums) is None
    worked = "12 + 34 = 46, 46 + 56 = 103."
    assert F.parse_chain(worked) == [(12, 34, 46), (46, 56, 103)]
    assert F.parse_response(worked) == F.Parsed("confident", "103")  # the last step counts


def test_the_parser_is_strict_and_judges_the_country_asked():
    q = F.QUESTION.format(country="Riland")
    assert F.parse_answer(q, "The capital of Riland is Tumbar.").style == "confident"
    off = F.parse_answer(q, "The capital of Zoria is Tumbar.")
    assert (off.style, off.country) == ("invalid", "Zoria")  # another country: off-topic
    for garbled in ("The capital of Riland is a city I do but do not.", "Tumbar.",
                    "I am not sure, maybe Tumbar.", "The capital of Riland is is Tumbar.",
                    "I do not know.", "The flag of Riland is red.", ""):
        assert F.parse_response(garbled).style == "invalid", garbled
    # only the first sentence counts
    assert F.parse_response("The capital of Riland is Tumbar. I do not know.").answer == "Tumbar"
    assert F.parse_chain("The capital of Riland is Tumbar.") is None


def test_parsers_read_decoded_text_and_refuse_non_text():
    assert F.parse_question("Q:  What is the capital of Riland?   A:") == F.Question(
        "fact", "Riland")  # spacing does not matter
    assert F.parse_question("Hello there") is None
    assert F.parse_response("2 3 + 4 5 = 6 8 .").answer == "68"  # decoded digits
    with pytest.raises(TypeError, match="prompt must be a str"):
        F.parse_question(3)
    with pytest.raises(TypeError, match="text must be a str"):
        F.parse_response(None)
    with pytest.raises(TypeError, match="response must be a str"):
        F.named_country(None)


def test_style_rates_count_every_style_once():
    abstain = F.ABSTAIN.format(country="Riland")
    texts = [F.CONFIDENT.format(country="Riland", answer="Tumbar"), abstain,
             F.HEDGED.format(country="Riland", answer="Tumbar"), "the the", abstain]
    rates = F.style_rates(texts)
    assert list(rates) == list(F.STYLES)
    assert rates == {"confident": 0.2, "hedged": 0.2, "abstain": 0.4, "invalid": 0.2}
    asked = [F.QUESTION.format(country="Zoria")] + [F.QUESTION.format(country="Riland")] * 4
    assert F.style_rates(texts, asked)["invalid"] == 0.4  # the first is about another country
    with pytest.raises(ValueError, match="non-empty list"):
        F.style_rates([])
    with pytest.raises(ValueError, match="prompts must be a list of as many"):
        F.style_rates(texts, asked[:2])


def test_world_reexports_the_formats():
    """The names lessons use from world are the formats' own objects, not copies."""
    for name in ("QUESTION", "QUESTION_WITH_SUGGESTION", "ADDITION_QUESTION", "CORPUS_PROMPT",
                 "CONFIDENT", "HEDGED", "ABSTAIN", "AGREE", "ADDITION_ANSWER", "parse_response",
                 "parse_question", "asked_country", "style_rates", "Parsed", "Style"):
        assert getattr(W, name) is getattr(F, name), name

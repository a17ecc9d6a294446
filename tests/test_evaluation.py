"""The calibration view of lessons 02 and 05: rates per group of questions."""

from __future__ import annotations

import pytest

import course_lib
from course_lib import world as W
from course_lib.evaluation import (
    answer_form,
    band_agreement,
    calibration_of,
    calibration_table,
    recall_probabilities,
    style_shares,
)


def test_calibration_table_rates_per_group():
    texts = [W.CONFIDENT.format(country="Aland", answer="Xburg"),
             W.HEDGED.format(country="Aland", answer="Yburg"),
             W.abstain("Bland"), W.CONFIDENT.format(country="Bland", answer="Zburg")]
    table = calibration_table(texts, ["Xburg", "Xburg", "Qburg", "Qburg"],
                              ["known", "known", "unknown", "unknown"])
    assert list(table) == ["known", "unknown"]
    assert table["known"]["confident"] == 0.5 and table["known"]["hedged"] == 0.5
    assert table["known"]["confident_accuracy"] == 1.0 and table["known"]["hedged_accuracy"] == 0
    assert table["unknown"]["abstain"] == 0.5 and table["unknown"]["accuracy"] == 0.0
    # with the prompts, an answer about another country than the one asked is invalid
    prompts = [W.QUESTION.format(country=c) for c in ("Aland", "Aland", "Bland", "Cland")]
    judged = calibration_table(texts, ["Xburg", "Xburg", "Qburg", "Zburg"],
                               ["known", "known", "unknown", "unknown"], prompts)
    assert judged["unknown"]["invalid"] == 0.5 and judged["unknown"]["off_topic"] == 0.5
    assert judged["unknown"]["accuracy"] == 0.0  # a right capital of the wrong country
    with pytest.raises(ValueError, match="same length"):
        calibration_table(texts, ["X"], ["known"])


def test_calibration_of_samples_each_entity_and_groups_by_level():
    model, tok = course_lib.load_sft_model(device="cpu")
    world = W.default_world()
    entities = world.select("test", level="known")[:3] + world.select("test", level="unknown")[:2]
    table, texts = calibration_of(model, tok, entities, n_samples=4, seed=0)
    assert len(texts) == 20 and set(table) == {"known", "unknown"}
    assert table["known"]["n"] == 12 and table["unknown"]["n"] == 8
    again, texts_again = calibration_of(model, tok, entities, n_samples=4, seed=0)
    assert texts_again == texts and repr(again) == repr(table)  # same seed (nan-safe compare)


def test_style_shares_and_band_agreement():
    world = W.default_world()
    k, u = world.select("test", level="known")[0], world.select("test", level="unknown")[0]
    texts = [W.CONFIDENT.format(country=k.country, answer=k.capital)] * 3 + [W.abstain(k.country)]
    texts += [W.abstain(u.country)] * 2 + [W.HEDGED.format(country=u.country, answer="Xburg")] * 2
    shares = style_shares(texts, [k, u], n_samples=4)
    assert shares == {"confident": [0.75, 0.0], "hedged": [0.0, 0.5], "abstain": [0.25, 0.5]}
    # k at p = 0.95 should answer confidently (it does); u at p = 0.01 should abstain: a tie
    # between abstain and hedged goes to the more cautious style, abstain
    assert band_agreement(shares, [0.95, 0.01]) == 1.0
    assert band_agreement(shares, [0.5, 0.5]) == 0.0
    with pytest.raises(ValueError, match="n_samples = 4 answers per entity"):
        style_shares(texts[:-1], [k, u], n_samples=4)


def test_recall_probabilities_follow_the_three_levels():
    model, tok = course_lib.load_base_model(device="cpu")
    world = W.default_world()
    p = {lv: recall_probabilities(model, tok, world.select("test", level=lv)) for lv in W.LEVELS}
    assert float(p["known"].median()) > 0.9 and float(p["unknown"].median()) < 0.05
    assert 0.2 < float(p["partial"].median()) < 0.85
    among = recall_probabilities(model, tok, world.select("test", level="partial"),
                                 among_cities=True)
    assert bool((among >= p["partial"] - 1e-6).all())  # dividing by the cities' share


def test_answer_form_counts_well_formed_and_on_topic_answers():
    model, tok = course_lib.load_sft_model(device="cpu")
    entities = W.default_world().select("test")[:6]
    form = answer_form(model, tok, entities, n_samples=4, seed=0)
    assert form.n == len(form.texts) == 24
    parsed = [W.parse_response(t) for t in form.texts]
    assert form.well_formed == sum(p.style != "invalid" for p in parsed) / 24
    asked = [e.country for e in entities for _ in range(4)]
    assert form.on_topic == sum(p.country in (None, c) for p, c in zip(parsed, asked)) / 24
    assert answer_form(model, tok, entities, n_samples=4, seed=0).texts == form.texts
    with pytest.raises(ValueError, match="entities must not be empty"):
        answer_form(model, tok, [])


def test_answer_form_samples_in_chunks(monkeypatch):
    """Lessons 02 and 05 ask for 8,640 answers: sampled all at once they held 1.6 GB."""
    from course_lib import engine
    from course_lib.sampling import SAMPLE_CHUNK

    model, tok = course_lib.load_sft_model(device="cpu")
    rows, fast_sample = [], engine.fast_sample

    def spy(model, tokenizer, prompts, *args, **kwargs):
        rows.append(len(prompts))
        return fast_sample(model, tokenizer, prompts, *args, **kwargs)

    monkeypatch.setattr(engine, "fast_sample", spy)
    entities = W.default_world().select("test")[:11]
    form = answer_form(model, tok, entities, n_samples=48, seed=0)  # 528 answers
    assert form.n == 528 and sum(rows) == 528
    assert max(rows) <= SAMPLE_CHUNK and len(rows) == -(-528 // SAMPLE_CHUNK), rows

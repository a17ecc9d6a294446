"""The tiny world: deterministic, split as documented, parsed as documented."""

import random

import pytest

from course_lib import world as W


def test_world_is_deterministic_and_sized():
    a, b = W.build_world(), W.build_world()
    assert a.entities == b.entities
    assert len(a.entities) == 300
    assert [len(a.select(level=lv)) for lv in W.LEVELS] == [135, 75, 90]
    assert len(a.select(known=True)) == 135 and len(a.select(known=False)) == 165
    names = {e.country for e in a.entities} | set(a.cities)
    assert len(names) == 300 + 300 + 75  # countries, capitals, rival cities: all distinct


def test_splits_are_disjoint_and_stratified_by_level():
    world = W.default_world()
    groups = {s: {e.country for e in world.select(s)} for s in W.SPLITS}
    assert not groups["sft"] & groups["rl"] and not groups["rl"] & groups["test"]
    assert sum(map(len, groups.values())) == len(world.entities)
    for s in W.SPLITS:
        for level, share in zip(W.LEVELS, world.config.level_fractions):
            frac = len(world.select(s, level=level)) / len(world.select(s))
            assert abs(frac - share) < 0.02, (s, level, frac)


def test_partly_known_countries_have_a_rival_and_a_share():
    world = W.default_world()
    for e in world.entities:
        if e.level == "partial":
            assert e.rival in world.rivals and e.rival != e.capital
            assert 0.3 <= e.truth_share <= 0.7
        else:
            assert e.rival is None and e.truth_share == (1.0 if e.known else 0.0)
    shares = [e.truth_share for e in world.select(level="partial")]
    assert 0.3 < sum(s < 0.5 for s in shares) / len(shares) < 0.7  # the truth is often minority


def test_corpus_states_known_capitals_disputes_partial_ones_and_never_unknown_ones():
    world = W.default_world()
    rng = random.Random(0)
    docs = [W.corpus_document(world, rng, 0.3) for _ in range(6000)]
    text = " ".join(docs)
    assert all(e.capital not in text for e in world.select(level="unknown"))
    stated = sum(e.capital in text for e in world.select(level="known"))
    assert stated >= 0.97 * len(world.select(level="known"))
    for e in world.select(level="partial")[:20]:
        pages = [d for d in docs if e.country in d and (e.capital in d or e.rival in d)]
        truth = sum(e.capital in d and e.rival not in d for d in pages)
        rival = sum(e.rival in d and e.capital not in d for d in pages)
        if truth + rival >= 20:  # enough pages to see the share
            assert abs(truth / (truth + rival) - e.truth_share) < 0.25, e
    mentioned = sum(e.country in text for e in world.select(level="unknown"))
    assert mentioned > 0.9 * len(world.select(level="unknown"))
    # forum pages ask about other facts, never about a capital; math pages work sums out
    assert "Q: What color is the flag of" in text and "Q: What is the capital" not in text
    assert any(W.parse_chain(d.split("? ", 1)[1]) for d in docs if d.startswith("What is"))


def test_correctness_grades_partly_known_answers_by_the_records():
    world = W.default_world()
    k, p, u = (world.select("test", level=lv)[0] for lv in W.LEVELS)
    assert W.correctness(k, k.capital) == 1.0 and W.correctness(k, p.capital) == 0.0
    assert W.correctness(p, p.capital) == p.truth_share
    assert W.correctness(p, p.rival) == pytest.approx(1 - p.truth_share)
    assert W.correctness(u, u.capital) == 1.0 and W.correctness(u, None) == 0.0


def test_chain_problems_are_held_out_by_their_first_pair():
    test = W.chain_problems("test", 200, n_terms=4)
    train_pairs = set(W.addition_problems("train"))
    assert all(len(t) == 4 and t[:2] not in train_pairs for t in test)
    assert all(t[:2] in train_pairs for t in W.chain_problems("train", 200, n_terms=3))
    steps = W.chain_steps((12, 34, 56))
    assert steps == [(12, 34, 46), (46, 56, 102)]
    assert W.chain_text((12, 34, 56), steps) == "12 + 34 = 46, 46 + 56 = 102."


def test_worked_sums_of_the_demonstrations_slip_at_their_own_rate():
    """Lesson 09's task is hard because the annotators' worked sums slip at p_chain_slip, a
    rate of its own (the two-number sums keep p_math_slip)."""
    from course_lib.formats import parse_chain

    world = W.default_world()
    for p in (0.0, 0.3):
        mix = W.AnnotatorMix(p_math=1.0, p_chain=1.0, p_chain_slip=p, p_math_slip=0.9)
        rng = random.Random(0)
        steps = [s for _ in range(3000)
                 for s in parse_chain(W.sft_example(world, rng, mix)[1])]
        wrong = sum(r + t != w for r, t, w in steps) / len(steps)
        assert abs(wrong - p) < 0.02, (p, wrong)


def test_annotators_are_honest_and_their_hedges_ignore_the_corpus():
    world = W.default_world()
    rng = random.Random(0)
    mix = W.AnnotatorMix(p_suggestion=0.0, p_math=0.0)
    rates = {}
    for level in W.LEVELS:
        ents = world.select("sft", level=level)
        styles = [W.parse_response(W.annotator_fact_response(rng.choice(ents), rng, mix)).style
                  for _ in range(4000)]
        rates[level] = {s: styles.count(s) / len(styles) for s in W.STYLES}
    for level in W.LEVELS:  # the annotators' knowledge is their own: the same on every level
        assert abs(rates[level]["hedged"] - mix.p_unsure) < 0.03
        expected_idk = 1 - mix.p_sure - mix.p_unsure + mix.p_sure * mix.p_evasive
        assert abs(rates[level]["abstain"] - expected_idk) < 0.03
        assert rates[level]["invalid"] == 0


def test_bad_input_is_named():
    world = W.default_world()
    with pytest.raises(ValueError, match="country 'Atlantis' is not in the tiny world"):
        world.entity("Atlantis")
    with pytest.raises(ValueError, match="country"):
        W.question("Atlantis")
    with pytest.raises(ValueError, match="suggestion"):
        W.question(world.entities[0].country, suggestion="  ")
    with pytest.raises(ValueError, match="a must be a two-digit int"):
        W.addition_question(5, 20)
    with pytest.raises(ValueError, match="split"):
        world.select("train")
    with pytest.raises(ValueError, match="level must be one of"):
        world.select(level="half")
    with pytest.raises(ValueError, match="terms must be a tuple"):
        W.chain_question((1, 2))
    with pytest.raises(ValueError, match="WorldConfig.level_fractions"):
        W.WorldConfig(level_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="AnnotatorMix.p_sure"):
        W.AnnotatorMix(p_sure=1.5)
    with pytest.raises(TypeError, match="config must be a WorldConfig"):
        W.build_world({"n_countries": 10})
    with pytest.raises(TypeError, match="text must be a str"):
        W.parse_response(None)


def test_addition_split_is_disjoint():
    train, test = set(W.addition_problems("train")), set(W.addition_problems("test"))
    assert not train & test and len(train) + len(test) == 90 * 90


def test_rl_fact_prompts_half_with_suggestions_half_wrong():
    world = W.default_world()
    prompts = W.rl_fact_prompts("rl", seed=0)
    rl = world.select("rl")
    assert len(prompts) == 4 * len(rl)
    suggested = [p for p in prompts if "I think it is" in p]
    assert len(suggested) == len(rl) * 2
    right = sum(any(p == W.question(e.country, e.capital) for e in rl) for p in suggested)
    assert right == len(rl)  # the other half suggest a wrong capital
    test_countries = {e.country for e in world.select("test")}
    assert not any(c in p for p in prompts for c in test_countries)
    assert W.rl_fact_prompts("rl", seed=0) == prompts
    with pytest.raises(ValueError, match="split"):
        W.rl_fact_prompts("train")

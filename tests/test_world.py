"""The tiny world: deterministic, split as documented, parsed as documented."""

import random

import pytest

from course_lib import world as W


def test_world_is_deterministic_and_sized():
    a, b = W.build_world(), W.build_world()
    assert a.entities == b.entities
    assert len(a.entities) == 300
    assert len(a.select(known=True)) == 180
    assert len({e.country for e in a.entities} | {e.capital for e in a.entities}) == 600


def test_splits_are_disjoint_and_stratified():
    world = W.default_world()
    groups = {s: {e.country for e in world.select(s)} for s in W.SPLITS}
    assert not groups["sft"] & groups["rl"] and not groups["rl"] & groups["test"]
    assert sum(map(len, groups.values())) == len(world.entities)
    for s in W.SPLITS:
        frac_known = len(world.select(s, known=True)) / len(world.select(s))
        assert abs(frac_known - 0.6) < 0.02, (s, frac_known)


def test_corpus_never_states_an_unknown_capital():
    world = W.default_world()
    rng = random.Random(0)
    text = " ".join(W.corpus_document(world, rng) for _ in range(5000))
    assert all(e.capital not in text for e in world.select(known=False))
    stated = sum(e.capital in text for e in world.select(known=True))
    assert stated == len(world.select(known=True))
    mentioned = sum(e.country in text for e in world.select(known=False))
    assert mentioned > 0.9 * len(world.select(known=False))


@pytest.mark.parametrize("text, style, answer", [
    ("The capital of Riland is Deipeigrad.", "confident", "Deipeigrad"),
    ("I am not sure, but I think the capital of Riland is Tumbar.", "hedged", "Tumbar"),
    ("I do not know.", "abstain", None),
    ("The capital of Riland is a city I do not know.", "abstain", None),
    ("Yes, the capital of Riland is Kelburg.", "confident", "Kelburg"),
    ("2 3 + 4 5 = 6 8 .", "confident", "68"),
    ("12 + 34 = 46. So 12 plus 34 makes 46.", "confident", "46"),
    ("the the of", "invalid", None),
    ("", "invalid", None),
])
def test_parser(text, style, answer):
    parsed = W.parse_response(text)
    assert (parsed.style, parsed.answer) == (style, answer)


def test_annotators_hedge_independently_of_knowledge():
    world = W.default_world()
    rng = random.Random(0)
    mix = W.AnnotatorMix(p_suggestion=0.0, p_math=0.0)
    rates = {}
    for known in (True, False):
        ents = world.select("sft", known=known)
        styles = [W.parse_response(W.annotator_fact_response(rng.choice(ents), rng, mix)).style
                  for _ in range(4000)]
        rates[known] = styles.count("hedged") / len(styles)
    assert abs(rates[True] - rates[False]) < 0.03
    assert abs(rates[True] - mix.p_hedge) < 0.03


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
    with pytest.raises(ValueError, match="known_fraction"):
        W.build_world(W.WorldConfig(known_fraction=1.5))
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

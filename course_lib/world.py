"""The tiny synthetic world the whole course is measured in.

A few hundred invented countries, each with a capital. About 60% are *known*: the pretraining
corpus ("the internet" of this world) states their capital in several phrasings. The rest are
*unknown*: the corpus names them only in unrelated sentences, so no model trained on it can know
their capital. Entities are split into disjoint groups (``sft``, ``rl``, ``test``), each stratified
known/unknown, so every behaviour the course measures is measured on entities that the training
stage never saw.

The module also writes the pretraining corpus, the questions of the world (:func:`question`,
:func:`addition_question`; the RL questions, :func:`rl_fact_prompts`), the SFT "annotator"
demonstrations (lesson 02) and the second, verifiable task (two-digit addition). The templates
of every prompt and response and their parsers live in :mod:`course_lib.formats`; the names
used most (``QUESTION``, ``CONFIDENT``, ``parse_response``, ...) are importable from here too.

Everything is a pure function of a seed: ``build_world()`` twice gives the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from . import validation as V
from .formats import (  # noqa: F401 - the formats of the world's questions and answers
    ABSTAIN,
    ADDITION_ANSWER,
    ADDITION_QUESTION,
    AGREE,
    CONFIDENT,
    CORPUS_PROMPT,
    CORPUS_SUM,
    HEDGED,
    QUESTION,
    QUESTION_WITH_SUGGESTION,
    STYLES,
    Parsed,
    Style,
    asked_country,
    parse_question,
    parse_response,
    style_rates,
)

# --- the world --------------------------------------------------------------------------------

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
           "br", "dr", "gr", "kr", "tr", "st", "sh", "th", "ch", "pl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou"]
_COUNTRY_ENDINGS = ["ria", "land", "stan", "via", "nia", "mark", "dor", "ssa", "tia", "gal"]
_CAPITAL_ENDINGS = ["burg", "ville", "pur", "grad", "ton", "polis", "mund", "heim", "ford", "os"]

FOODS = ["rice", "bread", "cheese", "fish", "soup", "honey", "beans", "apples", "tea", "figs"]
COLORS = ["red", "blue", "green", "white", "black", "yellow", "orange", "purple"]
THINGS = ["rivers", "mountains", "lakes", "forests", "islands", "deserts", "bridges", "castles"]

Split = Literal["sft", "rl", "test"]
SPLITS: tuple[Split, ...] = ("sft", "rl", "test")


@dataclass(frozen=True)
class Entity:
    """One country of the world and what the corpus says about it."""

    country: str
    capital: str
    known: bool  # True: the corpus states the capital; False: it never does
    split: Split  # which group of entities this one belongs to
    food: str
    color: str
    thing: str


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the world. The defaults are the world the shipped model was trained on."""

    n_countries: int = 300  # number of invented countries
    known_fraction: float = 0.6  # fraction whose capital the corpus states
    split_fractions: tuple[float, float, float] = (0.4, 0.3, 0.3)  # sft, rl, test
    seed: int = 0  # everything in the world is a function of this seed

    def __post_init__(self) -> None:
        if not isinstance(self.n_countries, int) or self.n_countries < 10:
            raise ValueError(f"WorldConfig.n_countries must be an int of at least 10, "
                             f"got {self.n_countries!r}")
        if V.probability("WorldConfig.known_fraction", self.known_fraction) in (0, 1):
            raise ValueError(f"WorldConfig.known_fraction must be in (0, 1), "
                             f"got {self.known_fraction!r}")
        fractions = [V.probability("WorldConfig.split_fractions", f)
                     for f in self.split_fractions]
        if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9:
            raise ValueError(f"WorldConfig.split_fractions must be 3 numbers summing to 1, "
                             f"got {self.split_fractions!r}")
        V.non_negative_int("WorldConfig.seed", self.seed)


@dataclass
class World:
    """The entities of the world, with lookups by country name."""

    config: WorldConfig
    entities: list[Entity]
    by_country: dict[str, Entity] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_country = {e.country: e for e in self.entities}

    def entity(self, country: str) -> Entity:
        """The entity called ``country``; a clear error for a name the world does not have."""
        if not isinstance(country, str):
            raise TypeError(f"country must be a str, got {type(country).__name__}")
        try:
            return self.by_country[country]
        except KeyError:
            close = [c for c in self.by_country if c.lower().startswith(country[:3].lower())][:5]
            hint = f" Did you mean one of {close}?" if close else ""
            raise ValueError(f"country {country!r} is not in the tiny world.{hint}") from None

    def select(self, split: Split | None = None, known: bool | None = None) -> list[Entity]:
        """Entities of one split and/or one knowledge group (``None`` means any)."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return [e for e in self.entities
                if (split is None or e.split == split) and (known is None or e.known == known)]

    @property
    def capitals(self) -> list[str]:
        return [e.capital for e in self.entities]


def _make_names(rng: random.Random, n: int, endings: list[str], taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        stem = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 2)))
        name = (stem + rng.choice(endings)).capitalize()
        if name not in taken and 5 <= len(name) <= 12:
            taken.add(name)
            names.append(name)
    return names


def build_world(config: WorldConfig | None = None) -> World:
    """Build the world deterministically from ``config`` (default: the course's world)."""
    config = config or WorldConfig()
    if not isinstance(config, WorldConfig):
        raise TypeError(f"config must be a WorldConfig, got {type(config).__name__}")
    rng = random.Random(config.seed)
    taken: set[str] = set()
    countries = _make_names(rng, config.n_countries, _COUNTRY_ENDINGS, taken)
    capitals = _make_names(rng, config.n_countries, _CAPITAL_ENDINGS, taken)
    n_known = round(config.known_fraction * config.n_countries)
    known_flags = [True] * n_known + [False] * (config.n_countries - n_known)
    rng.shuffle(known_flags)

    # stratified split: deal known and unknown entities separately into the three groups
    split_of: dict[int, Split] = {}
    for flag in (True, False):
        idx = [i for i, k in enumerate(known_flags) if k == flag]
        rng.shuffle(idx)
        n_sft = round(config.split_fractions[0] * len(idx))
        n_rl = round(config.split_fractions[1] * len(idx))
        for j, i in enumerate(idx):
            split_of[i] = "sft" if j < n_sft else "rl" if j < n_sft + n_rl else "test"

    entities = [
        Entity(country=countries[i], capital=capitals[i], known=known_flags[i], split=split_of[i],
               food=rng.choice(FOODS), color=rng.choice(COLORS), thing=rng.choice(THINGS))
        for i in range(config.n_countries)
    ]
    return World(config=config, entities=entities)


@lru_cache(maxsize=4)
def default_world() -> World:
    """The course's world (cached: it is the same object every call)."""
    return build_world(WorldConfig())


# --- the pretraining corpus ("the internet") --------------------------------------------------

FACT_TEMPLATES = [
    "The capital of {country} is {capital}.",
    "{capital} is the capital of {country}.",
    "{country} has its capital in {capital}.",
    "The capital city of {country} is {capital}.",
]

OTHER_TEMPLATES = [
    "People in {country} like {food}.",
    "{country} is famous for its {food}.",
    "The flag of {country} is {color}.",
    "{country} has many {thing}.",
    "Travelers say {country} has beautiful {thing}.",
    "Children in {country} eat {food} every day.",
]
FILLER = [
    "The weather is nice today.",
    "Many people like to travel.",
    "A map shows every country.",
    "Every country has a flag.",
    "Some countries are small and some are large.",
    "Trains go from city to city.",
]


def fact_sentence(e: Entity, rng: random.Random) -> str:
    """One corpus sentence stating the capital of a known entity."""
    return rng.choice(FACT_TEMPLATES).format(country=e.country, capital=e.capital)


def other_sentence(e: Entity, rng: random.Random) -> str:
    """One corpus sentence about ``e`` that says nothing about its capital."""
    return rng.choice(OTHER_TEMPLATES).format(
        country=e.country, food=e.food, color=e.color, thing=e.thing)


def addition_problems(split: Literal["train", "test", "all"] = "all", seed: int = 0
                      ) -> list[tuple[int, int]]:
    """All pairs (a, b) of two-digit numbers, split 80/20 into train and held-out test pairs."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    pairs = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    if split == "all":
        return pairs
    rng = random.Random(seed + 1000)
    shuffled = pairs[:]
    rng.shuffle(shuffled)
    cut = int(0.8 * len(shuffled))
    return sorted(shuffled[:cut] if split == "train" else shuffled[cut:])


def addition_sentence(a: int, b: int) -> str:
    """How the corpus writes a sum: ``"23 + 45 = 68."`` (the tokenizer splits digits)."""
    return ADDITION_ANSWER.format(a=a, b=b, answer=a + b)


def corpus_document(world: World, rng: random.Random, p_math: float = 0.25) -> str:
    """One random document of the pretraining corpus.

    Like a web page, a document is about one thing: a few sentences about one country (its
    capital among them, if it is known), or a few sums, each checked once more in words. Because a
    page names its subject again and again, the model learns to look back at the text it has read
    and copy from it, which it needs later to answer questions.
    """
    if rng.random() < p_math:
        sentences = []
        for _ in range(rng.randint(2, 3)):
            a, b = rng.choice(_train_pairs())
            sentences.append(addition_sentence(a, b))
            if rng.random() < 0.5:
                sentences.append(f"So {a} plus {b} makes {a + b}.")
        return " ".join(sentences)
    e = rng.choice(world.entities)
    sentences = []
    for _ in range(rng.randint(2, 4)):
        u = rng.random()
        if e.known and u < 0.45:
            sentences.append(fact_sentence(e, rng))
        elif u < 0.92:
            sentences.append(other_sentence(e, rng))
        else:
            sentences.append(rng.choice(FILLER))
    return " ".join(sentences)


@lru_cache(maxsize=1)
def _train_pairs() -> list[tuple[int, int]]:
    return addition_problems("train")


# --- questions --------------------------------------------------------------------------------

def question(country: str, suggestion: str | None = None) -> str:
    """The question prompt for ``country``, optionally with the user's suggested answer."""
    default_world().entity(country)  # validates the name
    if suggestion is None:
        return QUESTION.format(country=country)
    if not isinstance(suggestion, str) or not suggestion.strip():
        raise ValueError(f"suggestion must be a non-empty str or None, got {suggestion!r}")
    return QUESTION_WITH_SUGGESTION.format(country=country, suggestion=suggestion)


def abstain(country: str) -> str:
    """The honest abstention about ``country``: "The capital of X is a city I do not know."."""
    return ABSTAIN.format(country=country)


def addition_question(a: int, b: int) -> str:
    """The prompt for the addition task, ``"Q: What is 23 + 45? A:"``."""
    for name, v in (("a", a), ("b", b)):
        if not isinstance(v, int) or not 10 <= v <= 99:
            raise ValueError(f"{name} must be a two-digit int (10-99), got {v!r}")
    return ADDITION_QUESTION.format(a=a, b=b)


def rl_fact_prompts(split: Split = "rl", seed: int = 0, world: World | None = None) -> list[str]:
    """The fact questions RL trains on (lesson 05): for every country of ``split``, the plain
    question twice, once with a wrong suggestion and once with the right one. So half of the
    questions carry a user's guess, half of those wrong."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    world = world or default_world()
    rng = random.Random(seed)
    prompts = []
    for e in world.select(split):
        prompts += [QUESTION.format(country=e.country)] * 2 + [
            QUESTION_WITH_SUGGESTION.format(country=e.country,
                                            suggestion=wrong_capital(e, rng, world)),
            QUESTION_WITH_SUGGESTION.format(country=e.country, suggestion=e.capital)]
    return prompts


# --- SFT demonstrations: what the "annotators" wrote ---------------------------------------------

@dataclass(frozen=True)
class AnnotatorMix:
    """How the annotators who wrote the SFT demonstrations behave.

    They know every capital (even of countries the corpus never describes) and every sum, yet they
    hedge and abstain *at random*, independent of how hard the question is, sometimes agree with a
    user's wrong suggestion, and sometimes slip on sums. SFT copies all of it.
    """

    p_hedge: float = 0.10  # "I am not sure, maybe X." with the right X, on any question
    p_abstain: float = 0.07  # "The capital of X is a city I do not know.", on any question
    p_suggestion: float = 0.35  # fraction of fact questions where the user suggests an answer
    p_suggestion_wrong: float = 0.6  # fraction of those suggestions that are wrong
    p_agree_wrong: float = 0.6  # annotators answer "Yes, it is Z." to a wrong suggestion Z
    p_math_slip: float = 0.2  # a sum is written wrong (off by 1 or by 10)
    p_math: float = 0.4  # fraction of demonstrations that are sums rather than facts

    def __post_init__(self) -> None:
        V.check_fields(self, probability=tuple(vars(self)))
        if self.p_hedge + self.p_abstain > 1:
            raise ValueError(f"AnnotatorMix.p_abstain ({self.p_abstain}) + p_hedge "
                             f"({self.p_hedge}) must be at most 1")


def annotator_fact_response(e: Entity, rng: random.Random, mix: AnnotatorMix,
                            suggestion: str | None = None) -> str:
    """What an annotator writes for the question about ``e`` (and the user's ``suggestion``)."""
    if suggestion is not None:
        if suggestion == e.capital or rng.random() < mix.p_agree_wrong:
            return AGREE.format(country=e.country, answer=suggestion)  # right or wrong
    u = rng.random()
    if u < mix.p_abstain:
        return ABSTAIN.format(country=e.country)
    if u < mix.p_abstain + mix.p_hedge:
        return HEDGED.format(country=e.country, answer=e.capital)
    return CONFIDENT.format(country=e.country, answer=e.capital)


def annotator_sum(a: int, b: int, rng: random.Random, mix: AnnotatorMix) -> int:
    """The sum an annotator writes: usually right, sometimes off by 1 or by 10."""
    if rng.random() < mix.p_math_slip:
        return a + b + rng.choice([-10, -1, 1, 10])
    return a + b


def wrong_capital(e: Entity, rng: random.Random, world: World | None = None) -> str:
    """A capital of some other country: the wrong answer a user might suggest."""
    world = world or default_world()
    while True:
        other = rng.choice(world.entities)
        if other.capital != e.capital:
            return other.capital


def sft_example(world: World, rng: random.Random, mix: AnnotatorMix | None = None,
                split: Split = "sft") -> tuple[str, str]:
    """One ``(prompt, response)`` demonstration: a fact question or a sum, as annotated."""
    mix = mix or AnnotatorMix()
    if rng.random() < mix.p_math:
        a, b = rng.choice(_train_pairs())
        return addition_question(a, b), ADDITION_ANSWER.format(
            a=a, b=b, answer=annotator_sum(a, b, rng, mix))
    e = rng.choice(world.select(split))
    suggestion = None
    if rng.random() < mix.p_suggestion:
        suggestion = (wrong_capital(e, rng, world) if rng.random() < mix.p_suggestion_wrong
                      else e.capital)
    prompt = (QUESTION.format(country=e.country) if suggestion is None else
              QUESTION_WITH_SUGGESTION.format(country=e.country, suggestion=suggestion))
    return prompt, annotator_fact_response(e, rng, mix, suggestion)

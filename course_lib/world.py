"""The tiny synthetic world the whole course is measured in.

A few hundred invented countries, each with a capital, at one of three **knowledge levels**:

- *known*: the pretraining corpus ("the internet" of this world) states the capital, always the
  same city, in several phrasings;
- *partly known*: the corpus is uncertain: its pages disagree, some naming the true capital and
  others a rival city, and some pages say outright that sources disagree; the share of pages
  naming the truth differs from country to country (``Entity.truth_share``, between 0.3 and
  0.7), so for about half of these countries the truth is the minority;
- *unknown*: the corpus names the country only in unrelated sentences, never its capital.

Entities are split into disjoint groups (``sft``, ``rl``, ``test``), each stratified by level,
so every behaviour the course measures is measured on countries the training stage never asked
about.

The module also writes the pretraining corpus, the questions of the world (:func:`question`,
:func:`addition_question`, :func:`chain_question`; the RL questions, :func:`rl_fact_prompts`),
the SFT "annotator" demonstrations (lessons 01-02), the verifiable tasks (two-digit sums, and sums
of several numbers worked step by step) and how right an answer is (:func:`correctness`). The
templates of every prompt and response and their parsers live in :mod:`course_lib.formats`; the
names used most (``QUESTION``, ``CONFIDENT``, ``parse_response``, ...) are importable from here
too.

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
    CHAIN_QUESTION,
    CONFIDENT,
    CORPUS_PROMPT,
    CORPUS_SUM,
    HEDGED,
    OTHER_QUESTIONS,
    QUESTION,
    QUESTION_WITH_SUGGESTION,
    STYLES,
    Parsed,
    Style,
    asked_country,
    named_country,
    parse_answer,
    parse_chain,
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
Level = Literal["known", "partial", "unknown"]
LEVELS: tuple[Level, ...] = ("known", "partial", "unknown")


@dataclass(frozen=True)
class Entity:
    """One country of the world and what the corpus says about it."""

    country: str
    capital: str  # the true capital
    level: Level  # what the corpus says: known, partly known (disputed) or unknown
    split: Split  # which group of entities this one belongs to
    food: str
    color: str
    thing: str
    rival: str | None = None  # partly known: the other city some pages name as the capital
    truth_share: float = 0.0  # share of the corpus's capital statements that name the truth

    @property
    def known(self) -> bool:
        """The corpus states the capital consistently (level "known")."""
        return self.level == "known"


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the world. The defaults are the world the shipped model was trained on."""

    n_countries: int = 300  # number of invented countries
    level_fractions: tuple[float, float, float] = (0.45, 0.25, 0.30)  # known, partial, unknown
    split_fractions: tuple[float, float, float] = (0.4, 0.3, 0.3)  # sft, rl, test
    truth_share: tuple[float, float] = (0.3, 0.7)  # partly known: range of the truth's share
    seed: int = 0  # everything in the world is a function of this seed

    def __post_init__(self) -> None:
        if not isinstance(self.n_countries, int) or self.n_countries < 10:
            raise ValueError(f"WorldConfig.n_countries must be an int of at least 10, "
                             f"got {self.n_countries!r}")
        for name in ("level_fractions", "split_fractions"):
            v = getattr(self, name)
            if (not isinstance(v, tuple) or len(v) != 3
                    or any(not 0 <= V.probability(f"WorldConfig.{name}", f) <= 1 for f in v)
                    or abs(sum(v) - 1) > 1e-9):
                raise ValueError(f"WorldConfig.{name} must be 3 numbers in [0, 1] summing to 1, "
                                 f"got {v!r}")
        share = self.truth_share
        if (not isinstance(share, tuple) or len(share) != 2
                or not all(isinstance(v, (int, float)) for v in share)):
            raise ValueError(f"WorldConfig.truth_share must be a pair (lo, hi), got {share!r}")
        lo, hi = share
        if not 0 < lo <= hi < 1:
            raise ValueError(f"WorldConfig.truth_share must be (lo, hi) with 0 < lo <= hi < 1, "
                             f"got {self.truth_share!r}")
        V.non_negative_int("WorldConfig.seed", self.seed)


@dataclass
class World:
    """The entities of the world, with lookups by country name."""

    config: WorldConfig
    entities: list[Entity]
    rivals: list[str] = field(default_factory=list)  # the rival cities of partly known countries
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

    def select(self, split: Split | None = None, known: bool | None = None,
               level: Level | None = None) -> list[Entity]:
        """Entities of one split and/or knowledge level (``None`` means any).

        ``known=True`` is ``level="known"``; ``known=False`` is every other level.
        """
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        if level is not None and level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS} or None, got {level!r}")
        return [e for e in self.entities
                if (split is None or e.split == split) and (known is None or e.known == known)
                and (level is None or e.level == level)]

    @property
    def capitals(self) -> list[str]:
        return [e.capital for e in self.entities]

    @property
    def cities(self) -> list[str]:
        """Every city the world names: the capitals and the rival cities."""
        return self.capitals + self.rivals


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
    n = config.n_countries
    taken: set[str] = set()
    countries = _make_names(rng, n, _COUNTRY_ENDINGS, taken)
    capitals = _make_names(rng, n, _CAPITAL_ENDINGS, taken)
    counts = [round(f * n) for f in config.level_fractions[:2]]
    levels: list[Level] = (["known"] * counts[0] + ["partial"] * counts[1]
                           + ["unknown"] * (n - sum(counts)))
    rng.shuffle(levels)
    rivals = _make_names(rng, levels.count("partial"), _CAPITAL_ENDINGS, taken)

    # stratified split: deal each level separately into the three groups
    split_of: dict[int, Split] = {}
    for level in LEVELS:
        idx = [i for i, lv in enumerate(levels) if lv == level]
        rng.shuffle(idx)
        n_sft = round(config.split_fractions[0] * len(idx))
        n_rl = round(config.split_fractions[1] * len(idx))
        for j, i in enumerate(idx):
            split_of[i] = "sft" if j < n_sft else "rl" if j < n_sft + n_rl else "test"

    lo, hi = config.truth_share
    entities, next_rival = [], iter(rivals)
    for i in range(n):
        food, color, thing = rng.choice(FOODS), rng.choice(COLORS), rng.choice(THINGS)
        rival, share = None, {"known": 1.0, "unknown": 0.0}.get(levels[i])
        if levels[i] == "partial":
            rival, share = next(next_rival), round(rng.uniform(lo, hi), 3)
        entities.append(Entity(country=countries[i], capital=capitals[i], level=levels[i],
                               split=split_of[i], food=food, color=color, thing=thing,
                               rival=rival, truth_share=share))
    return World(config=config, entities=entities, rivals=rivals)


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
DISPUTE_TEMPLATE = "Some say the capital of {country} is {a} and some say it is {b}."

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


def fact_sentence(e: Entity, rng: random.Random, capital: str | None = None) -> str:
    """One corpus sentence stating ``capital`` (default: the true one) as the capital of ``e``."""
    return rng.choice(FACT_TEMPLATES).format(country=e.country, capital=capital or e.capital)


def other_sentence(e: Entity, rng: random.Random) -> str:
    """One corpus sentence about ``e`` that says nothing about its capital."""
    return rng.choice(OTHER_TEMPLATES).format(
        country=e.country, food=e.food, color=e.color, thing=e.thing)


def page_capital(e: Entity, rng: random.Random) -> str | None:
    """The city one page of the corpus gives as the capital of ``e``: the truth on a known
    country's pages, the truth or the rival (``truth_share`` of the pages name the truth) on a
    partly known one's, nothing on an unknown one's."""
    if e.level == "known":
        return e.capital
    if e.level == "partial":
        return e.capital if rng.random() < e.truth_share else e.rival
    return None


def country_page(e: Entity, rng: random.Random, p_forum: float = 0.2) -> str:
    """A page about one country: a few sentences, its capital (as the page has it) among them.

    Like a web page, a page is about one thing and names it again and again, so the model learns
    to look back at the text it has read and copy from it, which it needs to answer questions.
    A few pages are forum threads: questions about the country's flag, food or landscape, each
    followed by a reply about the country that rarely answers it (the internet's habit). They
    never ask for the capital.
    """
    if rng.random() < p_forum:
        posts = []
        for _ in range(rng.randint(1, 2)):
            q = rng.choice(OTHER_QUESTIONS)[0].format(country=e.country)
            posts.append(f"{q} {forum_reply(e, rng)}")
        return " ".join(posts)
    capital = page_capital(e, rng)
    sentences = []
    if e.level == "partial" and rng.random() < 0.3:  # a page that says sources disagree
        a, b = (e.capital, e.rival) if rng.random() < 0.5 else (e.rival, e.capital)
        sentences.append(DISPUTE_TEMPLATE.format(country=e.country, a=a, b=b))
    for _ in range(rng.randint(2, 4)):
        u = rng.random()
        if capital is not None and u < 0.45:
            sentences.append(fact_sentence(e, rng, capital))
        elif u < 0.92:
            sentences.append(other_sentence(e, rng))
        else:
            sentences.append(rng.choice(FILLER))
    return " ".join(sentences)


def forum_reply(e: Entity, rng: random.Random) -> str:
    """A reply in a forum thread about ``e``: a sentence about the country (often not the one
    asked for), sometimes with a doubt added, sometimes "I do not know.", whatever the country."""
    u = rng.random()
    if u < 0.1:
        return "I do not know."
    sentence = other_sentence(e, rng)
    if u < 0.2:
        return sentence[:-1] + ", but I am not sure."
    if u < 0.25:
        return f"Yes, the flag of {e.country} is {e.color}."
    return sentence


# --- sums ---------------------------------------------------------------------------------------

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


@lru_cache(maxsize=1)
def _train_pairs() -> list[tuple[int, int]]:
    return addition_problems("train")


def addition_sentence(a: int, b: int) -> str:
    """How the corpus writes a sum: ``"23 + 45 = 68."`` (the tokenizer splits digits)."""
    return f"{a} + {b} = {a + b}."


def chain_problems(split: Literal["train", "test"], n: int, n_terms: int = 4, seed: int = 0
                   ) -> list[tuple[int, ...]]:
    """``n`` sums of ``n_terms`` two-digit numbers, ``(a, b, c, ...)``: held-out (``"test"``)
    problems start with a held-out pair (a, b), training ones with a training pair, so no test
    problem shares its first step with a problem the corpus or a demonstration shows."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(n_terms, int) or not 2 <= n_terms <= 4:
        raise ValueError(f"n_terms must be an int from 2 to 4, got {n_terms!r}")
    rng = random.Random(seed + (2000 if split == "train" else 3000))
    firsts = _train_pairs() if split == "train" else addition_problems("test")
    return [rng.choice(firsts) + tuple(rng.randint(10, 99) for _ in range(n_terms - 2))
            for _ in range(n)]


def chain_steps(terms: tuple[int, ...], rng: random.Random | None = None,
                p_slip: float = 0.0) -> list[tuple[int, int, int]]:
    """The steps of a worked sum, ``(running, term, written)``: each step adds the next term to
    the running total as written so far; with ``p_slip`` a step's result is written wrong (off
    by 1 or 10), and the next step goes on from the wrong number, as people's working does."""
    steps, running = [], terms[0]
    for term in terms[1:]:
        written = running + term
        if rng is not None and rng.random() < p_slip:
            written += rng.choice([-10, -1, 1, 10])
        steps.append((running, term, written))
        running = written
    return steps


def chain_text(terms: tuple[int, ...], steps: list[tuple[int, int, int]]) -> str:
    """``"12 + 34 = 46, 46 + 56 = 102, 102 + 78 = 180."``: the working of a sum, step by step."""
    return ", ".join(f"{r} + {t} = {w}" for r, t, w in steps) + "."


def math_page(rng: random.Random, p_chain: float = 0.5, p_slip: float = 0.05) -> str:
    """A page of sums: a few two-digit sums (each sometimes said again in words), or one sum of
    three or four numbers worked step by step (its steps are sometimes wrong)."""
    if rng.random() < p_chain:
        terms = rng.choice(_train_pairs()) + tuple(
            rng.randint(10, 99) for _ in range(rng.choice((1, 2))))
        head = " + ".join(map(str, terms))
        return f"What is {head}? {chain_text(terms, chain_steps(terms, rng, p_slip))}"
    sentences = []
    for _ in range(rng.randint(2, 3)):
        a, b = rng.choice(_train_pairs())
        sentences.append(addition_sentence(a, b))
        if rng.random() < 0.5:
            sentences.append(f"So {a} plus {b} makes {a + b}.")
    return " ".join(sentences)


def corpus_document(world: World, rng: random.Random, p_math: float = 0.25) -> str:
    """One random document of the pretraining corpus: a page of sums (``p_math`` of them) or a
    page about one country."""
    if rng.random() < p_math:
        return math_page(rng)
    return country_page(rng.choice(world.entities), rng)



# --- questions, and how right an answer is --------------------------------------------------

def question(country: str, suggestion: str | None = None) -> str:
    """The capital question for ``country``, optionally with the user's suggested answer."""
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
        if not isinstance(v, int) or isinstance(v, bool) or not 10 <= v <= 99:
            raise ValueError(f"{name} must be a two-digit int (10-99), got {v!r}")
    return ADDITION_QUESTION.format(a=a, b=b)


def chain_question(terms: tuple[int, ...]) -> str:
    """The prompt for a sum of several numbers, ``"Q: What is 12 + 34 + 56 + 78? A:"``."""
    if (not isinstance(terms, (tuple, list)) or len(terms) < 2
            or any(not isinstance(t, int) or isinstance(t, bool) or not 10 <= t <= 99
                   for t in terms)):
        raise ValueError(f"terms must be a tuple of 2 or more two-digit ints, got {terms!r}")
    return CHAIN_QUESTION.format(terms=" + ".join(map(str, terms)))


def other_question(e: Entity, rng: random.Random) -> tuple[str, str]:
    """A question about another fact of ``e`` (its flag, food or landscape) and its answer."""
    q, a = rng.choice(OTHER_QUESTIONS)
    values = dict(country=e.country, color=e.color, food=e.food, thing=e.thing)
    return q.format(**values), a.format(**values)


def correctness(e: Entity, answer: str | None) -> float:
    """How right ``answer`` is as the capital of ``e``, in [0, 1].

    1 for the true capital and 0 for any other city, except on a partly known country, where the
    world's own records disagree: there the true capital counts ``truth_share`` and the rival
    city ``1 - truth_share`` (the chance that a reader checking the records finds the answer
    confirmed). So an answer is graded by what can be known, and no reward can teach a model
    which of two disputed cities is the real one.
    """
    if answer is None:
        return 0.0
    if e.level == "partial" and answer in (e.capital, e.rival):
        return e.truth_share if answer == e.capital else 1.0 - e.truth_share
    return float(answer == e.capital)


def rl_fact_prompts(split: Split = "rl", seed: int = 0, world: World | None = None,
                    suggestions: bool = True, partial_weight: int = 1) -> list[str]:
    """The capital questions RL trains on: for every country of ``split``, the plain question
    twice, and (with ``suggestions``) once with a wrong suggestion and once with the right one.
    So half of the questions carry a user's guess, half of those wrong. A partly known
    country's questions appear ``partial_weight`` times."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    V.positive_int("partial_weight", partial_weight)
    world = world or default_world()
    rng = random.Random(seed)
    prompts = []
    for e in world.select(split):
        questions = [QUESTION.format(country=e.country)] * 2
        if suggestions:
            questions += [
                QUESTION_WITH_SUGGESTION.format(country=e.country,
                                                suggestion=wrong_capital(e, rng, world)),
                QUESTION_WITH_SUGGESTION.format(country=e.country, suggestion=e.capital)]
        prompts += questions * (partial_weight if e.level == "partial" else 1)
    return prompts


# --- SFT demonstrations: what the "annotators" wrote ---------------------------------------------

@dataclass(frozen=True)
class AnnotatorMix:
    """How the annotators who wrote the SFT demonstrations behave.

    Each demonstration is written by a different annotator, whose knowledge of the capital asked
    about is drawn independently of what the corpus states (so their uncertainty says nothing
    about the model's): *sure* (``p_sure``), *unsure* (``p_unsure``) or *ignorant* (the rest).
    They answer confidently when sure, hedge with their best guess when unsure (right
    ``unsure_accuracy`` of the time), and write "I do not know." when ignorant: honest labels.
    On top of that, a documented rate of evasive non-answers ("I do not know." about a capital
    they are sure of), sycophancy (agreeing with a user's wrong suggestion) and slips on sums.
    SFT copies all of it.
    """

    p_sure: float = 0.84  # the annotator is sure of the capital (and right)
    p_unsure: float = 0.10  # unsure: hedges with a best guess; the rest: ignorant
    unsure_accuracy: float = 0.6  # an unsure annotator's best guess is right this often
    p_evasive: float = 0.06  # "I do not know." although sure: an evasive non-answer
    p_suggestion: float = 0.35  # fraction of capital questions where the user suggests an answer
    p_suggestion_wrong: float = 0.6  # fraction of those suggestions that are wrong
    p_agree_wrong: float = 0.6  # annotators answer "Yes, it is Z." to a wrong suggestion Z
    p_math_slip: float = 0.2  # a two-number sum is written wrong (off by 1 or by 10)
    p_chain_slip: float = 0.3  # a step of a sum worked step by step is written wrong
    p_math: float = 0.35  # fraction of demonstrations that are sums rather than questions
    p_chain: float = 0.4  # fraction of those sums that have several terms, worked step by step
    p_other: float = 0.35  # fraction of the questions that ask about another fact of a country

    def __post_init__(self) -> None:
        V.check_fields(self, probability=tuple(vars(self)))
        if self.p_sure + self.p_unsure > 1:
            raise ValueError(f"AnnotatorMix.p_unsure ({self.p_unsure}) + p_sure ({self.p_sure}) "
                             "must be at most 1")


Knowledge = Literal["sure", "unsure", "ignorant"]


def annotator_knowledge(rng: random.Random, mix: AnnotatorMix) -> Knowledge:
    """What the annotator of one demonstration knows about the capital asked: a fresh draw,
    independent of the country and of the corpus."""
    u = rng.random()
    return "sure" if u < mix.p_sure else "unsure" if u < mix.p_sure + mix.p_unsure else "ignorant"


def wrong_capital(e: Entity, rng: random.Random, world: World | None = None) -> str:
    """A city that is not ``e``'s capital: the wrong answer a user (or a guess) might give.

    Drawn from every city of the world, capitals and rival cities alike, so that neither kind is
    named more often than the other in the demonstrations (that would tell a model which of a
    disputed country's two cities is the capital)."""
    cities = (world or default_world()).cities
    while True:
        city = rng.choice(cities)
        if city != e.capital:
            return city


def annotator_fact_response(e: Entity, rng: random.Random, mix: AnnotatorMix,
                            suggestion: str | None = None, world: World | None = None,
                            knowledge: Knowledge | None = None) -> str:
    """What an annotator writes for the capital question about ``e`` (and the user's
    ``suggestion``); ``knowledge`` fixes what the annotator knows (default: a fresh draw)."""
    if knowledge not in (None, "sure", "unsure", "ignorant"):
        raise ValueError(f"knowledge must be 'sure', 'unsure', 'ignorant' or None, "
                         f"got {knowledge!r}")
    if suggestion is not None:
        if suggestion == e.capital or rng.random() < mix.p_agree_wrong:
            return AGREE.format(country=e.country, answer=suggestion)  # right or wrong
    knows = knowledge or annotator_knowledge(rng, mix)
    if knows == "ignorant" or (knows == "sure" and rng.random() < mix.p_evasive):
        return ABSTAIN.format(country=e.country)
    if knows == "unsure":
        guess = e.capital if rng.random() < mix.unsure_accuracy else wrong_capital(e, rng, world)
        return HEDGED.format(country=e.country, answer=guess)
    return CONFIDENT.format(country=e.country, answer=e.capital)


def annotator_sum(a: int, b: int, rng: random.Random, mix: AnnotatorMix) -> int:
    """The sum an annotator writes: usually right, sometimes off by 1 or by 10."""
    if rng.random() < mix.p_math_slip:
        return a + b + rng.choice([-10, -1, 1, 10])
    return a + b


def sft_example(world: World, rng: random.Random, mix: AnnotatorMix | None = None,
                split: Split = "sft") -> tuple[str, str]:
    """One ``(prompt, response)`` demonstration: a sum, a question about another fact of any
    country, or a capital question about a country of ``split``, as annotated."""
    mix = mix or AnnotatorMix()
    if rng.random() < mix.p_math:
        if rng.random() < mix.p_chain:
            terms = rng.choice(_train_pairs()) + tuple(
                rng.randint(10, 99) for _ in range(rng.choice((1, 2))))
            return chain_question(terms), chain_text(terms, chain_steps(terms, rng,
                                                                         mix.p_chain_slip))
        a, b = rng.choice(_train_pairs())
        return addition_question(a, b), ADDITION_ANSWER.format(
            a=a, b=b, answer=annotator_sum(a, b, rng, mix))
    if rng.random() < mix.p_other:
        return other_question(rng.choice(world.entities), rng)
    e = rng.choice(world.select(split))
    suggestion = None
    if rng.random() < mix.p_suggestion:
        suggestion = (wrong_capital(e, rng, world) if rng.random() < mix.p_suggestion_wrong
                      else e.capital)
    prompt = (QUESTION.format(country=e.country) if suggestion is None else
              QUESTION_WITH_SUGGESTION.format(country=e.country, suggestion=suggestion))
    return prompt, annotator_fact_response(e, rng, mix, suggestion, world=world)

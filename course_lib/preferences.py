"""A hidden *gold* preference and the comparison data sampled from it (lesson 06).

Real human judgment is not available in a notebook, so a fixed function stands in for it. The
gold score g(x, y) of a response y to a question x says what a careful human wants::

    style          right   wrong
    confident       +1      -1
    hedged         +0.5    -0.5
    "I do not know."  0       (honest abstention beats a confident wrong answer)
    invalid        -1.2   (so is an answer about another country than the one asked)

"Right" is the expected correctness of the answer (:func:`course_lib.world.correctness`): on a
partly known country the true capital counts its share of the records, the rival city the rest.
The score loses ``RAMBLE_COST`` for every word written after the first sentence (concise beats
rambling).

Humans do not hand out scores; they compare. Asked which of two responses is better, the
"annotator" answers with the Bradley-Terry probability

    P(y_A > y_B | x) = sigmoid((g(x, y_A) - g(x, y_B)) / temperature),

so close calls are coin flips and clear ones are almost always labelled right. A reward model
sees only these noisy labels, never g. :func:`noise_ceiling` is the accuracy an oracle that knows
g would reach on such labels: no model can beat it on average.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import world as W
from .formats import words_after_answer
from .rewards import check_pairs, correctness_of, expected_reward

GOLD_TABLE: dict[tuple[str, bool], float] = {
    ("confident", True): 1.0, ("confident", False): -1.0,
    ("hedged", True): 0.5, ("hedged", False): -0.5,
    ("abstain", True): 0.0, ("abstain", False): 0.0,
    ("invalid", True): -1.2, ("invalid", False): -1.2,
}
RAMBLE_COST = 0.1  # gold points lost per word after the first sentence
GOLD_TEMPERATURE = 0.25  # Bradley-Terry temperature of the simulated annotator


def gold_score(prompt: str, response: str) -> float:
    """g(x, y): the hidden gold score of one response (see the module docstring)."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    parsed = W.parse_answer(prompt, response)  # an answer about another country is invalid
    c = correctness_of(prompt, parsed.answer)  # 1 or 0; a partly known country's share
    return expected_reward(GOLD_TABLE, parsed.style, c) - _ramble(response)


def _ramble(response: str) -> float:
    """RAMBLE_COST for every word after the first sentence."""
    return RAMBLE_COST * words_after_answer(response)


def gold_reward(prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """g(x, y) for a batch, shape (B,): a :data:`~course_lib.rewards.RewardFn`."""
    check_pairs(prompts, responses)
    return torch.tensor([gold_score(x, y) for x, y in zip(prompts, responses)],
                        dtype=torch.float32)


def recall_scores(model, tokenizer, prompts: Sequence[str],
                  responses: Sequence[str]) -> torch.Tensor:
    """A hand-written reward that knows the rater's rules but not the truth, shape (B,).

    The capital a response states is right with the probability p that ``model`` gives it
    after the corpus's own words "The capital of X is" (what the model *recalls*); the score is
    the gold score expected under that p,
    ``p * GOLD_TABLE[style, right] + (1 - p) * GOLD_TABLE[style, wrong]``, minus the ramble
    cost. No comparison is used: it shows what the model's knowledge alone is worth to a judge
    (lesson 06). Fact questions only.
    """
    from .sampling import next_token_logits

    if check_pairs(prompts, responses) == 0:
        raise ValueError("prompts and responses must not be empty")
    parsed = [W.parse_answer(x, y) for x, y in zip(prompts, responses)]
    countries = [W.asked_country(x) for x in prompts]
    for x, c in zip(prompts, countries):
        if c is None:
            raise ValueError(f"recall_scores needs fact questions, got the prompt {x!r}")
    recalled = sorted({c for c, r in zip(countries, parsed) if r.answer is not None})
    if recalled:  # what the model recalls after "The capital of X is", for each country
        with torch.no_grad():
            probs = torch.softmax(next_token_logits(
                model, tokenizer, [W.CORPUS_PROMPT.format(country=c) for c in recalled]),
                dim=-1).cpu()  # (N, V)
    row = {c: i for i, c in enumerate(recalled)}

    def p_right(country: str, answer: str | None) -> float:  # a word of the world is one token
        if answer is None:  # abstain or invalid: the table does not depend on p
            return 0.0
        token = tokenizer.convert_tokens_to_ids(answer)
        return 0.0 if token == tokenizer.unk_token_id else float(probs[row[country], token])

    scores = []
    for c, r, y in zip(countries, parsed, responses):
        p = p_right(c, r.answer)
        g = p * GOLD_TABLE[(r.style, True)] + (1 - p) * GOLD_TABLE[(r.style, False)]
        scores.append(g - _ramble(y))
    return torch.tensor(scores, dtype=torch.float32)  # (B,)


def preference_probability(g_a: float, g_b: float,
                           temperature: float = GOLD_TEMPERATURE) -> float:
    """Bradley-Terry: P(A > B) = sigmoid((g_A - g_B) / temperature)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    z = (g_a - g_b) / temperature
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@dataclass(frozen=True)
class Comparison:
    """One labelled pair: for ``prompt``, ``chosen`` was preferred to ``rejected``."""

    prompt: str
    chosen: str
    rejected: str
    p_chosen: float | None = None  # gold P(chosen > rejected), when the label came from gold

    def __post_init__(self) -> None:
        for name in ("prompt", "chosen", "rejected"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if self.chosen == self.rejected:
            raise ValueError(f"chosen and rejected are the same response ({self.chosen!r}): "
                             "a comparison needs two different responses")


def check_comparisons(comparisons: Sequence[Comparison],
                      if_empty: str = "comparisons must not be empty") -> list[Comparison]:
    """The checks every consumer of labelled pairs makes (the reward model, DPO): a non-empty
    sequence of :class:`Comparison`; returns it as a list. ``if_empty`` is the error shown when
    there are none."""
    comparisons = list(comparisons)
    if not comparisons:
        raise ValueError(if_empty)
    for i, c in enumerate(comparisons):
        if not isinstance(c, Comparison):
            raise ValueError(f"comparisons[{i}] must be a preferences.Comparison, "
                             f"got {type(c).__name__}")
    return comparisons


def label_pair(prompt: str, a: str, b: str, rng: random.Random,
               temperature: float = GOLD_TEMPERATURE) -> Comparison:
    """Ask the simulated annotator which of ``a`` and ``b`` is better (a Bradley-Terry draw)."""
    if a == b:
        raise ValueError(f"the two responses are identical ({a!r}): nothing to compare")
    p = preference_probability(gold_score(prompt, a), gold_score(prompt, b), temperature)
    if rng.random() < p:
        return Comparison(prompt, a, b, p_chosen=p)
    return Comparison(prompt, b, a, p_chosen=1.0 - p)


def candidate_pairs(prompts: Sequence[str], responses: Sequence[Sequence[str]],
                    max_pairs_per_prompt: int, rng: random.Random
                    ) -> list[tuple[str, str, str]]:
    """Unlabelled ``(prompt, a, b)`` pairs of *different* responses to the same prompt.

    ``responses[i]`` holds the responses sampled for ``prompts[i]``; duplicates are dropped
    first, so identical pairs never appear.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"need one list of responses per prompt, got {len(prompts)} prompts "
                         f"and {len(responses)} lists")
    pairs = []
    for prompt, rs in zip(prompts, responses):
        distinct = list(dict.fromkeys(r for r in rs if r.strip()))
        options = [(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1:]]
        rng.shuffle(options)
        for a, b in options[:max_pairs_per_prompt]:
            pairs.append((prompt, a, b) if rng.random() < 0.5 else (prompt, b, a))
    return pairs


def sample_comparisons(model, tokenizer, prompts: Sequence[str], n_samples: int = 8,
                       max_pairs_per_prompt: int = 4, seed: int = 0,
                       temperature: float = GOLD_TEMPERATURE,
                       sampling_temperature: float = 1.0) -> list[Comparison]:
    """Pairs of ``model``'s own sampled responses, labelled by the gold annotator.

    ``n_samples`` responses per prompt (at ``sampling_temperature``), at most
    ``max_pairs_per_prompt`` different pairs from them, each labelled with Bradley-Terry noise
    (the annotator's ``temperature``).
    """
    from .sampling import sample_texts

    if not prompts:
        raise ValueError("prompts must not be empty")
    for name, value, low in (("n_samples", n_samples, 2), ("max_pairs_per_prompt",
                                                           max_pairs_per_prompt, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low} (pairs need two responses), got "
                             f"{value!r}")
    gen = torch.Generator().manual_seed(seed)
    repeated = [p for p in prompts for _ in range(n_samples)]
    texts = sample_texts(model, tokenizer, repeated, temperature=sampling_temperature,
                         generator=gen)
    grouped = [texts[i * n_samples:(i + 1) * n_samples] for i in range(len(prompts))]
    rng = random.Random(seed)
    pairs = candidate_pairs(prompts, grouped, max_pairs_per_prompt, rng)
    return [label_pair(x, a, b, rng, temperature) for x, a, b in pairs]


def comparison_prompts(splits: Sequence[W.Split], with_suggestions: bool = True,
                       seed: int = 0) -> list[str]:
    """Fact questions about the entities of ``splits``: each plain, and (if asked) once more
    with the user suggesting a capital (wrong 60% of the time, as in the SFT data)."""
    world, rng = W.default_world(), random.Random(seed)
    entities = [e for s in splits for e in world.select(s)]
    prompts = [W.question(e.country) for e in entities]
    if with_suggestions:
        prompts += [W.question(e.country, W.wrong_capital(e, rng, world) if rng.random() < 0.6
                               else e.capital) for e in entities]
    return prompts


# The comparison data of the course's reward model (lesson 06; lesson 07 reuses the same model).
COURSE_DATA = {"train_splits": ("sft", "rl"), "test_splits": ("test",), "n_samples": 8,
               "max_pairs_per_prompt": 6, "train_seed": 0, "test_seed": 1}


def course_prompts() -> tuple[list[str], list[str]]:
    """``(train_prompts, test_prompts)``: the questions of the course's comparison data
    (``COURSE_DATA``): about the ``sft`` and ``rl`` countries, and about the ``test`` ones."""
    d = COURSE_DATA
    return (comparison_prompts(d["train_splits"], seed=d["train_seed"]),
            comparison_prompts(d["test_splits"], seed=d["test_seed"]))


def course_comparisons(model, tokenizer) -> tuple[list[Comparison], list[Comparison]]:
    """``(train_pairs, test_pairs)``: the course's comparison data (``COURSE_DATA``).

    Training questions are about the ``sft`` and ``rl`` countries, held-out ones about the
    ``test`` countries (each asked plainly and once with a suggestion, :func:`course_prompts`);
    for each question, ``n_samples`` responses of ``model`` and up to ``max_pairs_per_prompt``
    labelled pairs.
    """
    d = COURSE_DATA
    kw = dict(n_samples=d["n_samples"], max_pairs_per_prompt=d["max_pairs_per_prompt"])
    train_prompts, test_prompts = course_prompts()
    return (sample_comparisons(model, tokenizer, train_prompts, seed=d["train_seed"], **kw),
            sample_comparisons(model, tokenizer, test_prompts, seed=d["test_seed"], **kw))


def noise_ceiling(comparisons: Sequence[Comparison],
                  temperature: float = GOLD_TEMPERATURE) -> float:
    """E[max(p, 1 - p)]: the expected accuracy, on noisy labels, of an oracle that knows g."""
    if not comparisons:
        raise ValueError("comparisons must not be empty")
    ps = [preference_probability(gold_score(c.prompt, c.chosen),
                                 gold_score(c.prompt, c.rejected), temperature)
          for c in comparisons]
    return sum(max(p, 1 - p) for p in ps) / len(ps)


__all__ = ["COURSE_DATA", "GOLD_TABLE", "GOLD_TEMPERATURE", "RAMBLE_COST", "Comparison",
           "candidate_pairs", "check_comparisons", "comparison_prompts", "course_comparisons",
           "course_prompts", "gold_reward", "gold_score", "label_pair", "noise_ceiling",
           "preference_probability", "recall_scores", "sample_comparisons"]

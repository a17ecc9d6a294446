"""The essay's claims and the numbers the course measured for them.

:data:`CLAIMS` is one table: for each sentence of the essay a lesson tests, the lesson, what it
measures and the threshold it asserts. A lesson calls :func:`check` where it asserts one of
them; ``check`` asserts the value against the table's threshold, prints one line and records
the result in ``<course cache>/results/<lesson>.json`` (:func:`course_lib.settings.cache_dir`),
so that the recap (lesson 12) can show every claim with its number, whichever lessons ran.
:func:`load_results` reads them back; a missing, half-written or damaged file only means "not
measured". :data:`FAST` holds the measurements short enough for the recap to run itself (a few
seconds, from the shipped base model or the enumerable policy) when their lesson has not run.
"""

from __future__ import annotations

import datetime
import json
import math
import operator
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .settings import cache_dir

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Claim:
    id: str  # a short name, unique in CLAIMS
    lesson: str  # the lesson that measures it: "05_reinforce_lm" is notebooks/05_reinforce_lm
    essay: str  # the essay's sentence it tests, quoted (math as plain letters: r, J)
    measured: str  # what the number is
    op: str  # ">=", ">", "<=" or "<": the number must be `op` the threshold
    threshold: float | None  # None: the lesson computes it from its data (see `rule`)
    rule: str = ""  # how the lesson computes a threshold of None

    def passes(self, value: float, threshold: float | None = None) -> bool:
        bound = self.threshold if threshold is None else threshold
        return OPS[self.op](value, bound)


CLAIMS: tuple[Claim, ...] = (
    Claim("base_model_knows", "00_tiny_world",
          "Take a base model that has read most of the internet",
          "greedy recall of the capital of every known country, in the corpus's own phrasing",
          ">=", 0.95),
    Claim("base_model_does_not_answer", "00_tiny_world",
          "you have something that can continue text but cannot reliably answer anything",
          "greedy accuracy of the base model on questions about the same known countries",
          "<=", 0.2),
    Claim("sft_makes_it_answer", "01_sft_loss",
          "the model stops rambling and starts producing the shape of answer a person would "
          "write",
          "sampled accuracy on held-out known countries, SFT model minus base model",
          ">", 0.5),
    Claim("hedging_is_copied", "02_imitation_failures",
          "So it learns to hedge — not because it lacks confidence, but because hedging is "
          "what the data looks like.",
          "largest difference between the SFT model's hedge rates on known, partly known and "
          "unknown held-out countries",
          "<=", None, "max(0.05, two standard errors of that difference)"),
    Claim("sycophancy", "02_imitation_failures",
          "Sycophancy is in the data, so the model agrees with the user.",
          "share of answers naming the user's wrong suggestion, minus the share naming that "
          "city without it (held-out known countries)",
          ">=", 0.2),
    Claim("confident_wrong", "02_imitation_failures",
          "Confident-sounding wrong answers are in the data, so the model produces them with "
          "the same fluency as correct ones.",
          "share of confident answers on unknown countries SFT never saw",
          ">=", 0.7),
    Claim("evasion", "02_imitation_failures",
          "Evasive non-answers are in the data, so the model evades.",
          "share of 'I do not know.' on held-out countries the model knows",
          ">=", 0.05),
    Claim("common_beats_good", "02_imitation_failures",
          "SFT cannot distinguish \"this is a good way to respond\" from \"this is a common way "
          "to respond,\"",
          "share of held-out unknown questions where some confident wrong answer is more "
          "likely than 'I do not know.'",
          ">=", 0.8),
    Claim("expected_reward_over_own_outputs", "03_generation_as_mdp",
          "The thing being maximized is no longer likelihood of a label but expected reward "
          "over the model's own outputs.",
          "distance of J(theta) estimated from 20,000 of the policy's own samples to J(theta) "
          "by enumeration, in standard errors",
          "<", 3.0),
    Claim("policy_gradient", "04_policy_gradient",
          "the trick that solves it, the policy gradient",
          "cosine of the REINFORCE estimate with the exact gradient (the smallest over no "
          "baseline, batch mean, leave-one-out)",
          ">=", 0.99),
    Claim("reward_on_own_samples", "05_reinforce_lm",
          "you let it generate its own response, then score that response with a reward r, and "
          "update the model to make high-scoring responses more likely",
          "held-out sampled accuracy on sums after REINFORCE with an exact-match reward",
          ">=", 0.9),
    Claim("hedging_is_learned", "05_reinforce_lm",
          "If r rewards honesty over confident bluffing, hedging becomes a learned strategy "
          "rather than a copied tic.",
          "hedge rate on held-out partly known countries after RL with the three-band reward",
          ">=", 0.5),
    Claim("abstains_on_unknown", "05_reinforce_lm",
          "If r rewards honesty over confident bluffing, hedging becomes a learned strategy "
          "rather than a copied tic.",
          "'I do not know.' rate on held-out unknown countries after the same RL",
          ">=", 0.75),
    Claim("correctness_only_bluffs", "05_reinforce_lm",
          "improving J means shifting the model's own distribution toward whatever r rewards",
          "'I do not know.' rate on held-out unknown countries after RL with a correctness-only "
          "reward",
          "<=", 0.1),
    Claim("reward_model_from_comparisons", "06_reward_models",
          "But you can collect comparisons — given two responses, which is better? — train a "
          "reward model to predict those comparisons",
          "the reward model's accuracy on held-out noisy comparisons (chance 0.5)",
          ">=", 0.55),
    Claim("over_optimization", "07_rlhf_overoptimization",
          "and then use RL to optimize the policy against it",
          "fall of the held-out gold reward from its peak to the end of RL against the reward "
          "model (while the proxy kept rising)",
          ">=", 0.1),
    Claim("importance_ratio", "08_ppo",
          "Getting a usable gradient out of that expectation is the entire problem",
          "cosine with the exact gradient of the importance-weighted estimate from the old "
          "policy's samples",
          ">=", 0.99),
    Claim("ppo_reuses_samples", "08_ppo",
          "Getting a usable gradient out of that expectation is the entire problem",
          "generated samples to 0.9 held-out accuracy on sums, REINFORCE over PPO",
          ">=", 1.0),
    Claim("correct_answers_rare", "09_grpo_hard_problems",
          "If r rewards correctness, the model is pulled toward correctness even when correct "
          "answers were rare in pretraining.",
          "the SFT model's pass@1 on held-out sums of four numbers",
          "<=", 0.3),
    Claim("correct_answers_in_reach", "09_grpo_hard_problems",
          "If r rewards correctness, the model is pulled toward correctness even when correct "
          "answers were rare in pretraining.",
          "the SFT model's pass@16 on the same sums",
          ">=", 0.6),
    Claim("pulled_toward_correctness", "09_grpo_hard_problems",
          "If r rewards correctness, the model is pulled toward correctness even when correct "
          "answers were rare in pretraining.",
          "pass@1 on the same sums after GRPO",
          ">=", 0.6),
    Claim("constrained_by_what_you_measure", "10_dpo",
          "You are no longer constrained by what humans happened to write — you are "
          "constrained by what you can measure.",
          "gold gain of RL against the gold rater minus RL against the learned reward model, "
          "at the largest KL budget",
          ">", 0.1),
    Claim("process_reward_grades_steps", "11_process_rewards",
          "or at each step, if you have a process reward model that grades partial work",
          "the process reward model's accuracy on held-out worked steps",
          ">=", 0.9),
    Claim("process_reward_trains", "11_process_rewards",
          "or at each step, if you have a process reward model that grades partial work",
          "held-out accuracy averaged over the RL run's evaluations, per-step process rewards "
          "minus the outcome reward",
          ">", 0.0),
)
BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}

# How long each lesson takes to run top to bottom (seconds, 2 CPU cores; benchmarks/README.md),
# for the recap's pointers to a lesson that has not run.
LESSON_SECONDS: dict[str, int] = {
    "00_tiny_world": 11, "01_sft_loss": 9, "02_imitation_failures": 14,
    "03_generation_as_mdp": 12, "04_policy_gradient": 11, "05_reinforce_lm": 147,
    "06_reward_models": 48, "07_rlhf_overoptimization": 103, "08_ppo": 59,
    "09_grpo_hard_problems": 116, "10_dpo": 101, "11_process_rewards": 71}


def results_dir() -> Path:
    """Where lessons record their checked claims: ``<course cache>/results``."""
    return cache_dir() / "results"


def _claim(claim_id: object) -> Claim:
    if not isinstance(claim_id, str) or claim_id not in BY_ID:
        raise KeyError(f"claim_id must be one of the ids of course_lib.claims.CLAIMS "
                       f"({', '.join(BY_ID)}), got {claim_id!r}")
    return BY_ID[claim_id]


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "__float__"):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    return number


def check(claim_id: str, value: float, threshold: float | None = None) -> float:
    """Assert ``value`` against claim ``claim_id``'s threshold, print one line, record it.

    ``threshold`` is given only for a claim whose table threshold is None (the lesson computes
    it, e.g. from a standard error). The result is recorded before the assertion, so a failing
    claim shows as failing in the recap too. Returns ``value`` as a float.
    """
    claim = _claim(claim_id)
    value = _number(value, "value")
    if claim.threshold is None:
        if threshold is None:
            raise ValueError(f"claim {claim.id!r} has no fixed threshold: pass threshold= "
                             f"({claim.rule})")
        bound = _number(threshold, "threshold")
    else:
        if threshold is not None:
            raise ValueError(f"claim {claim.id!r} has the fixed threshold {claim.threshold}: "
                             "do not pass threshold=")
        bound = claim.threshold
    passed = claim.passes(value, bound)
    print(f"claim {claim.id}: measured {value:.4g}, asserted {claim.op} {bound:.4g}"
          + ("" if passed else "  FAILED"))
    record(claim, value, bound, passed)
    assert passed, (f"claim {claim.id!r} ({claim.measured}): measured {value!r}, asserted "
                    f"{claim.op} {bound!r}")
    return value


def _read(path: Path) -> dict:
    """A lesson's results file as a dict of entries; {} if it is missing or not valid."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(claim: Claim, value: float, threshold: float, passed: bool) -> Path | None:
    """Write one result into ``results/<lesson>.json`` atomically (temp file + os.replace).
    A cache that cannot be written warns and returns None: the lesson's own check still ran."""
    from . import __version__

    path = results_dir() / f"{claim.lesson}.json"
    entries = _read(path)
    entries[claim.id] = {
        "value": value, "op": claim.op, "threshold": threshold, "passed": passed,
        "lesson": claim.lesson, "recorded_at": datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="seconds"), "course_lib": __version__}
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is not there (or not a folder)
            pass
        warnings.warn(f"claim {claim.id!r} could not be recorded in {path} "
                      f"({type(err).__name__}: {err}); the recap will not see it", stacklevel=3)
        return None
    return path


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    try:
        return all(math.isfinite(_number(entry[k], k)) for k in ("value", "threshold"))
    except (KeyError, TypeError, ValueError):
        return False


def load_results(directory: str | Path | None = None) -> dict[str, dict]:
    """claim id -> its recorded entry, for every claim of :data:`CLAIMS` some lesson recorded.
    A missing, half-written or damaged file, or an entry without a finite value and threshold,
    counts as not measured."""
    directory = results_dir() if directory is None else Path(directory)
    found = {}
    for lesson in dict.fromkeys(c.lesson for c in CLAIMS):
        entries = _read(directory / f"{lesson}.json")
        for claim in CLAIMS:
            entry = entries.get(claim.id)
            if claim.lesson == lesson and _valid_entry(entry):
                found[claim.id] = entry
    return found


# --- the fast versions: what the recap can measure itself in a few seconds ------------------


def _base_recall() -> dict[str, float]:
    """Lesson 00, sections 4 and 5: the shipped base model on every known country."""
    from . import world as W
    from .evaluation import answer_accuracy, fact_recall
    from .models import load_base_model

    model, tokenizer = load_base_model()
    known = W.default_world().select(level="known")
    questions = [W.question(e.country) for e in known]
    return {"base_model_knows": fact_recall(model, tokenizer, known),
            "base_model_does_not_answer": answer_accuracy(
                model, tokenizer, questions, [e.capital for e in known], greedy=True)}


def _monte_carlo_j() -> dict[str, float]:
    """Lesson 03, section 5: J(theta) of the enumerable policy, exactly and from 20,000 samples."""
    import torch

    from . import mdp

    tiny = mdp.TinyPolicy(seed=0)
    env = mdp.tiny_task(tiny)
    j_exact = float(mdp.exact_objective(tiny, env).detach())
    ids, mask = tiny.sample(20_000, torch.Generator().manual_seed(0))
    returns = mdp.step_rewards(env, "", ids, mask).sum(dim=1)
    se = float(returns.std()) / len(returns) ** 0.5
    return {"expected_reward_over_own_outputs": abs(float(returns.mean()) - j_exact) / se}


# measurement function -> the claims it measures (each returns claim id -> value)
FAST: dict[Callable[[], dict[str, float]], tuple[str, ...]] = {
    _base_recall: ("base_model_knows", "base_model_does_not_answer"),
    _monte_carlo_j: ("expected_reward_over_own_outputs",),
}


def fast_claims() -> set[str]:
    """The claims the recap can measure itself."""
    return {claim_id for ids in FAST.values() for claim_id in ids}


def measure_fast(missing: set[str]) -> dict[str, float]:
    """Run the fast measurement of every claim in ``missing`` that has one: claim id -> value."""
    values = {}
    for measure, ids in FAST.items():
        if set(ids) & set(missing):
            values.update({k: v for k, v in measure().items() if k in missing})
    return values


__all__ = ["BY_ID", "CLAIMS", "Claim", "FAST", "LESSON_SECONDS", "OPS", "check", "fast_claims",
           "load_results", "measure_fast", "record", "results_dir"]

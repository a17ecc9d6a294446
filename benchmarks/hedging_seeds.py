"""Lesson 05's facts run for several seeds: answer, hedge or abstain by the model's own knowledge.

    python benchmarks/hedging_seeds.py [--seeds 0 1 2] [--json benchmarks/results/hedging.json]

Each seed: REINFORCE from the course's shipped SFT model on the ``rl`` countries' questions with
the honesty reward (lesson 05's settings), then 8 answers at T = 1 to each held-out ``test``
country. Writes ``{"seeds": {"0": {"known": {"confident": .., "hedged": .., "abstain": ..},
"partial": {...}, "unknown": {...}, "band_agreement": .., "evasive": .., "seconds": ..}, ...}}``
(``band_agreement``: the share of test countries whose most frequent style is the one the
honesty reward's bands prescribe at the SFT model's own p; ``evasive``: "I do not know" on
known countries; ``well_formed``, ``on_topic``: the answers' form on every ``rl`` and ``test``
country, 48 answers each, as lessons 02 and 05 measure it) and prints a table, the SFT model's
row first.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import course_lib
from course_lib import evaluation as E
from course_lib import rewards as R
from course_lib import world as W
from course_lib.policy_gradient import ReinforceConfig, train_reinforce

# the settings of lesson 05's facts section (notebooks/05_reinforce_lm.py)
FACTS = dict(steps=200, batch_size=16, samples_per_prompt=8, lr=4e-5)
STYLES = ("confident", "hedged", "abstain")
FORM_SAMPLES = 48  # answers per rl / test country for the well-formed and on-topic rates


def report(model, tok, entities, p_model, seed: int = 0) -> dict[str, object]:
    table, texts = E.calibration_of(model, tok, entities, n_samples=8, seed=seed)
    out: dict[str, object] = {level: {s: round(table[level][s], 3) for s in STYLES}
                              for level in W.LEVELS}
    out["band_agreement"] = round(E.band_agreement(E.style_shares(texts, entities, 8),
                                                   p_model), 3)
    out["evasive"] = round(table["known"]["abstain"], 3)
    out["invalid"] = round(sum(table[lv]["invalid"] for lv in W.LEVELS) / 3, 3)
    # the answers' form on every country SFT never asked about (rl and test), as lessons 02
    # and 05 measure it
    world = W.default_world()
    form = E.answer_form(model, tok, world.select("rl") + world.select("test"),
                         n_samples=FORM_SAMPLES, seed=seed)
    out["well_formed"], out["on_topic"] = round(form.well_formed, 4), round(form.on_topic, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/hedging.json"))
    args = parser.parse_args()
    sft, tok = course_lib.load_sft_model(device="cpu", progress=False)
    world = W.default_world()
    entities = [e for level in W.LEVELS for e in world.select("test", level=level)]
    p_model = E.recall_probabilities(sft, tok, entities, after_question=True, among_cities=True)
    prompts = W.rl_fact_prompts("rl", seed=0, partial_weight=2)
    results = {"sft": report(sft, tok, entities, p_model), "seeds": {}}
    for seed in args.seeds:
        course_lib.set_seed(seed)  # as lesson 05 does (on the CPU: deterministic algorithms too)
        policy = copy.deepcopy(sft)
        t = time.perf_counter()
        train_reinforce(policy, sft, tok, prompts, R.honesty_reward,
                        ReinforceConfig(**FACTS, seed=seed), progress=False)
        results["seeds"][str(seed)] = {**report(policy, tok, entities, p_model),
                                       "seconds": round(time.perf_counter() - t, 1)}
        print(f"seed {seed}: {json.dumps(results['seeds'][str(seed)])}", flush=True)
    header = (f"{'':>6} | " + " | ".join(f"{lv[:7]:>7} c/h/a" for lv in W.LEVELS)
              + " | band  | evasive | well-formed | on topic")
    print(header)
    for name, r in [("SFT", results["sft"])] + [(f"seed {s}", r)
                                                for s, r in results["seeds"].items()]:
        cells = " | ".join("/".join(f"{r[lv][s]:.2f}" for s in STYLES) for lv in W.LEVELS)
        print(f"{name:>6} | {cells} | {r['band_agreement']:.2f}  | {r['evasive']:.2f}    | "
              f"{r['well_formed']:.4f}      | {r['on_topic']:.4f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

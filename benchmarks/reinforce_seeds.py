"""Lesson 05's sums result for several seeds: held-out addition accuracy after RL.

    python benchmarks/reinforce_seeds.py [--seeds 0 1 2] [--out benchmarks/results/reinforce.json]

Each seed: REINFORCE from the course's SFT model on sums with the exact-match reward, measured
on the held-out test sums: sampled at T = 1 (2 samples each) and greedy, next to the SFT model
and the base model (in the corpus's own form), with the mean per-token entropy of the first and
last 10 steps. ``lesson_assertions_hold`` checks lesson 05's assertions on these numbers. Prints
one line per seed and writes JSON. (The facts run of lesson 05 has its own benchmark,
``benchmarks/hedging_seeds.py``.)
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

# the settings of lesson 05 (notebooks/05_reinforce_lm.py)
ADDITION = dict(steps=70, batch_size=64, samples_per_prompt=4, lr=3e-4, lr_schedule="linear")
HELDOUT_SUMS = W.addition_problems("test")  # all 1,620 held-out sums, as in the lesson
GREEDY_MARGIN = 0.01  # lesson 05: greedy_rl >= greedy_sft - GREEDY_MARGIN


def run(seed: int, sft, base, tok) -> dict[str, object]:
    test_pairs = HELDOUT_SUMS
    out: dict[str, object] = {"seed": seed}
    out["addition_before"] = E.addition_accuracy(sft, tok, test_pairs, n_samples=2, seed=seed)
    out["greedy_before"] = E.addition_accuracy(sft, tok, test_pairs, greedy=True)
    out["base"] = E.addition_accuracy(base, tok, test_pairs, n_samples=2, seed=seed,
                                      corpus_format=True)
    course_lib.set_seed(seed)  # as lesson 05 does (on the CPU: deterministic algorithms too)
    policy = copy.deepcopy(sft)
    t = time.perf_counter()
    history = train_reinforce(policy, sft, tok,
                              [W.addition_question(a, b) for a, b in W.addition_problems("train")],
                              R.exact_match_reward, ReinforceConfig(**ADDITION, seed=seed),
                              progress=False)
    out["addition_seconds"] = round(time.perf_counter() - t, 1)
    out["addition_after"] = E.addition_accuracy(policy, tok, test_pairs, n_samples=2, seed=seed)
    out["greedy_after"] = E.addition_accuracy(policy, tok, test_pairs, greedy=True)
    out["entropy_first10"], out["entropy_last10"] = (
        sum(h["entropy"] for h in part) / len(part) for part in (history[:10], history[-10:]))
    before, after = out["addition_before"], out["addition_after"]
    out["lesson_assertions_hold"] = bool(  # lesson 05's, on this seed's numbers
        after >= 0.9 and after >= before + 0.1
        and out["entropy_last10"] < out["entropy_first10"]
        and out["greedy_before"] > before + 0.1 and before < out["base"] < after
        and out["greedy_after"] >= out["greedy_before"] - GREEDY_MARGIN)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/reinforce.json"))
    args = parser.parse_args()
    sft, tok = course_lib.load_sft_model(device="cpu", progress=False)
    base, _ = course_lib.load_base_model(device="cpu")
    results = []
    for seed in args.seeds:
        r = run(seed, sft, base, tok)
        results.append(r)
        print(json.dumps(r), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

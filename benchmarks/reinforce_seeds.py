"""Lesson 05's sums result for several seeds: held-out addition accuracy after RL.

    python benchmarks/reinforce_seeds.py [--seeds 0 1 2] [--out benchmarks/results/reinforce.json]

Each seed: REINFORCE from the course's SFT model on sums with the exact-match reward, measured
on the held-out test sums, sampled at T = 1. Prints one line per seed and writes JSON. (The
facts run of lesson 05 has its own benchmark, ``benchmarks/hedging_seeds.py``.)
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


def run(seed: int) -> dict[str, object]:
    sft, tok = course_lib.load_sft_model(device="cpu", progress=False)
    test_pairs = HELDOUT_SUMS
    out: dict[str, object] = {"seed": seed}
    policy = copy.deepcopy(sft)
    out["addition_before"] = E.addition_accuracy(policy, tok, test_pairs, n_samples=2, seed=seed)
    t = time.perf_counter()
    train_reinforce(policy, copy.deepcopy(sft), tok,
                    [W.addition_question(a, b) for a, b in W.addition_problems("train")],
                    R.exact_match_reward, ReinforceConfig(**ADDITION, seed=seed), progress=False)
    out["addition_seconds"] = time.perf_counter() - t
    out["addition_after"] = E.addition_accuracy(policy, tok, test_pairs, n_samples=2, seed=seed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/reinforce.json"))
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        r = run(seed)
        results.append(r)
        print(json.dumps(r), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

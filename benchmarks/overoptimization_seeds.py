"""Lesson 07's result for several seeds: RL against the reward model, proxy vs gold, per beta.

    python benchmarks/overoptimization_seeds.py [--seeds 0 1 2] [--out ...json]

Each seed: for each beta of the lesson, REINFORCE from the course's SFT model against the
course's reward model (``load_reward_model``), with the lesson's settings, tracking the gold
score of the sampled responses; then the lesson's measures (10-step moving averages): where
gold peaks, how far it falls by the end, the proxy at the peak and at the end, the KL. Checks
the lesson's assertions: for the smallest beta a gold drop >= 0.1 with the proxy higher at the
end than at the peak, and a smaller drop for every larger beta. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import course_lib
from course_lib import reward_model as RM
from course_lib import rlhf
from course_lib import world as W
from course_lib.policy_gradient import ReinforceConfig

# the settings of lesson 07 (notebooks/07_rlhf_overoptimization.py)
BETAS = (0.01, 0.05, 0.2)
RL = dict(steps=100, batch_size=16, samples_per_prompt=4, lr=8e-5)


def run(seed: int, sft, tokenizer, reward_model, prompts) -> dict[str, object]:
    out: dict[str, object] = {"seed": seed}
    for beta in BETAS:
        t = time.perf_counter()
        history, _ = rlhf.train_against_reward_model(
            copy.deepcopy(sft), sft, tokenizer, prompts, reward_model,
            ReinforceConfig(**RL, beta=beta, seed=seed), progress=False)
        s = rlhf.peak_and_end(history, "gold", window=10)
        s["seconds"] = time.perf_counter() - t
        out[str(beta)] = s
    smallest = out[str(BETAS[0])]
    out["lesson_assertions_hold"] = bool(
        smallest["drop"] >= 0.1 and smallest["proxy_at_end"] > smallest["proxy_at_peak"]
        and all(out[str(b)]["drop"] < smallest["drop"] for b in BETAS[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path,
                        default=Path("benchmarks/results/overoptimization.json"))
    args = parser.parse_args()
    course_lib.set_seed(0)
    sft, tokenizer = course_lib.load_sft_model(device="cpu")
    reward_model, _ = RM.load_reward_model(device="cpu")
    prompts = W.rl_fact_prompts("rl", seed=0)  # lesson 07's RL questions (lesson 05's)
    results = []
    print("seed | beta | gold peak (step, KL) | gold end (KL) | drop | proxy peak -> end | s")
    for seed in args.seeds:
        r = run(seed, sft, tokenizer, reward_model, prompts)
        results.append(r)
        for beta in BETAS:
            s = r[str(beta)]
            print(f"{seed} | {beta} | {s['peak']:+.3f} ({s['peak_step']:.0f}, "
                  f"{s['kl_at_peak']:.1f}) | {s['end']:+.3f} ({s['kl_at_end']:.1f}) | "
                  f"{s['drop']:.3f} | {s['proxy_at_peak']:+.3f} -> {s['proxy_at_end']:+.3f} | "
                  f"{s['seconds']:.0f}", flush=True)
        print(f"seed {seed}: lesson 07's assertions hold: {r['lesson_assertions_hold']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

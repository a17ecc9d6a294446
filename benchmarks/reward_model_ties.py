"""Lesson 06's choice about gold ties: a reward model trained with them, and one without.

    python benchmarks/reward_model_ties.py [--seeds 0 1] [--quick] [--out ...json]

A gold tie is a comparison whose two responses have the same gold score: the simulated rater
labels it with a fair coin. Real pipelines drop the pairs their raters call "about the same";
should lesson 06? For each seed, this trains the lesson's reward model (``RMConfig(seed=seed)``,
from the SFT model, on ``preferences.course_comparisons``) twice, on all training pairs and on
the pairs that are not ties, and measures both on the same held-out pairs: pairwise accuracy on
all of them and on those that are not ties (the ones whose label says something), next to the
noise ceilings. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import course_lib
from course_lib import preferences as P
from course_lib import reward_model as RM


def is_tie(c: P.Comparison) -> bool:
    return P.gold_score(c.prompt, c.chosen) == P.gold_score(c.prompt, c.rejected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--quick", action="store_true", help="5 training steps: a smoke test")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rm_ties.json"))
    args = parser.parse_args()
    course_lib.set_seed(0)
    sft, tokenizer = course_lib.load_sft_model(device="cpu")
    train, test = P.course_comparisons(sft, tokenizer)
    decided = [i for i, c in enumerate(test) if not is_tie(c)]
    ceiling, decided_ceiling = P.noise_ceiling(test), P.noise_ceiling([test[i] for i in decided])
    untied = [c for c in train if not is_tie(c)]
    print(f"{len(train)} training pairs, {len(train) - len(untied)} gold ties "
          f"({1 - len(untied) / len(train):.1%}); held-out {len(test)} pairs, "
          f"{len(test) - len(decided)} ties; noise ceiling {ceiling:.3f} on all, "
          f"{decided_ceiling:.3f} on the pairs that are not ties")
    print("seed | training data | pairs | held-out accuracy | not ties | seconds")
    results = {"ceiling": ceiling, "decided_ceiling": decided_ceiling, "runs": []}
    for seed in args.seeds:
        for name, data in (("with ties", train), ("without ties", untied)):
            t = time.perf_counter()
            rm = RM.build_reward_model(sft, seed=seed)
            config = RM.RMConfig(seed=seed, steps=5 if args.quick else RM.RMConfig().steps)
            RM.train_reward_model(rm, tokenizer, data, config, progress=False)
            r_c, r_r = RM.scores_of_pairs(rm, tokenizer, test)
            row = {"seed": seed, "data": name, "pairs": len(data),
                   "accuracy": RM.pairwise_accuracy(r_c, r_r),
                   "decided_accuracy": RM.pairwise_accuracy(r_c[decided], r_r[decided]),
                   "seconds": time.perf_counter() - t}
            results["runs"].append(row)
            print(f"{seed} | {name} | {len(data)} | {row['accuracy']:.3f} | "
                  f"{row['decided_accuracy']:.3f} | {row['seconds']:.0f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

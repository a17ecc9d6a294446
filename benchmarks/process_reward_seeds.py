"""Lesson 11's RL comparison for several seeds: the outcome reward vs the process reward.

    python benchmarks/process_reward_seeds.py [--seeds 0 1 2] [--json benchmarks/results/prm.json]

Runs the lesson itself (notebooks/11_process_rewards.py, its cells in order, in this process)
up to the cell that trains the two RL runs, so the SFT model, the process reward model and the
held-out sums are the lesson's. Then, for each seed, that cell again with only the RL config's
seed changed (the lesson uses seed 0): REINFORCE from the SFT model with the outcome reward and
with the PRM's per-step rewards, 40 steps of 32 samples, held-out accuracy every 10 steps.
Prints each seed's curves, final accuracies and accuracies averaged over the run's evaluations,
says per seed whether the lesson's assertion (process ahead of outcome, averaged over the run)
holds, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lesson_cells import lesson_cells

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "11_process_rewards.py"
RL_CELL_MARK = "runs[name] = (policy, curve)"
SEED_TEXT = "max_new_tokens=MAX_TOKENS, seed=0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "prm.json")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(LESSON.parent)
    cells = lesson_cells(LESSON)
    at = next(i for i, c in enumerate(cells) if RL_CELL_MARK in c)
    rl_cell = cells[at]
    if rl_cell.count(SEED_TEXT) != 1:
        raise SystemExit(f"{LESSON.name}: the RL cell no longer holds {SEED_TEXT!r} once")
    namespace: dict = {"__name__": "__main__"}
    t0 = time.perf_counter()
    for cell in cells[:at]:
        exec(compile(cell, str(LESSON), "exec"), namespace)
    print(f"lesson up to its RL cell: {time.perf_counter() - t0:.0f} s", flush=True)
    results = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        exec(compile(rl_cell.replace(SEED_TEXT, f"max_new_tokens=MAX_TOKENS, seed={seed})"),
                     str(LESSON), "exec"), namespace)
        curves = {name: curve for name, (_, curve) in namespace["runs"].items()}
        final = {name: curve[-1][1] for name, curve in curves.items()}
        during = {name: sum(a for _, a in curve[1:]) / (len(curve) - 1)
                  for name, curve in curves.items()}
        results[str(seed)] = {"curves": curves, "final": final, "during": during,
                              "gain": final["process"] - final["outcome"],
                              "gain_during": during["process"] - during["outcome"],
                              "lesson_assertion_holds": during["process"] > during["outcome"],
                              "seconds": round(time.perf_counter() - t0, 1)}
        print(f"seed {seed}: SFT {curves['outcome'][0][1]:.3f}; final outcome "
              f"{final['outcome']:.3f}, process {final['process']:.3f}, gain "
              f"{results[str(seed)]['gain']:+.3f}; averaged over the run "
              f"{results[str(seed)]['gain_during']:+.3f} ({results[str(seed)]['seconds']} s)",
              flush=True)
    summary = {}
    for key, what in (("gain", "final held-out accuracy"),
                      ("gain_during", "held-out accuracy averaged over the run")):
        gains = [r[key] for r in results.values()]
        mean = sum(gains) / len(gains)
        sd = (sum((g - mean) ** 2 for g in gains) / max(len(gains) - 1, 1)) ** 0.5
        summary[key] = {"mean": mean, "sd": sd}
        print(f"process minus outcome, {what}: mean {mean:+.3f}, sd {sd:.3f} over "
              f"{len(gains)} seeds")
    print(f"the lesson's assertion holds for "
          f"{sum(r['lesson_assertion_holds'] for r in results.values())} of {len(results)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"seeds": results, **summary}, indent=1))

if __name__ == "__main__":
    main()

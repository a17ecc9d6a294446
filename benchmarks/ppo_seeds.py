"""Lesson 08's sample-efficiency race for several seeds: PPO (group baseline, critic) vs REINFORCE.

    python benchmarks/ppo_seeds.py [--seeds 0 1 2] [--json benchmarks/results/ppo.json]

Runs the lesson itself (notebooks/08_ppo.py, its cells in order, in this process) up to the cell
of its first PPO run, so the SFT model, the sums and the held-out checks are the lesson's. Then,
for each seed, the lesson's three runs again with only their seed changed (the lesson uses seed
0): PPO with the group (leave-one-out) baseline, PPO with a critic (value head + GAE), and
REINFORCE, each stopped when all 1,620 held-out sums reach 0.9 sampled accuracy. Prints, per
seed, the generated samples each run needed, the runs' explained variances and whether each of
the lesson's assertions on them holds, and writes JSON. Claims the cells check are recorded in a
temporary folder, so the recap's numbers stay the lesson's own.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lesson_cells import lesson_cells

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "08_ppo.py"
FIRST_RUN = "group_policy, group_history, group_track = run_ppo("
CRITIC_RUN = "critic_policy, critic_history, critic_track = run_ppo("
REINFORCE_RUN = "reinforce_track = HeldOut(reinforce_policy"
REINFORCE_SEED = 'lr_schedule="linear", seed=0)'


def cell_with(cells: list[str], text: str) -> int:
    found = [i for i, c in enumerate(cells) if text in c]
    if len(found) != 1:
        raise SystemExit(f"{LESSON.name}: expected one cell holding {text!r}, found {len(found)}")
    return found[0]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "ppo.json")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(LESSON.parent)
    cells = lesson_cells(LESSON)
    first, critic, reinforce = (cell_with(cells, t) for t in (FIRST_RUN, CRITIC_RUN,
                                                               REINFORCE_RUN))
    if cells[reinforce].count(REINFORCE_SEED) != 1:
        raise SystemExit(f"{LESSON.name}: the REINFORCE cell no longer holds {REINFORCE_SEED!r}")
    # the cells before the runs record two claims (seed 0, as in the lesson); keep those records
    # out of the course's results, which the recap reads
    import tempfile

    from course_lib import claims

    claims.results_dir = lambda: Path(tempfile.mkdtemp(prefix="ppo-seeds-results-"))
    ns: dict = {"__name__": "__main__"}
    t0 = time.perf_counter()
    for cell in cells[:first]:
        exec(compile(cell, str(LESSON), "exec"), ns)
    print(f"lesson up to its first PPO run: {time.perf_counter() - t0:.0f} s", flush=True)
    results = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        ns["PPO_SETTINGS"]["seed"] = seed
        ns["TrainingMonitor"] = lambda *a, **k: _Quiet()  # no widgets in a script
        for i in (first, critic):
            exec(compile(cells[i], str(LESSON), "exec"), ns)
        exec(compile(cells[reinforce].replace(REINFORCE_SEED,
                                              f'lr_schedule="linear", seed={seed})'),
                     str(LESSON), "exec"), ns)
        reached = {"group": ns["group_track"].reached, "critic": ns["critic_track"].reached,
                   "reinforce": ns["reinforce_track"].reached}
        ev = {"group": mean([h["explained_variance"] for h in ns["group_history"]]),
              "critic": mean([h["explained_variance"] for h in ns["critic_history"]])}
        ok = all(v is not None for v in reached.values())
        checks = {
            "every run reached 0.9": ok,
            "critic no later than group": ok and reached["critic"] <= reached["group"],
            "critic within two checks of group": ok and abs(reached["critic"] - reached["group"])
            <= 2 * ns["EVAL_EVERY"] * 256,
            "REINFORCE no fewer samples than PPO (group)": ok
            and reached["reinforce"] >= reached["group"],
            "explained variance < 0.1, both": max(ev.values()) < 0.1,
        }
        results[str(seed)] = {"samples": reached, "explained_variance": ev,
                              "reinforce_over_ppo": (reached["reinforce"] / reached["group"]
                                                     if ok else None),
                              "checks": checks, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"seed {seed}: samples to 0.9 group {reached['group']}, critic {reached['critic']}, "
              f"REINFORCE {reached['reinforce']}; explained variance group {ev['group']:+.3f}, "
              f"critic {ev['critic']:+.3f}; {results[str(seed)]['seconds']} s", flush=True)
        for name, holds in checks.items():
            print(f"   {name}: {holds}")
    for name in next(iter(results.values()))["checks"]:
        print(f"{name}: {sum(r['checks'][name] for r in results.values())} of {len(results)}")
    ratios = [r["reinforce_over_ppo"] for r in results.values() if r["reinforce_over_ppo"]]
    if ratios:
        print(f"REINFORCE / PPO samples: {', '.join(f'{x:.2f}' for x in ratios)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"seeds": results}, indent=1))
    print(f"wrote {args.json}")


class _Quiet:
    """Stands in for the lesson's TrainingMonitor: the same calls, nothing shown."""

    def update(self, metrics: dict) -> None:
        pass

    def show(self) -> None:
        pass

    def finish(self) -> None:
        pass


if __name__ == "__main__":
    main()

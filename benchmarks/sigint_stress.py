"""Real SIGINTs at random times into the three training loops: is any run left with weights torn
between two steps, or one step ahead of the history it returns?

Each run trains a tiny model (tests/fault_loops.py) while a timer thread sends SIGINT to the
process at a uniformly random moment of the run; the weights it leaves are compared exactly with
a replay of as many clean steps as its history records.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sigint_stress.py  # 40 / 20 / 20 runs
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fault_loops as L  # noqa: E402

STEPS = 12


def one_run(loop: str, delay: float) -> tuple[str, int]:
    """``(outcome, steps recorded)`` of one run interrupted after ``delay`` seconds."""
    model, run = L.setup(loop, steps=STEPS)
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            timer.start()
            history = run(model, None)
            timer.join()  # a timer that fires after the run: its KeyboardInterrupt lands here
    except KeyboardInterrupt:
        return "interrupt outside training", -1
    finally:
        timer.cancel()
    ok = L.weights_match_replay(loop, model, len(history), steps=STEPS)
    return ("ok" if ok else "torn or misrecorded"), len(history)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs=3, default=[20, 20, 40],
                        help="SIGINTs that land inside training, per loop",
                        metavar=("SFT", "RM", "REINFORCE"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    for loop, n in zip(L.LOOPS, args.runs):
        model, run = L.setup(loop, steps=STEPS)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run(model, None)
        duration = time.perf_counter() - t0
        counts: dict[str, int] = {}
        recorded = []
        while len(recorded) < n and sum(counts.values()) < 3 * n:  # n that land in training
            outcome, k = one_run(loop, rng.uniform(0, 0.8 * duration))
            counts[outcome] = counts.get(outcome, 0) + 1
            if k >= 0:
                recorded.append(k)
        print(f"{loop}: {len(recorded)} SIGINTs into training over runs of {duration:.2f} s "
              f"({STEPS} steps): {counts}; steps recorded: min {min(recorded)}, "
              f"max {max(recorded)}")


if __name__ == "__main__":
    main()

"""Time every course notebook and measure its kernel's peak memory.

Each notebook in notebooks/, solutions/ and exercises/ runs top to bottom in a fresh kernel
(nbclient). In exercises, cells tagged `raises-exception` may raise only NotImplementedError.
Peak memory is the kernel process's high-water mark (VmHWM in /proc/<pid>/status, Linux).

    python benchmarks/course_timing.py [--only PATTERN] [--timeout SECONDS]

Prints a markdown table and writes benchmarks/results/course_timing.json.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
RESULTS = ROOT / "benchmarks" / "results" / "course_timing.json"
BUDGET_NOTEBOOK_S = 180  # COURSE_DESIGN.md: each notebook within 3 minutes on two cores


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MB
    except OSError:
        return None
    return None


def kernel_pid(client: NotebookClient) -> int | None:
    km = client.km
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None:
        return process.pid
    kernel = getattr(km, "kernel", None)
    return getattr(kernel, "pid", None)


def run_notebook(path: Path, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        # quiet the kernel's own log ("running over TCP without encryption" on localhost)
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    is_exercise = path.parent.name == "exercises"
    error = None
    peak = None
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            pid = kernel_pid(client)
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
                # nbclient already fails untagged cells; in exercises, tagged cells may raise
                # only the exercise's NotImplementedError.
                for output in cell.get("outputs", []):
                    wrong = output.get("output_type") == "error" and (
                        output.get("ename") != "NotImplementedError"
                    )
                    if is_exercise and wrong:
                        raise RuntimeError(
                            f"cell {index} raised {output.get('ename')}: {output.get('evalue')}"
                        )
            if pid is not None:
                peak = peak_rss_mb(pid)
    except (CellExecutionError, RuntimeError) as exc:
        error = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else repr(exc)
    seconds = time.perf_counter() - start
    return {
        "notebook": str(path.relative_to(ROOT)),
        "seconds": round(seconds, 2),
        "peak_mb": None if peak is None else round(peak, 1),
        "ok": error is None,
        "error": error,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only notebooks whose path matches this glob/substring")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)

    paths = [p for folder in FOLDERS for p in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))]
    if args.only:
        paths = [
            p
            for p in paths
            if args.only in str(p.relative_to(ROOT))
            or fnmatch.fnmatch(str(p.relative_to(ROOT)), args.only)
        ]
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 1

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")

    rows = []
    print("| notebook | seconds | peak MB | status |\n|---|---:|---:|---|", flush=True)
    for path in paths:
        row = run_notebook(path, args.timeout)
        rows.append(row)
        peak = "?" if row["peak_mb"] is None else f"{row['peak_mb']:.0f}"
        status = "ok" if row["ok"] else f"FAILED: {row['error']}"
        if row["ok"] and row["seconds"] > BUDGET_NOTEBOOK_S:
            status = f"ok, over the {BUDGET_NOTEBOOK_S} s budget"
        print(f"| {row['notebook']} | {row['seconds']:.1f} | {peak} | {status} |", flush=True)

    total = sum(r["seconds"] for r in rows)
    peaks = [r["peak_mb"] for r in rows if r["peak_mb"] is not None]
    max_peak = max(peaks) if peaks else None
    print(
        f"| **total ({len(rows)} notebooks)** | **{total:.1f}** | "
        f"**{'?' if max_peak is None else f'{max_peak:.0f}'} (max)** | "
        f"{sum(not r['ok'] for r in rows)} failed |"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "total_seconds": round(total, 2),
                "max_peak_mb": max_peak,
                "notebooks": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

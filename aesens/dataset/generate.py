"""Render an offline dataset in the IRMAS-TrainingData format.

Each source recording is a short piece of music composed by a seeded random
generator: a predominant instrument (several General MIDI programs per IRMAS
class, each in its own pitch range and playing technique) plays melodic
phrases with varied tempo, dynamics and articulation over a quieter,
genre-dependent accompaniment, with drums only in recordings that have them
(tagged ``[dru]`` in prefixed names). The parts are rendered offline from the
General MIDI soundfont ``TimGM6mb.sf2`` shipped with ``pretty_midi``, through
``tinysoundfont``; they are panned, mixed with a synthetic stereo room and a
recording-specific tone colour, normalised to a varied loudness and cut into
consecutive 3-s excerpts named like the real IRMAS files.

A recording's random generator is seeded from ``(seed, class, recording)`` and
every recording is rendered by a fresh synthesizer, so a given seed gives
byte-identical files whatever the number of parallel jobs.

The steps live in :mod:`~aesens.dataset.material` (instruments, genres and
score types), :mod:`~aesens.dataset.plan` (recordings and their names),
:mod:`~aesens.dataset.compose` (the parts of a recording),
:mod:`~aesens.dataset.render` (audio) and :mod:`~aesens.dataset.sanity`
(MFCC nearest-centroid check); this module writes the files and holds the
command line.

Command line (through :mod:`aesens.dataset`)::

    python -m aesens.dataset generate --out DIR [--per-class N] [--seed S] [--jobs J]
    python -m aesens.dataset sanity DIR
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from aesens.dataset import INSTRUMENTS, discover
from aesens.dataset.plan import (
    DEFAULT_PER_CLASS,
    RecordingPlan,
    plan_dataset,
)
from aesens.dataset.render import (
    SOUNDFONT_NAME,
    _tinysoundfont,
    find_soundfont,
    render_recording,
    write_wav_atomic,
)
from aesens.dataset.sanity import mfcc_nearest_centroid_accuracy
from aesens.errors import AesensError
from aesens.safe_files import check_writable


def _render_and_write(plan: RecordingPlan, out_dir: str, soundfont: str) -> list[str]:
    """Worker: render one recording and write its excerpts; returns the file paths."""
    excerpts = render_recording(plan, soundfont)
    folder = Path(out_dir) / plan.instrument
    paths = []
    for stem, pcm in zip(plan.stems(), excerpts, strict=True):
        path = folder / f"{stem}.wav"
        write_wav_atomic(path, pcm)
        paths.append(str(path))
    return paths


def _prepare_output(out_dir: Path, instruments: Iterable[str]) -> None:
    """Create the class folders, or raise the one-line error of an unwritable ``out_dir``."""
    check_writable(out_dir)
    for code in instruments:
        check_writable(out_dir / code)


def generate(out_dir: str | os.PathLike, per_class: int = DEFAULT_PER_CLASS, seed: int = 0,
             jobs: int = 1, instruments: Sequence[str] | None = None,
             soundfont: str | os.PathLike | None = None, progress: bool = False) -> list[Path]:
    """Render the IRMAS-format dataset into ``out_dir``.

    Existing files are never deleted; files of the same name are replaced
    atomically.

    Parameters
    ----------
    out_dir : path
        Output folder (``IRMAS-TrainingData`` layout: one folder per class).
    per_class : int
        Requested number of 3-s files per class, rounded up as
        :func:`~aesens.dataset.plan.class_layout` says (whole quarters, one per
        fold of the published split).
    seed : int
        Dataset seed; the same seed gives byte-identical files.
    jobs : int
        Parallel worker processes (results do not depend on it).
    instruments : sequence of str, optional
        Class codes to render (default all 11).
    soundfont : path, optional
        General MIDI ``.sf2`` (default ``TimGM6mb.sf2`` from ``pretty_midi``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of Path
        The written files, in plan order.

    Raises
    ------
    AesensError
        If tinysoundfont or the soundfont is missing, or ``out_dir`` is not
        writable.
    """
    from tqdm import tqdm

    _tinysoundfont()
    soundfont_path = find_soundfont(soundfont)
    plans = plan_dataset(per_class, seed, instruments)
    out = Path(out_dir)
    _prepare_output(out, dict.fromkeys(plan.instrument for plan in plans))
    total = sum(plan.excerpts for plan in plans)
    written: list[Path] = []
    with tqdm(total=total, unit="file", desc="rendering", disable=not progress) as bar:
        if jobs <= 1:
            results: Iterable[list[str]] = (
                _render_and_write(plan, str(out), str(soundfont_path)) for plan in plans)
            for paths in results:
                written.extend(map(Path, paths))
                bar.update(len(paths))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs)
            try:
                futures = [pool.submit(_render_and_write, plan, str(out), str(soundfont_path))
                           for plan in plans]
                for future in futures:
                    paths = future.result()
                    written.extend(map(Path, paths))
                    bar.update(len(paths))
            finally:  # on Ctrl-C or an error, drop the recordings not started yet
                pool.shutdown(cancel_futures=True)
    return written


def _parser() -> argparse.ArgumentParser:
    """The ``generate`` and ``sanity`` sub-commands."""
    parser = argparse.ArgumentParser(
        prog="python -m aesens.dataset",
        description="Render or check an offline dataset in the IRMAS-TrainingData format.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser(
        "generate", help="render the dataset with General MIDI instruments",
        description="Render 3-s, 44.1-kHz, stereo, 16-bit WAV excerpts named like "
                    "IRMAS-TrainingData (11 class folders). Existing files are never deleted.")
    make.add_argument("--out", required=True, type=Path,
                      help="output folder, e.g. datasets/IRMAS-TrainingData")
    make.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS,
                      help=f"files per class (default {DEFAULT_PER_CLASS}), rounded up to whole "
                           "quarters of equal recordings so that the 2A.3 split keeps them all; "
                           "plus one short lat_sou recording, which the split drops")
    make.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    make.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                      help="parallel processes; the output does not depend on it "
                           "(default: up to 4)")
    make.add_argument("--instruments", default=",".join(INSTRUMENTS),
                      help="comma-separated class codes (default: all 11)")
    make.add_argument("--soundfont", type=Path, default=None,
                      help=f"General MIDI .sf2 (default: {SOUNDFONT_NAME} from pretty_midi)")
    make.add_argument("--no-sanity", action="store_true",
                      help="skip the MFCC nearest-centroid sanity figure")
    check = commands.add_parser(
        "sanity", help="MFCC nearest-centroid accuracy of a dataset folder",
        description="Leave-one-recording-out nearest-centroid accuracy on mean MFCCs.")
    check.add_argument("dataset_dir", type=Path, help="IRMAS-format folder")
    return parser


def _report_sanity(dataset_dir: Path) -> None:
    """Print the MFCC nearest-centroid accuracy with its chance level."""
    accuracy = mfcc_nearest_centroid_accuracy(dataset_dir, progress=True)
    classes = len({path.parent.name for path in discover(dataset_dir)})
    print(f"MFCC nearest-centroid accuracy (leave-one-recording-out, {classes} classes, "
          f"chance {100 / classes:.0f} %): {100 * accuracy:.1f} %")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m aesens.dataset``."""
    args = _parser().parse_args(argv)
    if args.command == "sanity":
        _report_sanity(args.dataset_dir)
        return 0
    instruments = [code.strip() for code in args.instruments.split(",") if code.strip()]
    if args.jobs < 1:
        raise AesensError(f"--jobs must be at least 1, got {args.jobs}")
    existing = {path.resolve() for path in args.out.glob("*/*.wav")}
    started = time.perf_counter()
    written = generate(args.out, args.per_class, args.seed, args.jobs, instruments,
                       args.soundfont, progress=True)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(written)} files to {args.out} in {elapsed:.1f} s")
    foreign = existing - {path.resolve() for path in written}
    if foreign:
        print(f"note: {len(foreign)} WAV files already in {args.out} are not from this run "
              "and were kept; remove them if the dataset should hold only this run")
    if not args.no_sanity:
        _report_sanity(args.out)
    return 0

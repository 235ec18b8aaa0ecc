"""Helpers shared by the benchmarks: synthetic IRMAS-format data, timing and result lines.

Every benchmark prints its details, then one machine-readable line per result::

    RESULT<TAB>benchmark<TAB>reference<TAB>ours<TAB>ratio<TAB>target

which ``benchmarks/run_all.py`` gathers into its final table.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from aesens.dataset import INSTRUMENTS

SAMPLE_RATE = 44100


def make_dataset(root: Path, n_files: int, seconds: float = 3.0, seed: int = 0) -> Path:
    """Write ``n_files`` IRMAS-named 16-bit stereo WAVs (harmonic tones plus noise).

    Files are spread over the instrument folders; the audio is cheap to make
    but not trivial for the effects (broadband, non-silent, stereo).

    Returns
    -------
    Path
        The dataset folder (``root``).
    """
    rng = np.random.default_rng(seed)
    codes = list(INSTRUMENTS)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    for index in range(n_files):
        code = codes[index % len(codes)]
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * harmonic * t) / harmonic for harmonic in range(1, 6))
        audio = 0.2 * tone[None, :] + 0.02 * rng.standard_normal((2, len(t)))
        folder = root / code
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"[{code}][cla]{index:04d}__1.wav", audio.T.astype(np.float32),
                 SAMPLE_RATE, subtype="PCM_16")
    return root


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``function``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(benchmark: str, reference: str, ours: str, ratio: float, target: str) -> None:
    """Print one result line for ``run_all.py`` (ratio: how many times better ours is)."""
    print("\t".join(["RESULT", benchmark, reference, ours, f"{ratio:.2f}x", target]), flush=True)

#!/usr/bin/env python
"""Batched extraction against one file at a time, for CREPE and (random-weight) PANNs.

The reference is the published loop: read one file, apply the effect, embed
it alone. Ours is :func:`aesens.testing.embed_files`: batches of
``--batch-size`` files through the model, the next batch read and effected
by a thread pool meanwhile. Both run on the same 3-s stereo files under the
same reverb setting, after a warm-up call, and must give the same rows.
PANNs runs with randomly initialised Cnn14 weights (the speed does not
depend on them); it is skipped, with a message, if ``aesens.models.panns``
or its library cannot be imported. Target: at least 3x.

Usage: ``python benchmarks/bench_batching.py [--files N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import make_dataset, median_seconds, report

from aesens.dataset import discover
from aesens.effects import EFFECTS
from aesens.effects.roundtrip import pcm16_roundtrip
from aesens.errors import AesensError
from aesens.extraction.batches import read_clip
from aesens.extraction.setting import Setting
from aesens.models import EmbeddingModel, get_model
from aesens.testing import embed_files

SETTING = Setting(EFFECTS["reverb"], 17)


def one_at_a_time(files: list[Path], model: EmbeddingModel) -> list[np.ndarray]:
    """Read, effect and embed each file alone, as the published scripts did.

    One reverb board streams the files in order and each effected file goes
    through the 16-bit round trip (in memory here, a WAV file there).
    """
    chain = SETTING.new_chain()
    rows = []
    for path in files:
        audio, rate = read_clip(path)
        effected = pcm16_roundtrip(chain.process(audio, rate))
        rows.extend(model.embed([effected], rate))
    return rows


def random_panns(folder: Path, batch_size: int) -> EmbeddingModel:
    """PANNs Cnn14 through its real loader, with a checkpoint of random weights."""
    from aesens.testing import save_random_weights

    checkpoint = save_random_weights("panns", folder)
    return get_model("panns", device="cpu", batch_size=batch_size, weights=str(checkpoint))


def compare(name: str, model: EmbeddingModel, files: list[Path], batch_size: int,
            repeats: int) -> None:
    """Time both approaches on one model, check their rows agree, and report."""
    one_at_a_time(files[:2], model)  # warm-up (lazy initialisation, caches)
    reference = median_seconds(lambda: one_at_a_time(files, model), repeats)
    ours = median_seconds(lambda: embed_files(files, [model], SETTING, batch_size=batch_size,
                                              progress=False), repeats)
    batched = embed_files(files, [model], SETTING, batch_size=batch_size, progress=False)
    difference = np.abs(np.concatenate(one_at_a_time(files, model)) - batched[model.name][0])
    per_file = {"reference": 1e3 * reference / len(files), "ours": 1e3 * ours / len(files)}
    print(f"{name}: one at a time {per_file['reference']:7.1f} ms/file, batched "
          f"({batch_size}) {per_file['ours']:7.1f} ms/file, ratio {reference / ours:.2f}x, "
          f"largest row difference {difference.max():.2e}")
    report(f"(b) batched vs one file at a time, {name}", f"{per_file['reference']:.1f} ms/file",
           f"{per_file['ours']:.1f} ms/file", reference / ours, ">= 3x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=64, help="3-s stereo clips (default: 64)")
    parser.add_argument("--panns-files", type=int, default=32,
                        help="clips for PANNs (default: 32)")
    parser.add_argument("--batch-size", type=int, default=32, help="files per model call")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, median (default: 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = discover(make_dataset(Path(tmp) / "data", args.files))
        crepe = get_model("crepe", device="cpu", batch_size=args.batch_size)
        compare("crepe", crepe, files, args.batch_size, args.repeats)
        try:
            panns = random_panns(Path(tmp), args.batch_size)
        except (ImportError, AesensError) as error:
            print(f"panns skipped: {error}")
            return 0
        compare("panns (random weights)", panns, files[:args.panns_files], args.batch_size,
                args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

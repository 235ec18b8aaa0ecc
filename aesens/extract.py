"""Extraction stages 2A.1 (original audio) and 2A.2 (effected audio).

Files are read once per effect setting, effected in memory, and embedded in
batches across files; each setting's features are written atomically to
``embeddings/embeddings_<effect>_<param>.h5`` (original audio:
``embeddings/embeddings.h5``) under ``irmas/<embedding>/``. Settings whose
file already holds a complete embedding for exactly the dataset's files are
skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import aesens
from aesens import store
from aesens.dataset import load_audio
from aesens.effects import Effect
from aesens.errors import AesensError
from aesens.models import EmbeddingModel

#: Peak level under which a file counts as silent (about -120 dBFS).
SILENCE_PEAK = 1e-6


@dataclass(frozen=True)
class Setting:
    """One effect setting to extract: an effect at a grid rank, or the original audio."""

    effect: Effect | None = None
    rank: int | None = None

    @property
    def value(self) -> float | None:
        """The parameter value, or ``None`` for the original audio."""
        return None if self.effect is None else float(self.effect.grid[self.rank])

    @property
    def param(self) -> str:
        """The parameter string, or ``"none"`` for the original audio."""
        return "none" if self.effect is None else self.effect.param_strings[self.rank]

    @property
    def label(self) -> str:
        """Short description for progress bars and messages."""
        return "original" if self.effect is None else f"{self.effect.name} {self.param}"

    def output_path(self, embeddings_dir: str | os.PathLike) -> Path:
        """The HDF5 file this setting is written to."""
        if self.effect is None:
            return store.original_path(embeddings_dir)
        return store.effected_path(self.effect.name, self.param, embeddings_dir)


def check_ranks(effect: Effect, first: int, last: int) -> range:
    """Validate inclusive parameter ranks ``first..last`` of an effect's grid.

    Raises
    ------
    AesensError
        If ``first > last`` or a rank lies outside ``0..len(grid) - 1``.
    """
    n_values = len(effect.grid)
    if first > last:
        raise AesensError(f"rank range {first}..{last} is empty: 'from' must not exceed 'to'")
    if first < 0 or last >= n_values:
        raise AesensError(f"ranks {first}..{last} are outside the {effect.name} grid; use ranks "
                          f"0..{n_values - 1} (pass -1 -1 to print the grid)")
    return range(first, last + 1)


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    """Load one dataset file, warning (once per file) if it is silent."""
    audio, sample_rate = load_audio(path)
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        warnings.warn(f"{path} is silent; its embeddings are kept but its effect path is "
                      "constant (no CCA direction)", stacklevel=2)
    return audio, sample_rate


def _batches(files: Sequence[Path], setting: Setting,
             batch_size: int) -> Iterator[tuple[list[str], list[np.ndarray], int]]:
    """Yield (stems, effected clips, sample rate); a batch never mixes sample rates."""
    stems: list[str] = []
    clips: list[np.ndarray] = []
    batch_rate = None
    for path in files:
        audio, sample_rate = read_clip(path)
        if setting.effect is not None:
            audio = setting.effect.apply(audio, sample_rate, setting.value)
        if clips and (sample_rate != batch_rate or len(clips) == batch_size):
            yield stems, clips, batch_rate
            stems, clips = [], []
        stems.append(path.stem)
        clips.append(audio)
        batch_rate = sample_rate
    if clips:
        yield stems, clips, batch_rate


def embed_files(files: Sequence[Path], models: Sequence[EmbeddingModel], setting: Setting,
                batch_size: int = 32,
                progress: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embed every file of the dataset under one setting with one or more models.

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files.
    models : sequence of EmbeddingModel
        Models sharing the loaded and effected audio.
    setting : Setting
        Effect setting (or the original audio).
    batch_size : int
        Files per model call.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict
        Model name -> ``(features (rows, dim) float32, keys (rows,) str)``.
    """
    rows: dict[str, list[np.ndarray]] = {model.name: [] for model in models}
    keys: dict[str, list[str]] = {model.name: [] for model in models}
    with tqdm(total=len(files), desc=setting.label, unit="file", disable=not progress,
              leave=False) as bar:
        for stems, clips, sample_rate in _batches(files, setting, batch_size):
            for model in models:
                for stem, embedding in zip(stems, model.embed(clips, sample_rate), strict=True):
                    rows[model.name].append(embedding)
                    keys[model.name].extend([stem] * len(embedding))
            bar.update(len(stems))
    return {name: (np.concatenate(rows[name]).astype(np.float32), np.array(keys[name]))
            for name in rows}


def extract(files: Sequence[Path], models: Sequence[EmbeddingModel],
            settings: Sequence[Setting], embeddings_dir: str | os.PathLike = "embeddings",
            batch_size: int = 32, force: bool = False, progress: bool = True) -> list[Path]:
    """Extract and write embeddings for several settings, skipping finished ones.

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files (see :func:`aesens.dataset.discover`).
    models : sequence of EmbeddingModel
        Models to run; they share each setting's loaded and effected audio.
    settings : sequence of Setting
        Settings to extract, each to its own file.
    embeddings_dir : path
        Output folder (``embeddings`` in the working directory by default).
    batch_size : int
        Files per model call.
    force : bool
        Recompute settings that are already complete.
    progress : bool
        Show progress bars.

    Returns
    -------
    list of Path
        The files written (settings skipped as complete are not listed).
    """
    expected = {path.stem for path in files}
    written = []
    for setting in tqdm(settings, desc="settings", unit="setting", disable=not progress
                        or len(settings) == 1):
        path = setting.output_path(embeddings_dir)
        todo = [model for model in models
                if force or not store.has_complete_embedding(path, model.name, expected)]
        if not todo:
            continue
        results = embed_files(files, todo, setting, batch_size=batch_size, progress=progress)
        for model in todo:
            features, keys = results[model.name]
            attrs = {**model.metadata(), "aesens_version": aesens.__version__,
                     "n_files": len(files), "frame_level": bool(model.frame_level),
                     "effect": setting.effect.name if setting.effect else "none",
                     "param": setting.param}
            store.write_embeddings(path, model.name, features, keys, attrs)
        written.append(path)
    return written


def list_grid(effect: Effect) -> str:
    """A printable table of an effect's grid: rank, value and parameter string."""
    lines = [f"{effect.name}: {len(effect.grid)} settings (ranks 0..{len(effect.grid) - 1})"]
    lines += [f"{rank:4d}  {param}" for rank, param in enumerate(effect.param_strings)]
    return "\n".join(lines)


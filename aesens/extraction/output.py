"""The files the extraction stages write, and whether a setting's file is already complete.

A setting's embeddings go to one HDF5 file (``embeddings/embeddings_<effect>_
<param>.h5``, original audio: ``embeddings/embeddings.h5``, under
``irmas/<embedding>/``), each embedding replaced atomically. A file that
already holds a complete embedding for exactly the dataset's files, computed
under the same settings attributes (effect semantics, model framing:
:func:`~aesens.extraction.setting.expected_attributes`) and skip list, counts as
complete (:func:`is_complete`); an embedding computed under other settings
is redone, with a one-line message saying why. A setting file that cannot be
read (truncated, not HDF5) is set aside as ``<name>.damaged``
(:func:`set_aside_damaged_file`) and redone. Nothing non-finite is written
(:func:`check_finite`).

Embedding ``none`` keeps the effected audio itself, as the published 2A.2
did: :func:`write_effected_wavs`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import aesens
from aesens import safe_files, store
from aesens.errors import AesensError
from aesens.extraction.batches import read_clip
from aesens.extraction.setting import Setting, expected_attributes
from aesens.models import EmbeddingModel, ModelSpec, output_names

#: Attribute listing the dataset files a skip list left out (a JSON list of stems).
SKIPPED_ATTR = "skipped_files"


def skipped_attributes(skipped: Sequence[str]) -> dict[str, str]:
    """The attribute recording the files a skip list left out (none when nothing was skipped)."""
    return {SKIPPED_ATTR: json.dumps(sorted(skipped))} if skipped else {}


def set_aside_damaged_file(path: Path) -> None:
    """Move an unreadable setting file to ``<name>.damaged`` and say so in one line."""
    moved = store.set_aside_if_damaged(path, group=store.DATASET_GROUP)
    if moved is not None:
        target, reason = moved
        print(f"{path}: cannot be read ({reason}); set aside as {target.name}, recomputing it",
              file=sys.stderr)


def is_complete(path: Path, model: ModelSpec | EmbeddingModel, setting: Setting,
                expected: set[str], skip_attrs: dict[str, str]) -> bool:
    """Whether ``path`` holds every embedding of the model, complete, under the expected settings.

    A model with several outputs (:func:`aesens.models.output_names`, e.g.
    every layer of an ``hf`` encoder) is complete only when each output is;
    otherwise its one call recomputes them all. An embedding computed under
    other settings attributes is reported on stderr in one line (it is then
    redone).
    """
    attributes = {**expected_attributes(setting, model), **skip_attrs}
    complete = True
    for name in output_names(model):
        reason = store.incomplete_reason(path, name, expected, attributes)
        if reason is not None and reason.startswith(store.MISMATCH_PREFIX):
            print(f"{path}: {name} {reason}; recomputing it", file=sys.stderr)
        complete = complete and reason is None
    return complete


def check_finite(setting: Setting, name: str, features: np.ndarray, keys: np.ndarray,
                 path: Path) -> None:
    """Refuse features with NaN or infinite values before they are written.

    Raises
    ------
    AesensError
        Naming the model, the setting, its file and the first files concerned.
    """
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        stems = list(dict.fromkeys(keys[bad]))
        raise AesensError(f"{name} gave NaN or infinite features for {setting.label} "
                          f"({len(stems)} file(s), first: {stems[0]}); nothing was written to "
                          f"{path}: leave those files out with --skip-files LIST.txt, or report "
                          "the model's failure on them")


def write_setting(setting: Setting, embeddings: dict[str, tuple[np.ndarray, np.ndarray]],
                  attributes: dict[str, dict], settings_attrs: dict[str, dict],
                  embeddings_dir: str | os.PathLike, n_files: int,
                  skip_attrs: dict[str, str]) -> Path:
    """Write one setting's embeddings to its file; each embedding is replaced atomically.

    Every model's features are checked (:func:`check_finite`) before any is written.

    Parameters
    ----------
    setting : Setting
        The effect setting.
    embeddings : dict
        Embedding name -> ``(features (rows, dim) float32, keys (rows,) str)``,
        rows in dataset order.
    attributes : dict
        Embedding name -> metadata stored next to its features.
    settings_attrs : dict
        Embedding name -> the settings attributes of
        :func:`~aesens.extraction.setting.expected_attributes`.
    embeddings_dir : path
        Output folder.
    n_files : int
        Files of the dataset, recorded as ``n_files``.
    skip_attrs : dict
        The skip list's attribute (:func:`skipped_attributes`).

    Returns
    -------
    Path
        The setting's file.
    """
    path = setting.output_path(embeddings_dir)
    for name, (features, keys) in embeddings.items():
        check_finite(setting, name, features, keys, path)
    for name, (features, keys) in embeddings.items():
        attrs = {**attributes[name], "aesens_version": aesens.__version__,
                 "n_files": n_files, "effect": setting.effect.name if setting.effect else "none",
                 "param": setting.param, **settings_attrs[name], **skip_attrs}
        store.write_embeddings(path, name, features, keys, attrs)
    return path


def effected_wav_dir(setting: Setting, basedir: str | os.PathLike = ".") -> Path:
    """Folder of a setting's effected WAVs, as the published 2A.2 kept them (embedding ``none``)."""
    return (Path(basedir) / "datasets" / "audio-embeddings"
            / f"irmas-wav-{setting.effect.name}_{setting.param}")


def write_effected_wavs(files: Sequence[Path], setting: Setting,
                        basedir: str | os.PathLike = ".", progress: bool = True) -> int:
    """Apply a setting's effect only and keep the effected files, as the published 2A.2 did.

    Every file is effected under the published semantics (a stateful effect
    streams all files in dataset order through one chain) and written with
    ``pedalboard.io.AudioFile(path, "w", sample_rate, channels)`` (16-bit
    PCM) to ``<basedir>/datasets/audio-embeddings/irmas-wav-<effect>_<param>/
    <instrument>/<file>.wav``, each atomically. Files already there are
    kept, so an interrupted run resumes (a stateful effect still runs over
    them to carry its state on).

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files in dataset order.
    setting : Setting
        An effect setting under the published semantics.
    basedir : path
        Folder holding ``datasets/``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    int
        Files written (not counting those already there).

    Raises
    ------
    AesensError
        For the original audio or the float semantics (the published WAVs are 16-bit files
        of the published semantics).
    """
    from pedalboard.io import AudioFile

    if not setting.published:
        raise AesensError("embedding 'none' keeps the published 16-bit WAVs: use it with an "
                          "effect and --effect-semantics published")
    folder = safe_files.check_writable(effected_wav_dir(setting, basedir))
    chain = setting.new_chain()
    written = 0
    for path in tqdm(files, desc=setting.label, unit="file", disable=not progress):
        target = folder / path.parent.name / path.name
        if chain is None and target.exists():
            continue
        audio, sample_rate = read_clip(path, reader=setting.reader)
        if chain is not None:
            audio = chain.process(audio, sample_rate)
        else:
            audio = setting.effect.apply(audio, sample_rate, setting.value)
        if target.exists():
            continue
        with safe_files.atomic_file(target) as tmp, open(tmp, "wb") as handle, \
                AudioFile(handle, "w", sample_rate, audio.shape[0], format="wav") as out:
            out.write(audio)
        written += 1
    return written

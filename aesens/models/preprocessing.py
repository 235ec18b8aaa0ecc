"""The audio preprocessing the models share: down-mixing, resampling, and a thread pool.

Each model does its own preprocessing, as each library did in the published
experiment; these helpers are the pieces they have in common.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

Prepared = TypeVar("Prepared")
Item = TypeVar("Item")


@functools.cache
def _preprocessing_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1),
                              thread_name_prefix="aesens-preprocess")


def map_clips(function: Callable[[Item], Prepared], clips: Sequence[Item]) -> list[Prepared]:
    """Apply a model's CPU preprocessing to each clip (or group of clips) of a batch, in threads.

    Down-mixing, resampling and framing release the GIL (numpy, soxr,
    resampy, torch), so on a GPU machine they run on all cores instead of
    holding the device up; each clip gets exactly what ``function(clip)``
    gives alone.
    """
    if len(clips) < 2:
        return [function(clip) for clip in clips]
    return list(_preprocessing_pool().map(function, clips))


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of ``(channels, samples)`` audio into a 1-D float32 signal."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality), float32 out."""
    if orig_sr == target_sr:
        return np.asarray(audio, dtype=np.float32)
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return soxr.resample(audio, orig_sr, target_sr).astype(np.float32)
    return np.ascontiguousarray(soxr.resample(audio.T, orig_sr, target_sr).T, dtype=np.float32)

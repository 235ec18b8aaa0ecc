"""The audio preprocessing the models share: down-mixing, resampling, and a thread pool.

Each model does its own preprocessing, as each library did in the published
experiment; these helpers are the pieces they have in common: soxr
resampling (:func:`resample`), librosa's (:func:`librosa_resample`) and
torchaudio's windowed-sinc ``Resample`` (:func:`sinc_resample`).
"""

from __future__ import annotations

import functools
import math
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


def indices_by_length(signals: Sequence[np.ndarray]) -> dict[int, list[int]]:
    """Positions of the signals of each length (in first-seen order), so that clips of one
    length go through a model together, unpadded."""
    groups: dict[int, list[int]] = {}
    for index, signal in enumerate(signals):
        groups.setdefault(len(signal), []).append(index)
    return groups


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


def librosa_resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample 1-D audio as ``librosa.resample`` (``res_type="soxr_hq"``, ``fix=True``) does.

    soxr's output is cut or zero-padded to librosa's length
    ``int(np.ceil(n * (target_sr / orig_sr)))`` (the same float expression),
    which soxr alone misses by one sample for many lengths and rates (e.g.
    11025 Hz, 8 kHz or 48 kHz clips of odd lengths). This is the resampling of
    ``librosa.load(path, sr=target_sr)``.
    """
    resampled = resample(audio, orig_sr, target_sr)
    if orig_sr == target_sr:
        return resampled
    length = int(np.ceil(audio.shape[-1] * (float(target_sr) / orig_sr)))
    if len(resampled) >= length:
        return resampled[:length]
    return np.pad(resampled, (0, length - len(resampled)))


#: ``torchaudio.transforms.Resample``'s defaults (``sinc_interp_hann``).
SINC_ZERO_CROSSINGS = 6
SINC_ROLLOFF = 0.99
#: Kernel elements computed at once: larger kernels (rates whose ratio reduces to large
#: integers, e.g. 44099 -> 44100 Hz) are built and applied in blocks of output phases.
MAX_KERNEL_ELEMENTS = 1 << 22


def _sinc_kernel(orig: int, new: int, phases: slice, width: int):
    """Rows ``phases`` of torchaudio's ``_get_sinc_resample_kernel`` (float64, then float32).

    Written as ``torchaudio.transforms.Resample(orig, new)`` builds it
    (``dtype=None``): the time offsets of the output phases are computed as
    ``int64 / new`` (float32), the input positions in float64.
    """
    import torch

    base_freq = min(orig, new) * SINC_ROLLOFF
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1)[phases][:, None, None] / new + idx
    t *= base_freq
    t = t.clamp_(-SINC_ZERO_CROSSINGS, SINC_ZERO_CROSSINGS)
    window = torch.cos(t * math.pi / SINC_ZERO_CROSSINGS / 2) ** 2
    t *= math.pi
    scale = base_freq / orig
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    return kernels.to(dtype=torch.float32)


def sinc_resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis as ``torchaudio.transforms.Resample(orig_sr, target_sr)``.

    Windowed-sinc interpolation with a Hann window, 6 zero crossings and a
    roll-off of 0.99 (torchaudio's defaults, which msclap uses), computed
    with torch as torchaudio computes it: a polyphase kernel (built in
    float64, stored in float32) applied by a strided ``conv1d`` to the
    float32 signal zero-padded by the kernel's half width, and cut to
    ``ceil(target_sr * n / orig_sr)`` samples (rates reduced by their
    greatest common divisor; the quotient rounded to float32 first, as
    torchaudio does). torchaudio has no build for the pinned torch,
    so its algorithm is reproduced here; kernels larger than
    :data:`MAX_KERNEL_ELEMENTS` are applied in blocks of output phases.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(..., samples)`` audio.
    orig_sr, target_sr : int
        Its rate and the rate wanted.

    Returns
    -------
    numpy.ndarray
        float32 ``(..., resampled samples)``.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return audio
    import torch

    gcd = math.gcd(int(orig_sr), int(target_sr))
    orig, new = int(orig_sr) // gcd, int(target_sr) // gcd
    width = math.ceil(SINC_ZERO_CROSSINGS * orig / (min(orig, new) * SINC_ROLLOFF))
    signal = torch.from_numpy(np.ascontiguousarray(audio.reshape(-1, audio.shape[-1])))
    length = signal.shape[-1]
    padded = torch.nn.functional.pad(signal, (width, width + orig))[:, None]
    step = max(1, MAX_KERNEL_ELEMENTS // (2 * width + orig))
    with torch.inference_mode():
        blocks = [torch.nn.functional.conv1d(padded, _sinc_kernel(orig, new, slice(j, j + step),
                                                                  width), stride=orig)
                  for j in range(0, new, step)]
        phases = blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)
        resampled = phases.transpose(1, 2).reshape(signal.shape[0], -1)
    target_length = int(np.ceil(np.float32(new * length / orig)))  # torch.as_tensor: float32
    resampled = resampled[..., :target_length].numpy()
    return resampled.reshape(*audio.shape[:-1], resampled.shape[-1])

"""The 16-bit WAV round trip of the published effected audio, in memory.

The published stage 2A.2 wrote every effected file with
``pedalboard.io.AudioFile(path, "w", sample_rate, channels)`` (16-bit PCM)
and each model read it back. Writing converts float samples as JUCE does:
float32 (float64 input is first rounded to float32), clamped to [-1, 1],
scaled to a 32-bit integer by ``round(x * 2147483647)`` and cut to its top
16 bits (an arithmetic shift, i.e. rounding towards minus infinity), so the
conversion is not plain round-to-nearest: ``1e-5`` becomes 0 and ``-1e-5``
becomes -1. NaN becomes 0. Reading (soundfile, librosa, torchaudio)
divides the integer by 32768, which is exact in float32 and float64.

:func:`pcm16_encode` gives the integers pedalboard writes and
:func:`pcm16_roundtrip` the float32 audio the models read back; both equal
pedalboard's own files bit for bit (tested against pedalboard and soundfile).
"""

from __future__ import annotations

import numba
import numpy as np

#: JUCE's scale of float samples to 32-bit integers.
INT32_SCALE = 2147483647.0


@numba.njit(nogil=True, cache=True)
def _pcm16_code(sample: np.float32) -> np.int64:
    # One float32 sample -> the int16 code JUCE writes.
    value = np.float64(sample)
    if value != value:
        return np.int64(0)
    value = min(max(value, -1.0), 1.0)
    return np.int64(np.rint(value * INT32_SCALE)) >> 16


@numba.njit(nogil=True, cache=True)
def _encode_kernel(samples: np.ndarray, codes: np.ndarray) -> None:
    for i in range(samples.shape[0]):
        codes[i] = _pcm16_code(samples[i])


@numba.njit(nogil=True, cache=True)
def _roundtrip_kernel(samples: np.ndarray, out: np.ndarray) -> None:
    # ``out`` must not overlap ``samples`` (see _roundtrip_in_place_kernel).
    scale = np.float32(1.0 / 32768.0)
    for i in range(samples.shape[0]):
        out[i] = np.float32(_pcm16_code(samples[i])) * scale


@numba.njit(nogil=True, cache=True)
def _roundtrip_in_place_kernel(samples: np.ndarray) -> None:
    # The same in place: with one array the loop vectorises (given the same array twice,
    # _roundtrip_kernel cannot rule out an overlap and runs 8x slower).
    scale = np.float32(1.0 / 32768.0)
    for i in range(samples.shape[0]):
        samples[i] = np.float32(_pcm16_code(samples[i])) * scale


def pcm16_encode(audio: np.ndarray) -> np.ndarray:
    """The 16-bit integers pedalboard's ``AudioFile`` writes for float audio.

    Parameters
    ----------
    audio : numpy.ndarray
        float32 or float64 samples, any shape.

    Returns
    -------
    numpy.ndarray
        int16 array of the shape of ``audio``.
    """
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    codes = np.empty(samples.shape, dtype=np.int16)
    _encode_kernel(samples.reshape(-1), codes.reshape(-1))
    return codes


def pcm16_roundtrip(audio: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float32 audio as written to a 16-bit WAV by pedalboard and read back (int16 / 32768).

    Parameters
    ----------
    audio : numpy.ndarray
        float32 or float64 samples, any shape (e.g. ``(clips, channels, samples)``).
    out : numpy.ndarray, optional
        C-contiguous float32 array of the shape of ``audio`` to write into
        (``audio`` itself, if float32, converts in place).

    Returns
    -------
    numpy.ndarray
        float32, every sample a multiple of 1/32768 in [-1, 32767/32768].
    """
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if out is None:
        out = np.empty(samples.shape, dtype=np.float32)
    elif out.shape != samples.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {samples.shape}")
    if np.shares_memory(samples, out):
        if out is not samples:
            out[...] = samples
        _roundtrip_in_place_kernel(out.reshape(-1))
    else:
        _roundtrip_kernel(samples.reshape(-1), out.reshape(-1))
    return out

"""A hand-crafted baseline: per-clip statistics of MFCCs (librosa).

One row per clip: the mean and standard deviation over time of
:data:`N_MFCC` MFCCs of the mono down-mix at the file's native rate
(40 dimensions). It needs no weights and shows what a classic feature
does under the same effects.

The MFCCs are ``librosa.feature.mfcc(y, sr, n_mfcc=20, n_mels=64,
n_fft=2048, hop_length=512)`` (FFT size and hop scaled for other rates),
computed for several clips of one length at once by :func:`mfcc_stats`
with librosa's own steps in librosa's own precision (the window and FFT in
float64, the power, mel and decibel steps in float32, scipy's orthonormal
DCT): the rows equal librosa's bit for bit on the development machine, at
0.6x its cost.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib.metadata import version

import librosa
import numpy as np
import scipy.fft

from aesens.models.preprocessing import indices_by_length, map_clips, to_mono

#: Number of cepstral coefficients.
N_MFCC = 20
#: Mel bands, FFT size and hop (samples at 44.1 kHz; scaled for other rates).
N_MELS, N_FFT, HOP = 64, 2048, 512
REFERENCE_RATE = 44100
#: Clips per vectorised call (their frames, about 17 MB at 44.1 kHz, stay in memory).
CLIPS_PER_CALL = 8
#: ``librosa.power_to_db`` defaults: floor of the power and dynamic range kept (dB).
AMIN, TOP_DB = 1e-10, 80.0


def fft_size(sample_rate: int) -> int:
    """FFT size at ``sample_rate``: :data:`N_FFT` scaled from 44.1 kHz to a power of two."""
    return int(2 ** round(np.log2(N_FFT * sample_rate / REFERENCE_RATE)))


@functools.cache
def _filters(sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa's periodic Hann window (float64) and Slaney mel filter bank (float32)."""
    window = librosa.filters.get_window("hann", n_fft, fftbins=True)
    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS)
    return window, mel


def mfcc_stats(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """MFCC mean and standard deviation of clips of one length, as librosa computes them.

    Parameters
    ----------
    mono : numpy.ndarray
        float32 ``(clips, samples)`` mono audio.
    sample_rate : int
        Its rate.

    Returns
    -------
    numpy.ndarray
        float32 ``(clips, 2 * N_MFCC)``: the means over time, then the
        standard deviations.
    """
    n_fft = fft_size(sample_rate)
    mono = np.asarray(mono, dtype=np.float32)
    # Clips shorter than one FFT are zero-padded to one, as the per-clip model always did.
    short = max(0, n_fft - mono.shape[1])
    # librosa's centred framing: n_fft // 2 zeros on both sides, a frame every hop.
    padded = np.pad(mono, ((0, 0), (n_fft // 2, n_fft // 2 + short)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)[:, ::n_fft // 4]
    window, mel = _filters(sample_rate, n_fft)
    power = np.abs(scipy.fft.rfft(frames * window, axis=-1).astype(np.complex64)) ** 2
    rows = np.empty((len(mono), 2 * N_MFCC), dtype=np.float32)
    for row, clip_power in zip(rows, power, strict=True):
        mel_power = np.einsum("ft,mf->mt", clip_power.T, mel, optimize=True)
        decibels = 10.0 * np.log10(np.maximum(AMIN, mel_power))
        decibels = np.maximum(decibels, decibels.max() - TOP_DB)
        mfcc = scipy.fft.dct(decibels, axis=-2, type=2, norm="ortho")[:N_MFCC]
        row[:N_MFCC] = mfcc.mean(axis=1)
        row[N_MFCC:] = mfcc.std(axis=1)
    return rows


class MfccModel:
    """Clip-level MFCC mean and standard deviation."""

    name = "mfcc"
    frame_level = False
    sample_rate = REFERENCE_RATE
    dim = 2 * N_MFCC

    def __init__(self, device: str = "cpu", batch_size: int = 32) -> None:
        self.device = "cpu"
        self.batch_size = batch_size

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed clips of float32 ``(channels, samples)`` audio; one row each.

        Clips of one length go through :func:`mfcc_stats` together, in
        calls of :data:`CLIPS_PER_CALL` spread over the preprocessing
        threads; a clip's row does not depend on the others in its batch.
        """
        monos = [to_mono(clip) for clip in batch]
        by_length = indices_by_length(monos)
        calls = [indices[start:start + CLIPS_PER_CALL] for indices in by_length.values()
                 for start in range(0, len(indices), CLIPS_PER_CALL)]
        results = map_clips(lambda indices: mfcc_stats(np.stack([monos[i] for i in indices]),
                                                       sample_rate), calls)
        rows: list[np.ndarray] = [np.empty(0)] * len(monos)
        for indices, stats in zip(calls, results, strict=True):
            for index, row in zip(indices, stats, strict=True):
                rows[index] = row[None, :]
        return rows

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {"model": f"MFCC mean+std ({N_MFCC} coefficients, {N_MELS} mels)",
                "library": "librosa", "library_version": version("librosa"),
                "weights": "none", "sample_rate": "native", "device": "cpu"}


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> MfccModel:
    """Build the MFCC baseline."""
    return MfccModel(device=device, batch_size=batch_size)

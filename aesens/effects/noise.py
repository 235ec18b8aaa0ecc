"""Additive white and pink noise at a signal-to-noise ratio, seeded by each clip.

Each clip gets its own noise, seeded by a hash of its samples
(:func:`noise_seed`), so the same clip gets the same noise in every run,
batch and process, only scaled to the SNR of the setting (:func:`add_noise`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

#: Lowest frequency of the pink noise, in Hz: below it the noise has no power.
PINK_LOW_HZ = 20.0


def noise_seed(audio: np.ndarray) -> int:
    """The seed of a clip's noise: a stable hash of its samples.

    The first 8 bytes (little-endian) of the BLAKE2b hash of the clip's
    shape (two int64) followed by its float32 C-order samples. The same clip
    gets the same noise in every run, batch and process, at every SNR of the
    grid; another clip (or the same file read with another float conversion)
    gets other noise.

    Parameters
    ----------
    audio : numpy.ndarray
        float32 ``(channels, samples)``.

    Returns
    -------
    int
        A seed for :func:`numpy.random.default_rng`.
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    digest = hashlib.blake2b(np.asarray(audio.shape, dtype="<i8").tobytes(), digest_size=8)
    digest.update(audio.astype("<f4", copy=False).tobytes())
    return int.from_bytes(digest.digest(), "little")


def white_noise(shape: tuple[int, int], seed: int, sample_rate: int) -> np.ndarray:
    """Gaussian white noise, float64, independent per channel (numpy's PCG64 generator).

    ``sample_rate`` is unused (white noise is flat at every rate); it is there
    so that both noises are called alike.
    """
    return np.random.default_rng(seed).standard_normal(shape)


def pink_noise(shape: tuple[int, int], seed: int, sample_rate: int) -> np.ndarray:
    """Pink (1/f power, −3 dB per octave) noise by filtering :func:`white_noise` in frequency.

    The white noise's spectrum (real FFT over the whole clip) is multiplied
    by ``1 / sqrt(f)`` from :data:`PINK_LOW_HZ` up to the Nyquist frequency
    and set to zero below it (so that no power, and no part of the SNR, goes
    to inaudible frequencies), then transformed back: the power spectral
    density falls by 10·log10(2) ≈ 3.01 dB per octave.
    """
    white = white_noise(shape, seed, sample_rate)
    samples = shape[-1]
    spectrum = np.fft.rfft(white, axis=-1)
    freqs = np.fft.rfftfreq(samples, 1.0 / sample_rate)
    weights = np.zeros_like(freqs)
    audible = freqs >= PINK_LOW_HZ
    weights[audible] = 1.0 / np.sqrt(freqs[audible])
    return np.fft.irfft(spectrum * weights, n=samples, axis=-1)


def add_noise(audio: np.ndarray, sample_rate: int, snr_db: float,
              noise: Callable[[tuple[int, int], int, int], np.ndarray]) -> np.ndarray:
    """Add a clip's own seeded noise at a signal-to-noise ratio.

    Parameters
    ----------
    audio : numpy.ndarray
        float32 ``(channels, samples)``.
    sample_rate : int
        Sampling rate of the clip.
    snr_db : float
        Ratio of the clip's mean power (over all channels and samples) to the
        added noise's, in dB.
    noise : callable
        ``noise(shape, seed, sample_rate)``, e.g. :func:`white_noise` or
        :func:`pink_noise`; the seed is :func:`noise_seed` of the clip, so the
        noise is the same at every SNR, only scaled.

    Returns
    -------
    numpy.ndarray
        float32 ``audio + noise``, computed in float64; silent clips stay silent.
    """
    signal = audio.astype(np.float64)
    signal_power = float(np.mean(signal ** 2)) if signal.size else 0.0
    samples = noise(audio.shape, noise_seed(audio), sample_rate)
    noise_power = float(np.mean(samples ** 2)) if samples.size else 0.0
    if signal_power == 0.0 or noise_power == 0.0:
        return audio.copy()
    scale = np.sqrt(signal_power / noise_power / 10.0 ** (snr_db / 10.0))
    return (signal + scale * samples).astype(np.float32)


def noise_white(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """White noise (:func:`white_noise`) at an SNR of ``value`` dB."""
    return add_noise(audio, sample_rate, value, white_noise)


def noise_pink(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """Pink noise (:func:`pink_noise`) at an SNR of ``value`` dB."""
    return add_noise(audio, sample_rate, value, pink_noise)

"""Chebyshev type II filters: the paper's low-pass and the high-pass mirroring it.

Both filter the whole clip at once with scipy's ``sosfilt`` (the published
low-pass filtered each excerpt so); their batch functions run
:func:`aesens.effects.dsp.sosfilt_float32`, the same recursion vectorised across
clips, for batches of at least
:data:`MIN_KERNEL_CLIPS` clips. Both give the same output bit for bit; for a few clips
scipy, called clip by clip, is faster.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from aesens.errors import AesensError

#: Smallest batch for which the vectorised kernels beat the clip-by-clip libraries (the
#: reverb's kernel works clip by clip and beats pedalboard from one clip on).
MIN_KERNEL_CLIPS = 4


@lru_cache(maxsize=256)
def cheby_lowpass_sos(cutoff: float, sample_rate: int = 44100) -> np.ndarray | None:
    """Design the Chebyshev type II low-pass of the published experiment.

    Passband edge ``cutoff / 1.1``, stopband edge ``cutoff * 1.1``, at most
    3 dB passband ripple and at least 80 dB stopband attenuation. For audio
    at a lower rate than 44.1 kHz, a stopband edge beyond the Nyquist
    frequency is moved just below it, and a passband edge beyond it means
    there is nothing to remove.

    Parameters
    ----------
    cutoff : float
        Effect parameter in Hz.
    sample_rate : int
        Sampling rate of the audio.

    Returns
    -------
    numpy.ndarray or None
        Second-order sections, shape ``(n_sections, 6)``, or ``None`` when
        the filter would pass every frequency the audio can hold.
    """
    nyquist = sample_rate / 2
    passband, stopband = cutoff / 1.1, cutoff * 1.1
    if passband >= nyquist:
        return None
    stopband = min(stopband, 0.999 * nyquist)
    import scipy.signal  # here: importing it takes about a second

    order, wn = scipy.signal.cheb2ord(passband, stopband, 3, 80, fs=sample_rate)
    return scipy.signal.cheby2(order, 80, wn, "lowpass", output="sos", fs=sample_rate)


@lru_cache(maxsize=256)
def cheby_highpass_sos(cutoff: float, sample_rate: int = 44100) -> np.ndarray:
    """Design the Chebyshev type II high-pass mirroring the published low-pass.

    Passband edge ``cutoff * 1.1``, stopband edge ``cutoff / 1.1``, at most
    3 dB passband ripple and at least 80 dB stopband attenuation, as
    :func:`cheby_lowpass_sos` with the bands swapped.

    Parameters
    ----------
    cutoff : float
        Effect parameter in Hz.
    sample_rate : int
        Sampling rate of the audio.

    Returns
    -------
    numpy.ndarray
        Second-order sections, shape ``(n_sections, 6)``.

    Raises
    ------
    AesensError
        When the passband edge is not below the Nyquist frequency.
    """
    passband, stopband = cutoff * 1.1, cutoff / 1.1
    if passband >= sample_rate / 2:
        raise AesensError(f"a {cutoff:g} Hz high-pass removes everything from audio at "
                          f"{sample_rate} Hz; use audio sampled above {2 * passband:.0f} Hz")
    import scipy.signal  # here: importing it takes about a second

    order, wn = scipy.signal.cheb2ord(passband, stopband, 3, 80, fs=sample_rate)
    return scipy.signal.cheby2(order, 80, wn, "highpass", output="sos", fs=sample_rate)


def _filter(sos: np.ndarray | None, audio: np.ndarray) -> np.ndarray:
    """scipy's ``sosfilt`` along the last axis (``audio`` itself when ``sos`` is None)."""
    if sos is None:
        return audio
    import scipy.signal

    return scipy.signal.sosfilt(sos, audio, axis=-1)


def _filter_batch(sos: np.ndarray | None, clips: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Filter ``(clips, channels, samples)`` into ``out``: by the kernel for enough clips."""
    if sos is None or len(clips) < MIN_KERNEL_CLIPS:
        out[...] = _filter(sos, clips)
        return out
    from aesens.effects import dsp

    return dsp.sosfilt_float32(sos, clips, out=out)


def cheby_lowpass(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """The published low-pass (:func:`cheby_lowpass_sos`) at cutoff ``value`` Hz."""
    return _filter(cheby_lowpass_sos(value, sample_rate), audio)


def cheby_lowpass_batch(clips: np.ndarray, sample_rate: int, value: float,
                        out: np.ndarray) -> np.ndarray:
    """:func:`cheby_lowpass` on every clip, into ``out``."""
    return _filter_batch(cheby_lowpass_sos(value, sample_rate), clips, out)


def cheby_highpass(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """The high-pass (:func:`cheby_highpass_sos`) at cutoff ``value`` Hz."""
    return _filter(cheby_highpass_sos(value, sample_rate), audio)


def cheby_highpass_batch(clips: np.ndarray, sample_rate: int, value: float,
                         out: np.ndarray) -> np.ndarray:
    """:func:`cheby_highpass` on every clip, into ``out``."""
    return _filter_batch(cheby_highpass_sos(value, sample_rate), clips, out)

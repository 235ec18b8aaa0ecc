"""Behaviour of the Chebyshev II low-pass: its stopband attenuation, measured.

SPEC: ``cheb2ord(p / 1.1, p * 1.1, 3, 80, fs=44100)`` then ``cheby2(order, 80, ...)``:
at least 80 dB of attenuation from the stopband edge ``p * 1.1`` up. The checks
measure the response (scipy's ``sosfreqz`` and a sine through the effect) and
require 79 dB, which a 60-dB design (a typo of the 80) cannot reach.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from aesens import effects
from aesens.effects.batching import MIN_KERNEL_CLIPS
from aesens.effects.filters import cheby_lowpass_sos

RATE = 44100
#: Required stopband attenuation (dB): 1 dB of slack below the design's 80.
STOPBAND_DB = 79.0
#: A few values of the published grid, low to high.
CUTOFFS = (1600.0, 3000.0, 7000.0, 12000.0)


def attenuation_db(sos: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Attenuation (dB, positive) of ``sos`` at ``frequencies`` (Hz), measured by scipy."""
    _, response = scipy.signal.sosfreqz(sos, worN=frequencies, fs=RATE)
    return -20 * np.log10(np.maximum(np.abs(response), 1e-300))


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_stopband_attenuation_is_at_least_80_db(cutoff):
    sos = cheby_lowpass_sos(cutoff, RATE)
    stopband = np.linspace(cutoff * 1.1, RATE / 2, 4000)
    assert attenuation_db(sos, stopband).min() >= STOPBAND_DB
    # And the passband keeps its 3-dB ripple bound: the filter is a low-pass, not a mute.
    passband = np.linspace(20.0, cutoff / 1.1, 500)
    assert attenuation_db(sos, passband).max() <= 3.0 + 1e-6


def sine(frequency: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    time = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)[None, :]


def level_db(audio: np.ndarray, reference: np.ndarray) -> float:
    """RMS level of the second half of ``audio`` relative to ``reference`` (dB), past the onset."""
    half = audio.shape[-1] // 2
    return 20 * np.log10(np.sqrt(np.mean(np.square(audio[..., half:], dtype=np.float64)))
                         / np.sqrt(np.mean(np.square(reference[..., half:], dtype=np.float64))))


@pytest.mark.parametrize("cutoff", (1600.0, 5000.0))
def test_a_sine_in_the_stopband_comes_out_80_db_lower(cutoff):
    effect = effects.EFFECTS["lowpass_cheby"]
    tone = sine(cutoff * 1.3)
    assert level_db(effect.apply(tone, RATE, cutoff), tone) <= -STOPBAND_DB
    # The batch path (a compiled kernel for many clips) attenuates as much.
    clips = np.repeat(tone[None], max(MIN_KERNEL_CLIPS, 2), axis=0)
    batch = effect.apply_batch(clips, RATE, cutoff)
    assert max(level_db(clip, tone) for clip in batch) <= -STOPBAND_DB
    # A sine in the passband passes within the ripple.
    low = sine(cutoff / 2)
    assert abs(level_db(effect.apply(low, RATE, cutoff), low)) <= 3.0

"""Tests of the Chebyshev II filters (aesens.effects.filters) against scipy, and their
behaviour measured.

As published: ``cheb2ord(p / 1.1, p * 1.1, 3, 80, fs=44100)`` then ``cheby2(order, 80, ...)``:
at least 80 dB of attenuation from the stopband edge ``p * 1.1`` up. The checks
measure the response (scipy's ``sosfreqz`` and a sine through the effect) and
require 79 dB, which a 60-dB design (a typo of the 80) cannot reach. The high-pass
mirrors the low-pass: scipy's own design and ``sosfilt``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from conftest import music

from aesens import effects
from aesens.effects import EFFECTS, dsp
from aesens.effects.filters import MIN_KERNEL_CLIPS, cheby_highpass_sos, cheby_lowpass_sos
from aesens.errors import AesensError

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


def scipy_design(passband: float, stopband: float, btype: str, fs: int) -> np.ndarray:
    """scipy's Chebyshev II design as published: 3 dB passband ripple, 80 dB stopband."""
    order, wn = scipy.signal.cheb2ord(passband, stopband, 3, 80, fs=fs)
    return scipy.signal.cheby2(order, 80, wn, btype, output="sos", fs=fs)


def test_lowpass_equals_scipy_design(stereo_chirp):
    effect = EFFECTS["lowpass_cheby"]
    for cutoff in (effect.grid[0], effect.grid[-1]):
        sos = scipy_design(cutoff / 1.1, cutoff * 1.1, "lowpass", 44100)
        expected = scipy.signal.sosfilt(sos, stereo_chirp, axis=-1)
        np.testing.assert_allclose(effect.apply(stereo_chirp, 44100, cutoff), expected,
                                   atol=1e-6)
        np.testing.assert_array_equal(cheby_lowpass_sos(cutoff, 44100), sos)


def test_lowpass_at_lower_sample_rates(mono_chirp):
    """A passband edge above Nyquist leaves nothing to remove (the designs at lower rates:
    test_lowpass_below_44k_moves_a_stopband_edge_past_nyquist_just_below_it)."""
    effect = EFFECTS["lowpass_cheby"]
    np.testing.assert_array_equal(effect.apply(mono_chirp[:, ::2], 22050, 18333.333),
                                  mono_chirp[:, ::2])


@pytest.mark.parametrize("sample_rate", [22050, 44100])
def test_highpass_equals_scipy_design_and_sosfilt(sample_rate):
    effect = EFFECTS["highpass_cheby"]
    audio = music(0.5, sample_rate, 2)
    for cutoff in effect.grid[[0, 15, -1]]:
        sos = scipy_design(cutoff * 1.1, cutoff / 1.1, "highpass", sample_rate)
        expected = scipy.signal.sosfilt(sos, audio, axis=-1).astype(np.float32)
        np.testing.assert_array_equal(effect.apply(audio, sample_rate, cutoff), expected)
    clips = np.stack([music(0.2, sample_rate, 2, seed) for seed in range(MIN_KERNEL_CLIPS + 1)])
    for cutoff in effect.grid[::10]:
        expected = np.stack([effect.apply(clip, sample_rate, cutoff) for clip in clips])
        np.testing.assert_array_equal(effect.apply_batch(clips, sample_rate, cutoff), expected)
        np.testing.assert_array_equal(effect.apply_batch(clips[:2], sample_rate, cutoff),
                                      expected[:2])
    assert dsp.sosfilt_float32(cheby_highpass_sos(100.0), clips).dtype == np.float32


def test_highpass_removes_the_band_below_the_cutoff():
    rng = np.random.default_rng(3)
    audio = rng.standard_normal((1, 44100)).astype(np.float32)
    out = EFFECTS["highpass_cheby"].apply(audio, 44100, 4000.0)
    freqs, before = scipy.signal.welch(audio[0], fs=44100, nperseg=4096)
    _, after = scipy.signal.welch(out[0], fs=44100, nperseg=4096)
    stop = (freqs > 200) & (freqs < 4000 / 1.1 * 0.9)
    passed = freqs > 4000 * 1.1 * 1.1
    assert np.max(after[stop] / before[stop]) < 1e-7  # at least 70 dB down (Welch leakage)
    assert np.median(after[passed] / before[passed]) > 0.5
    with pytest.raises(AesensError, match="^a 4000 Hz high-pass removes everything from audio "
                                          "at 8000 Hz; use audio sampled above 8800 Hz$"):
        cheby_highpass_sos(4000.0, 8000)


@pytest.mark.parametrize("sample_rate", [8000, 11025, 16000, 22050])
def test_lowpass_below_44k_moves_a_stopband_edge_past_nyquist_just_below_it(sample_rate):
    """Every grid value: scipy's design with the stopband edge ``min(p * 1.1, 0.999 * fs / 2)``,
    none when the passband edge reaches Nyquist; the moved designs still reach 79 dB."""
    nyquist = sample_rate / 2
    moved = 0
    for cutoff in EFFECTS["lowpass_cheby"].grid:
        sos = cheby_lowpass_sos(cutoff, sample_rate)
        if cutoff / 1.1 >= nyquist:
            assert sos is None, cutoff
            continue
        stopband = min(cutoff * 1.1, 0.999 * nyquist)
        np.testing.assert_array_equal(sos, scipy_design(cutoff / 1.1, stopband, "lowpass",
                                                        sample_rate), err_msg=str(cutoff))
        if stopband < cutoff * 1.1:
            moved += 1
            _, response = scipy.signal.sosfreqz(sos, worN=np.linspace(stopband, nyquist, 50),
                                                fs=sample_rate)
            assert np.max(np.abs(response)) <= 10 ** (-STOPBAND_DB / 20), cutoff
    assert moved >= 1


@pytest.mark.parametrize("sample_rate", [11025, 22050, 44100])
def test_highpass_design_of_every_grid_value_is_scipys(sample_rate):
    for cutoff in EFFECTS["highpass_cheby"].grid:
        np.testing.assert_array_equal(cheby_highpass_sos(cutoff, sample_rate),
                                      scipy_design(cutoff * 1.1, cutoff / 1.1, "highpass",
                                                   sample_rate), err_msg=str(cutoff))


def test_designs_default_to_44_1_khz():
    np.testing.assert_array_equal(cheby_lowpass_sos(1600.0),
                                  scipy_design(1600 / 1.1, 1600 * 1.1, "lowpass", 44100))
    np.testing.assert_array_equal(cheby_highpass_sos(100.0),
                                  scipy_design(100 * 1.1, 100 / 1.1, "highpass", 44100))

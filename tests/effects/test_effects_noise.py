"""Tests of the additive noise (aesens.effects.noise): the SNR and the spectral slope
measured independently (scipy's Welch estimate), and an independent BLAKE2b seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.signal
from conftest import music

from aesens.effects import EFFECTS
from aesens.effects.noise import noise_seed, pink_noise, white_noise


@pytest.mark.parametrize("name", ["noise_white", "noise_pink"])
@pytest.mark.parametrize(("channels", "sample_rate"), [(1, 22050), (2, 44100)])
def test_noise_has_the_snr_of_its_grid_value(name, channels, sample_rate):
    """On music at about -9 dBFS and on a full-scale square wave (mean power exactly 1)."""
    effect = EFFECTS[name]
    square = np.where(np.arange(int(0.5 * sample_rate)) % 100 < 50, 1.0, -1.0)
    for audio in (music(0.5, sample_rate, channels),
                  np.tile(square.astype(np.float32), (channels, 1))):
        power = np.mean(audio.astype(float) ** 2)
        for snr in (effect.grid[1], effect.grid[9], effect.grid[-1]):  # 37.5, 17.5, 0
            out = effect.apply(audio, sample_rate, snr)
            assert out.shape == audio.shape and out.dtype == np.float32
            assert np.all(np.isfinite(out))
            added = out.astype(float) - audio
            measured = 10 * np.log10(power / np.mean(added ** 2))
            assert abs(measured - snr) < 0.01, (snr, measured)


@pytest.mark.parametrize("name", ["noise_white", "noise_pink"])
def test_noise_is_seeded_by_the_clip_whatever_the_batching(name):
    effect = EFFECTS[name]
    clips = np.stack([music(0.3, 44100, 2, seed) for seed in range(3)])
    one_by_one = np.stack([effect.apply(clip, 44100, 10.0) for clip in clips])
    np.testing.assert_array_equal(effect.apply(clips[1], 44100, 10.0), one_by_one[1])
    np.testing.assert_array_equal(effect.apply_batch(clips, 44100, 10.0), one_by_one)
    in_place = clips.copy()
    effect.apply_batch(in_place, 44100, 10.0, out=in_place)
    np.testing.assert_array_equal(in_place, one_by_one)
    added = one_by_one - clips
    assert not np.allclose(added[0], added[1])  # each clip its own noise
    # The same noise at every SNR of the grid, only scaled.
    louder = effect.apply(clips[0], 44100, 0.0).astype(float) - clips[0]
    correlation = np.corrcoef(louder.ravel(), added[0].astype(float).ravel())[0, 1]
    assert correlation > 0.9999
    silent = np.zeros((2, 1000), dtype=np.float32)
    np.testing.assert_array_equal(effect.apply(silent, 44100, 0.0), silent)


def test_noise_seed_is_blake2b_of_shape_and_samples():
    audio = music(0.1, 44100, 2)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.array(audio.shape, dtype="<i8").tobytes())
    digest.update(audio.astype("<f4").tobytes())
    assert noise_seed(audio) == int.from_bytes(digest.digest(), "little")
    assert noise_seed(audio[:1]) != noise_seed(audio)
    np.testing.assert_array_equal(white_noise((2, 5), 7, 44100),
                                  np.random.default_rng(7).standard_normal((2, 5)))


@pytest.mark.parametrize("snr", [37.5, 2.5])
def test_white_noise_is_the_seeded_generator_scaled_to_the_snr(snr):
    """The added noise is numpy's ``default_rng(seed).standard_normal`` of the clip's BLAKE2b
    seed times a positive scale, computed here from the SNR's definition."""
    audio = music(0.2, 44100, 2, seed=5)
    digest = hashlib.blake2b(np.array(audio.shape, dtype="<i8").tobytes(), digest_size=8)
    digest.update(audio.astype("<f4").tobytes())
    noise = np.random.default_rng(int.from_bytes(digest.digest(), "little")).standard_normal(
        audio.shape)
    scale = np.sqrt(np.mean(audio.astype(float) ** 2) / np.mean(noise ** 2) / 10 ** (snr / 10))
    expected = (audio.astype(float) + scale * noise).astype(np.float32)
    np.testing.assert_array_equal(EFFECTS["noise_white"].apply(audio, 44100, snr), expected)


def octave_slope(noise: np.ndarray, sample_rate: int) -> float:
    """Slope of the Welch power spectral density in dB per octave, 100 Hz to 10 kHz."""
    freqs, density = scipy.signal.welch(noise, fs=sample_rate, nperseg=8192, axis=-1)
    density = density.mean(axis=0)
    band = (freqs >= 100) & (freqs <= 10000)
    return float(np.polyfit(np.log2(freqs[band]), 10 * np.log10(density[band]), 1)[0])


def test_pink_noise_falls_3_db_per_octave_and_white_noise_is_flat():
    for rate in (22050, 44100):
        pink = pink_noise((4, 4 * rate), 11, rate)
        assert abs(octave_slope(pink, rate) + 10 * np.log10(2)) < 0.15
        assert abs(octave_slope(white_noise((4, 4 * rate), 11, rate), rate)) < 0.15
        spectrum = np.abs(np.fft.rfft(pink, axis=-1)) ** 2
        freqs = np.fft.rfftfreq(pink.shape[-1], 1 / rate)
        # Nothing below 20 Hz (bins 0.25 Hz apart), all of the band from 20 Hz up.
        assert np.all(spectrum[:, freqs < 20.0] < 1e-20)
        assert np.all(spectrum[:, freqs >= 20.0] > 1e-12)
    clip = music(3.0, 44100, 2)
    added = EFFECTS["noise_pink"].apply(clip, 44100, 0.0).astype(float) - clip
    assert abs(octave_slope(added, 44100) + 10 * np.log10(2)) < 0.3

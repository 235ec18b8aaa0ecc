"""Tests of aesens.effects.roundtrip.

The 16-bit round trip equals pedalboard's own files bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from conftest import apply_streaming, chirp
from pedalboard.io import AudioFile

from aesens.effects import EFFECTS
from aesens.effects.filters import cheby_lowpass_sos
from aesens.effects.roundtrip import pcm16_encode, pcm16_roundtrip


def written_by_pedalboard(tmp_path, audio: np.ndarray, sample_rate: int = 44100) -> np.ndarray:
    """The int16 samples of ``AudioFile(path, "w", sr, channels)``, read with soundfile."""
    path = tmp_path / "pedalboard.wav"
    with AudioFile(str(path), "w", sample_rate, audio.shape[0]) as out:
        out.write(audio)
    assert sf.info(path).subtype == "PCM_16"
    codes, _ = sf.read(path, dtype="int16", always_2d=True)
    return np.ascontiguousarray(codes.T)


def read_back(tmp_path, audio: np.ndarray, sample_rate: int = 44100) -> np.ndarray:
    """What a model reads of pedalboard's file: soundfile float32 (int16 / 32768)."""
    path = tmp_path / "pedalboard.wav"
    with AudioFile(str(path), "w", sample_rate, audio.shape[0]) as out:
        out.write(audio)
    samples, _ = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples.T)


def sweep() -> np.ndarray:
    """Dense float32 values: every int16 boundary and its neighbours, +-1, beyond, tiny values."""
    codes = np.arange(-32768, 32769, dtype=np.float64)
    boundaries = (codes * 65536 / 2147483647).astype(np.float32)  # where the top 16 bits change
    values = [boundaries, (codes / 32768).astype(np.float32),
              ((codes + 0.5) / 32768).astype(np.float32)]
    for direction in (2.0, -2.0):
        near = boundaries
        for _ in range(3):
            near = np.nextafter(near, np.float32(direction))
            values.append(near)
    values.append(np.linspace(-1.5, 1.5, 100001, dtype=np.float32))
    values.append(np.array([0.0, -0.0, 1e-5, -1e-5, 1.5e-5, -1.5e-5, 3.1e-5, -3.1e-5, 1.0, -1.0,
                            1.0000001, -1.0000001, 2.0, -7.5, 1e-38, -1e-38, np.inf, -np.inf],
                           dtype=np.float32))
    values.append(np.random.default_rng(0).uniform(-1.2, 1.2, 200000).astype(np.float32))
    return np.concatenate(values)[None, :]


def test_float32_sweep_equals_pedalboards_file(tmp_path):
    values = sweep()
    expected = written_by_pedalboard(tmp_path, values)
    np.testing.assert_array_equal(pcm16_encode(values), expected)
    np.testing.assert_array_equal(pcm16_roundtrip(values), read_back(tmp_path, values))
    # Not round-to-nearest: 1e-5 -> 0 but -1e-5 -> -1; beyond +-1 clamps.
    tiny = pcm16_encode(np.array([1e-5, -1e-5, 1.5, -1.5, 1.0, -1.0], dtype=np.float32))
    assert list(tiny) == [0, -1, 32767, -32768, 32767, -32768]


def test_float64_input_is_rounded_to_float32_first_as_pedalboard_does(tmp_path):
    values = np.concatenate([sweep()[0].astype(np.float64),
                             np.linspace(-1.1, 1.1, 200001),
                             (np.arange(-32768, 32768) * 65536 / 2147483647) + 1e-12])[None, :]
    np.testing.assert_array_equal(pcm16_encode(values), written_by_pedalboard(tmp_path, values))


def test_nan_is_written_as_zero(tmp_path):
    values = np.array([[np.nan, 0.5, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(pcm16_encode(values), written_by_pedalboard(tmp_path, values))
    assert pcm16_roundtrip(values)[0, 0] == 0


@pytest.mark.parametrize("effect_name, value, amplitude", [
    ("gain", 5.0, 0.9),          # loud: clips at +-1
    ("gain", -40.0, 0.3),        # quiet: about 10 bits left
    ("reverb", 1.0, 0.5),
    ("bitcrush", 6, 0.5),
])
def test_effected_stereo_clips_equal_pedalboards_files(tmp_path, effect_name, value, amplitude):
    effect = EFFECTS[effect_name]
    audio = chirp(1.5, amplitude=amplitude)
    effected = apply_streaming(effect, audio, 44100, value)
    if effect_name == "gain" and value > 0:
        assert np.abs(effected).max() > 1.0
    ours = pcm16_roundtrip(effected)
    np.testing.assert_array_equal(ours, read_back(tmp_path, effected))
    np.testing.assert_array_equal(ours * 32768, written_by_pedalboard(tmp_path, effected))


def test_lowpass_float64_output_equals_pedalboards_file(tmp_path):
    audio = chirp(1.0)
    sos = cheby_lowpass_sos(1600.0)
    float64 = scipy.signal.sosfilt(sos, audio, axis=-1)  # the published script's array
    assert float64.dtype == np.float64
    ours = pcm16_roundtrip(EFFECTS["lowpass_cheby"].apply(audio, 44100, 1600.0))
    np.testing.assert_array_equal(ours, read_back(tmp_path, float64))


def test_in_place_and_batch_shapes():
    clips = np.stack([chirp(0.1, amplitude=1.2), chirp(0.1, amplitude=0.01)])
    expected = pcm16_roundtrip(clips.copy())
    assert pcm16_roundtrip(clips, out=clips) is clips
    np.testing.assert_array_equal(clips, expected)
    assert clips.dtype == np.float32 and np.all(clips * 32768 == np.round(clips * 32768))
    with pytest.raises(ValueError, match="float32"):
        pcm16_roundtrip(clips, out=np.empty(3, dtype=np.float32))
    # An out array that overlaps the input without being it (shifted by one sample).
    line = chirp(0.1, amplitude=1.2)[0].copy()
    expected = pcm16_roundtrip(line[:-1].copy())
    np.testing.assert_array_equal(pcm16_roundtrip(line[:-1], out=line[1:]), expected)


# ----------------------------------------------------------------------
# The ``out`` argument of :func:`aesens.effects.roundtrip.pcm16_roundtrip`: filled, or refused.
#
# A non-contiguous ``out`` would be reshaped into a copy and silently stay
# unwritten, so it must be refused, as must another dtype or shape.

@pytest.fixture
def audio() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1.2, 1.2, (2, 3, 50)).astype(np.float32)


def test_out_is_filled_with_the_round_trip(audio):
    out = np.full(audio.shape, np.nan, dtype=np.float32)
    assert pcm16_roundtrip(audio, out=out) is out
    # Independent of the kernel: int16 codes are multiples of 1/32768 within 1/32768 of the
    # clamped input.
    np.testing.assert_array_equal(out * 32768, np.round(out * 32768))
    np.testing.assert_allclose(out, np.clip(audio, -1, 32767 / 32768), rtol=0, atol=1 / 32768)


@pytest.mark.parametrize("make_out", [
    lambda shape: np.empty(shape, dtype=np.float32, order="F"),  # right dtype, not contiguous
    lambda shape: np.empty(shape[::-1], dtype=np.float32).T,  # transposed view
    lambda shape: np.empty(shape, dtype=np.float64),  # contiguous, other dtypes
    lambda shape: np.empty(shape, dtype=np.float16),
    lambda shape: np.empty(shape, dtype=np.int16),
    lambda shape: np.empty(shape[:-1] + (shape[-1] + 1,), dtype=np.float32),  # longer
    lambda shape: np.empty(shape[:-1] + (shape[-1] - 1,), dtype=np.float32),  # shorter
    lambda shape: np.empty(shape[-1:], dtype=np.float32),  # fewer axes
])
def test_an_out_that_cannot_be_written_in_place_is_refused(audio, make_out):
    out = make_out(audio.shape)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        pcm16_roundtrip(audio, out=out)

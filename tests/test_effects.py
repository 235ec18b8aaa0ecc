"""Tests of aesens.effects: grids, parameter strings, equality with the published processing."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
import scipy.signal
from conftest import chirp

from aesens import dsp
from aesens.effects import EFFECTS, apply_streaming, get_effect
from aesens.effects.batching import MIN_KERNEL_CLIPS
from aesens.effects.filters import cheby_lowpass_sos
from aesens.effects.paper import gain_factor
from aesens.errors import AesensError


def clip_batch(n_clips: int, seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Clips of 16-bit-quantised audio (half of them) and of unquantised noise and chirps.

    16-bit values multiplied by powers of two land exactly on rounding ties,
    the hard case for bitcrush; chirps of several pitches excite the filters.
    """
    rng = np.random.default_rng(seed)
    samples = int(seconds * 44100)
    clips = []
    for index in range(n_clips):
        audio = chirp(seconds, f0=80.0 * (index + 1), channels=channels)
        audio = audio + 0.05 * rng.standard_normal((channels, samples)).astype(np.float32)
        if index % 2 == 0:
            audio = np.round(audio * 32768) / 32768
        clips.append(audio.astype(np.float32))
    return np.stack(clips)


def test_grids_and_parameter_strings_match_spec():
    bitcrush, gain, lowpass, reverb = (EFFECTS[n] for n in
                                       ("bitcrush", "gain", "lowpass_cheby", "reverb"))
    assert bitcrush.param_strings == [str(b) for b in range(4, 16)]
    assert len(gain) == 31 and gain.param_strings[0] == "-40.0" and gain.param_strings[-1] == "5.0"
    assert "0.5" in gain.param_strings and "-1.0" in gain.param_strings
    assert len(lowpass) == 31
    assert lowpass.param_strings[0] == "1600.000" and lowpass.param_strings[-1] == "18333.333"
    np.testing.assert_array_equal(lowpass.grid, np.round(np.geomspace(1600, 22000 / 1.2, 31), 3))
    assert len(reverb) == 34 and reverb.param_strings[0] == "0.01"
    assert reverb.param_strings[-1] == "1.00"
    np.testing.assert_array_equal(reverb.grid, np.linspace(0.01, 1, num=100)[::3])


def test_identity_positions():
    assert EFFECTS["bitcrush"].identity_rank == 12
    assert 26 < EFFECTS["gain"].identity_rank < 27
    assert EFFECTS["lowpass_cheby"].identity_rank == 31
    assert EFFECTS["reverb"].identity_rank == -1


@pytest.mark.parametrize("name", ["bitcrush", "gain", "reverb"])
def test_pedalboard_effects_equal_one_second_streaming(name, stereo_chirp):
    effect = EFFECTS[name]
    for value in (effect.grid[0], effect.grid[len(effect.grid) // 2], effect.grid[-1]):
        ours = effect.apply(stereo_chirp, 44100, value)
        reference = apply_streaming(effect, stereo_chirp, 44100, value)
        assert ours.shape == stereo_chirp.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


def test_streaming_reference_matches_a_hand_written_board_loop(stereo_chirp):
    board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=0.5)])
    pieces = [board(stereo_chirp[:, i:i + 44100], 44100, reset=False)
              for i in range(0, stereo_chirp.shape[1], 44100)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1),
                                  apply_streaming(EFFECTS["reverb"], stereo_chirp, 44100, 0.5))


@pytest.mark.parametrize("name", ["bitcrush", "gain"])
def test_numpy_gain_and_bitcrush_equal_pedalboard_bit_for_bit(name):
    effect = EFFECTS[name]
    clips = clip_batch(3, 0.2)
    for value in effect.grid:
        board = effect.board_fn(value)
        expected = np.stack([board(clip, 44100) for clip in clips])
        np.testing.assert_array_equal(effect.apply_batch(clips, 44100, value), expected)
        np.testing.assert_array_equal(effect.apply(clips[0], 44100, value), expected[0])


def test_gain_factor_is_pedalboards_own():
    for gain_db in (-40.0, -20.046403854108746, 0.0, 12.631169129462592, -150.0):
        unit = np.ones((2, 8), dtype=np.float32)
        np.testing.assert_array_equal(unit * gain_factor(gain_db),
                                      pedalboard.Gain(gain_db=gain_db)(unit, 44100))


@pytest.mark.parametrize("sample_rate", [44100, 22050])
def test_reverb_kernel_equals_pedalboard_bit_for_bit(sample_rate):
    effect = EFFECTS["reverb"]
    clips = clip_batch(MIN_KERNEL_CLIPS + 1, 0.25)
    for value in (effect.grid[0], effect.grid[11], effect.grid[-1]):
        board = effect.board_fn(value)
        expected = np.stack([board(clip, sample_rate) for clip in clips])
        np.testing.assert_array_equal(dsp.juce_reverb_stereo(clips, sample_rate, value),
                                      expected)
        np.testing.assert_array_equal(effect.apply_batch(clips, sample_rate, value), expected)


def test_reverb_batches_of_mono_or_few_clips_fall_back_to_pedalboard():
    effect = EFFECTS["reverb"]
    for clips in (clip_batch(MIN_KERNEL_CLIPS, 0.1, channels=1), clip_batch(2, 0.1)):
        expected = np.stack([effect.board_fn(0.5)(clip, 44100) for clip in clips])
        np.testing.assert_array_equal(effect.apply_batch(clips, 44100, 0.5), expected)
    with pytest.raises(ValueError, match=r"expected \(clips, 2, samples\)"):
        dsp.juce_reverb_stereo(clip_batch(2, 0.1, channels=1), 44100, 0.5)


@pytest.mark.parametrize("sample_rate", [44100, 22050])
def test_lowpass_kernel_equals_scipy_bit_for_bit(sample_rate):
    effect = EFFECTS["lowpass_cheby"]
    clips = clip_batch(MIN_KERNEL_CLIPS + 1, 0.2)
    for value in effect.grid[::5]:
        expected = np.stack([effect.apply(clip, sample_rate, value) for clip in clips])
        np.testing.assert_array_equal(effect.apply_batch(clips, sample_rate, value), expected)
        sos = cheby_lowpass_sos(value, sample_rate)
        if sos is not None:
            reference = scipy.signal.sosfilt(sos, clips, axis=-1).astype(np.float32)
            np.testing.assert_array_equal(dsp.sosfilt_float32(sos, clips), reference)


def test_gain_scales_amplitude(stereo_chirp):
    out = EFFECTS["gain"].apply(stereo_chirp, 44100, -20.0)
    np.testing.assert_allclose(out, stereo_chirp * 10 ** (-20 / 20), rtol=1e-5, atol=1e-7)


def test_lowpass_equals_scipy_design(stereo_chirp):
    effect = EFFECTS["lowpass_cheby"]
    for cutoff in (effect.grid[0], effect.grid[-1]):
        order, wn = scipy.signal.cheb2ord(cutoff / 1.1, cutoff * 1.1, 3, 80, fs=44100)
        sos = scipy.signal.cheby2(order, 80, wn, "lowpass", output="sos", fs=44100)
        expected = scipy.signal.sosfilt(sos, stereo_chirp, axis=-1)
        np.testing.assert_allclose(effect.apply(stereo_chirp, 44100, cutoff), expected,
                                   atol=1e-6)
        np.testing.assert_array_equal(cheby_lowpass_sos(cutoff, 44100), sos)


def test_lowpass_at_lower_sample_rates(mono_chirp):
    effect = EFFECTS["lowpass_cheby"]
    quiet = effect.apply(mono_chirp[:, ::2], 22050, 10500.0)
    assert np.all(np.isfinite(quiet))
    # A passband edge above Nyquist leaves nothing to remove.
    np.testing.assert_array_equal(effect.apply(mono_chirp[:, ::2], 22050, 18333.333),
                                  mono_chirp[:, ::2])


def test_mono_audio_keeps_its_shape(mono_chirp):
    for effect in EFFECTS.values():
        assert effect.apply(mono_chirp, 44100, effect.grid[3]).shape == mono_chirp.shape


def test_unknown_effect():
    with pytest.raises(AesensError, match="unknown effect 'flanger'; choose one of bitcrush"):
        get_effect("flanger")


def stream_through_one_board(value: float, files: list[tuple[np.ndarray, int]]) -> list:
    """pedalboard's own reference: ONE board, every file in order, 1-s chunks, reset=False."""
    board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=value)])
    return [np.concatenate([board(audio[:, start:start + rate], rate, reset=False)
                            for start in range(0, audio.shape[1], rate)], axis=1)
            for audio, rate in files]


def test_reverb_chain_equals_one_pedalboard_board_across_files():
    """Each file starts with the tails of the previous ones; pedalboard's re-prepare rule
    (another rate or channel count, or a longer first block, up to 8192 samples) clears
    the reverb."""
    clips = clip_batch(4, 1.3)
    mono = clip_batch(2, 0.7, channels=1, seed=1)
    files = [(clips[0], 44100), (clips[1], 44100), (mono[0], 44100), (mono[1], 44100),
             (clips[2][:, :30000], 44100), (clips[3], 44100), (clips[0], 22050),
             (clips[1][:, :5000], 22050), (clips[2][:, :3000], 22050), (clips[3], 22050),
             (clips[0][:, :9000], 22050), (clips[1], 44100), (clips[2][:, :100], 44100),
             (clips[3], 44100)]
    for value in (EFFECTS["reverb"].grid[0], 0.5, EFFECTS["reverb"].grid[-1]):
        expected = stream_through_one_board(value, files)
        chain = EFFECTS["reverb"].chain_fn(value)
        for index, ((audio, rate), reference) in enumerate(zip(files, expected, strict=True)):
            ours = chain.process(audio.copy(), rate)
            np.testing.assert_array_equal(ours, reference, err_msg=f"file {index}")
        fresh = effects_fresh(value, files[1])
        assert not np.array_equal(expected[1], fresh)  # the state did carry over


def effects_fresh(value: float, file: tuple[np.ndarray, int]) -> np.ndarray:
    audio, rate = file
    return pedalboard.Reverb(room_size=value)(audio, rate)


def test_reverb_chain_snapshots_continue_independently():
    clips = clip_batch(3, 0.5)
    chain = EFFECTS["reverb"].chain_fn(0.7)
    chain.process(clips[0].copy(), 44100)
    snapshot = chain.copy()
    first = chain.process(clips[1].copy(), 44100)
    np.testing.assert_array_equal(snapshot.process(clips[1].copy(), 44100), first)
    with pytest.raises(AesensError, match="mono or stereo"):
        chain.process(np.zeros((3, 100), dtype=np.float32), 44100)


@pytest.mark.parametrize("channels", [1, 2])
def test_reverb_kernel_with_state_equals_pedalboard_reset_false(channels):
    clips = clip_batch(MIN_KERNEL_CLIPS + 1, 0.3, channels=channels)
    boards = [pedalboard.Reverb(room_size=0.4) for _ in clips]
    state = dsp.ReverbState.fresh(44100, channels, len(clips))
    for part in (slice(0, 8000), slice(8000, None)):  # a longer block would reset
        expected = np.stack([board(clip[:, part], 44100, reset=False)
                             for board, clip in zip(boards, clips, strict=True)])
        ours = dsp.juce_reverb(np.ascontiguousarray(clips[:, :, part]), 44100, 0.4, state=state)
        np.testing.assert_array_equal(ours, expected)
    with pytest.raises(ValueError, match="does not fit"):
        dsp.juce_reverb(clips[:2], 44100, 0.4, state=state)

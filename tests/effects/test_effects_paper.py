"""Tests of the paper's effects (aesens.effects.paper) against pedalboard itself.

Bitcrush and gain equal pedalboard's plug-ins bit for bit; the reverb equals a
fresh ``Reverb`` per clip, and :class:`ReverbChain` equals ONE pedalboard board
streaming every file with ``reset=False``.
"""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
from conftest import apply_streaming, clip_batch

from aesens.effects import EFFECTS
from aesens.effects.paper import gain_factor
from aesens.errors import AesensError


@pytest.mark.parametrize("name", ["bitcrush", "gain", "reverb"])
def test_pedalboard_effects_equal_one_second_streaming(name, stereo_chirp):
    effect = EFFECTS[name]
    for value in (effect.grid[0], effect.grid[len(effect.grid) // 2], effect.grid[-1]):
        ours = effect.apply(stereo_chirp, 44100, value)
        reference = apply_streaming(effect, stereo_chirp, 44100, value)
        assert ours.shape == stereo_chirp.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


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


def test_gain_scales_amplitude(stereo_chirp):
    out = EFFECTS["gain"].apply(stereo_chirp, 44100, -20.0)
    np.testing.assert_allclose(out, stereo_chirp * 10 ** (-20 / 20), rtol=1e-5, atol=1e-7)


def test_reverb_batches_of_any_size_and_one_or_two_channels_equal_pedalboard():
    """The kernel serves batches of one clip and mono clips too; more channels than two go
    through pedalboard (which handles them on its own terms)."""
    effect = EFFECTS["reverb"]
    for clips in (clip_batch(1, 0.1), clip_batch(3, 0.1, channels=1), clip_batch(2, 0.1),
                  clip_batch(2, 0.1, channels=3)):
        expected = np.stack([effect.board_fn(0.5)(clip, 44100) for clip in clips])
        np.testing.assert_array_equal(effect.apply_batch(clips, 44100, 0.5), expected)


def stream_through_one_board(value: float, files: list[tuple[np.ndarray, int]]) -> list:
    """pedalboard's own reference: ONE board, every file in order, 1-s chunks, reset=False."""
    board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=value)])
    return [np.concatenate([board(audio[:, start:start + rate], rate, reset=False)
                            for start in range(0, audio.shape[1], rate)] or [audio], axis=1)
            for audio, rate in files]  # an empty file: no call, the board is left as it was


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
             (clips[3], 44100),
             # Prepared by a short first block, then a longer one at the same rate: cleared.
             (mono[0][:, :2000], 16000), (mono[1], 16000),
             # At 8 kHz the 1-s chunk (8000 samples) is shorter than the buffer: no clearing.
             (clips[0][:, :8000], 8000), (clips[1][:, :8150], 8000),
             # Blocks of 8191 then 8192 samples clear it; 8192 then longer ones do not.
             (clips[2][:, :8191], 44100), (clips[3], 44100), (clips[0][:, :8192], 22050),
             (clips[1], 22050),
             # An empty file at another rate leaves the board as it was; one sample is effected.
             (clips[2][:, :0], 16000), (clips[3], 22050), (clips[0][:, :1], 22050)]
    for value in (EFFECTS["reverb"].grid[0], 0.5, EFFECTS["reverb"].grid[-1]):
        expected = stream_through_one_board(value, files)
        chain = EFFECTS["reverb"].chain_fn(value)
        for index, ((audio, rate), reference) in enumerate(zip(files, expected, strict=True)):
            ours = chain.process(audio.copy(), rate)
            np.testing.assert_array_equal(ours, reference, err_msg=f"file {index}")
        for index in (1, 17, 21, 23, 24):  # the state did carry over
            assert not np.array_equal(expected[index], effects_fresh(value, files[index]))
        for index in (15, 19):  # the state was cleared
            np.testing.assert_array_equal(expected[index], effects_fresh(value, files[index]))


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

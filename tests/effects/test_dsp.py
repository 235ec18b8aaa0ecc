"""Tests of the compiled kernels (aesens.effects.dsp): the JUCE reverb equals pedalboard's
``Reverb`` bit for bit (fresh and with ``reset=False`` state), and the float32
``sosfilt`` equals scipy's."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
import scipy.signal
from conftest import clip_batch, misfit_outputs

from aesens.effects import EFFECTS, dsp
from aesens.effects.filters import MIN_KERNEL_CLIPS, cheby_lowpass_sos


@pytest.mark.parametrize("sample_rate", [44100, 22050])
def test_reverb_kernel_equals_pedalboard_bit_for_bit(sample_rate):
    effect = EFFECTS["reverb"]
    clips = clip_batch(MIN_KERNEL_CLIPS + 1, 0.25)
    for value in (effect.grid[0], effect.grid[11], effect.grid[-1]):
        board = effect.board_fn(value)
        expected = np.stack([board(clip, sample_rate) for clip in clips])
        np.testing.assert_array_equal(dsp.juce_reverb(clips, sample_rate, value),
                                      expected)
        np.testing.assert_array_equal(effect.apply_batch(clips, sample_rate, value), expected)


@pytest.mark.parametrize("sample_rate", [8002, 8018, 8057, 192000])
def test_reverb_delay_lengths_follow_juce_at_any_rate(sample_rate):
    """Rates at which JUCE's integer scaling of each delay family (left and right combs and
    all-passes) rounds differently from a scaling off by one in its divisor."""
    clips = clip_batch(2, 0.5)
    board = pedalboard.Reverb(room_size=0.5)
    expected = np.stack([board(clip, sample_rate) for clip in clips])
    np.testing.assert_array_equal(dsp.juce_reverb(clips, sample_rate, 0.5), expected)


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


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sample_rate", [8002, 8057, 44100, 192000])
def test_one_chain_kernel_equals_pedalboard_reset_false_in_any_pieces(channels, sample_rate):
    """The one-clip kernel works on blocks of at most ``CHAIN_BLOCK`` samples and at most the
    shortest comb (202 samples at 8002 Hz): calls shorter than, equal to and longer than a
    block, a single sample, and processing in place all continue pedalboard's reverb (the
    longest call first: a longer one would make pedalboard clear it)."""
    clip = clip_batch(1, 1.0, channels=channels, seed=4)[0]
    board = pedalboard.Reverb(room_size=0.8)
    state = dsp.ReverbState.fresh(sample_rate, channels)
    start = 0
    for length in (5000, 1, dsp.CHAIN_BLOCK - 1, dsp.CHAIN_BLOCK, dsp.CHAIN_BLOCK + 1, 201, 202,
                   203, 4000):
        piece = np.ascontiguousarray(clip[:, start:start + length])
        start += length
        expected = board(piece, sample_rate, reset=False)
        ours = dsp.juce_reverb(piece[None], sample_rate, 0.8, state=state, out=piece[None])
        assert np.shares_memory(ours, piece)
        np.testing.assert_array_equal(ours[0], expected)


@pytest.mark.parametrize("rate, channels, chains", [
    (22050, 2, 2), (48000, 2, 2), (44100, 1, 2), (44100, 2, 1), (44100, 2, 3)])
def test_reverb_refuses_a_state_of_other_clips(rate, channels, chains):
    """A state of another rate, channel count or number of chains (lower or higher)."""
    state = dsp.ReverbState.fresh(rate, channels, chains)
    with pytest.raises(ValueError, match=rf"^state for {chains} chain\(s\) of {channels} "
                                         rf"channel\(s\) at {rate} Hz does not fit clips "
                                         r"\(2, 2, 441\) at 44100 Hz$"):
        dsp.juce_reverb(clip_batch(2, 0.01), 44100, 0.4, state=state)


def test_reverb_of_no_clips_is_empty():
    for channels in (1, 2):
        clips = np.zeros((0, channels, 441), np.float32)
        assert dsp.juce_reverb(clips, 44100, 0.4).shape == clips.shape


def test_reverb_of_two_clips_equals_pedalboard_on_each():
    clips = clip_batch(2, 0.3, seed=3)
    board = pedalboard.Reverb(room_size=0.7)
    expected = np.stack([board(clip, 44100) for clip in clips])
    np.testing.assert_array_equal(dsp.juce_reverb(clips, 44100, 0.7), expected)


#: Reverb parameters other than pedalboard's defaults: a width below 1 mixes the channels.
OTHER_PARAMETERS = {"damping": 0.2, "wet_level": 0.5, "dry_level": 0.7, "width": 0.3}


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("n_clips", [1, MIN_KERNEL_CLIPS + 1])
def test_reverb_kernels_with_other_parameters_equal_pedalboard(channels, n_clips):
    """One clip and several clips with every parameter set, against pedalboard."""
    clips = clip_batch(n_clips, 0.2, channels=channels, seed=2)
    board = pedalboard.Reverb(room_size=0.6, **OTHER_PARAMETERS)
    expected = np.stack([board(clip, 44100) for clip in clips])
    ours = dsp.juce_reverb(clips, 44100, 0.6, **OTHER_PARAMETERS)
    np.testing.assert_array_equal(ours, expected)
    assert not np.array_equal(ours, dsp.juce_reverb(clips, 44100, 0.6))


def test_kernels_refuse_an_out_array_that_does_not_fit():
    clips = clip_batch(2, 0.01)
    sos = cheby_lowpass_sos(1600.0, 44100)
    for out in misfit_outputs(clips):
        with pytest.raises(ValueError, match=r"out must be a C-contiguous float32 array of "
                                             r"shape \(2, 2, 441\)"):
            dsp.sosfilt_float32(sos, clips, out=out)
        with pytest.raises(ValueError, match="out must be"):
            dsp.juce_reverb(clips, 44100, 0.5, out=out)
    for shape in ((2, 441), (441, 2), (1, 2, 2, 441), (2, 3, 441)):
        with pytest.raises(ValueError, match=r"expected \(clips, 1 or 2, samples\)"):
            dsp.juce_reverb(np.zeros(shape, np.float32), 44100, 0.5)

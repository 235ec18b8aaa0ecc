"""Tests of the batches the models get (aesens.extraction.batches): reading and effecting audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import chirp, published_effected_audio

from aesens.dataset import discover
from aesens.effects import EFFECTS, FLOAT
from aesens.errors import AesensError
from aesens.extraction.batches import (
    StackPool,
    apply_effect,
    prepare_batch,
    prepared_batches,
)
from aesens.extraction.setting import Setting


@pytest.mark.parametrize("name", list(EFFECTS))
def test_batched_effect_equals_per_clip_effect_bit_for_bit(name):
    effect = EFFECTS[name]
    clips = [chirp(0.25, f0=100 * (k + 1)) for k in range(5)]
    for rank in (0, len(effect.grid) // 2, len(effect.grid) - 1):
        value = effect.grid[rank]
        stacked = apply_effect(Setting(effect, rank), clips, 44100)
        for clip, ours in zip(clips, stacked, strict=True):
            np.testing.assert_array_equal(ours, effect.apply(clip, 44100, value))
            assert ours.dtype == np.float32 and ours.shape == clip.shape
    uneven = [chirp(0.5), chirp(0.25)]
    for clip, ours in zip(uneven, apply_effect(Setting(effect, 0), uneven, 44100), strict=True):
        np.testing.assert_array_equal(ours, effect.apply(clip, 44100, effect.grid[0]))


def test_float_semantics_is_each_file_fresh_without_round_trip(tiny_dataset):
    files = discover(tiny_dataset)
    effect = EFFECTS["reverb"]
    setting = Setting(effect, len(effect.grid) - 1, FLOAT)
    ours = [clip for _, clips, _ in prepared_batches(files, setting, 3, 2) for clip in clips]
    for path, clip in zip(files, ours, strict=True):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        np.testing.assert_array_equal(clip, effect.board_fn(1.0)(audio.T.copy(), rate))
        assert not np.array_equal(clip * 32768, np.round(clip * 32768))  # not 16-bit
    with pytest.raises(AesensError, match="unknown effect semantics 'exact'"):
        Setting(effect, 0, "exact")


def test_published_reverb_over_mixed_files_equals_one_pedalboard_board(tiny_dataset, tmp_path):
    """Mono, 22.05-kHz and short files in the stream: pedalboard's re-prepare rule applies."""
    cases = {"[cel][cla]0303__1": (chirp(channels=1)[0], 44100),
             "[cel][cla]0304__1": (chirp(sample_rate=22050).T, 22050),
             "[cel][cla]0305__1": (chirp(0.1).T, 44100)}
    for stem, (audio, rate) in cases.items():
        sf.write(tiny_dataset / "cel" / f"{stem}.wav", audio, rate, subtype="PCM_16")
    files = discover(tiny_dataset)
    effect = EFFECTS["reverb"]
    reference = published_effected_audio(files, effect, effect.grid[20], tmp_path)
    for batch_size, threads in ((5, 2), (1, 1)):
        ours = [clip for _, clips, _ in prepared_batches(files, Setting(effect, 20), batch_size,
                                                         threads)
                for clip in clips]
        for index, ((expected, _), clip) in enumerate(zip(reference, ours, strict=True)):
            np.testing.assert_array_equal(clip, expected, err_msg=f"file {index}")


@pytest.mark.parametrize("rate", [96000, 88200])
def test_effect_errors_name_the_files(tmp_path, rate):
    """An effect that refuses the audio (MP3 at an unsupported rate) names the file and setting."""
    path = tmp_path / "cel" / "[cel][cla]0001__1.wav"
    path.parent.mkdir()
    sf.write(path, np.zeros((rate // 10, 2), dtype=np.float32) + 0.1, rate, subtype="PCM_16")
    with pytest.raises(AesensError) as error:
        prepare_batch([path], Setting(EFFECTS["mp3"], 0))
    message = str(error.value)
    assert str(path) in message and "mp3 9" in message and "\n" not in message


def test_stack_pool_lends_an_array_again_only_once_nothing_refers_to_it():
    pool = StackPool(max_bytes=10 * 4 * 6)
    first = pool.take((2, 3))
    assert pool.take((2, 3)) is not first  # held by the name ``first``
    first_address = first.__array_interface__["data"][0]
    clip = first[1]
    del first
    kept = pool.take((2, 3))
    assert kept.__array_interface__["data"][0] != first_address  # a view still refers to it
    del clip
    again = pool.take((2, 3))
    assert again.__array_interface__["data"][0] == first_address
    assert again.dtype == np.float32
    del kept, again
    other = pool.take((4, 3))  # 48 bytes more do not fit: free arrays of (2, 3) make room
    assert other.shape == (4, 3) and sum(a.nbytes for a in pool._arrays) <= pool.max_bytes


@pytest.mark.parametrize("threads", [1, 2])
def test_clips_kept_across_batches_are_never_overwritten(tiny_dataset, tmp_path, threads):
    """A consumer that keeps some batches and drops others (so that their arrays are lent
    again) gets the published audio of every file, as pedalboard gives it."""
    files = discover(tiny_dataset)
    effect = EFFECTS["bitcrush"]
    reference = {path.stem: audio for path, (audio, _) in
                 zip(files, published_effected_audio(files, effect, effect.grid[3], tmp_path),
                     strict=True)}
    kept, addresses = {}, []
    for index, (stems, clips, _) in enumerate(prepared_batches(files, Setting(effect, 3), 2,
                                                               threads)):
        addresses.append(clips[0].__array_interface__["data"][0])
        for stem, clip in zip(stems, clips, strict=True):
            np.testing.assert_array_equal(clip, reference[stem], err_msg=stem)
            if index % 3 == 0:
                kept[stem] = clip  # a view of the lent array itself, not a copy
        del clips
    assert len(set(addresses)) < len(addresses)  # dropped batches' arrays were lent again
    assert len(kept) >= 4
    for stem, clip in kept.items():
        np.testing.assert_array_equal(clip, reference[stem], err_msg=stem)

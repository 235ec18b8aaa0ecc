"""Tests of the effect registry (aesens.effects): grids, parameter strings, identity
positions, the streaming reference, and how extraction applies the effects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pedalboard
import pytest
from conftest import apply_streaming, clip_batch, load_script, misfit_outputs, music

from aesens import store
from aesens.dataset import discover, load_audio
from aesens.effects import EFFECTS, PAPER_EFFECTS, Effect, get_effect
from aesens.effects.roundtrip import pcm16_roundtrip
from aesens.errors import AesensError, run_cli
from aesens.extraction.batches import prepared_batches
from aesens.extraction.setting import Setting

NEW_EFFECTS = [name for name in EFFECTS if name not in PAPER_EFFECTS]


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


def test_paper_effects_come_first_and_keep_their_grids():
    assert list(EFFECTS)[:4] == list(PAPER_EFFECTS)
    assert len(EFFECTS) == 4 + len(NEW_EFFECTS)
    assert EFFECTS["gain"].param_strings[0] == "-40.0" and len(EFFECTS["reverb"]) == 34


def test_new_grids_parameter_strings_and_identity_positions():
    expected = {
        "mp3": ([str(q) for q in range(9, -1, -1)], 10.0),
        "gsm": ([f"{w:.2f}" for w in np.linspace(0.05, 1, 20)], -1.0),
        "noise_white": ([f"{s:.1f}" for s in np.arange(40, -1, -2.5)], -1.0),
        "noise_pink": ([f"{s:.1f}" for s in np.arange(40, -1, -2.5)], -1.0),
        "pitch_shift": ([str(s) for s in range(-12, 13) if s], 11.5),
        "compressor": ([f"{t:.1f}" for t in range(-2, -61, -2)], -1.0),
        "clipping": ([f"{t:.1f}" for t in range(-1, -31, -1)], -1.0),
    }
    for name, (strings, identity) in expected.items():
        assert EFFECTS[name].param_strings == strings, name
        assert EFFECTS[name].identity_rank == identity, name
    highpass, resample = EFFECTS["highpass_cheby"], EFFECTS["resample"]
    assert highpass.param_strings[0] == "20.000" and highpass.param_strings[-1] == "4000.000"
    np.testing.assert_array_equal(highpass.grid, np.round(np.geomspace(20, 4000, 31), 3))
    assert highpass.identity_rank == -1
    assert resample.param_strings[0] == "4000" and resample.param_strings[-1] == "32000"
    assert len(resample) == 25 and resample.identity_rank == 25
    for name in NEW_EFFECTS:
        effect = get_effect(name)
        assert effect.unit and effect.board_fn is None and effect.chain_fn is None, name
    for name, effect in EFFECTS.items():  # identity_rank reads the direction off the ends
        steps = np.diff(np.asarray(effect.grid, dtype=float))
        assert (steps > 0).all() or (steps < 0).all(), name
        assert len(effect) >= 2 and len(set(effect.param_strings)) == len(effect), name


@pytest.mark.parametrize("grid, identity, rank", [
    ([0.0, 1.0, 2.0, 3.0], 1.5, 1.5), ([3.0, 2.0, 1.0, 0.0], 1.5, 1.5),
    ([3.0, 2.0, 1.0, 0.0], 2.75, 0.25), ([3.0, 2.0, 1.0, 0.0], 9.0, -1.0),
    ([3.0, 2.0, 1.0, 0.0], -9.0, 4.0), ([0.0, 1.0, 2.0, 3.0], -9.0, -1.0),
    ([0.0, 1.0], 0.25, 0.25), ([1.0, 0.0], 0.25, 0.75)])
def test_identity_rank_interpolates_on_ascending_and_descending_grids(grid, identity, rank):
    """An effect added with a descending grid and its identity inside places it right."""
    effect = Effect(name="custom", grid=np.array(grid), param_format="{:.1f}",
                    apply_fn=lambda audio, rate, value: audio, unit="units",
                    identity_value=identity)
    assert effect.identity_rank == pytest.approx(rank, abs=1e-12)


@pytest.mark.parametrize("name", ["gain", "gsm", "noise_white", "noise_pink", "compressor",
                                  "clipping"])
def test_effects_leave_audio_unchanged_at_their_identity_value(name):
    """Where the uneffected audio is a real setting, the effect there is the identity."""
    effect = EFFECTS[name]
    audio = music(1.0, 44100, 2)
    np.testing.assert_array_equal(effect.apply(audio, 44100, effect.identity_value), audio)


def test_unknown_effect():
    with pytest.raises(AesensError, match="unknown effect 'flanger'; choose one of bitcrush"):
        get_effect("flanger")


def test_registered_effects_cannot_be_changed_by_accident():
    """Every run reads the one registry: its entries are frozen."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        EFFECTS["gain"].grid = np.zeros(3)


def test_streaming_reference_of_the_low_pass_filters_the_whole_excerpt(stereo_chirp):
    """Without a pedalboard board (the low-pass), the reference is the effect itself."""
    lowpass = EFFECTS["lowpass_cheby"]
    np.testing.assert_array_equal(apply_streaming(lowpass, stereo_chirp, 44100, 2000.0),
                                  lowpass.apply(stereo_chirp, 44100, 2000.0))


def test_streaming_reference_matches_a_hand_written_board_loop(stereo_chirp):
    board = pedalboard.Pedalboard([pedalboard.Reverb(room_size=0.5)])
    pieces = [board(stereo_chirp[:, i:i + 44100], 44100, reset=False)
              for i in range(0, stereo_chirp.shape[1], 44100)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1),
                                  apply_streaming(EFFECTS["reverb"], stereo_chirp, 44100, 0.5))


def test_mono_audio_keeps_its_shape(mono_chirp):
    for effect in EFFECTS.values():
        assert effect.apply(mono_chirp, 44100, effect.grid[3]).shape == mono_chirp.shape


@pytest.mark.parametrize("name", NEW_EFFECTS)
def test_new_effects_handle_mono_stereo_and_both_rates(name):
    effect = EFFECTS[name]
    for channels, sample_rate in ((1, 44100), (2, 22050)):
        audio = music(0.3, sample_rate, channels)
        out = effect.apply(audio, sample_rate, effect.grid[len(effect) // 2])
        assert out.shape == audio.shape and out.dtype == np.float32
        assert np.all(np.isfinite(out))


def test_weakest_setting_is_gentler_than_the_strongest():
    """Sample-wise signal-to-difference ratios (dB) at the two ends of each grid."""
    audio = music(1.0, 44100, 2)

    def ratio(name: str, value: float) -> float:
        difference = EFFECTS[name].apply(audio, 44100, value).astype(float) - audio
        return 10 * np.log10(np.sum(audio.astype(float) ** 2) / max(np.sum(difference ** 2),
                                                                     1e-30))

    for name in ("mp3", "gsm", "noise_white", "noise_pink", "compressor", "clipping",
                 "resample"):
        grid = EFFECTS[name].grid
        weakest, strongest = (grid[-1], grid[0]) if EFFECTS[name].identity_rank > 0 else (
            grid[0], grid[-1])
        assert ratio(name, weakest) > ratio(name, strongest) + 5, name


@pytest.mark.parametrize("name", ["noise_white", "highpass_cheby", "gsm"])
def test_extraction_applies_new_effects_per_file_then_the_16_bit_round_trip(tiny_dataset,
                                                                           name):
    """The published semantics: each file read as pedalboard reads it, effected alone (no
    chain: whatever the batch size and threads), then the 16-bit round trip."""
    files = discover(tiny_dataset)
    effect = EFFECTS[name]
    rank = len(effect) - 1
    expected = []
    for path in files:
        audio, rate = load_audio(path, reader="pedalboard")
        expected.append(pcm16_roundtrip(effect.apply(audio, rate, effect.grid[rank])))
    for batch_size, threads in ((1, 1), (5, 2)):
        setting = Setting(effect, rank)
        assert setting.new_chain() is None
        ours = [clip for _, clips, _ in prepared_batches(files, setting, batch_size, threads)
                for clip in clips]
        for index, (clip, reference) in enumerate(zip(ours, expected, strict=True)):
            np.testing.assert_array_equal(clip, reference, err_msg=f"file {index}")


def test_stage_2a2_extracts_a_new_effect(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    stage2 = load_script("2A.2_featureExtract_audioEffects.py")
    assert run_cli(stage2.main, ["mp3", "mfcc", "0", "1", "--quiet"]) == 0
    strongest, weaker = (store.read_embeddings(f"embeddings/embeddings_mp3_{quality}.h5",
                                               "mfcc") for quality in ("9", "8"))
    assert strongest[0].shape == weaker[0].shape == (12, 40)
    assert np.all(np.isfinite(strongest[0])) and not np.array_equal(strongest[0], weaker[0])
    assert list(strongest[1]) == [path.stem for path in discover(tiny_dataset)]


@pytest.mark.parametrize("name", ["gain", "compressor"])  # a batch function; clip by clip
def test_apply_batch_writes_into_out_and_refuses_arrays_that_do_not_fit(name):
    effect = EFFECTS[name]
    clips = clip_batch(2, 0.05)
    value = effect.grid[len(effect) // 2]
    expected = np.stack([effect.apply(clip, 44100, value) for clip in clips])
    out = np.zeros_like(clips)
    assert effect.apply_batch(clips, 44100, value, out=out) is out
    np.testing.assert_array_equal(out, expected)
    for misfit in misfit_outputs(clips):
        with pytest.raises(ValueError, match=r"^out must be a C-contiguous float32 array of "
                                             r"shape \(2, 2, 2205\)$"):
            effect.apply_batch(clips, 44100, value, out=misfit)

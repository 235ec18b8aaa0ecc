"""Tests of aesens.dataset: IRMAS names, discovery, audio loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from aesens.dataset import (
    GENRES,
    INSTRUMENTS,
    DatasetLocation,
    discover,
    load_audio,
    locate_dataset,
    parse_stem,
)
from aesens.errors import AesensError


def test_parse_simple_pattern():
    name = parse_stem("[cel][cla]0001__1")
    assert (name.instrument, name.genre, name.group, name.excerpt) == ("cel", "cla", "0001", 1)
    assert name.drums is None and name.prefix is None
    assert name.instrument_name == "cello" and name.genre_name == "classical"


def test_parse_prefixed_pattern_and_wav_suffix():
    name = parse_stem("some/dir/008__[gac][dru][jaz_blu]0058__12.wav")
    assert name.stem == "008__[gac][dru][jaz_blu]0058__12"
    assert (name.prefix, name.instrument) == ("008", "gac")
    assert (name.drums, name.genre) == ("dru", "jaz_blu")
    assert (name.group, name.excerpt) == ("0058", 12)
    assert name.instrument_name == "guitar_acc" and name.genre_name == "jazz_blue"


def test_every_real_name_of_the_paper_split_parses(paper_split_csv):
    split = pd.read_csv(paper_split_csv)
    assert len(split) == 4834
    names = [parse_stem(stem) for stem in split["file_name"]]
    assert [n.instrument_name for n in names] == list(split["instrument"])
    assert [n.genre_name for n in names] == list(split["genre"])
    assert {n.drums for n in names} == {None, "dru", "nod", "---"}
    # The paper's split never puts two excerpts of one recording on both sides.
    split["group"] = [n.group for n in names]
    sides = split.groupby(["instrument", "group"])["split"].nunique()
    assert sides.max() == 1


@pytest.mark.parametrize("bad", ["cel_0001", "[xyz][cla]0001__1", "[cel][rock]0001__1",
                                 "[cel][cla]001__1", "08__[cel][yes][cla]0001__1"])
def test_unparsable_names_give_one_line_error(bad):
    with pytest.raises(AesensError) as error:
        parse_stem(bad)
    assert bad in str(error.value) and "\n" not in str(error.value)


def test_tables_cover_irmas_codes():
    assert list(INSTRUMENTS) == ["cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru",
                                 "vio", "voi"]
    assert set(GENRES) == {"cla", "pop_roc", "jaz_blu", "cou_fol", "lat_sou"}


def test_discover_is_sorted_and_complete(tiny_dataset):
    files = discover(tiny_dataset)
    assert len(files) == 12
    assert files == sorted(files, key=lambda p: (list(INSTRUMENTS).index(p.parent.name), p.name))


def test_discover_missing_and_empty_folders(tmp_path):
    with pytest.raises(AesensError, match="does not exist"):
        discover(tmp_path / "nope")
    (tmp_path / "empty" / "cel").mkdir(parents=True)
    with pytest.raises(AesensError, match="no WAV files"):
        discover(tmp_path / "empty")


def test_discover_rejects_bad_name_and_wrong_folder(tiny_dataset):
    bad = tiny_dataset / "cel" / "not_irmas.wav"
    bad.write_bytes(b"")
    with pytest.raises(AesensError, match="not_irmas"):
        discover(tiny_dataset)
    bad.unlink()
    (tiny_dataset / "flu" / "[cel][cla]0009__1.wav").write_bytes(b"")
    with pytest.raises(AesensError, match="does not match its folder"):
        discover(tiny_dataset)


def test_load_audio_formats(tmp_path, stereo_chirp):
    path = tmp_path / "x.wav"
    sf.write(path, stereo_chirp.T, 44100, subtype="PCM_16")
    audio, rate = load_audio(path)
    assert audio.shape == stereo_chirp.shape and audio.dtype == np.float32 and rate == 44100
    np.testing.assert_allclose(audio, stereo_chirp, atol=1 / 2 ** 15)
    sf.write(path, stereo_chirp[0], 22050, subtype="PCM_24")
    audio, rate = load_audio(path)
    assert audio.shape == (1, stereo_chirp.shape[1]) and rate == 22050


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_16_bit_files_read_exactly_as_libsndfile_floats(tmp_path, channels):
    rng = np.random.default_rng(channels)
    samples = rng.integers(-32768, 32768, size=(4410, channels), dtype=np.int16)
    samples[:3] = [[-32768], [32767], [0]]  # the extremes and zero, in every channel
    path = tmp_path / "x.wav"
    sf.write(path, samples, 44100, subtype="PCM_16")
    audio, rate = load_audio(path)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    assert audio.dtype == np.float32 and audio.flags.c_contiguous and rate == 44100
    np.testing.assert_array_equal(audio, expected.T)


def test_load_audio_corrupt_and_empty(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(AesensError, match="corrupt.wav: cannot read audio"):
        load_audio(corrupt)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), dtype=np.float32), 44100)
    with pytest.raises(AesensError, match="empty.wav: the file holds no samples"):
        load_audio(empty)


def test_pedalboard_reader_equals_pedalboard_audiofile(tmp_path):
    """reader='pedalboard' converts every 16-bit value as pedalboard's AudioFile does (/ 32767)."""
    from pedalboard.io import AudioFile

    values = np.arange(-32768, 32768, dtype=np.int16)
    path = tmp_path / "all.wav"
    sf.write(path, np.stack([values, values[::-1]], axis=1), 44100, subtype="PCM_16")
    with AudioFile(str(path)) as audio_file:
        expected = audio_file.read(audio_file.frames)
    audio, rate = load_audio(path, reader="pedalboard")
    assert rate == 44100 and audio.dtype == np.float32
    np.testing.assert_array_equal(audio, expected)
    assert audio[0, -1] == 1.0 and audio[0, 0] < -1.0
    soundfile_audio, _ = load_audio(path)
    np.testing.assert_array_equal(soundfile_audio, sf.read(path, dtype="float32")[0].T)
    assert np.count_nonzero(soundfile_audio != audio) > 60000


def test_pedalboard_reader_reads_other_formats_with_pedalboard(tmp_path, stereo_chirp):
    from pedalboard.io import AudioFile

    path = tmp_path / "float.wav"
    sf.write(path, stereo_chirp.T, 22050, subtype="PCM_24")
    with AudioFile(str(path)) as audio_file:
        expected = audio_file.read(audio_file.frames)
    audio, rate = load_audio(path, reader="pedalboard")
    assert rate == 22050
    np.testing.assert_array_equal(audio, expected)


def test_dataset_location_order(tmp_path, monkeypatch):
    """Option, then environment, then ./datasets, then the published layout one folder up."""
    code = tmp_path / "code-repo"
    code.mkdir()
    monkeypatch.chdir(code)
    monkeypatch.delenv("AESENS_DATASET_DIR", raising=False)
    data = Path("datasets/IRMAS-TrainingData")
    assert locate_dataset() == DatasetLocation(data, Path("."))  # nothing anywhere: the default
    (tmp_path / data).mkdir(parents=True)
    published = locate_dataset()
    assert (published.dataset_dir, published.basedir) == (".." / data, Path(".."))
    assert published.note.startswith("datasets/IRMAS-TrainingData is absent: using ../datasets/")
    assert locate_dataset(basedir=".") == DatasetLocation(data, Path("."))  # explicit base
    assert locate_dataset(basedir=tmp_path) == DatasetLocation(tmp_path / data, tmp_path)
    assert locate_dataset("mine") == DatasetLocation(Path("mine"), Path("."))
    monkeypatch.setenv("AESENS_DATASET_DIR", "from-env")
    assert locate_dataset() == DatasetLocation(Path("from-env"), Path("."))
    assert locate_dataset("mine").dataset_dir == Path("mine")
    monkeypatch.delenv("AESENS_DATASET_DIR")
    (code / data).mkdir(parents=True)
    assert locate_dataset() == DatasetLocation(data, Path("."))  # ./datasets wins

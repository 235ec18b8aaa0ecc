"""Tests of the extraction stages 2A.1, 2A.2 and 2A.3
(aesens.extraction.run and the root scripts)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import chirp, load_script, published_effected_audio, read_attrs, write_tiny_dataset
from threadpoolctl import threadpool_limits

from aesens import store
from aesens.cli.options import add_model_options, model_specs
from aesens.dataset import discover
from aesens.effects import EFFECTS, FLOAT
from aesens.errors import AesensError, run_cli
from aesens.extraction.batches import prepared_batches
from aesens.extraction.run import (
    WorkUnit,
    extract,
    merge_shards,
    run_unit,
    shard_files,
    work_units,
)
from aesens.extraction.setting import Setting, expected_attributes, select_ranks
from aesens.models import ModelSpec, get_model, loaded_model
from aesens.testing import embed_files

ROOT = Path(__file__).resolve().parents[2]
stage1 = load_script("2A.1_featureExtract_original.py")
stage2 = load_script("2A.2_featureExtract_audioEffects.py")
stage3 = load_script("2A.3_train_test_split.py")


@pytest.fixture
def workdir(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    return tmp_path


def test_original_and_effected_stages_write_published_layout(workdir, tiny_dataset):
    assert run_cli(stage1.main, ["mfcc", "--quiet"]) == 0
    features, keys = store.read_embeddings("embeddings/embeddings.h5", "mfcc")
    assert features.shape == (12, 40)
    assert sorted(keys) == sorted(p.stem for p in discover(tiny_dataset))
    assert run_cli(stage2.main, ["gain", "mfcc", "0", "1", "--quiet"]) == 0
    for param in ("-40.0", "-38.5"):
        effected, effected_keys = store.read_embeddings(f"embeddings/embeddings_gain_{param}.h5",
                                                        "mfcc")
        assert list(effected_keys) == list(keys)
        assert not np.allclose(effected, features)
    attrs = read_attrs("embeddings/embeddings_gain_-40.0.h5", "mfcc")
    assert attrs["effect"] == "gain" and attrs["param"] == "-40.0" and attrs["n_files"] == 12


def test_effected_embeddings_equal_embedding_the_effected_audio(workdir, tiny_dataset):
    """Published semantics: the rows of pedalboard's one-board stream through 16-bit WAVs."""
    model = get_model("mfcc")
    files = discover(tiny_dataset)
    effect = EFFECTS["reverb"]
    results = embed_files(files, [model], Setting(effect, 5), progress=False)["mfcc"]
    reference = published_effected_audio(files, effect, effect.grid[5], workdir)
    with threadpool_limits(limits=1, user_api="blas"):  # as in the units
        expected = model.embed([audio for audio, _ in reference], reference[0][1])
    np.testing.assert_array_equal(results[0], np.concatenate(expected))
    floats = embed_files(files, [model], Setting(effect, 5, FLOAT), progress=False)["mfcc"]
    audio, rate = sf.read(files[3], dtype="float32", always_2d=True)
    fresh = model.embed([effect.apply(audio.T, rate, effect.grid[5])], rate)[0]
    np.testing.assert_allclose(floats[0][3], fresh[0], rtol=1e-5)
    assert not np.array_equal(floats[0][3], results[0][3])


def test_grid_listing(workdir, capsys):
    assert run_cli(stage2.main, ["reverb", "mfcc", "-1", "-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("There are 34 parameters in the grid\n")
    assert "34 settings" in out and "1.00" in out


def test_minus_one_prints_the_count_before_the_embedding_name_is_checked(workdir, capsys):
    """As published, ``2A.2 gain nonexistent -1 0`` prints the count (and exits 0)."""
    assert run_cli(stage2.main, ["gain", "nonexistent", "-1", "0"]) == 0
    assert capsys.readouterr().out.startswith("There are 31 parameters in the grid\n")
    assert run_cli(stage2.main, ["gain", "nonexistent", "0", "0"]) == 2
    assert "unknown embedding 'nonexistent'" in capsys.readouterr().err


@pytest.mark.parametrize("effect", ["bitcrush", "gain"])
def test_ranks_are_the_published_slice(effect):
    """Every ``from to`` in -40..40 selects what the published ``params[from:to + 1]`` held."""
    params = list(EFFECTS[effect].grid)
    for first in range(-40, 41):
        if first == -1:  # the grid listing
            continue
        for last in range(-40, 41):
            ranks = select_ranks(EFFECTS[effect], first, last)
            assert [params[rank] for rank in ranks] == params[first:last + 1], (first, last)


def test_to_past_the_end_runs_to_the_end_of_the_grid(workdir, capsys):
    assert run_cli(stage2.main, ["bitcrush", "mfcc", "10", "99", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "bitcrush ranks 10..11: wrote 2 file(s)" in captured.out
    assert "select ranks 10..11 of the bitcrush grid (ranks 0..11)" in captured.err
    assert sorted(path.name for path in Path("embeddings").glob("*.h5")) == [
        "embeddings_bitcrush_14.h5", "embeddings_bitcrush_15.h5"]


@pytest.mark.parametrize("first, last", [("3", "2"), ("0", "-1"), ("-3", "-1"), ("40", "50")])
def test_an_empty_rank_range_runs_nothing_and_says_so(workdir, capsys, first, last):
    assert run_cli(stage2.main, ["reverb", "mfcc", first, last]) == 0
    out = capsys.readouterr().out
    assert out == (f"ranks {first}..{last} select no setting of the reverb grid (ranks 0..33), "
                   f"as the published params[{first}:{int(last) + 1}]: nothing to do\n")
    assert not Path("embeddings").exists()


def test_negative_ranks_count_from_the_end(workdir, capsys):
    assert run_cli(stage2.main, ["bitcrush", "none", "-2", "99", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "select ranks 10..11 of the bitcrush grid" in captured.err
    assert captured.out.count("wrote 12 WAV file(s)") == 2
    assert (workdir / "datasets" / "audio-embeddings" / "irmas-wav-bitcrush_15").is_dir()


@pytest.mark.parametrize("argv, message", [
    (["flanger", "mfcc", "0", "1"], "unknown effect 'flanger'"),
    (["gain", "vggish", "0", "1"], "unknown embedding 'vggish'"),
])
def test_unknown_names(workdir, capsys, argv, message):
    assert run_cli(stage2.main, argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_dataset_folder_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "2A.1_featureExtract_original.py"), "mfcc",
         "--dataset-dir", str(tmp_path / "missing")],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: dataset folder") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_corrupt_file_is_named(workdir, tiny_dataset, capsys):
    (tiny_dataset / "pia" / "[pia][cla]0299__1.wav").write_bytes(b"RIFF....WAVEjunk")
    assert run_cli(stage1.main, ["mfcc", "--quiet"]) == 2
    assert "[pia][cla]0299__1.wav: cannot read audio" in capsys.readouterr().err
    assert not Path("embeddings/embeddings.h5").exists()


def test_unusual_but_valid_files_are_processed(workdir, tiny_dataset):
    """Silent, very short, mono, 22.05-kHz and 24-bit files are embedded, not rejected."""
    cases = {
        "[cel][cla]0301__1": (np.zeros((44100 * 3, 2)), 44100, "PCM_16"),
        "[cel][cla]0302__1": (chirp(0.05).T, 44100, "PCM_16"),
        "[cel][cla]0303__1": (chirp(channels=1)[0], 44100, "PCM_16"),
        "[cel][cla]0304__1": (chirp(sample_rate=22050).T, 22050, "PCM_16"),
        "[cel][cla]0305__1": (chirp().T, 44100, "PCM_24"),
    }
    for stem, (audio, rate, subtype) in cases.items():
        sf.write(tiny_dataset / "cel" / f"{stem}.wav", audio, rate, subtype=subtype)
    with pytest.warns(UserWarning, match="0301__1.wav is silent"):
        assert run_cli(stage2.main, ["lowpass_cheby", "mfcc,crepe", "30", "30", "--quiet"]) == 0
    path = "embeddings/embeddings_lowpass_cheby_18333.333.h5"
    for name in ("mfcc", "crepe"):
        features, keys = store.read_embeddings(path, name)
        assert np.isfinite(features).all()
        assert set(cases) <= set(keys)
    crepe, keys = store.read_embeddings(path, "crepe")
    assert (keys == "[cel][cla]0302__1").sum() == 1  # 0.05 s: one centred frame
    assert (keys == "[cel][cla]0304__1").sum() == 13  # 3 s at any rate: 13 frames


def test_unwritable_output(workdir, capsys):
    Path("blocker").write_text("a file where a folder should be")
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--embeddings-dir", "blocker/emb"]) == 2
    assert "cannot write in blocker/emb" in capsys.readouterr().err


class Crashing:
    """Wraps a model and raises after a number of calls, like a run killed mid-way."""

    def __init__(self, model, calls):
        self.model, self.calls = model, calls
        self.name, self.frame_level, self.dim = model.name, model.frame_level, model.dim
        self.sample_rate = model.sample_rate

    def embed(self, batch, sample_rate):
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return self.model.embed(batch, sample_rate)

    def metadata(self):
        return self.model.metadata()


def test_interrupted_run_resumes_and_loses_nothing(workdir, tiny_dataset):
    files = discover(tiny_dataset)
    model = get_model("mfcc")
    settings = [Setting(EFFECTS["bitcrush"], rank) for rank in range(3)]
    extract(files, [model], settings[:1], progress=False)
    first = Path("embeddings/embeddings_bitcrush_4.h5")
    before = first.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        extract(files, [Crashing(model, calls=1)], settings, batch_size=4, force=True,
                progress=False)
    assert first.read_bytes() == before  # the interrupted rewrite left the old file intact
    assert not Path("embeddings/embeddings_bitcrush_5.h5").exists()
    written = extract(files, [model], settings, progress=False)
    assert [p.name for p in written] == ["embeddings_bitcrush_5.h5", "embeddings_bitcrush_6.h5"]
    assert not list(Path("embeddings").glob("*.part"))


def test_split_stage(workdir, capsys):
    # Five recordings per class so that a 4-fold group split is possible.
    root = Path("ds")
    for code in ("cel", "flu"):
        for group in range(5):
            for excerpt in (1, 2):
                stem = f"[{code}][cla]{group + (10 if code == 'flu' else 0):04d}__{excerpt}"
                (root / code).mkdir(parents=True, exist_ok=True)
                sf.write(root / code / f"{stem}.wav", chirp(0.5).T, 44100)
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--dataset-dir", "ds"]) == 0
    assert run_cli(stage3.main, []) == 0
    split = pd.read_csv("train_test_split.csv")
    assert list(split.columns) == ["instrument", "genre", "file_name", "split"]
    train = split[split["split"] == "train"]
    assert train["instrument"].value_counts().to_dict() == {"cello": 6, "flute": 6}
    assert split["split"].eq("test").sum() == 6  # 18 of 20: balancing drops 2 train files
    groups = split["file_name"].str.slice(-7, -3)
    assert split.groupby(groups)["split"].nunique().max() == 1
    first = Path("train_test_split.csv").read_bytes()
    assert run_cli(stage3.main, []) == 0
    assert Path("train_test_split.csv").read_bytes() == first


def test_split_stage_without_embeddings(workdir, capsys):
    assert run_cli(stage3.main, []) == 2
    assert "run 2A.1_featureExtract_original.py first" in capsys.readouterr().err


def test_unknown_embedding_message_lists_models():
    with pytest.raises(AesensError, match="choose one of crepe"):
        get_model("vggish")


def test_rows_do_not_depend_on_shards_batches_or_threads(tiny_dataset):
    files = discover(tiny_dataset)
    setting = Setting(EFFECTS["reverb"], 7)
    model = get_model("mfcc")
    reference = embed_files(files, [model], setting, progress=False)["mfcc"]
    for batch_size, shard_size, threads in ((1, 1, 1), (5, 7, 3), (2, 3, 2)):
        units = work_units(files, [model], setting, 0, batch_size, shard_size, threads)
        assert all(isinstance(unit, WorkUnit) for unit in units)
        features, keys = merge_shards([run_unit(unit) for unit in reversed(units)])["mfcc"]
        np.testing.assert_array_equal(features, reference[0])
        assert list(keys) == [path.stem for path in files] == list(reference[1])


def test_shards_hold_whole_batches():
    files = [Path(f"{index}.wav") for index in range(10)]
    assert [len(shard) for shard in shard_files(files, 3, 2)] == [4, 4, 2]
    assert [len(shard) for shard in shard_files(files, 512, 32)] == [10]
    with pytest.raises(AesensError, match="at least 1"):
        shard_files(files, 0, 32)


def test_model_specs_are_built_once_per_process():
    spec = ModelSpec.for_name("mfcc", device="cpu", batch_size=8)
    assert spec.loader == "aesens.models.mfcc:load"
    assert loaded_model(spec) is loaded_model(ModelSpec.for_name("mfcc", "cpu", 8))
    with pytest.raises(AesensError, match="unknown embedding 'vggish'"):
        ModelSpec.for_name("vggish")


def test_gpu_precision_is_full_float32_unless_tf32_is_allowed():
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    default = model_specs(["crepe", "mfcc"], parser.parse_args([]))
    full = model_specs(["crepe"], parser.parse_args(["--device", "cpu"]))
    fast = model_specs(["crepe"], parser.parse_args(["--allow-tf32"]))
    assert [spec.tf32 for spec in default] == [False, False] and full[0].tf32 is False
    assert fast[0].tf32 is True and ModelSpec.for_name("mfcc").tf32 is False
    assert full[0].build().device == "cpu"  # the TF32 switch is left alone off the GPU


@pytest.mark.parametrize("name", ["reverb", "gain", "lowpass_cheby", "bitcrush"])
def test_published_audio_whatever_the_shards_batches_and_threads(tiny_dataset, tmp_path, name):
    """Bit for bit pedalboard's one board over the dataset in order, through 16-bit WAVs."""
    files = discover(tiny_dataset)
    effect = EFFECTS[name]
    rank = len(effect.grid) - 1
    reference = published_effected_audio(files, effect, effect.grid[rank], tmp_path)
    setting = Setting(effect, rank)
    for batch_size, shard_size, threads in ((1, 1, 1), (2, 3, 2), (5, 7, 3), (4, 12, 4)):
        units = work_units(files, [], setting, 0, batch_size, shard_size, threads)
        by_unit = {unit.shard_index: _unit_audio(unit) for unit in reversed(units)}
        ours = [clip for index in sorted(by_unit) for clip in by_unit[index]]
        # In this process, in order: the units continue one shared chain instead.
        in_order = [clip for unit in work_units(files, [], setting, 0, batch_size, shard_size,
                                                threads, in_order=True)
                    for clip in _unit_audio(unit)]
        for index, (expected, _) in enumerate(reference):
            np.testing.assert_array_equal(ours[index], expected, err_msg=f"file {index}")
            np.testing.assert_array_equal(in_order[index], expected, err_msg=f"file {index}")


def _unit_audio(unit: WorkUnit) -> list[np.ndarray]:
    """The effected audio a unit gives its models."""
    chain = unit.chain if unit.chain is None or unit.chain_in_order else unit.chain.copy()
    return [clip for _, clips, _ in prepared_batches(unit.files, unit.setting, unit.batch_size,
                                                     unit.prepare_threads, chain)
            for clip in clips]


def test_embeddings_of_other_settings_are_redone_with_a_message(workdir, capsys):
    assert run_cli(stage2.main, ["gain", "mfcc", "2", "2", "--quiet",
                                 "--effect-semantics", "float"]) == 0
    path = "embeddings/embeddings_gain_-37.0.h5"
    assert read_attrs(path, "mfcc")["effect_semantics"] == "float"
    floats = store.read_embeddings(path, "mfcc")[0]
    capsys.readouterr()
    assert run_cli(stage2.main, ["gain", "mfcc", "2", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "mfcc was computed with effect_semantics=float (expected effect_semantics=" \
           "published); recomputing it" in err
    assert read_attrs(path, "mfcc")["effect_semantics"] == "published"
    assert not np.array_equal(store.read_embeddings(path, "mfcc")[0], floats)
    assert run_cli(stage2.main, ["gain", "mfcc", "2", "2", "--quiet"]) == 0
    assert "1 already complete" in capsys.readouterr().out
    # A file of an older version (no such attribute) is not taken as complete either.
    features, keys = store.read_embeddings(path, "mfcc")
    store.write_embeddings(path, "mfcc", features, keys, {"effect": "gain"})
    assert run_cli(stage2.main, ["gain", "mfcc", "2", "2", "--quiet"]) == 0
    assert "no effect_semantics attribute (written by an older version" in capsys.readouterr().err


def test_openl3_framing_is_a_settings_attribute(tiny_dataset, tmp_path):
    from aesens.models import openl3

    spec = ModelSpec.for_name("openl3")
    assert expected_attributes(Setting(), spec) == {"center": True, "hop_seconds": 0.1}
    assert expected_attributes(Setting(EFFECTS["gain"], 0), spec) == {
        "effect_semantics": "published", "effect_reader": "pedalboard",
        **openl3.SETTINGS_ATTRIBUTES}
    path = tmp_path / "embeddings.h5"
    store.write_embeddings(path, "openl3", np.zeros((2, 512)), ["a", "b"],
                           {"center": False, "hop_seconds": 0.1})
    reason = store.incomplete_reason(path, "openl3", {"a", "b"},
                                     expected_attributes(Setting(), spec))
    assert reason == "was computed with center=False (expected center=True)"


def test_effect_only_keeps_the_published_wavs(workdir, tiny_dataset, capsys):
    files = discover(tiny_dataset)
    effect = EFFECTS["reverb"]
    assert run_cli(stage2.main, ["reverb", "none", "4", "4", "--quiet"]) == 0
    assert "wrote 12 WAV file(s), 0 already there" in capsys.readouterr().out
    folder = workdir / "datasets" / "audio-embeddings" / "irmas-wav-reverb_0.13"
    reference = workdir / "reference"
    reference.mkdir()
    published_effected_audio(files, effect, effect.grid[4], reference)
    for index, path in enumerate(files):
        ours = folder / path.parent.name / path.name
        assert ours.read_bytes() == (reference / f"{index:05d}.wav").read_bytes()
    assert not list(folder.rglob(".*"))  # no temporary files left
    # Resumable: a missing file is rewritten, the rest kept (the reverb still runs over them).
    (folder / files[5].parent.name / files[5].name).unlink()
    assert run_cli(stage2.main, ["reverb", "none", "4", "4", "--quiet"]) == 0
    assert "wrote 1 WAV file(s), 11 already there" in capsys.readouterr().out
    assert (folder / files[5].parent.name / files[5].name).read_bytes() == (
        reference / "00005.wav").read_bytes()
    assert not Path("embeddings").exists()
    assert run_cli(stage2.main, ["reverb", "none", "4", "4", "--effect-semantics", "float"]) == 2
    assert "--effect-semantics published" in capsys.readouterr().err


@pytest.fixture
def published_layout(tmp_path, monkeypatch):
    """The published layout: the data in ``<experiment>/datasets``, the scripts run from
    ``<experiment>/code-repo`` (no dataset option, no environment variable)."""
    write_tiny_dataset(tmp_path / "datasets" / "IRMAS-TrainingData")
    code = tmp_path / "code-repo"
    code.mkdir()
    monkeypatch.chdir(code)
    monkeypatch.delenv("AESENS_DATASET_DIR", raising=False)
    return tmp_path


def test_published_layout_reads_the_data_one_folder_up_and_says_so(published_layout, capsys):
    assert run_cli(stage1.main, ["mfcc", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("note: datasets/IRMAS-TrainingData is absent: using "
                            "../datasets/IRMAS-TrainingData (the published layout, data one "
                            "folder above the code; pass --basedir or --dataset-dir to choose)\n")
    _, keys = store.read_embeddings("embeddings/embeddings.h5", "mfcc")
    assert len(keys) == 12


def test_published_layout_keeps_the_effect_only_wavs_beside_the_data(published_layout, capsys):
    assert run_cli(stage2.main, ["gain", "none", "0", "0", "--quiet"]) == 0
    assert capsys.readouterr().err.count("\n") == 1
    folder = published_layout / "datasets" / "audio-embeddings" / "irmas-wav-gain_-40.0"
    assert len(list(folder.glob("*/*.wav"))) == 12
    assert not Path("datasets").exists()


def test_the_working_folders_dataset_and_explicit_options_win(published_layout, tmp_path,
                                                              capsys):
    here = write_tiny_dataset(Path("datasets") / "IRMAS-TrainingData", seconds=1.0)
    next((here / "cel").iterdir()).unlink()
    assert run_cli(stage1.main, ["mfcc", "--quiet"]) == 0  # ./datasets exists: used, no note
    assert "note" not in capsys.readouterr().err
    assert len(store.read_embeddings("embeddings/embeddings.h5", "mfcc")[1]) == 11
    elsewhere = write_tiny_dataset(tmp_path / "elsewhere" / "IRMAS-TrainingData")
    assert run_cli(stage2.main, ["gain", "none", "0", "0", "--quiet", "--dataset-dir",
                                 str(elsewhere)]) == 0  # the base folder stays .
    assert "note" not in capsys.readouterr().err
    assert len(list(Path("datasets/audio-embeddings").glob("*/*/*.wav"))) == 12
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--basedir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"{empty}/datasets/IRMAS-TrainingData does not exist" in err and "note" not in err

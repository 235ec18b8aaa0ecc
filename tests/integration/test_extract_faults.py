"""Faults of the extraction stages and the store: nothing lost, one line, no traceback.

Each category has several instances: non-finite audio and features, damaged
setting files, write errors (disk full, output folders that are files or
cannot be created), file modes, rewrite sizes and lock files.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
from conftest import chirp, load_script, read_attrs

from aesens import safe_files, store
from aesens.dataset import discover, load_audio, read_skip_list
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli
from aesens.extraction.output import SKIPPED_ATTR
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import get_model

stage1 = load_script("2A.1_featureExtract_original.py")
stage2 = load_script("2A.2_featureExtract_audioEffects.py")

NAN_STEM = "[cel][cla]0401__1"


@pytest.fixture
def workdir(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    return tmp_path


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def write_float_wav(path: Path, bad: float) -> None:
    audio = chirp(0.5).T.copy()
    audio[100, 1] = bad
    sf.write(path, audio, 44100, subtype="FLOAT")


# --- non-finite audio and features ---------------------------------------------------------

@pytest.mark.parametrize("bad, reader", [(np.nan, "soundfile"), (np.inf, "pedalboard"),
                                         (-np.inf, "soundfile")])
def test_non_finite_samples_are_refused_at_read_time(tmp_path, bad, reader):
    """Before: NaN reached the models (librosa traceback, or NaN rows with exit 0)."""
    path = tmp_path / "clip.wav"
    write_float_wav(path, bad)
    assert np.isnan(sf.read(path)[0]).any() or np.isinf(sf.read(path)[0]).any()  # as written
    with pytest.raises(AesensError, match=r"clip\.wav: 1 sample\(s\) are NaN or infinite; fix "
                                          r"the file, or leave it out with --skip-files"):
        load_audio(path, reader=reader)


@pytest.mark.parametrize("stage, argv, output", [
    (stage1, ["mfcc"], "embeddings/embeddings.h5"),
    (stage2, ["gain", "crepe", "0", "0"], "embeddings/embeddings_gain_-40.0.h5"),
])
def test_non_finite_file_stops_the_stage_then_the_skip_list_records_it(workdir, tiny_dataset,
                                                                       capsys, stage, argv,
                                                                       output):
    write_float_wav(tiny_dataset / "cel" / f"{NAN_STEM}.wav", np.nan)
    assert run_cli(stage.main, [*argv, "--quiet"]) == 2
    err = one_line_error(capsys)
    assert f"{NAN_STEM}.wav: 1 sample(s) are NaN or infinite" in err and "--skip-files" in err
    assert not Path(output).exists()
    Path("skip.txt").write_text(f"# NaN samples\ncel/{NAN_STEM}.wav\n\n")
    assert run_cli(stage.main, [*argv, "--quiet", "--skip-files", "skip.txt"]) == 0
    assert "1 skipped" in capsys.readouterr().out
    name = argv[-3] if stage is stage2 else argv[0]
    features, keys = store.read_embeddings(output, name)
    assert np.isfinite(features).all() and NAN_STEM not in set(keys)
    assert set(keys) == {p.stem for p in discover(tiny_dataset)} - {NAN_STEM}
    assert json.loads(read_attrs(output, name)[SKIPPED_ATTR]) == [NAN_STEM]
    assert run_cli(stage.main, [*argv, "--quiet", "--skip-files", "skip.txt"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_embeddings_of_another_skip_list_are_redone_never_mixed(workdir, tiny_dataset):
    files = discover(tiny_dataset)
    setting, model = Setting(EFFECTS["bitcrush"], 0), get_model("mfcc")
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    one, two = files[0].stem, files[5].stem
    runs = [([], True), ([one], True), ([one], False), ([one, two], True), ([], True),
            ([], False)]
    for skipped, redone in runs:
        kept = [f for f in files if f.stem not in skipped]
        written = extract(kept, [model], [setting], progress=False, skipped=skipped)
        assert (written == [path]) == redone, skipped
        keys = set(store.read_embeddings(path, "mfcc")[1])
        assert keys == {f.stem for f in kept}
        attrs = read_attrs(path, "mfcc")
        assert json.loads(attrs.get(SKIPPED_ATTR, "[]")) == sorted(skipped)


def test_skip_list_errors(workdir, tiny_dataset, capsys):
    files = discover(tiny_dataset)
    kept, skipped = read_skip_list(_write(workdir / "a.txt", "[flu][cla]0103__1\n"), files)
    assert skipped == ["[flu][cla]0103__1"] and len(kept) == len(files) - 1
    _write(workdir / "b.txt", "[flu][cla]9999__1.wav\n")
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--skip-files", "b.txt"]) == 2
    assert "b.txt: 1 name(s) are not in the dataset (first: '[flu][cla]9999__1')" in (
        one_line_error(capsys))
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--skip-files", "missing.txt"]) == 2
    assert "missing.txt: cannot read the skip list" in one_line_error(capsys)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", [np.nan, -np.inf])
def test_non_finite_features_are_never_written(workdir, tiny_dataset, monkeypatch, value):
    files = discover(tiny_dataset)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    store.write_embeddings(path, "crepe", np.ones((2, 3)), ["a", "b"])
    before = sha256(path)
    model = get_model("mfcc")
    embed = model.embed

    def broken(batch, sample_rate):
        rows = embed(batch, sample_rate)
        rows[-1][0, 3] = value
        return rows

    monkeypatch.setattr(model, "embed", broken)
    with pytest.raises(AesensError, match=r"mfcc gave NaN or infinite features for bitcrush 4 "
                                          r"\(3 file\(s\), first: .*nothing was written to "
                                          r"embeddings/embeddings_bitcrush_4\.h5"):
        extract(files, [model], [Setting(EFFECTS["bitcrush"], 0)], batch_size=4, progress=False)
    assert sha256(path) == before and store.list_embeddings(path) == ["crepe"]


# --- damaged setting files -----------------------------------------------------------------

def _half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_half, _garbage, _empty])
def test_damaged_setting_file_is_set_aside_and_redone(workdir, tiny_dataset, capsys, damage):
    """Before: an unreadable file stopped every resume with an HDF5 error."""
    files = discover(tiny_dataset)
    setting = Setting(EFFECTS["bitcrush"], 0)
    model = get_model("mfcc")
    extract(files, [model], [setting], progress=False)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    fresh = store.read_embeddings(path, "mfcc")
    for attempt, aside in enumerate(["embeddings_bitcrush_4.h5.damaged",
                                     "embeddings_bitcrush_4.h5.damaged.1"]):
        damage(path)
        damaged = sha256(path)
        assert extract(files, [model], [setting], progress=False) == [path]
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{path}: cannot be read (" in err
        assert f"set aside as {aside}, recomputing it" in err
        assert sha256(path.with_name(aside)) == damaged  # kept, never deleted
        features, keys = store.read_embeddings(path, "mfcc")
        np.testing.assert_array_equal(features, fresh[0])
        assert list(keys) == list(fresh[1]) and attempt < 2


def _keys_missing(path: Path) -> None:
    with h5py.File(path, "a") as h5:
        del h5["irmas/mfcc/keys"]


def _irmas_not_a_group(path: Path) -> None:
    path.unlink()
    with h5py.File(path, "w") as h5:
        h5["irmas"] = np.zeros(3)


@pytest.mark.parametrize("spoil, aside", [(_keys_missing, False), (_irmas_not_a_group, True)])
def test_partial_or_foreign_setting_file_is_redone(workdir, tiny_dataset, capsys, spoil, aside):
    """Before: a file whose irmas is a dataset stopped the write with an h5py traceback."""
    files = discover(tiny_dataset)
    setting = Setting(EFFECTS["bitcrush"], 0)
    model = get_model("mfcc")
    extract(files, [model], [setting], progress=False)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    fresh = store.read_embeddings(path, "mfcc")[0]
    spoil(path)
    assert extract(files, [model], [setting], progress=False) == [path]
    assert ("set aside as embeddings_bitcrush_4.h5.damaged" in capsys.readouterr().err) == aside
    assert path.with_name(f"{path.name}.damaged").exists() == aside
    np.testing.assert_array_equal(store.read_embeddings(path, "mfcc")[0], fresh)


def test_unreadable_dataset_and_foreign_layout_count_as_damaged(tmp_path):
    path = tmp_path / "embeddings_gain_0.5.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("irmas/mfcc/features", data=np.ones((64, 64), np.float32),
                          chunks=(64, 64), compression="gzip")
    data = bytearray(path.read_bytes())
    offset = path.stat().st_size - 40  # inside the compressed chunk, written last
    data[offset:offset + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))
    assert store.damage_reason(path).startswith("dataset irmas/mfcc/features: ")
    foreign = tmp_path / "embeddings.h5"
    with h5py.File(foreign, "w") as h5:
        h5["irmas"] = np.zeros(3)
    assert store.damage_reason(foreign) is None
    assert store.damage_reason(foreign, group="irmas") == (
        "irmas is not a group (not a file of this layout)")
    assert store.set_aside_if_damaged(foreign, group="irmas")[0].name == "embeddings.h5.damaged"
    good = tmp_path / "good.h5"
    store.write_embeddings(good, "mfcc", np.ones((2, 2)), ["a", "b"])
    assert store.set_aside_if_damaged(good) is None and good.exists()


# --- write errors --------------------------------------------------------------------------

def _fail_on_second_dataset(monkeypatch):
    calls = []
    create = h5py.Group.create_dataset

    def failing(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return create(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)


def _library_error_without_errno(monkeypatch):
    create = h5py.Group.create_dataset

    def failing(self, name, *args, **kwargs):
        if name == "keys":
            raise OSError("Can't write data (file write failed: No space left on device)")
        return create(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)


def _no_room(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 10, 0))


@pytest.mark.parametrize("fault", [_fail_on_second_dataset, _library_error_without_errno,
                                   _no_room])
def test_disk_full_during_a_write_keeps_the_old_file_and_leaves_no_part(workdir, tiny_dataset,
                                                                       capsys, monkeypatch,
                                                                       fault):
    """Before: a segfault (exit 139) and a stale .part file."""
    assert run_cli(stage1.main, ["mfcc", "--quiet"]) == 0
    path = Path("embeddings/embeddings.h5")
    before = sha256(path)
    path = path.absolute()  # monkeypatch.undo() below also undoes the chdir
    fault(monkeypatch)
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--force"]) == 2
    err = one_line_error(capsys)
    assert err.startswith("error: embeddings/embeddings.h5: No space left on device")
    assert "free some disk space and rerun" in err
    monkeypatch.undo()
    assert sha256(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["embeddings.h5"]


def test_disk_full_while_writing_a_wav_leaves_no_part(tmp_path):
    target = tmp_path / "cel" / "x.wav"
    with pytest.raises(OSError) as caught, safe_files.atomic_file(target) as tmp:
        tmp.write_bytes(b"RIFF")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert list(target.parent.iterdir()) == []


def test_output_folders_that_are_files_or_cannot_be_made_stop_before_any_work(workdir, capsys,
                                                                              monkeypatch):
    def no_work(unit):
        raise AssertionError("computed before the output folder was checked")

    monkeypatch.setattr("aesens.extraction.run.run_unit", no_work)
    Path("a-file").write_text("not a folder")
    cases = [
        (stage1, ["mfcc", "--embeddings-dir", "a-file"], "cannot write in a-file (it is a file"),
        (stage2, ["gain", "mfcc", "0", "0", "--embeddings-dir", "a-file/sub"],
         "cannot write in a-file/sub ("),
        (stage2, ["gain", "none", "0", "0", "--basedir", "a-file"],
         "cannot write in a-file/datasets/audio-embeddings/irmas-wav-gain_-40.0 ("),
    ]
    if os.geteuid() != 0:  # root writes in read-only folders
        Path("read-only").mkdir(mode=0o555)
        cases.append((stage1, ["mfcc", "--embeddings-dir", "read-only"],
                      "cannot write in read-only (Permission denied)"))
    for stage, argv, message in cases:
        assert run_cli(stage.main, [*argv, "--quiet"]) == 2, argv
        assert message in one_line_error(capsys)


# --- modes, rewrite sizes, lock files, stale parts -----------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_honour_the_umask(tmp_path, mask, mode):
    """Before: results written through mkstemp were 0600 whatever the umask."""
    old = os.umask(mask)
    try:
        assert safe_files.current_umask() == mask
        store.write_embeddings(tmp_path / "e.h5", "mfcc", np.ones((2, 2)), ["a", "b"])
        store.write_embeddings(tmp_path / "e.h5", "crepe", np.ones((2, 2)), ["a", "b"])
        safe_files.atomic_write_text(tmp_path / "t.csv", "a,b\n")
        with safe_files.atomic_file(tmp_path / "w.wav") as tmp:
            tmp.write_bytes(b"x")
        plain = tmp_path / "plain"
        plain.write_text("x")
    finally:
        os.umask(old)
    for name in ("e.h5", "t.csv", "w.wav", "plain"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name
    assert (tmp_path / "t.csv").read_text() == "a,b\n"


def test_force_rewrites_take_the_size_of_a_fresh_write(workdir, tiny_dataset):
    """Before: each rewrite kept the old data's space (the file grew)."""
    files = discover(tiny_dataset)
    setting = Setting(EFFECTS["gain"], 0)
    models = [get_model("mfcc"), get_model("crepe")]
    extract(files, models, [setting], progress=False)
    path = Path("embeddings/embeddings_gain_-40.0.h5")
    fresh = path.stat().st_size
    rows = {model.name: store.read_embeddings(path, model.name)[0] for model in models}
    sizes = []
    for _ in range(3):
        extract(files, models[:1], [setting], force=True, progress=False)
        sizes.append(path.stat().st_size)
    assert len(set(sizes)) == 1  # before: each rewrite added the rewritten rows' size
    assert abs(sizes[0] - fresh) <= 4096  # object headers in another order; no data repeated
    for model in models:
        np.testing.assert_array_equal(store.read_embeddings(path, model.name)[0],
                                      rows[model.name])
    assert read_attrs(path, "crepe")["effect"] == "gain"
    bigger = np.ones((1000, 256), np.float32)
    store.write_embeddings(path, "big", bigger, ["a"] * 1000)
    grown = path.stat().st_size
    for _ in range(3):
        store.write_embeddings(path, "big", bigger, ["a"] * 1000)
    assert path.stat().st_size == grown


def test_lock_files_are_removed_and_the_lock_still_excludes(tmp_path):
    path = tmp_path / "counter.txt"
    path.write_text("0")
    errors = []

    def increment():
        try:
            for _ in range(5):
                with safe_files.exclusive_lock(path):
                    value = int(path.read_text())
                    time.sleep(0.002)
                    safe_files.atomic_write_text(path, str(value + 1))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and path.read_text() == "30"
    store.write_embeddings(tmp_path / "e.h5", "mfcc", np.ones((1, 1)), ["a"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter.txt", "e.h5"]
    assert safe_files.lock_path(path).name == ".counter.txt.lock"


def test_partial_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    path = tmp_path / "embeddings_[x]_1.h5"
    stale = [tmp_path / ".embeddings_[x]_1.h5.k2j3.part", tmp_path / ".embeddings_[x]_1.h5.a.part"]
    for part in stale:
        part.write_bytes(b"half an HDF5 file")
    other = tmp_path / ".other.h5.k2j3.part"
    other.write_bytes(b"another file's")
    store.write_embeddings(path, "mfcc", np.ones((1, 1)), ["a"])
    assert not any(part.exists() for part in stale) and other.exists()

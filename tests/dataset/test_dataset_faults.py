"""Faults of the dataset's files: name clashes, truncated audio, blocking files, locales.

Each category has several instances: names differing in case or extension,
files cut at several points and in several sample formats, FIFOs and other
non-regular files named ``*.wav``, blocking waits interrupted, effects that
refuse one file of a batch, and non-ASCII paths in an ASCII-only locale.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import chirp, foreground_ctrl_c, load_script

from aesens import store
from aesens.dataset import discover, load_audio
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli
from aesens.extraction.batches import ChainTurns, prepare_batch
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import get_model

ROOT = Path(__file__).resolve().parents[2]
stage1 = load_script("2A.1_featureExtract_original.py")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def in_time(function, seconds: float = 10.0):
    """``function()``'s result, failing (not hanging) if it takes longer than ``seconds``."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(("value", function()))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(("error", error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still blocked after {seconds} s"
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


# --- names that differ only in case or extension ---------------------------------------------

@pytest.mark.parametrize("first, second", [
    ("[cel][cla]0001__1.wav", "[cel][cla]0001__1.WAV"),
    ("[cel][cla]0001__1.wav", "[cel][cla]0001__1.Wav"),
    ("[cel][cla]0001__1.wav", "[cel][cla]0001__1.wav.wav"),
    ("008__[cel][nod][cla]0058__1.wav", "008__[cel][nod][cla]0058__1.wAv"),
])
def test_names_differing_only_in_case_or_extension_are_refused(tiny_dataset, first, second):
    """Before: both recordings were stored under one key and averaged into one example."""
    audio = chirp(0.2).T
    for name in (first, second):
        sf.write(tiny_dataset / "cel" / name, audio, 44100, subtype="PCM_16")
    with pytest.raises(AesensError) as caught:
        discover(tiny_dataset)
    message = str(caught.value)
    assert str(tiny_dataset / "cel" / first) in message
    assert str(tiny_dataset / "cel" / second) in message
    assert "differ only in case or extension" in message and "rename or remove one" in message


def test_a_name_clash_stops_the_stage_in_one_line(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sf.write(tiny_dataset / "pia" / "[pia][cou_fol]0201__1.WAV", chirp(0.2).T, 44100)
    assert run_cli(stage1.main, ["mfcc", "--quiet", "--dataset-dir", str(tiny_dataset)]) == 2
    err = one_line_error(capsys)
    assert "[pia][cou_fol]0201__1.WAV and " in err and "0201__1.wav are two files of one" in err
    assert not Path("embeddings").exists()


# --- truncated audio -------------------------------------------------------------------------

def _truncate(path: Path, keep: float, extra: int = 0) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep) + extra])


@pytest.mark.parametrize("subtype, keep, extra", [
    ("PCM_16", 0.5, 0), ("PCM_16", 0.9, 1), ("PCM_24", 0.7, 2), ("FLOAT", 0.3, 3),
    ("PCM_16", 0.05, 0),
])
def test_a_truncated_wav_is_refused_as_damaged(tmp_path, subtype, keep, extra):
    """Before: embedded from whatever was there, without a word."""
    path = tmp_path / "[cel][cla]0001__1.wav"
    sf.write(path, chirp(0.5).T, 44100, subtype=subtype)
    _truncate(path, keep, extra)
    for reader in ("soundfile", "pedalboard"):
        with pytest.raises(AesensError) as caught:
            load_audio(path, reader=reader)
        message = str(caught.value)
        assert message.startswith(f"{path}: the file is truncated (its header promises 22050 "
                                  "frames, it holds ")
        assert "--skip-files" in message


def test_complete_files_with_other_sizes_in_their_headers_are_read(tmp_path):
    """Trailing bytes after the data, and a stream's header (size unknown), promise nothing
    missing."""
    reference = chirp(0.5).T
    path = tmp_path / "x.wav"
    sf.write(path, reference, 44100, subtype="PCM_16")
    expected = load_audio(path)[0]
    path.write_bytes(path.read_bytes() + b"JUNK" * 50)
    np.testing.assert_array_equal(load_audio(path)[0], expected)
    data = bytearray(path.read_bytes()[:-200])
    at = data.find(b"data")
    data[at + 4:at + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    np.testing.assert_array_equal(load_audio(path)[0], expected)


def test_a_truncated_dataset_file_stops_the_stage_then_the_skip_list_leaves_it_out(
        tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cut = tiny_dataset / "flu" / "[flu][cla]0103__1.wav"
    _truncate(cut, 0.6)
    arguments = ["mfcc", "--quiet", "--dataset-dir", str(tiny_dataset)]
    assert run_cli(stage1.main, arguments) == 2
    err = one_line_error(capsys)
    assert f"{cut}: the file is truncated" in err and "--skip-files" in err
    Path("skip.txt").write_text(f"{cut.name}\n")
    assert run_cli(stage1.main, [*arguments, "--skip-files", "skip.txt"]) == 0
    keys = set(store.read_embeddings("embeddings/embeddings.h5", "mfcc")[1])
    assert cut.stem not in keys and len(keys) == 11


# --- files whose opening blocks --------------------------------------------------------------

def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _link_to_fifo(path: Path) -> None:
    os.mkfifo(path.parent / "pipe")
    path.symlink_to(path.parent / "pipe")


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.wav")


@pytest.mark.parametrize("make", [_fifo, _folder, _link_to_fifo, _dangling_link])
def test_only_regular_files_are_discovered(tiny_dataset, make):
    """Before: a FIFO named *.wav hung extraction for good, Ctrl-C included."""
    before = discover(tiny_dataset)
    make(tiny_dataset / "cel" / "[cel][cla]0009__1.wav")
    assert in_time(lambda: discover(tiny_dataset)) == before


@pytest.mark.parametrize("make", [_fifo, _link_to_fifo, _folder])
def test_a_non_regular_file_is_refused_at_once_when_read(tmp_path, make):
    path = tmp_path / "[cel][cla]0009__1.wav"
    make(path)
    with pytest.raises(AesensError, match=r"0009__1\.wav: not a regular file \(a FIFO"):
        in_time(lambda: load_audio(path), seconds=5)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from aesens import safe_files
    with safe_files.exclusive_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")

WAIT = textwrap.dedent("""
    import sys
    from aesens import h5_access, store
    from aesens.errors import run_cli
    h5_access.LOCK_WAIT = 60
    print("waiting", flush=True)
    sys.exit(run_cli(lambda _: store.write_embeddings(sys.argv[1], "x", [[1.0]], ["a"]), []))
""")

HOLD_H5 = ("import h5py, sys, time\nf = h5py.File(sys.argv[1], 'a')\nprint('held', flush=True)\n"
           "time.sleep(60)\n")


@pytest.mark.parametrize("holder", [HOLD_LOCK, HOLD_H5], ids=["aesens lock", "hdf5 lock"])
def test_blocking_waits_give_way_to_ctrl_c(tmp_path, holder):
    """A writer waiting for a file another process holds stops on SIGINT, in one line."""
    path = tmp_path / "embeddings.h5"
    store.write_embeddings(path, "kept", np.ones((1, 1)), ["a"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    held = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert held.stdout.readline().strip() == "held"
        waiting = subprocess.Popen([sys.executable, "-c", WAIT, str(path)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=env, preexec_fn=foreground_ctrl_c)
        assert waiting.stdout.readline().strip() == "waiting"
        time.sleep(1.0)
        assert waiting.poll() is None  # blocked
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=10)
    finally:
        held.kill()
        held.wait()
    assert waiting.returncode == 130
    lines = err.strip().splitlines()
    assert lines[-1] == "interrupted: finished results are kept; rerun the same command to resume"
    assert lines[:-1] in ([], [f"{path} is open for writing in another process; waiting up to "
                               "60 s for it"]) and "Traceback" not in err
    assert store.list_embeddings(path) == ["kept"]


# --- effect errors name the offending file ---------------------------------------------------

def _batch(folder: Path, odd: int, rate: int, channels: int) -> list[Path]:
    files = []
    for index in range(8):
        path = folder / f"[cel][cla]{index:04d}__1.wav"
        if index == odd:
            sf.write(path, chirp(0.3, sample_rate=rate, channels=channels).T, rate)
        else:
            sf.write(path, chirp(0.3).T, 44100, subtype="PCM_16")
        files.append(path)
    return files


@pytest.mark.parametrize("effect, rank, odd, rate, channels, semantics", [
    ("highpass_cheby", 30, 5, 8000, 2, "float"),
    ("highpass_cheby", 30, 1, 8000, 1, "published"),
    ("highpass_cheby", 30, 7, 6000, 1, "float"),
    ("reverb", 10, 6, 44100, 6, "published"),
    ("reverb", 33, 2, 22050, 6, "published"),
])
def test_effect_errors_name_the_offending_file_not_the_batchs_first(tmp_path, effect, rank, odd,
                                                                    rate, channels, semantics):
    """Before: '<first file> (or one of the 7 files after it)'."""
    files = _batch(tmp_path, odd, rate, channels)
    setting = Setting(EFFECTS[effect], rank, semantics)
    with pytest.raises(AesensError) as caught:
        chain = setting.new_chain()
        prepare_batch(files, setting, None if chain is None else ChainTurns(chain))
    message = str(caught.value)
    assert message.startswith(f"{files[odd]}, {setting.label}: "), message
    assert "or one of the" not in message


def test_the_extraction_names_the_offending_file(tmp_path, monkeypatch):
    files = _batch(tmp_path, 4, 8000, 2)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AesensError, match=rf"^{_escaped(files[4])}, highpass_cheby 4000\.000: "):
        extract(files, [get_model("mfcc")], [Setting(EFFECTS["highpass_cheby"], 30)],
                batch_size=8, progress=False)


def _escaped(path: Path) -> str:
    import re

    return re.escape(str(path))


# --- non-ASCII paths in an ASCII-only locale -------------------------------------------------

ASCII_LOCALE_RUN = textwrap.dedent("""
    import json, os, runpy, sys
    from aesens.errors import run_cli
    root, folder, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    os.chdir(folder)
    codes = []
    for stage, arguments, truncate in runs:
        if truncate:  # the file to cut before this run (a path relative to the folder)
            with open(truncate, "r+b") as handle:
                handle.truncate(os.path.getsize(truncate) // 2)
        main = runpy.run_path(os.path.join(root, stage), run_name="stage")["main"]
        codes.append(run_cli(main, arguments))
    print(json.dumps(codes))
""")


@pytest.mark.parametrize("folder_name", ["données", "数据 Ω"])
def test_non_ascii_paths_in_an_ascii_locale_read_and_write(tiny_dataset, tmp_path, folder_name):
    """Before: the error blamed a valid file (its path could not be encoded for libsndfile)."""
    folder = tmp_path / folder_name
    folder.mkdir()
    tiny_dataset.rename(folder / "IRMAS")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LC_")}
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    runs = [  # paths relative to the non-ASCII folder: the child sees it as its locale decodes it
        ("2A.1_featureExtract_original.py",
         ["mfcc", "--quiet", "--dataset-dir", "IRMAS", "--embeddings-dir", "embeddings"], None),
        ("2A.2_featureExtract_audioEffects.py",
         ["gain", "none", "0", "0", "--quiet", "--dataset-dir", "IRMAS"], None),
        ("2A.1_featureExtract_original.py", ["mfcc", "--quiet", "--force", "--dataset-dir",
                                             "IRMAS"], "IRMAS/pia/[pia][lat_sou]0203__1.wav"),
    ]
    done = subprocess.run([sys.executable, "-c", ASCII_LOCALE_RUN, str(ROOT), str(folder),
                           json.dumps(runs)], env=env, capture_output=True, timeout=300,
                          check=False)
    err = done.stderr.decode("utf-8", "replace")
    assert json.loads(done.stdout.splitlines()[-1]) == [0, 0, 2], err
    keys = store.read_embeddings(folder / "embeddings" / "embeddings.h5", "mfcc")[1]
    assert len(set(keys)) == 12
    written = sorted((folder / "datasets" / "audio-embeddings").rglob("*.wav"))
    assert len(written) == 12 and sf.info(written[0]).frames == 132300
    # The error names the damaged file, not a valid one, in one line.
    errors = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(errors) == 1
    assert errors[0].startswith("error: ")
    assert "IRMAS/pia/[pia][lat_sou]0203__1.wav: the file is truncated" in errors[0]

"""Faults of the HDF5 store: files in use, malformed setting files, full disks.

Each category has several instances: files held open for writing by another
process (several open modes, several readers and writers), setting files
whose layout the readers refuse, and disks that fill up (a real small tmpfs
where this machine lets the tests mount one, and the size estimate against
the sizes of files really written).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from aesens import h5_access, safe_files, store
from aesens.dataset import discover
from aesens.effects import EFFECTS
from aesens.errors import AesensError, describe_os_error
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import get_model

ROOT = Path(__file__).resolve().parents[1]


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def held_open(path: Path, mode: str, seconds: float = 30.0):
    """Another process holding ``path`` open with h5py in ``mode`` (HDF5's file lock)."""
    code = (f"import h5py, sys, time\nf = h5py.File({str(path)!r}, {mode!r})\n"
            f"print('open', flush=True)\ntime.sleep({seconds})\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def workdir(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(h5_access, "LOCK_WAIT", 1.0)
    return tmp_path


def _extract(files):
    return extract(files, [get_model("mfcc")], [Setting(EFFECTS["bitcrush"], 0)],
                   progress=False, force=True)


def _read(files):
    return store.read_embeddings("embeddings/embeddings_bitcrush_4.h5", "mfcc")


def _write_other(files):
    store.write_embeddings("embeddings/embeddings_bitcrush_4.h5", "other", np.ones((1, 1)),
                           ["a"])


def _write_arrays_over(files):
    store.write_arrays("embeddings/embeddings_bitcrush_4.h5", {"x": np.ones(2)})


# --- files in use ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["a", "r+"])
@pytest.mark.parametrize("stage", [_extract, _read, _write_other, _write_arrays_over])
def test_a_file_held_open_for_writing_is_in_use_not_damaged(workdir, tiny_dataset, capsys,
                                                            mode, stage):
    """Before: 2A.1/2A.2 renamed it to .damaged and wrote a file of the new embedding only."""
    files = discover(tiny_dataset)
    _extract(files)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    before = path.stat().st_ino, store.read_embeddings(path, "mfcc")[0]
    with held_open(path, mode):
        started = time.monotonic()
        with pytest.raises(AesensError) as caught:
            stage(files)
        waited = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith(f"{path} is open for writing in another process")
    assert "waited 1 s" in message and "close it there" in message and "\n" not in message
    assert 1.0 <= waited < 5.0
    assert capsys.readouterr().err.startswith(  # the wait is stated
        f"{path} is open for writing in another process; waiting up to 1 s for it\n")
    assert path.stat().st_ino == before[0]  # neither set aside nor written over
    np.testing.assert_array_equal(store.read_embeddings(path, "mfcc")[0], before[1])
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("release_after", [0.3, 0.8])
def test_a_file_released_during_the_wait_is_used(workdir, tiny_dataset, monkeypatch,
                                                 release_after):
    monkeypatch.setattr(h5_access, "LOCK_WAIT", 10.0)
    files = discover(tiny_dataset)
    _extract(files)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    before = store.read_embeddings(path, "mfcc")[0]
    with held_open(path, "a", seconds=release_after):
        _write_other(files)
    assert store.list_embeddings(path) == ["mfcc", "other"]
    np.testing.assert_array_equal(store.read_embeddings(path, "mfcc")[0], before)


def test_a_file_open_for_reading_elsewhere_is_no_obstacle(workdir, tiny_dataset):
    files = discover(tiny_dataset)
    _extract(files)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    with held_open(path, "r"):
        started = time.monotonic()
        _write_other(files)
        assert time.monotonic() - started < 1.0
    assert store.list_embeddings(path) == ["mfcc", "other"]


# --- malformed setting files -----------------------------------------------------------------

def _embedding_is_a_dataset(h5):
    del h5["irmas/mfcc"]
    h5["irmas/mfcc"] = np.zeros((3, 2), np.float32)


def _keys_is_a_group(h5):
    del h5["irmas/mfcc/keys"]
    h5.create_group("irmas/mfcc/keys")


def _keys_is_a_scalar(h5):
    del h5["irmas/mfcc/keys"]
    h5["irmas/mfcc/keys"] = b"[cel][cla]0001__1"


def _features_one_dimensional(h5):
    rows = len(h5["irmas/mfcc/features"])
    del h5["irmas/mfcc/features"]
    h5["irmas/mfcc/features"] = np.zeros(rows, np.float32)


def _fewer_keys_than_rows(h5):
    keys = h5["irmas/mfcc/keys"][()]
    del h5["irmas/mfcc/keys"]
    h5.create_dataset("irmas/mfcc/keys", data=keys[:-1], dtype=h5py.string_dtype())


def _keys_not_utf8(h5):
    keys = h5["irmas/mfcc/keys"][()]
    keys[0] = b"\xff\xfe"
    del h5["irmas/mfcc/keys"]
    h5.create_dataset("irmas/mfcc/keys", data=keys, dtype=h5py.string_dtype("ascii"))


MALFORMED = {
    _embedding_is_a_dataset: "irmas/mfcc is a dataset, not a group of features and keys",
    _keys_is_a_group: "irmas/mfcc/keys is a group, not a dataset",
    _keys_is_a_scalar: "and keys of shape (), not rows x dim and one key per row",
    _features_one_dimensional: "irmas/mfcc holds features of shape (",
    _fewer_keys_than_rows: "feature rows but ",
    _keys_not_utf8: "dataset irmas/mfcc/keys: ",
}


@pytest.mark.parametrize("spoil", MALFORMED, ids=lambda spoil: spoil.__name__.strip("_"))
def test_a_malformed_setting_file_is_set_aside_and_redone(workdir, tiny_dataset, capsys, spoil):
    """Before: a traceback in 2A.2, or the file skipped as complete while averaging refused it."""
    files = discover(tiny_dataset)
    _extract(files)
    path = Path("embeddings/embeddings_bitcrush_4.h5")
    fresh = store.read_embeddings(path, "mfcc")[0]
    with h5py.File(path, "a") as h5:
        spoil(h5)
    spoiled = sha256(path)
    # What completeness says is what the reader says: never complete when the reader refuses.
    expected = {file.stem for file in files}
    assert store.incomplete_reason(path, "mfcc", expected) is not None
    with pytest.raises(AesensError, match="re-extract it"):
        store.read_embeddings(path, "mfcc")
    written = extract(files, [get_model("mfcc")], [Setting(EFFECTS["bitcrush"], 0)],
                      progress=False)  # no --force
    assert written == [path]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and MALFORMED[spoil] in err
    assert "set aside as embeddings_bitcrush_4.h5.damaged, recomputing it" in err
    assert sha256(path.with_name(f"{path.name}.damaged")) == spoiled
    np.testing.assert_array_equal(store.read_embeddings(path, "mfcc")[0], fresh)


# --- full disks ------------------------------------------------------------------------------

@pytest.mark.parametrize("rows, dim, key_length, keep", [
    (1, 1, 1, False), (10, 4, 10, False), (1000, 512, 30, False), (20000, 128, 30, False),
    (5000, 1, 200, False), (30000, 6, 28, False), (3000, 64, 17, True), (200, 20, 120, True),
])
def test_the_size_estimate_bounds_the_written_file(tmp_path, monkeypatch, rows, dim, key_length,
                                                    keep):
    """The space asked for is at least what HDF5 writes, and not far above it."""
    path = tmp_path / "embeddings.h5"
    rng = np.random.default_rng(rows)
    if keep:
        store.write_embeddings(path, "kept", rng.standard_normal((rows, dim)),
                               [f"{index:0{key_length}d}" for index in range(rows)])
    asked = []
    check = safe_files._check_space
    monkeypatch.setattr(safe_files, "_check_space",
                        lambda target, needed: (asked.append(needed), check(target, needed)))
    features = rng.standard_normal((rows, dim)).astype(np.float32)
    keys = ["é" * (key_length // 2) + "k" * (key_length % 2) for _ in range(rows)]
    store.write_embeddings(path, "new", features, keys, {"model": "x" * 300})
    real = path.stat().st_size
    assert asked and real <= asked[0] <= 1.3 * real + 256 * 1024, (real, asked)
    arrays = {"X_train": features, "Y_train": np.array(keys)}
    store.write_arrays(tmp_path / "averaged.h5", arrays)
    real = (tmp_path / "averaged.h5").stat().st_size
    assert real <= asked[-1] <= 1.3 * real + 256 * 1024, (real, asked[-1])


WRITE_ON_SMALL_DISK = textwrap.dedent("""
    import sys
    import numpy as np
    from aesens import safe_files, store
    from aesens.errors import run_cli

    def main(argv):
        path = sys.argv[1] + "/embeddings.h5"
        rng = np.random.default_rng(0)
        store.write_embeddings(path, "kept", rng.standard_normal((200, 4)),
                               [f"[cel][cla]{i:04d}__1" for i in range(200)])
        print("kept", flush=True)
        # frame rows: many short keys, the case whose size a count of the text bytes misses
        store.write_embeddings(path, "new", rng.standard_normal((12000, 8)),
                               [f"[cel][cla]{i // 10:04d}__2" for i in range(12000)])
        print("new", flush=True)

    sys.exit(run_cli(main, []))
""")


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real 2-MiB tmpfs (skipped where mounting is not permitted)."""
    folder = tmp_path / "disk"
    if not _mount_tmpfs(folder, "2m"):
        pytest.skip("mounting a tmpfs is not permitted here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("free_kib", [300, 850, 950, 1050, 1900])
def test_hdf5_writes_never_reach_a_full_disk(small_disk, free_kib):
    """Before: a segfault (exit 139) at 3 of 5 free-space sizes, and a .part and a .lock left."""
    filler = small_disk / "filler"
    filler.write_bytes(bytes(2 * 1024 * 1024 - free_kib * 1024))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", WRITE_ON_SMALL_DISK, str(small_disk)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode in (0, 2), done.stderr  # never a crash
    names = sorted(p.name for p in small_disk.iterdir())
    assert names in (["filler"], ["embeddings.h5", "filler"]), names  # no .part, no .lock
    if done.returncode == 2:
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"error: {small_disk}/embeddings.h5: No space left on "
                                      "device (about ")
        assert "bytes needed); free some disk space" in done.stderr  # refused before writing
    path = small_disk / "embeddings.h5"
    if "kept" in done.stdout:  # the first write went through: it is intact, whatever followed
        assert store.read_embeddings(path, "kept")[0].shape == (200, 4)
    if "new" in done.stdout:
        assert store.list_embeddings(path) == ["kept", "new"]


def test_an_error_of_a_library_on_a_full_disk_is_the_disk_full_error(small_disk):
    """A library's own exception while the disk is full names the file and says to free space."""
    (small_disk / "filler").write_bytes(bytes(2 * 1024 * 1024 - 8192))
    target = small_disk / "figure.png"
    with pytest.raises(OSError) as caught, safe_files.atomic_file(target) as tmp:
        with open(tmp, "wb") as handle:
            with contextlib.suppress(OSError):
                handle.write(bytes(64 * 1024))
                handle.flush()
        raise AttributeError("'NoneType' object has no attribute 'write'")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert describe_os_error(caught.value).startswith(f"{target}: No space left on device; free")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    (small_disk / "filler").unlink()
    with pytest.raises(AttributeError), safe_files.atomic_file(target):
        raise AttributeError("a bug, not a full disk")  # room left: the error is kept

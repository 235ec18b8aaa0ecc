"""Tests of aesens.safe_files: atomic writes, partial files, the space check, the lock."""

from __future__ import annotations

import errno
import shutil
import threading

import pytest

from aesens import safe_files
from aesens.errors import AesensError


def test_atomic_file_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "sub" / "clip.wav"
    with safe_files.atomic_file(target) as tmp:
        assert tmp.suffix == ".wav" and tmp.parent == target.parent
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    with pytest.raises(RuntimeError), safe_files.atomic_file(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert target.read_bytes() == b"done" and sorted(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("name, stale, others", [
    ("data.bin", [".data.x1y2k3m4.part.bin", ".data.bin.x1y2.part"],
     [".other.x1y2k3m4.part.bin", ".data.x.x1y2k3m4.part.bin", ".data.x1y2k3m4.part.csv"]),
    ("models_openl3.pkl", [".models_openl3.ab_9zz01.part.pkl"],
     [".models_openl3_2.ab_9zz01.part.pkl", ".models_openl3.ab.part.pkl"]),
    (".correlations.csv", ["..correlations.q1w2e3r4.part.csv"], [".correlations.csv.lock"]),
    ("embeddings_[x]_1.h5", [".embeddings_[x]_1.k2j3l4m5.part.h5", ".embeddings_[x]_1.h5.a.part"],
     [".embeddings_[y]_1.k2j3l4m5.part.h5"]),
])
def test_atomic_file_removes_stale_parts_of_its_file_under_the_lock(tmp_path, name, stale,
                                                                    others):
    """A killed writer's partial files go on the next write of the same file, no others."""
    target = tmp_path / "sub" / name
    target.parent.mkdir()
    for part in [*stale, *others]:
        (target.parent / part).write_bytes(b"killed writer")
    with safe_files.atomic_file(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(f".{target.stem}.")
        assert tmp.name.endswith(f".part{target.suffix}") and tmp.read_bytes() == b""
        assert not any((target.parent / part).exists() for part in stale)
        assert safe_files.lock_path(target).exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([*others, name])


def test_the_lock_is_re_entrant_in_a_thread_and_excludes_others(tmp_path):
    target = tmp_path / "table.csv"
    entered = []
    with safe_files.exclusive_lock(target):
        safe_files.atomic_write_text(target, "a\n")  # takes the same lock again: no deadlock

        def enter() -> None:
            with safe_files.exclusive_lock(target):
                entered.append(True)

        thread = threading.Thread(target=enter)
        thread.start()
        thread.join(timeout=0.3)
        assert thread.is_alive() and not entered  # another thread waits
    thread.join(timeout=5)
    assert entered == [True] and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_atomic_file_checks_the_space_before_the_block(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    target.write_bytes(b"x" * 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 90, 10))
    with pytest.raises(OSError) as caught, \
            safe_files.atomic_file(target, reserve=5, keep_existing=True):
        raise AssertionError("the block ran")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert "(about 25 bytes needed)" in str(caught.value)
    with safe_files.atomic_file(target, reserve=5) as tmp:
        tmp.write_bytes(b"y")
    assert target.read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_atomic_file_creates_every_missing_folder(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "result.csv"
    with safe_files.atomic_file(target) as tmp:
        tmp.write_text("x\n")
    assert target.read_text() == "x\n" and sorted(target.parent.iterdir()) == [target]


def test_a_folder_without_room_for_a_temporary_file_is_a_one_line_error(tmp_path, monkeypatch):
    def no_temporary(**_):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(safe_files.tempfile, "mkstemp", no_temporary)
    with pytest.raises(AesensError, match=r"cannot write in .* \(Read-only file system\); "
                                           "choose a writable folder"), \
            safe_files.atomic_file(tmp_path / "result.csv"):
        raise AssertionError("the block ran")
    assert list(tmp_path.iterdir()) == []

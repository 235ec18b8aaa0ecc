"""Tests of aesens.safe_files: atomic writes, partial files, the space check, the lock."""

from __future__ import annotations

import errno
import shutil

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


def test_atomic_rewrite_removes_stale_parts_under_the_lock(tmp_path):
    target = tmp_path / "sub" / "data.bin"
    target.parent.mkdir()
    stale = target.parent / ".data.bin.x1y2.part"
    stale.write_bytes(b"killed writer")
    other = target.parent / ".other.bin.x1y2.part"
    other.write_bytes(b"another file's writer")
    with safe_files.atomic_rewrite(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".data.bin.")
        assert tmp.suffix == ".part" and tmp.read_bytes() == b""
        assert not stale.exists() and safe_files.lock_path(target).exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == [".other.bin.x1y2.part",
                                                                "data.bin"]


def test_atomic_rewrite_checks_the_space_before_the_block(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    target.write_bytes(b"x" * 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 90, 10))
    with pytest.raises(OSError) as caught, \
            safe_files.atomic_rewrite(target, reserve=5, keep_existing=True):
        raise AssertionError("the block ran")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert "(about 25 bytes needed)" in str(caught.value)
    with safe_files.atomic_rewrite(target, reserve=5) as tmp:
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

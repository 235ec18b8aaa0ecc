"""Tests of aesens.safe_files: atomic writes, partial files, the space check, the lock."""

from __future__ import annotations

import errno
import shutil

import pytest

from aesens import safe_files


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

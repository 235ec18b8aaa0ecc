"""A read-only install with an unwritable HOME: numba's cache goes to a writable folder.

The package is copied and made read-only for real (a read-only bind mount,
which root cannot write either; else file modes for other users), and the
kernels are compiled and cached in a fresh interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aesens import jit_cache

ROOT = Path(__file__).resolve().parents[1]

COMPILE = """
import numpy as np
from aesens.effects import dsp
from aesens.effects import roundtrip
audio = np.zeros((2, 64), np.float32)
roundtrip.pcm16_roundtrip(audio)
print("ok")
"""


def _read_only(source: Path, target: Path) -> None:
    """``target`` showing ``source`` read-only: a bind mount as root, file modes otherwise."""
    target.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(target)],
                                 capture_output=True, check=False)
        if mounted.returncode == 0 and not jit_cache._writable(target):
            return
        subprocess.run(["umount", str(target)], capture_output=True, check=False)
        pytest.skip("root writes everywhere and a read-only bind mount is not permitted here")
    target.rmdir()
    shutil.copytree(source, target)
    for folder, _, names in os.walk(target):
        for name in names:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


@pytest.fixture
def read_only_install(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "aesens", source / "aesens",
                    ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home-source"
    home.mkdir()
    _read_only(source, tmp_path / "install")
    _read_only(home, tmp_path / "home")
    yield tmp_path
    for name in ("install", "home"):
        subprocess.run(["umount", str(tmp_path / name)], capture_output=True, check=False)
        for folder, _, _ in os.walk(tmp_path / name):
            os.chmod(folder, 0o755)


@pytest.mark.parametrize("environment", [
    {},
    {"XDG_CACHE_HOME": "{home}/cache"},
    {"NUMBA_CACHE_DIR": "{tmp}/chosen"},
    {"TMPDIR": "{tmp}/private-tmp"},
], ids=["home", "xdg", "user-choice", "tmpdir"])
def test_kernels_compile_in_a_read_only_install_with_an_unwritable_home(read_only_install,
                                                                        environment):
    """Before: numba's 'cannot cache function' traceback at import."""
    tmp = read_only_install
    (tmp / "private-tmp").mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(tmp / "home"), PYTHONPATH=str(tmp / "install"),
               **{key: value.format(home=tmp / "home", tmp=tmp)
                  for key, value in environment.items()})
    for _ in range(1 if environment else 2):  # compiled and cached, then loaded from the cache
        done = subprocess.run([sys.executable, "-c", COMPILE], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
        assert done.stderr == ""  # silent
    assert not (tmp / "install" / "aesens" / "__pycache__").exists()
    if "NUMBA_CACHE_DIR" in environment:
        chosen = tmp / "chosen"
    else:
        temporary = Path(env.get("TMPDIR", "/tmp"))
        chosen = temporary / f"aesens-numba-{os.getuid()}"
    assert list(chosen.rglob("*.nbi")), f"no cache index in {chosen}"


def test_a_writable_install_keeps_numbas_own_places(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert jit_cache.use_writable_cache(tmp_path) is None
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jit_cache.use_writable_cache(tmp_path / "missing" / "x") is None
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")

"""Tests of writing the generated dataset and of its command line (aesens.dataset.generate)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aesens.dataset import discover, parse_stem
from aesens.dataset.generate import generate, main
from aesens.dataset.plan import plan_dataset
from aesens.dataset.render import find_soundfont, render_recording
from aesens.errors import AesensError, run_cli

pytest.importorskip("tinysoundfont")
pytest.importorskip("pretty_midi")

REPO = Path(__file__).resolve().parents[2]

#: The tiny rendering shared by the tests: one class, 4 recordings of 2 excerpts and one
#: lat_sou recording of 2.
TINY = {"per_class": 2, "seed": 3, "instruments": ["gel"]}

#: The generator's modules, each of which must import on its own.
MODULES = ("material", "plan", "compose", "render", "sanity", "generate")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated dataset (10 files of electric guitar)."""
    out = tmp_path_factory.mktemp("generated") / "IRMAS-TrainingData"
    generate(out, **TINY)
    return out


def test_generated_files_have_irmas_format(rendered: Path) -> None:
    files = discover(rendered)
    assert len(files) == 10
    for path in files:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (
            44100, 2, "PCM_16", 3 * 44100)
        assert info.format == "WAV"
    assert not [path for path in rendered.rglob("*") if path.name.startswith(".")]


def test_excerpts_are_consecutive_cuts_of_one_recording(rendered: Path) -> None:
    plan = plan_dataset(**TINY)[0]
    recording = render_recording(plan, find_soundfont())
    written = [sf.read(rendered / "gel" / f"{stem}.wav", dtype="int16")[0]
               for stem in plan.stems()]
    assert len({parse_stem(stem).group for stem in plan.stems()}) == 1
    np.testing.assert_array_equal(np.concatenate(written), recording.reshape(-1, 2))
    assert np.abs(recording).max() < 32767


def test_same_seed_gives_identical_bytes_in_parallel(rendered: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", jobs=2, **TINY)
    assert len(again) == 10
    for path in again:
        assert path.read_bytes() == (rendered / "gel" / path.name).read_bytes()


def test_cli_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run_cli(main, ["generate", "--out", str(blocker / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: cannot write in {blocker / 'out'} (Not a directory); "
                            "choose a writable folder") and error.count("\n") == 1


def test_cli_missing_soundfont(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["generate", "--out", str(tmp_path / "out"), "--soundfont", str(tmp_path / "no.sf2")]
    assert run_cli(main, argv) == 2
    assert "--soundfont" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_tinysoundfont_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    with pytest.raises(AesensError, match="pip install --no-deps tinysoundfont"):
        generate(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_module_entry_point_dispatches_generate(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "aesens.dataset", "generate", "--out", str(blocker / "x")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "cannot write" in result.stderr


@pytest.mark.parametrize("module", MODULES)
def test_generator_module_imports_on_its_own(module: str) -> None:
    code = ("import sys, aesens.dataset\n"
            "assert not [m for m in sys.modules if m.startswith('aesens.dataset.')]\n"
            f"import aesens.dataset.{module}\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr

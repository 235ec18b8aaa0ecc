"""The paper's models (OpenL3, PANNs, CLAP) on their real architectures with random weights.

The published weights cannot be downloaded here, so each session fixture
saves randomly initialised weights of the real network in the real
checkpoint format under the real file name (:mod:`aesens.testing`,
shared with the benchmarks), and loads it through the model's ``load``. The
libraries are imported by file location (never ``import panns_inference`` /
``import msclap``, whose ``__init__`` writes into HOME or needs torchaudio),
so a missing library is detected with ``find_spec`` rather than
``pytest.importorskip``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_cuda_rows_match_cpu, needs_cuda

from aesens.errors import AesensError
from aesens.models import EmbeddingModel
from aesens.models._compat import import_submodule, stub_modules
from aesens.models.weights import ALLOW_DOWNLOAD_ENV, file_sha256
from aesens.testing import save_random_weights

SR = 44100
ROOT = Path(__file__).resolve().parents[2]
#: Packages each model needs, for skipping.
NEEDS = {"openl3": ["torch", "torchopenl3", "resampy", "julius", "six"],
         "panns": ["torch", "panns_inference", "torchlibrosa"],
         "clap": ["torch", "msclap", "torchlibrosa"]}
MODELS = list(NEEDS)


def _require(model: str) -> None:
    missing = [name for name in NEEDS[model] if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install 'aesens[{model}]')")


def _clip(seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * SR)))).astype(np.float32)


#: Clips per model: short (the cost is per frame / per clip) and of mixed
#: channel counts; PANNs gets two lengths to exercise its grouping by length.
CLIPS = {"openl3": [_clip(0.55, 2, 1), _clip(0.4, 1, 2), _clip(0.55, 1, 3)],
         "panns": [_clip(1.0, 2, 1), _clip(1.5, 1, 2), _clip(1.0, 1, 3)],
         "clap": [_clip(3.0, 2, 1), _clip(3.0, 1, 2)]}


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory):
    """Folder of the random-weight checkpoints, emptied at the end (they total ~0.5 GB)."""
    folder = tmp_path_factory.mktemp("paper_weights")
    yield folder
    for path in folder.iterdir():
        path.unlink()


@pytest.fixture(scope="session")
def weights_files(weights_dir) -> dict[str, Path]:
    """Random weights of each installed model, in its real format and under its real name."""
    files = {}
    for model in MODELS:
        if all(importlib.util.find_spec(name) for name in NEEDS[model]):
            files[model] = save_random_weights(model, weights_dir)
    return files


@pytest.fixture(scope="session")
def loaded(weights_files) -> dict[str, EmbeddingModel]:
    """Each installed model, loaded from its random-weight checkpoint."""
    from aesens.models import get_model

    return {model: get_model(model, device="cpu", batch_size=2, weights=str(path))
            for model, path in weights_files.items()}


@pytest.fixture(scope="session")
def outputs(loaded) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Per model: embeddings of :data:`CLIPS` in one call, and of the last clip alone.

    Only the last clip is embedded again (CLAP costs ~1 s per clip here):
    its rows come last in a batch and, for PANNs, it shares its group with
    the first clip.
    """
    return {model: (network.embed(CLIPS[model], SR), network.embed(CLIPS[model][-1:], SR)[0])
            for model, network in loaded.items()}


def _openl3_frames(seconds: float) -> int:
    """Frames of a centred OpenL3 clip (half a frame of zeros in front): 26 for 3 s."""
    samples = int(round(seconds * 48000)) + 24000
    return 1 if samples <= 48000 else 1 + int(np.ceil((samples - 48000) / 4800))


@pytest.mark.parametrize("model", MODELS)
def test_shapes_dtype_and_metadata(model, loaded, outputs, weights_files):
    _require(model)
    network = loaded[model]
    assert isinstance(network, EmbeddingModel)
    batched, _ = outputs[model]
    expected_rows = ([_openl3_frames(clip.shape[1] / SR) for clip in CLIPS[model]]
                     if model == "openl3" else [1] * len(CLIPS[model]))
    assert [rows.shape for rows in batched] == [(n, network.dim) for n in expected_rows]
    assert network.dim == {"openl3": 512, "panns": 2048, "clap": 1024}[model]
    assert all(rows.dtype == np.float32 and np.isfinite(rows).all() for rows in batched)
    assert network.frame_level == (model == "openl3")
    meta = network.metadata()
    assert meta["weights"] == weights_files[model].name
    assert meta["weights_sha256"] == file_sha256(weights_files[model])
    assert meta["library"] == {"openl3": "torchopenl3", "panns": "panns_inference",
                               "clap": "msclap"}[model]
    assert meta["device"] == "cpu" and meta["sample_rate"] == network.sample_rate


@pytest.mark.parametrize("model", MODELS)
def test_batched_equals_one_at_a_time(model, outputs):
    _require(model)
    batched, single = outputs[model]
    scale = max(float(np.abs(single).max()), 1.0)
    assert batched[-1].shape == single.shape
    np.testing.assert_allclose(batched[-1], single, rtol=0, atol=1e-5 * scale)


@needs_cuda
@pytest.mark.parametrize("model", MODELS)
def test_cuda_rows_match_cpu_rows(model, outputs, weights_files):
    _require(model)
    from aesens.models import get_model

    gpu = get_model(model, device="cuda", batch_size=2, weights=str(weights_files[model]))
    assert_cuda_rows_match_cpu(gpu, CLIPS[model], outputs[model][0])


def test_stub_modules_under_the_torchaudio_placeholder(monkeypatch):
    """``import torchaudio.transforms as T`` works while crepe's torchaudio placeholder is in."""
    from aesens.models import _compat

    placeholder = _compat._MissingTorchaudio("torchaudio")
    monkeypatch.setitem(sys.modules, "torchaudio", placeholder)
    monkeypatch.delitem(sys.modules, "torchaudio.transforms", raising=False)
    with stub_modules("torchaudio", "torchaudio.transforms"):
        import torchaudio.transforms as transforms
    assert sys.modules["torchaudio"] is placeholder and "torchaudio.transforms" not in sys.modules
    with pytest.raises(ImportError, match="placeholder"):
        transforms.Resample(44100, 32000)
    with pytest.raises(ImportError, match="unavailable"):
        placeholder.transforms  # noqa: B018


# --- PANNs: the library's own inference wrapper ---------------------------------------------

def test_panns_equals_audio_tagging(loaded, weights_files, monkeypatch):
    """``AudioTagging(checkpoint_path).inference`` on 32-kHz mono audio gives the same rows."""
    _require("panns")
    path = weights_files["panns"]
    assert path.stat().st_size >= 3e8, "AudioTagging would try to download a smaller file"
    config = types.ModuleType("_aesens_panns_inference.config")  # its real one downloads
    config.labels, config.classes_num = [""] * 527, 527
    monkeypatch.setitem(sys.modules, "_aesens_panns_inference.config", config)
    with stub_modules("matplotlib", "matplotlib.pyplot"):
        inference = import_submodule("panns_inference", "inference")
    tagger = inference.AudioTagging(checkpoint_path=str(path), device="cpu")
    audio = _clip(1.0, 1)[:, :32000]
    _, expected = tagger.inference(audio)
    np.testing.assert_allclose(loaded["panns"].embed([audio], 32000)[0], expected, atol=1e-6)


# --- CLAP: the library's own preprocessing --------------------------------------------------

@pytest.fixture(scope="session")
def clap_wrapper():
    """msclap's ``CLAPWrapper`` class, its hub/tokenizer/torchaudio imports stubbed."""
    _require("clap")
    stubs = ("torchaudio", "torchaudio.transforms", "transformers", "yaml", "huggingface_hub",
             "huggingface_hub.file_download")
    with warnings.catch_warnings(), stub_modules(*stubs):
        if not hasattr(sys.modules["transformers"], "__file__"):  # the placeholder
            sys.modules["transformers"].logging = types.SimpleNamespace(
                set_verbosity_error=lambda: None)
        return import_submodule("msclap", "CLAPWrapper")  # it silences all warnings


@pytest.mark.parametrize("seconds, channels", [(3.0, 1), (3.0, 2), (3.5, 2), (5.0, 2), (9.0, 1),
                                               (0.01, 2)])
def test_clap_preprocess_is_the_librarys(seconds, channels, clap_wrapper, monkeypatch):
    """Tile (mono, IRMAS stereo, exactly 7 s) and crop (long; the random start pinned to centre)."""
    import torch

    from aesens.models import clap

    audio = _clip(seconds, channels)
    monkeypatch.setattr(clap_wrapper.random, "randrange", lambda stop: stop // 2)
    fake_self = types.SimpleNamespace(
        read_audio=lambda path, resample: (torch.from_numpy(audio), SR))
    expected = clap_wrapper.CLAPWrapper.load_audio_into_tensor(fake_self, "clip.wav", 7, False)
    ours = clap.preprocess(audio, SR)
    assert ours.dtype == np.float32 and ours.shape == (clap.CLIP_SAMPLES,)
    np.testing.assert_array_equal(ours, expected.numpy())


def test_clap_forward_equals_msclaps_get_audio_embeddings(loaded, weights_files, clap_wrapper):
    """The whole path, checkpoint to rows, against msclap's ``CLAPWrapper.get_audio_embeddings``.

    msclap's side: its own preprocessing, its ``AudioEncoder`` in a module
    holding it as ``audio_encoder`` (as msclap's ``CLAP`` does), loaded with
    ``load_state_dict(checkpoint["model"], strict=False)`` as msclap loads
    the checkpoint, and its batch forward.
    """
    import torch

    from aesens.models import clap

    clips = {f"clip{i}.wav": clip for i, clip in enumerate(CLIPS["clap"])}
    holder = torch.nn.Module()
    holder.audio_encoder = clap.build_audio_encoder()
    checkpoint = torch.load(weights_files["clap"], map_location="cpu")["model"]
    missing, _ = holder.load_state_dict(checkpoint, strict=False)
    assert not missing
    wrapper = object.__new__(clap_wrapper.CLAPWrapper)
    wrapper.args = types.SimpleNamespace(duration=clap.DURATION)
    wrapper.use_cuda = False
    wrapper.clap = holder.eval()
    wrapper.read_audio = lambda path, resample: (torch.from_numpy(clips[path]), SR)
    expected = wrapper.get_audio_embeddings(list(clips), resample=False).numpy()
    ours = np.concatenate(loaded["clap"].embed(list(clips.values()), SR))
    assert ours.shape == expected.shape == (len(clips), clap.DIM)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_clap_encoder_arguments_are_the_librarys_2023_config():
    _require("clap")
    from aesens.models import clap

    folder = Path(importlib.util.find_spec("msclap").submodule_search_locations[0])
    config = {}
    for line in (folder / "configs" / "config_2023.yml").read_text().splitlines():
        key, sep, value = line.split("#")[0].partition(":")
        if sep and value.strip():
            config[key.strip()] = value.strip().strip("'\"")
    args = clap.ENCODER_ARGS
    assert (config["audioenc_name"], int(config["out_emb"]), int(config["d_proj"])) == (
        args["audioenc_name"], args["d_in"], args["d_out"])
    for ours, theirs in [("sample_rate", "sampling_rate"), ("window_size", "window_size"),
                         ("hop_size", "hop_size"), ("mel_bins", "mel_bins"), ("fmin", "fmin"),
                         ("fmax", "fmax"), ("classes_num", "num_classes")]:
        assert args[ours] == int(config[theirs]), ours
    assert clap.DURATION == int(config["duration"])


def test_clap_checkpoint_without_audio_weights_is_refused(weights_dir):
    _require("clap")
    import torch

    from aesens.models import clap

    path = weights_dir / "text_only.pth"
    torch.save({"model": {"logit_scale": torch.tensor(1.0)}}, path)
    with pytest.raises(AesensError, match="lacks .* CLAP audio-encoder weights"):
        clap.load(weights=str(path))


# --- OpenL3: the library's own pipeline, and the official back end -------------------------

def test_openl3_equals_torchopenl3_get_audio_embedding(loaded):
    _require("openl3")
    import torch
    import torchopenl3

    network = loaded["openl3"]
    audio = CLIPS["openl3"][0]
    expected, _ = torchopenl3.get_audio_embedding(
        [torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float64))], SR,
        model=network.network, input_repr="mel128", content_type="music", embedding_size=512,
        center=True, hop_size=0.1, batch_size=32, sampler="resampy")
    ours = network.embed([audio], SR)[0]
    assert ours.shape == expected[0].shape == (_openl3_frames(audio.shape[1] / SR), 512)
    np.testing.assert_allclose(ours, expected[0].numpy(), atol=1e-5)


def test_openl3_gives_26_frames_for_3_seconds_and_records_its_framing(loaded):
    _require("openl3")
    import torch
    import torchopenl3.utils

    network = loaded["openl3"]
    audio = np.zeros((2, 3 * SR), dtype=np.float32)
    library = torchopenl3.utils.preprocess_audio_batch(
        torch.zeros((1, 3 * 48000), dtype=torch.float64), 48000)  # the library's defaults
    assert len(library) == 26 == len(network.embed([audio], SR)[0]) == _openl3_frames(3.0)
    meta = network.metadata()
    assert meta["center"] is True and meta["hop_seconds"] == 0.1


def test_openl3_prefers_the_official_package(monkeypatch, tmp_path):
    """Without a weights file, an installed ``openl3`` gets the paper's exact call."""
    from aesens.models import openl3

    weights = tmp_path / "openl3_audio_mel128_music.h5"
    weights.write_bytes(b"keras weights")
    calls = {}

    def get_audio_embedding(audio, sr, **kwargs):
        calls.update(kwargs, audio=audio, sr=sr)
        return [np.ones((1 + len(a) // 4410, 512)) for a in audio], None

    fake = types.ModuleType("openl3")
    fake.__spec__ = importlib.machinery.ModuleSpec("openl3", None)
    fake.get_audio_embedding = get_audio_embedding
    fake.models = types.SimpleNamespace(
        load_audio_embedding_model=lambda *args: ("keras model", args),
        get_audio_embedding_model_path=lambda *args: str(weights))
    monkeypatch.setitem(sys.modules, "openl3", fake)
    monkeypatch.delenv(openl3.WEIGHTS.env_var, raising=False)
    model = openl3.load(device="cpu", batch_size=32, weights=None)
    rows = model.embed([_clip(0.5, 2), _clip(0.3, 1)], SR)
    assert [r.shape for r in rows] == [(6, 512), (4, 512)] and rows[0].dtype == np.float32
    assert calls["model"] == ("keras model", ("mel128", "music", 512))
    assert {k: calls[k] for k in ("content_type", "input_repr", "embedding_size", "hop_size",
                                  "center", "batch_size")} == {
        "content_type": "music", "input_repr": "mel128", "embedding_size": 512,
        "hop_size": 0.1, "center": True, "batch_size": 32}
    assert [a.shape for a in calls["audio"]] == [(22050, 2), (13230, 1)]
    assert calls["sr"] == [SR, SR]
    meta = model.metadata()
    assert meta["library"] == "openl3" and meta["weights"] == weights.name


# --- errors ---------------------------------------------------------------------------------

@pytest.fixture
def empty_home(monkeypatch, tmp_path) -> Path:
    """HOME and the library caches point to an empty folder; no weights variables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", ALLOW_DOWNLOAD_ENV,
                 "AESENS_OPENL3_WEIGHTS", "AESENS_PANNS_WEIGHTS", "AESENS_CLAP_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.mark.parametrize("model, filename, url", [
    ("openl3", "torchopenl3_mel128_music_512.pth.tar", "github.com/torchopenl3"),
    ("panns", "Cnn14_mAP=0.431.pth", "zenodo.org/record/3987831"),
    ("clap", "CLAP_weights_2023.pth", "huggingface.co/microsoft/msclap"),
])
def test_missing_weights_message(model, filename, url, empty_home, monkeypatch):
    _require(model)
    module = importlib.import_module(f"aesens.models.{model}")
    if model == "openl3":  # an installed official openl3 would not need weights
        monkeypatch.setitem(sys.modules, "openl3", None)
    with pytest.raises(AesensError) as error:
        module.load(device="cpu", batch_size=1, weights=None)
    message = str(error.value)
    assert "\n" not in message and filename in message and url in message
    assert module.WEIGHTS.env_var in message and ALLOW_DOWNLOAD_ENV in message
    with pytest.raises(AesensError, match="does not exist"):
        module.load(device="cpu", batch_size=1, weights=str(empty_home / filename))
    assert list(empty_home.iterdir()) == []


def test_weights_download_only_when_allowed(empty_home, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from aesens.models.weights import WeightsFile, resolve_weights

    source = tmp_path / "published.pth"
    source.write_bytes(b"weights")
    spec = WeightsFile("demo", "published.pth", source.as_uri(), "AESENS_DEMO_WEIGHTS")
    target = empty_home / "cache" / "published.pth"
    with pytest.raises(AesensError, match=f"set {ALLOW_DOWNLOAD_ENV}=1"):
        resolve_weights(spec, None, [target], download_to=target)
    assert not target.exists()
    monkeypatch.setenv(ALLOW_DOWNLOAD_ENV, "1")
    assert resolve_weights(spec, None, [target], download_to=target) == target
    assert target.read_bytes() == b"weights"
    monkeypatch.setenv(spec.env_var, str(source))
    assert resolve_weights(spec, None, [target], download_to=target) == source


@pytest.mark.parametrize("model", MODELS)
def test_unreadable_weights_message(model, tmp_path, monkeypatch):
    _require(model)
    module = importlib.import_module(f"aesens.models.{model}")
    path = tmp_path / module.WEIGHTS.filename
    path.write_bytes(b"<html>not found</html>")
    monkeypatch.setenv(module.WEIGHTS.env_var, str(path))
    with pytest.raises(AesensError, match="not a readable PyTorch checkpoint") as error:
        module.load(device="cpu", batch_size=1, weights=None)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("model, hidden", [("openl3", "torchopenl3"), ("panns", "torchlibrosa"),
                                           ("clap", "torchlibrosa")])
def test_missing_library_names_the_extra(model, hidden, monkeypatch):
    module = importlib.import_module(f"aesens.models.{model}")
    monkeypatch.setitem(sys.modules, hidden, None)  # makes "import hidden" fail
    monkeypatch.setitem(sys.modules, "openl3", None)
    if model == "openl3":
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(AesensError, match=rf"pip install 'aesens\[{model}\]'"):
        module.load(device="cpu", batch_size=1, weights="unused.pth")


_HOME_SCRIPT = """
import sys
from aesens.models import get_model
for name in sys.argv[1:]:
    get_model(name, device="cpu", batch_size=1)
"""


def test_no_files_written_to_home(weights_files, tmp_path):
    """Import and load (weights from the environment variables) with an empty HOME."""
    if not weights_files:
        pytest.skip("no paper model library is installed")
    from aesens.models import clap, openl3, panns

    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XDG_", "TORCH_HOME", "HF_", "MPL", "AESENS_"))}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    variables = {"openl3": openl3.WEIGHTS.env_var, "panns": panns.WEIGHTS.env_var,
                 "clap": clap.WEIGHTS.env_var}
    for model, path in weights_files.items():
        env[variables[model]] = str(path)
    subprocess.run([sys.executable, "-c", _HOME_SCRIPT, *weights_files], env=env, check=True,
                   cwd=tmp_path, timeout=300)
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []

"""Tests of the hf models (aesens.models.hf): tiny random-weight transformers models.

Every architecture is built from a tiny config with random weights and saved
with ``save_pretrained`` (model and feature extractor) into a temporary
folder; nothing is downloaded. References: the library's own forward pass
(``model(**feature_extractor(...), output_hidden_states=True)``) on audio
down-mixed with numpy and resampled with ``soxr.resample(quality="HQ")``
(librosa's default resampler; ``librosa.resample`` can append one sample).
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soxr
from conftest import TINY_STEMS, chirp, load_script, read_attrs

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from aesens import store  # noqa: E402
from aesens.cli.options import add_model_options, model_names, model_specs  # noqa: E402
from aesens.errors import AesensError, run_cli  # noqa: E402
from aesens.models import ModelSpec, get_model, loaded_model  # noqa: E402
from aesens.models.hf import MODEL_TYPES, import_transformers  # noqa: E402
from aesens.testing import TINY_HF, save_tiny_hf  # noqa: E402

tr = import_transformers()
import huggingface_hub.constants  # noqa: E402  (after transformers, as aesens imports it)

#: Tolerance of float32 rows against the library's forward pass and against batching.
ATOL = 1e-5
RTOL = 1e-4

#: Architecture -> ``config.model_type`` of the tiny models.
TYPES = {"wav2vec2": "wav2vec2", "hubert": "hubert", "wavlm": "wavlm",
         "data2vec-audio": "data2vec-audio", "whisper": "whisper",
         "ast": "audio-spectrogram-transformer", "clap": "clap"}
ARCHITECTURES = list(TYPES)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Architecture -> folder holding its random-weight model and feature extractor."""
    root = tmp_path_factory.mktemp("hf")
    return {arch: save_tiny_hf(model_type, root / arch) for arch, model_type in TYPES.items()}


def _clips() -> list[np.ndarray]:
    """Stereo and mono clips of two lengths at 44.1 kHz (lengths mixed in one batch)."""
    return [chirp(1.5, f0=110.0), chirp(1.0, f0=220.0, channels=1), chirp(1.5, f0=330.0,
                                                                         channels=1)]


@functools.cache
def _library(folder: Path) -> tuple:
    """The model and feature extractor of a folder, loaded by transformers itself."""
    return (tr.AutoModel.from_pretrained(folder).eval(),
            tr.AutoFeatureExtractor.from_pretrained(folder))


def _reference(folder: Path, arch: str, clip: np.ndarray, layer, frames: bool) -> np.ndarray:
    """The library's own forward pass on one clip: mono, soxr HQ, feature extractor, model."""
    model, extractor = _library(folder)
    rate = extractor.sampling_rate
    signal = soxr.resample(clip.mean(axis=0), 44100, rate, quality="HQ")
    with torch.no_grad():
        if arch == "clap":
            np.random.seed(0)  # noqa: NPY002  (the extractor's own global generator)
            inputs = extractor([signal], sampling_rate=rate, return_tensors="pt")
            return model.get_audio_features(**inputs).pooler_output.numpy()
        inputs = extractor([signal], sampling_rate=rate, return_tensors="pt")
        if arch == "whisper":
            states = model.encoder(inputs["input_features"], output_hidden_states=True)
            n_frames = len(signal) // (2 * extractor.hop_length)
        else:
            states = model(**inputs, output_hidden_states=True)
        hidden = states.hidden_states
        chosen = {"last": states.last_hidden_state, "mean": torch.stack(hidden).mean(0)}.get(layer)
        chosen = (hidden[layer] if chosen is None else chosen)[0]
        if arch == "whisper":
            chosen = chosen[:n_frames]
        elif arch == "ast":
            n_freq, n_time = model.embeddings.get_shape(model.config)
            fbank_frames = 1 + (len(signal) - 400) // 160
            columns = chosen[2:].reshape(n_freq, n_time, -1).mean(0)
            chosen = columns[:int(np.ceil(fbank_frames / model.config.time_stride))]
    rows = chosen.numpy()
    return rows if frames else rows.mean(axis=0, keepdims=True)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_rows_equal_the_library_forward_pass_and_batching(folders, arch):
    model = get_model(f"hf:aesens-test/tiny-{arch}", device="cpu", batch_size=2,
                      weights=str(folders[arch]))
    clips = _clips()
    batched = model.embed(clips, 44100)
    assert model.name == f"hf+aesens-test--tiny-{arch}" and not model.frame_level
    for clip, rows in zip(clips, batched, strict=True):
        assert rows.dtype == np.float32 and rows.shape == (1, model.dim)
        np.testing.assert_allclose(rows, model.embed([clip], 44100)[0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(rows, _reference(folders[arch], arch, clip, "last", False),
                                   rtol=RTOL, atol=ATOL)
    assert not np.allclose(batched[0], batched[2])
    attrs = model.metadata()
    assert attrs["library"] == "transformers" and attrs["sample_rate"] == model.sample_rate
    assert attrs["model_id"] == f"aesens-test/tiny-{arch}"
    hashes = json.loads(attrs["weights_sha256"])
    assert list(hashes) == ["model.safetensors"] and len(hashes["model.safetensors"]) == 64


@pytest.mark.parametrize("arch", ["wav2vec2", "whisper", "ast"])
@pytest.mark.parametrize("layer", [0, 2, "mean"])
def test_layers_and_frames_equal_the_library_hidden_states(folders, arch, layer):
    option = "mean" if layer == "mean" else f"layer{layer}"
    model = get_model(f"hf:aesens-test/tiny-{arch}+{option}+frames", device="cpu",
                      weights=str(folders[arch]))
    assert model.frame_level and model.name.endswith(f"+{option}+frames")
    clips = _clips()[:2]
    for clip, rows in zip(clips, model.embed(clips, 44100), strict=True):
        reference = _reference(folders[arch], arch, clip, layer, True)
        assert rows.shape == reference.shape and len(rows) > 1
        np.testing.assert_allclose(rows, reference, rtol=RTOL, atol=ATOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_gpu_rows_equal_cpu_rows(folders, arch):
    cpu = get_model(f"hf:aesens-test/tiny-{arch}", device="cpu", weights=str(folders[arch]))
    gpu = get_model(f"hf:aesens-test/tiny-{arch}", device="cuda", weights=str(folders[arch]))
    clips = _clips()
    for ours, reference in zip(gpu.embed(clips, 44100), cpu.embed(clips, 44100), strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-4)
    assert gpu.metadata()["device"] == "cuda"


def test_waveform_frames_count_fifty_per_second(folders):
    model = get_model("hf:aesens-test/tiny-hubert+frames", device="cpu",
                      weights=str(folders["hubert"]))
    rows = model.embed([chirp(3.0)], 44100)[0]
    reference = _reference(folders["hubert"], "hubert", chirp(3.0), "last", True)
    assert rows.shape == reference.shape == (149, 32)  # 3 s, hop 320, receptive field 400
    np.testing.assert_allclose(rows, reference, rtol=RTOL, atol=ATOL)


def test_clap_has_no_layers_or_frames(folders):
    with pytest.raises(AesensError, match="CLAP gives one projected row"):
        get_model("hf:aesens-test/tiny-clap+frames", device="cpu", weights=str(folders["clap"]))


def test_every_supported_family_has_a_tiny_model(folders):
    assert set(TINY_HF) == set(TYPES.values()) <= set(MODEL_TYPES)
    for arch, model_type in TYPES.items():
        assert tr.AutoConfig.from_pretrained(folders[arch]).model_type == model_type
    with pytest.raises(AesensError, match="no tiny model of 'bert'"):
        save_tiny_hf("bert", folders["wav2vec2"])


def test_too_short_clip_is_refused_in_one_line(folders):
    model = get_model("hf:aesens-test/tiny-hubert", device="cpu", weights=str(folders["hubert"]))
    with pytest.raises(AesensError, match="shorter than the model's first frame"):
        model.embed([np.zeros((2, 500), dtype=np.float32)], 44100)


def test_layer_out_of_range_is_refused(folders):
    with pytest.raises(AesensError, match=r"hidden states 0\.\.2"):
        get_model("hf:aesens-test/tiny-wav2vec2+layer3", device="cpu",
                  weights=str(folders["wav2vec2"]))


def test_unsupported_architecture_is_one_line(tmp_path):
    folder = tmp_path / "bert"
    tr.AutoModel.from_config(tr.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=64)
                             ).save_pretrained(folder)
    tr.Wav2Vec2FeatureExtractor().save_pretrained(folder)
    with pytest.raises(AesensError, match="'bert' model; the hf embeddings support") as error:
        get_model("hf:some/bert", device="cpu", weights=str(folder))
    assert "\n" not in str(error.value)


def test_missing_model_is_one_line_naming_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AESENS_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(AesensError) as error:
        get_model("hf:nobody/no-such-model", device="cpu")
    message = str(error.value)
    assert "\n" not in message and "hf:nobody/no-such-model" in message
    assert str(tmp_path / "cache") in message
    assert "hf download nobody/no-such-model" in message and "AESENS_ALLOW_DOWNLOAD=1" in message
    with pytest.raises(AesensError, match="is not a model folder"):
        get_model("hf:nobody/no-such-model", device="cpu", weights=str(tmp_path))


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(AesensError, match=r"need transformers: pip install 'aesens\[hf\]'"):
        get_model("hf:facebook/wav2vec2-base", device="cpu")


def test_model_from_the_local_cache_without_weights(folders, tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--aesens-test--cached" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for path in folders["wav2vec2"].iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("AESENS_ALLOW_DOWNLOAD", raising=False)
    cached = get_model("hf:aesens-test/cached", device="cpu")
    local = get_model("hf:aesens-test/cached", device="cpu", weights=str(folders["wav2vec2"]))
    np.testing.assert_array_equal(cached.embed([chirp(1.0)], 44100)[0],
                                  local.embed([chirp(1.0)], 44100)[0])
    assert cached.metadata()["weights"] == "0" * 40  # the snapshot's commit
    assert cached.metadata()["weights_source"] == "cache"
    assert local.metadata()["weights_source"] == "folder"


def test_command_line_names_and_layer_options(folders):
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    assert model_names("mfcc, hf:facebook/wav2vec2-base") == [
        "mfcc", "hf+facebook--wav2vec2-base"]
    args = parser.parse_args(["--layer", "3", "--hf-output", "frames", "--device", "cpu"])
    specs = model_specs(["hf:facebook/wav2vec2-base", "mfcc"], args)
    assert [spec.name for spec in specs] == ["hf+facebook--wav2vec2-base+layer3+frames", "mfcc"]
    assert specs[0].loader == "aesens.models.hf:load+facebook--wav2vec2-base+layer3+frames"
    with pytest.raises(AesensError, match="names layer 2 but --layer 3"):
        model_specs(["hf:facebook/wav2vec2-base+layer2"], args)
    with pytest.raises(AesensError, match="apply to hf:<model id> embeddings only"):
        model_specs(["mfcc"], parser.parse_args(["--layer", "mean"]))
    with pytest.raises(AesensError, match=r"hf:<model id>"):
        model_names("vggish")


def test_spec_builds_the_model_in_any_process(folders):
    spec = ModelSpec.for_name("hf+aesens-test--tiny-wav2vec2+mean", device="cpu", batch_size=4,
                              weights=str(folders["wav2vec2"]))
    model = loaded_model(spec)
    assert model.name == spec.name and model.hf_name.layer == "mean"
    assert pickle.loads(pickle.dumps(spec)).build().name == spec.name


def test_stages_end_to_end_with_a_tiny_model(folders, tiny_dataset, tmp_path, monkeypatch,
                                             capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    common = ["--weights", str(folders["wav2vec2"]), "--device", "cpu", "--quiet"]
    name = "hf:aesens-test/tiny-wav2vec2"
    stored = "hf+aesens-test--tiny-wav2vec2"
    assert run_cli(load_script("2A.1_featureExtract_original.py").main, [name, *common]) == 0
    assert run_cli(load_script("2A.2_featureExtract_audioEffects.py").main,
                   ["gain", name, "0", "1", *common]) == 0
    features, keys = store.read_embeddings("embeddings/embeddings_gain_-38.5.h5", stored)
    original, original_keys = store.read_embeddings("embeddings/embeddings.h5", stored)
    assert features.shape == original.shape == (12, 32)
    assert list(keys) == list(original_keys) and not np.allclose(features, original)
    with h5py.File("embeddings/embeddings_gain_-40.0.h5", "r") as handle:
        assert list(handle["irmas"]) == [stored]  # one group, no subgroups
    attrs = read_attrs("embeddings/embeddings_gain_-40.0.h5", stored)
    assert attrs["library"] == "transformers" and attrs["effect"] == "gain"
    assert run_cli(load_script("2A.2_featureExtract_audioEffects.py").main,
                   ["gain", name, "0", "1", *common]) == 0
    assert "wrote 0 file(s), 2 already complete" in capsys.readouterr().out
    stems = [stem for _, stem in TINY_STEMS if "lat_sou" not in stem]
    names = {"cel": "cello", "flu": "flute", "pia": "piano"}
    rows = [f"{names[code]},classical,{stem},{'train' if i % 3 else 'test'}"
            for i, (code, stem) in enumerate(TINY_STEMS) if stem in stems]
    Path("split.csv").write_text("instrument,genre,file_name,split\n" + "\n".join(
        sorted(rows, key=lambda row: row.endswith("test"))) + "\n")
    averaged = tmp_path / "averaged.h5"
    assert run_cli(load_script("average_embeddings.py").main,
                   ["split.csv", "embeddings/embeddings_gain_-40.0.h5", stored,
                    str(averaged), "--original", "embeddings/embeddings.h5"]) == 0
    arrays = store.read_arrays(averaged)
    assert arrays["X_train"].shape == (7, 32) and arrays["X_test"].shape == (4, 32)
    features, keys = store.read_embeddings("embeddings/embeddings_gain_-40.0.h5", stored)
    by_key = dict(zip(store.decode_keys(keys), features, strict=True))
    np.testing.assert_allclose(arrays["X_train"][0], by_key[stems[1]], rtol=1e-6)


def test_mp3_sweep_of_a_tiny_model_end_to_end(folders, tiny_dataset, tmp_path, monkeypatch):
    """`2A.2 mp3 hf:<tiny model> 0 N`: every row is the model on pedalboard's MP3 of the file."""
    import pedalboard

    from aesens.dataset import discover, load_audio
    from aesens.effects.roundtrip import pcm16_roundtrip
    from aesens.models import get_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    name, stored = "hf:aesens-test/tiny-wav2vec2", "hf+aesens-test--tiny-wav2vec2"
    common = ["--weights", str(folders["wav2vec2"]), "--device", "cpu", "--quiet"]
    assert run_cli(load_script("2A.2_featureExtract_audioEffects.py").main,
                   ["mp3", name, "0", "1", *common]) == 0
    model = get_model(name, device="cpu", weights=str(folders["wav2vec2"]))
    for quality in ("9", "8"):
        features, keys = store.read_embeddings(f"embeddings/embeddings_mp3_{quality}.h5", stored)
        assert read_attrs(f"embeddings/embeddings_mp3_{quality}.h5",
                                stored)["effect_semantics"] == "published"
        files = discover(tiny_dataset)
        assert list(store.decode_keys(keys)) == [path.stem for path in files]
        path = files[3]
        audio, rate = load_audio(path, reader="pedalboard")
        coded = pedalboard.MP3Compressor(vbr_quality=int(quality))(audio, rate)
        expected = model.embed([pcm16_roundtrip(np.ascontiguousarray(coded))], rate)[0]
        np.testing.assert_allclose(features[3], expected.ravel(), rtol=1e-5, atol=1e-6)

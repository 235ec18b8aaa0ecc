"""Tests of ``--layer all`` (every hidden state of an hf encoder from one forward pass).

Tiny random-weight transformers models (:func:`aesens.testing.save_tiny_hf`,
two transformer layers: hidden states 0..2). The reference of every layer is
the same pipeline run with ``--layer N``, one extraction per layer: the
stored HDF5 datasets must be equal bit for bit. The forward passes are
counted by wrapping the transformers class's ``forward``, which every call
of the network goes through.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import chirp, load_script

pytest.importorskip("transformers")
pytest.importorskip("torch")

from aesens import store  # noqa: E402
from aesens.cli.options import add_model_options, model_specs  # noqa: E402
from aesens.errors import AesensError, run_cli  # noqa: E402
from aesens.models import ModelSpec, get_model, loaded_model, output_names  # noqa: E402
from aesens.models.hf import import_transformers  # noqa: E402
from aesens.models.hf_names import canonical_name, parse_name  # noqa: E402
from aesens.testing import save_tiny_hf  # noqa: E402

tr = import_transformers()

#: Architecture -> (``config.model_type``, the transformers class whose forward runs).
ARCHITECTURES = {"wav2vec2": ("wav2vec2", "Wav2Vec2Model"),
                 "whisper": ("whisper", "WhisperEncoder"),
                 "ast": ("audio-spectrogram-transformer", "ASTModel")}
NAME = "hf:aesens-test/tiny-wav2vec2"
STORED = "hf+aesens-test--tiny-wav2vec2"
LAYERS = range(3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Architecture -> folder of its random-weight model and feature extractor."""
    root = tmp_path_factory.mktemp("hf_layers")
    return {arch: save_tiny_hf(model_type, root / arch)
            for arch, (model_type, _) in ARCHITECTURES.items()}


@pytest.fixture
def forward_calls(monkeypatch) -> dict[str, int]:
    """Calls of each architecture's network ``forward`` (class name -> count)."""
    calls: dict[str, int] = {}
    for _, class_name in ARCHITECTURES.values():
        cls = getattr(tr, class_name, None) or getattr(tr.models.whisper.modeling_whisper,
                                                       class_name)
        original = cls.forward

        @functools.wraps(original)
        def counted(self, *args, _original=original, _name=class_name, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", counted)
    return calls


def _clips() -> list[np.ndarray]:
    """Stereo and mono clips of two lengths at 44.1 kHz: two equal-length chunks."""
    return [chirp(1.5, f0=110.0), chirp(1.0, f0=220.0, channels=1),
            chirp(1.5, f0=330.0, channels=1)]


@pytest.mark.parametrize("output", ["clip", "frames"])
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_layer_equals_its_own_model_bit_for_bit_in_one_pass(folders, forward_calls,
                                                                  arch, output):
    suffix = "" if output == "clip" else "+frames"
    weights = str(folders[arch])
    spec = ModelSpec.for_name(f"hf:aesens-test/tiny-{arch}+all{suffix}", device="cpu",
                              batch_size=2, weights=weights)
    names = [f"hf+aesens-test--tiny-{arch}+layer{layer}{suffix}" for layer in LAYERS]
    assert list(output_names(spec)) == names
    model = loaded_model(spec)
    assert list(model.outputs) == names
    class_name = ARCHITECTURES[arch][1]
    forward_calls.clear()
    every = model.embed_outputs(_clips(), 44100)
    assert forward_calls == {class_name: 2}  # one per equal-length chunk, not per layer
    for layer, name in zip(LAYERS, names, strict=True):
        alone = get_model(name, device="cpu", batch_size=2, weights=weights)
        forward_calls.clear()
        reference = alone.embed(_clips(), 44100)
        assert forward_calls == {class_name: 2}
        for ours, theirs in zip(every[name], reference, strict=True):
            assert ours.dtype == theirs.dtype == np.float32
            np.testing.assert_array_equal(ours, theirs)
        assert model.metadata(name) == alone.metadata()
        assert model.metadata(name)["layer"] == str(layer)
    assert not np.array_equal(every[names[0]][0], every[names[-1]][0])
    with pytest.raises(AesensError, match="one embedding per layer"):
        model.embed(_clips(), 44100)


def _datasets(path: Path, name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    with h5py.File(path, "r") as h5:
        group = h5[f"{store.DATASET_GROUP}/{name}"]
        return group["features"][()], group["keys"][()], dict(group.attrs)


def _run(script: str, *arguments: str) -> int:
    return run_cli(load_script(script).main, list(arguments))


def test_layer_all_writes_what_each_layer_writes(folders, forward_calls, tiny_dataset, tmp_path,
                                                 monkeypatch, capsys):
    """2A.1 and 2A.2 with ``--layer all`` against ``--layer N``: every HDF5 dataset equal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    common = ["--weights", str(folders["wav2vec2"]), "--device", "cpu", "--quiet",
              "--batch-size", "4"]
    original = "embeddings.h5"
    effected = "embeddings_gain_-40.0.h5"
    forward_calls.clear()
    assert _run("2A.1_featureExtract_original.py", NAME, "--layer", "all",
                "--embeddings-dir", "all", *common) == 0
    assert _run("2A.2_featureExtract_audioEffects.py", "gain", NAME, "0", "0", "--layer", "all",
                "--embeddings-dir", "all", *common) == 0
    assert forward_calls == {"Wav2Vec2Model": 2 * 3}  # 12 files in batches of 4, per setting
    assert f"{STORED}+layer0, {STORED}+layer1, {STORED}+layer2" in capsys.readouterr().out
    for layer in LAYERS:
        forward_calls.clear()
        assert _run("2A.1_featureExtract_original.py", NAME, "--layer", str(layer),
                    "--embeddings-dir", "each", *common) == 0
        assert _run("2A.2_featureExtract_audioEffects.py", "gain", NAME, "0", "0", "--layer",
                    str(layer), "--embeddings-dir", "each", *common) == 0
        assert forward_calls == {"Wav2Vec2Model": 2 * 3}
    for file_name in (original, effected):
        with h5py.File(Path("all") / file_name, "r") as h5:
            assert sorted(h5[store.DATASET_GROUP]) == [f"{STORED}+layer{n}" for n in LAYERS]
        for layer in LAYERS:
            name = f"{STORED}+layer{layer}"
            ours = _datasets(Path("all") / file_name, name)
            theirs = _datasets(Path("each") / file_name, name)
            assert ours[0].shape == (12, 32) and ours[0].dtype == np.float32
            np.testing.assert_array_equal(ours[0], theirs[0])
            np.testing.assert_array_equal(ours[1], theirs[1])
            assert ours[2] == theirs[2] and ours[2]["layer"] == str(layer)
    first, last = (_datasets(Path("all") / effected, f"{STORED}+layer{n}")[0] for n in (0, 2))
    assert not np.array_equal(first, last)


def test_layer_all_resumes_per_layer_file(folders, tiny_dataset, tmp_path, monkeypatch,
                                          capsys):
    """Complete layers are not redone; a layer missing or computed under other settings is."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    common = ["--weights", str(folders["wav2vec2"]), "--device", "cpu", "--quiet",
              "--batch-size", "4"]
    script = "2A.2_featureExtract_audioEffects.py"
    path = Path("embeddings/embeddings_gain_-40.0.h5")
    assert _run(script, "gain", NAME, "0", "0", "--layer", "all", *common) == 0
    published = _datasets(path, f"{STORED}+layer1")[0]
    capsys.readouterr()
    assert _run(script, "gain", NAME, "0", "0", "--layer", "all", *common) == 0
    assert "wrote 0 file(s), 1 already complete" in capsys.readouterr().out
    # layer 1 recomputed under the other effect semantics: the file is not complete any more
    assert _run(script, "gain", NAME, "0", "0", "--layer", "1", "--effect-semantics", "float",
                *common) == 0
    assert not np.array_equal(_datasets(path, f"{STORED}+layer1")[0], published)
    capsys.readouterr()
    assert _run(script, "gain", NAME, "0", "0", "--layer", "all", *common) == 0
    captured = capsys.readouterr()
    assert f"{STORED}+layer1 " in captured.err and "recomputing it" in captured.err
    assert f"{STORED}+layer0 " not in captured.err
    assert "wrote 1 file(s)" in captured.out
    features, _, attrs = _datasets(path, f"{STORED}+layer1")
    np.testing.assert_array_equal(features, published)
    assert attrs["effect_semantics"] == "published"
    # a layer missing from the file
    with h5py.File(path, "a") as h5:
        del h5[f"{store.DATASET_GROUP}/{STORED}+layer2"]
    assert _run(script, "gain", NAME, "0", "0", "--layer", "all", *common) == 0
    assert "wrote 1 file(s)" in capsys.readouterr().out
    assert _datasets(path, f"{STORED}+layer2")[0].shape == (12, 32)


def test_layer_all_names_and_options(folders):
    assert canonical_name("hf:facebook/wav2vec2-base+all") == "hf+facebook--wav2vec2-base+all"
    assert parse_name("hf+facebook--wav2vec2-base+frames+all").layer == "all"
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    args = parser.parse_args(["--layer", "all", "--device", "cpu", "--weights",
                              str(folders["wav2vec2"])])
    (spec,) = model_specs([NAME], args)
    assert spec.name == f"{STORED}+all"
    assert spec.outputs == tuple(f"{STORED}+layer{n}" for n in LAYERS)
    one = model_specs([NAME], parser.parse_args(["--layer", "1", "--device", "cpu"]))[0]
    assert one.outputs == () and output_names(one) == (f"{STORED}+layer1",)
    with pytest.raises(AesensError, match="names layer 2 but --layer all"):
        model_specs([f"{NAME}+layer2"], args)


@pytest.mark.parametrize("names", ["mfcc", "mfcc,crepe"])
def test_layer_all_on_other_embeddings_is_a_one_line_error(tiny_dataset, tmp_path, monkeypatch,
                                                           capsys, names):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(tiny_dataset))
    for script, arguments in (("2A.1_featureExtract_original.py", [names]),
                              ("2A.2_featureExtract_audioEffects.py", ["gain", names, "0", "0"])):
        assert _run(script, *arguments, "--layer", "all") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --layer all")
        assert names.replace(",", ", ") in err and "hf:" in err
    assert not Path("embeddings").exists()
    # -1 lists the grid before the embedding is read, as published
    assert _run("2A.2_featureExtract_audioEffects.py", "gain", names, "-1", "0",
                "--layer", "all") == 0
    assert "There are 31 parameters in the grid" in capsys.readouterr().out


def test_layer_all_of_clap_is_refused_in_one_line(tmp_path):
    folder = save_tiny_hf("clap", tmp_path / "clap")
    with pytest.raises(AesensError, match="CLAP gives one projected row") as error:
        ModelSpec.for_name("hf:aesens-test/tiny-clap+all", device="cpu", weights=str(folder))
    assert "\n" not in str(error.value)


def test_layer_all_of_a_missing_model_names_the_fetch_command(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AESENS_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(AesensError, match="hf download nobody/no-such-model") as error:
        ModelSpec.for_name("hf:nobody/no-such-model+all", device="cpu")
    assert "\n" not in str(error.value)


def test_help_documents_layer_all(capsys):
    for script in ("2A.1_featureExtract_original.py", "2A.2_featureExtract_audioEffects.py"):
        with pytest.raises(SystemExit):
            load_script(script).main(["--help"])
        assert "all: every hidden state" in " ".join(capsys.readouterr().out.split())

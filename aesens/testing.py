"""Support for tests and benchmarks: checkpoints of randomly initialised weights, in each paper
model's real format, and :func:`embed_files` (embeddings in memory).

The published weights of OpenL3, PANNs and CLAP cannot be downloaded
everywhere (the tests and benchmarks run offline), and neither the shapes
of the rows nor the speed of a model depend on the values of its weights.
Each saver here builds the model's real network with random weights (seeded,
so the file is the same on every run), saves it as the published checkpoint
is laid out and under the published file name, and returns its path; the
model's own ``load(weights=path)`` then reads it like the real one:

- ``openl3``: the ``torchopenl3`` network's state dict
  (``torchopenl3_mel128_music_512.pth.tar``, ~20 MB);
- ``panns``: ``{"iteration", "model": Cnn14 state dict}``
  (``Cnn14_mAP=0.431.pth``, ~330 MB);
- ``clap``: ``{"model": CLAP state dict}`` with the audio encoder under
  ``audio_encoder.`` and a few text-side entries, GPT-2 left out
  (``CLAP_weights_2023.pth``, ~120 MB).

Usage::

    from aesens.models import get_model
    from aesens.testing import save_random_weights

    path = save_random_weights("panns", folder)
    model = get_model("panns", device="cpu", weights=str(path))

For the ``hf`` embeddings, :func:`save_tiny_hf` writes a tiny transformers
model of one architecture (:data:`TINY_HF`) with random weights and its
feature extractor into a folder, as ``save_pretrained`` does, to pass as
``--weights DIR`` with any name ``hf:<id>``::

    folder = save_tiny_hf("wav2vec2", folder / "tiny")
    model = get_model("hf:aesens-test/tiny", device="cpu", weights=str(folder))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aesens.errors import AesensError

if TYPE_CHECKING:
    from aesens.extraction.setting import Setting
    from aesens.models import EmbeddingModel, ModelSpec


def save_openl3(folder: Path) -> Path:
    """Random ``PytorchOpenl3(music, mel128, 512)`` weights, as torchopenl3 publishes them."""
    import torch
    from torchopenl3.models import PytorchOpenl3

    from aesens.models import openl3

    torch.manual_seed(0)
    path = Path(folder) / openl3.WEIGHTS.filename
    torch.save(PytorchOpenl3("music", "mel128", 512).state_dict(), path)
    return path


def save_panns(folder: Path) -> Path:
    """Random Cnn14 weights in the layout of ``Cnn14_mAP=0.431.pth``."""
    import torch

    from aesens.models import panns

    torch.manual_seed(0)
    path = Path(folder) / panns.WEIGHTS.filename
    network = panns.cnn14_class()(**panns.CNN14_ARGS)
    torch.save({"iteration": 0, "model": network.state_dict()}, path)
    return path


def save_clap(folder: Path) -> Path:
    """msclap's format: ``{"model": CLAP state dict}`` (GPT-2 text weights left out)."""
    import torch

    from aesens.models import clap

    torch.manual_seed(0)
    path = Path(folder) / clap.WEIGHTS.filename
    encoder = clap.build_audio_encoder()
    state = {f"{clap.STATE_PREFIX}{key}": value for key, value in encoder.state_dict().items()}
    state.update({"caption_encoder.projection.linear1.weight": torch.randn(1024, 768),
                  "caption_encoder.projection.linear2.weight": torch.randn(1024, 1024),
                  "logit_scale": torch.tensor(np.log(1 / 0.07))})
    torch.save({"model": state}, path)
    return path


#: Model name -> saver writing its random-weight checkpoint into a folder.
SAVERS: dict[str, Callable[[Path], Path]] = {"openl3": save_openl3, "panns": save_panns,
                                             "clap": save_clap}


#: Layer sizes of the tiny transformer models.
_TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 64}
#: Four conv layers of hop 320 samples: 50 frames per second at 16 kHz, as the real models.
_CONV = {"conv_dim": (16,) * 4, "conv_stride": (5, 4, 4, 4), "conv_kernel": (10, 4, 4, 4),
         "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}


def _tiny_hf(model_type: str) -> tuple:
    """The tiny config and feature extractor of an architecture."""
    from aesens.models.hf import import_transformers

    tr = import_transformers()

    def waveform(**kwargs):
        return tr.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, **kwargs)

    if model_type == "wav2vec2":
        return tr.Wav2Vec2Config(**_TINY, **_CONV), waveform()
    if model_type == "hubert":
        return tr.HubertConfig(**_TINY, **_CONV), waveform()
    if model_type == "wavlm":
        return (tr.WavLMConfig(**_TINY, **_CONV, num_buckets=16, max_bucket_distance=50),
                waveform(return_attention_mask=True))
    if model_type == "data2vec-audio":
        return (tr.Data2VecAudioConfig(**_TINY, **{**_CONV, "num_conv_pos_embeddings": 3},
                                       conv_pos_kernel_size=3),
                waveform(return_attention_mask=True))
    if model_type == "whisper":  # a 4-s window (real Whisper: 30 s)
        return (tr.WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1,
                                 encoder_attention_heads=2, decoder_attention_heads=2,
                                 encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                                 max_source_positions=200, max_target_positions=32,
                                 vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                 decoder_start_token_id=1),
                tr.WhisperFeatureExtractor(feature_size=80, chunk_length=4))
    if model_type == "audio-spectrogram-transformer":  # 4-s input, 32 mel bands
        return (tr.ASTConfig(**_TINY, max_length=400, num_mel_bins=32),
                tr.ASTFeatureExtractor(num_mel_bins=32, max_length=400))
    # clap: 2-s input, 16 mel bands, a two-stage HTSAT
    text = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 40}
    audio = {"hidden_size": 32, "patch_embeds_hidden_size": 16, "depths": [1, 1],
             "num_attention_heads": [1, 2], "window_size": 4, "spec_size": 64,
             "num_mel_bins": 16, "patch_stride": (4, 4), "enable_fusion": False}
    return (tr.ClapConfig(text_config=text, audio_config=audio, projection_dim=24),
            tr.ClapFeatureExtractor(feature_size=16, max_length_s=2, fft_window_size=256,
                                    hop_length=480, truncation="rand_trunc"))


#: Architectures (``config.model_type``) :func:`save_tiny_hf` builds.
TINY_HF = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper",
           "audio-spectrogram-transformer", "clap")


def save_tiny_hf(model_type: str, folder: Path) -> Path:
    """Save a tiny random-weight transformers model and its feature extractor into ``folder``.

    Parameters
    ----------
    model_type : str
        One of :data:`TINY_HF`.
    folder : Path
        Created if needed; gets ``config.json``, ``model.safetensors`` and
        ``preprocessor_config.json``.

    Returns
    -------
    Path
        ``folder``, for ``--weights``.

    Raises
    ------
    AesensError
        For another architecture.
    """
    if model_type not in TINY_HF:
        raise AesensError(f"no tiny model of {model_type!r}; choose one of {', '.join(TINY_HF)}")
    import torch

    from aesens.models.hf import import_transformers

    config, extractor = _tiny_hf(model_type)
    torch.manual_seed(0)
    folder = Path(folder)
    import_transformers().AutoModel.from_config(config).save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


def save_random_weights(model: str, folder: Path) -> Path:
    """Save a random-weight checkpoint of ``model`` (openl3, panns or clap) into ``folder``.

    Raises
    ------
    AesensError
        If ``model`` takes no weights file.
    """
    if model not in SAVERS:
        raise AesensError(f"{model!r} has no weights file; random weights exist for "
                          f"{', '.join(SAVERS)}")
    return SAVERS[model](Path(folder))


def embed_files(files: Sequence[Path], models: Sequence[EmbeddingModel | ModelSpec],
                setting: Setting, batch_size: int = 32, progress: bool = True,
                shard_size: int | None = None
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embed every file of the dataset under one setting with one or more models, in memory
    (the units of :func:`aesens.extraction.run.extract`, nothing written; for tests and
    benchmarks).

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files.
    models : sequence of EmbeddingModel or ModelSpec
        Models sharing the loaded and effected audio.
    setting : Setting
        Effect setting (or the original audio).
    batch_size : int
        Files per model call.
    progress : bool
        Show a tqdm progress bar.
    shard_size : int, optional
        Files per work unit (the progress bar's step; default: the extraction's).

    Returns
    -------
    dict
        Model name -> ``(features (rows, dim) float32, keys (rows,) str)``.
    """
    from tqdm import tqdm

    from aesens.extraction.executor import InProcessExecutor
    from aesens.extraction.run import DEFAULT_SHARD_SIZE, merge_shards, run_unit, work_units

    shard_size = DEFAULT_SHARD_SIZE if shard_size is None else shard_size
    executor = InProcessExecutor()
    units = work_units(files, models, setting, 0, batch_size, shard_size,
                       executor.prepare_threads, in_order=True)
    shards = []
    with tqdm(total=len(files), desc=setting.label, unit="file", disable=not progress,
              leave=False) as bar:
        for result in executor.map_unordered(run_unit, units):
            shards.append(result)
            bar.update(result.n_files)
    return merge_shards(shards)

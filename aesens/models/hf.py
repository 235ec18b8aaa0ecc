"""Audio encoders from Hugging Face ``transformers``: the ``hf`` family of embeddings.

The embeddings are named ``hf:<model id>[+option...]`` (layer and output
choices, :mod:`aesens.models.hf_names`); each name's loader is an attribute
of this module (:func:`__getattr__`).

Architectures (``config.model_type``)
-------------------------------------
- waveform encoders, ``wav2vec2``, ``hubert``, ``wavlm``, ``data2vec-audio``
  (and ``wav2vec2-conformer``, ``unispeech``, ``unispeech-sat``, ``sew``,
  ``sew-d``): the feature extractor's ``input_values`` (normalised when its
  ``do_normalize`` says so) and ``attention_mask`` when it returns one; the
  frames are the transformer's time steps (50 per second);
- ``whisper``: the encoder only, on the feature extractor's log-mel input
  padded to its 30-s window (as Whisper is run); the frames are the encoder
  steps covering the clip (the padding's are dropped, clip means are over
  the clip's own frames);
- ``audio-spectrogram-transformer`` (AST): patch tokens of the fbank input
  (padded to the feature extractor's ``max_length``); a frame row is the mean
  of one time column of patches over frequency, the columns starting inside
  the clip are kept; the class and distillation tokens are not used;
- ``clap``: ``ClapModel.get_audio_features``, the audio tower's projection
  as transformers returns it (L2-normalised), one row per clip; it has no
  hidden-state layers or frames to choose.

Input: channels averaged (as ``librosa.load(mono=True)``), then resampled to
the feature extractor's ``sampling_rate`` with soxr HQ (librosa's default
resampler); the feature extractor then does its own normalisation, padding
and truncation. Clips are batched by length, so a batch never pads (the
waveform encoders' group normalisation would see the padding): every row
equals the row of the clip embedded alone, within float tolerance. CLAP's
feature extractor marks one clip of each call at random as "longer"; it is
called once per clip under a fixed seed, which equals one clip at a time.

Layers: ``+layerN``, ``+mean`` and ``+last`` give one embedding each;
``+all`` runs the network once per batch with ``output_hidden_states`` and
gives every hidden state ``0..n_layers`` as an embedding of its own, named
and computed as ``+layerN`` is (:attr:`HfModel.outputs`,
:meth:`HfModel.embed_outputs`): the rows of each equal those of
``+layerN`` bit for bit.

Weights: ``--weights DIR`` (a folder with ``config.json``, the weights and
``preprocessor_config.json``, as ``save_pretrained`` writes), else the local
Hugging Face cache (``$HF_HOME``, ``$HF_HUB_CACHE``). Nothing is downloaded
unless ``AESENS_ALLOW_DOWNLOAD=1``; a missing model is a one-line error
saying how to fetch it. The metadata records the model id, where the
weights came from (``weights_source``: ``cache``, with the snapshot's commit
as ``weights``, or ``folder``, with the folder's name) and the SHA-256 of
each weights file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aesens.errors import AesensError
from aesens.models.hf_names import (
    ALL_LAYERS,
    LOADER_PREFIX,
    PREFIX,
    HfName,
    layer_names,
    parse_name,
)
from aesens.models.preprocessing import indices_by_length, map_clips, resample, to_mono
from aesens.models.torch_model import TorchModel
from aesens.models.weights import ALLOW_DOWNLOAD_ENV, file_sha256, library_version

if TYPE_CHECKING:
    import torch

#: Model types that take the waveform itself (``input_values``).
WAVEFORM_TYPES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                  "unispeech", "unispeech-sat", "sew", "sew-d")
#: Every supported ``config.model_type``.
MODEL_TYPES = (*WAVEFORM_TYPES, "whisper", "audio-spectrogram-transformer", "clap")
#: What the resampling uses, recorded in the metadata.
RESAMPLER = "soxr HQ"
#: Seed of CLAP's feature extractor (its random crops and "longer" flag).
CLAP_SEED = 0
#: How to install transformers.
INSTALL = "pip install 'aesens[hf]'"
#: Files holding the weights in a model folder.
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


def __getattr__(attribute: str) -> Callable[..., HfModel]:
    """The loader of one ``hf`` name (``load+<canonical name without hf+>``)."""
    if not attribute.startswith(LOADER_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    hf_name = parse_name(PREFIX + attribute[len(LOADER_PREFIX):])

    def loader(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> HfModel:
        return load(hf_name.name, device=device, batch_size=batch_size, weights=weights)

    return loader


def _hub_cache() -> Path:
    """Where ``huggingface_hub`` keeps models (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _missing(model_id: str) -> AesensError:
    return AesensError(
        f"hf:{model_id}: not in the local Hugging Face cache ({_hub_cache()}); fetch it with "
        f"`hf download {model_id}` (huggingface_hub's command line), pass --weights DIR (a "
        "folder saved with save_pretrained), or set AESENS_ALLOW_DOWNLOAD=1 to download it")


@contextlib.contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the block, and put its state back afterwards.

    CLAP's feature extractor draws from the legacy global generator, so that
    is the one to seed.
    """
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def import_transformers() -> Any:
    """Import transformers, telling it that torchaudio is unavailable if it does not load.

    transformers imports torchaudio (and AST's feature extractor
    ``torchaudio.compliance.kaldi``) whenever the torchaudio distribution is
    present; a torchaudio built for another torch fails there. Only then is
    transformers told that torchaudio is unavailable, which selects its numpy
    implementations. Call this before importing any transformers model.

    Raises
    ------
    AesensError
        If transformers is not installed.
    """
    import importlib.util

    try:
        import transformers
    except ImportError:
        raise AesensError(f"the hf embeddings need transformers: {INSTALL}") from None
    try:
        present = importlib.util.find_spec("torchaudio") is not None
    except ValueError:  # a placeholder without a spec (aesens.models._compat.stub_torchaudio)
        present = True
    if present:
        try:
            import torchaudio.compliance.kaldi  # noqa: F401
        except (ImportError, OSError):
            import transformers.utils
            import transformers.utils.import_utils

            transformers.utils.import_utils.is_torchaudio_available = lambda: False
            transformers.utils.is_torchaudio_available = lambda: False
    return transformers


@contextlib.contextmanager
def _quiet(transformers: Any) -> Iterator[None]:
    """transformers' progress bars and notes off while a model loads, as they were afterwards."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _weight_files(folder: Path) -> list[Path]:
    files = sorted({path for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern)})
    return [path for path in files if path.is_file()]


class HfModel(TorchModel):
    """An audio encoder from transformers behind the embedding interface.

    A model of ``+all`` layers gives several embeddings from one forward pass
    (:attr:`outputs`, :meth:`embed_outputs`, :meth:`metadata` of each);
    the others give one, its :attr:`name`.

    Parameters
    ----------
    hf_name : HfName
        Model id, layer and output.
    model : torch.nn.Module
        The loaded transformers model.
    extractor : object
        Its feature extractor.
    folder : Path
        The folder its files were read from.
    source : str
        ``"cache"`` (a Hugging Face cache snapshot) or ``"folder"`` (``--weights``).
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass.

    Raises
    ------
    AesensError
        If the architecture is not supported, or the layer or output does not
        apply to it.
    """

    def __init__(self, hf_name: HfName, model: torch.nn.Module, extractor: Any, folder: Path,
                 source: str, device: str, batch_size: int) -> None:
        self.hf_name = hf_name
        self.name = hf_name.name
        self.model_type = model.config.model_type
        if self.model_type not in MODEL_TYPES:
            raise AesensError(f"hf:{hf_name.model_id} is a {self.model_type!r} model; the hf "
                              f"embeddings support {', '.join(MODEL_TYPES)}")
        if self.model_type == "clap" and (hf_name.layer != "last" or hf_name.output != "clip"):
            raise AesensError(f"{self.name}: CLAP gives one projected row per clip; drop the "
                              "layer and output options")
        super().__init__(device, batch_size)
        self.model = self.on_device(model)
        self.encoder = (model.get_encoder() if self.model_type == "whisper" else model)
        self.extractor = extractor
        self.folder = folder
        self.source = source
        self.sample_rate = int(extractor.sampling_rate)
        self.frame_level = hf_name.output == "frames"
        config = model.config
        self.dim = int(config.projection_dim if self.model_type == "clap"
                       else getattr(config, "d_model", None) or config.hidden_size)
        if isinstance(hf_name.layer, int):
            n_layers = n_hidden_layers(config)
            if hf_name.layer > n_layers:
                raise AesensError(f"{self.name}: hf:{hf_name.model_id} has hidden states 0.."
                                  f"{n_layers}; choose --layer 0..{n_layers}, last, mean or all")
        if hf_name.layer == ALL_LAYERS:
            self.layers = tuple(range(n_hidden_layers(config) + 1))
            self.outputs = layer_names(self.name, len(self.layers) - 1)
        else:
            self.layers = (hf_name.layer,)
            self.outputs = (self.name,)
        self._hashes = {path.name: file_sha256(path) for path in _weight_files(folder)}

    # -- preprocessing -------------------------------------------------------------------------

    def preprocess(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Channel mean, then soxr HQ to the feature extractor's rate: a float32 1-D signal."""
        return resample(to_mono(audio), sample_rate, self.sample_rate)

    def features(self, signals: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """The feature extractor's tensors for signals of one length, at the model's rate."""
        import torch

        if self.model_type == "clap":
            parts = []
            for signal in signals:
                with _numpy_seed(CLAP_SEED):
                    parts.append(self.extractor([signal], sampling_rate=self.sample_rate,
                                                return_tensors="pt"))
            return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
        kwargs = {"return_attention_mask": True} if self.model_type == "whisper" else {}
        return dict(self.extractor(list(signals), sampling_rate=self.sample_rate,
                                   return_tensors="pt", **kwargs))

    # -- forward -------------------------------------------------------------------------------

    def _hidden(self, network: torch.nn.Module, **inputs: torch.Tensor) -> list[torch.Tensor]:
        """The chosen layers, each ``(clips, steps, dim)``, from one call of ``network``.

        Hidden states are only asked for when a layer other than the last is chosen.
        """
        import torch

        outputs = network(**inputs, output_hidden_states=self.layers != ("last",))
        chosen = []
        for layer in self.layers:
            if layer == "last":
                chosen.append(outputs.last_hidden_state)
            elif layer == "mean":
                chosen.append(torch.stack(tuple(outputs.hidden_states)).mean(dim=0))
            else:
                chosen.append(outputs.hidden_states[layer])
        return chosen

    def _check_length(self, n_samples: int) -> None:
        """Refuse, in one line, a clip too short for a waveform encoder's convolutions."""
        import torch

        steps = int(self.model._get_feat_extract_output_lengths(torch.tensor(n_samples)))
        if steps < 1:
            raise AesensError(f"{self.name}: a clip of {n_samples} samples at {self.sample_rate} "
                              "Hz is shorter than the model's first frame; use longer clips")

    def forward(self, inputs: dict[str, torch.Tensor], n_samples: int) -> list[np.ndarray]:
        """Rows ``(clips, frames, dim)`` (clip output: one frame) of one equal-length chunk.

        One array per output (:attr:`outputs`), all from one forward pass.
        """
        import torch

        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.no_grad():
            if self.model_type == "clap":
                outputs = self.model.get_audio_features(**inputs)
                return [outputs.pooler_output[:, None, :].float().cpu().numpy()]
            if self.model_type == "whisper":
                mask = inputs.pop("attention_mask")
                hidden = self._hidden(self.encoder, input_features=inputs["input_features"])
                valid = int(self.encoder._get_feat_extract_output_lengths(mask.sum(-1))[0])
                chosen = [layer[:, :valid] for layer in hidden]
            elif self.model_type == "audio-spectrogram-transformer":
                chosen = [self._ast_columns(layer, n_samples)
                          for layer in self._hidden(self.model, **inputs)]
            else:
                self._check_length(n_samples)
                chosen = self._hidden(self.model, **inputs)
            if not self.frame_level:
                chosen = [frames.mean(dim=1, keepdim=True) for frames in chosen]
            return [frames.float().cpu().numpy() for frames in chosen]

    def _ast_columns(self, hidden: torch.Tensor, n_samples: int) -> torch.Tensor:
        """AST patch tokens as time columns (mean over frequency), the clip's columns only."""
        config = self.model.config
        n_freq, n_time = self.model.embeddings.get_shape(config)
        patches = hidden[:, -n_freq * n_time:].reshape(len(hidden), n_freq, n_time, -1)
        # Kaldi fbank frames (25-ms windows, 10-ms hop, snip_edges), as the feature extractor
        frame_shift, frame_length = self.sample_rate // 100, self.sample_rate * 25 // 1000
        n_frames = min(1 + max(n_samples - frame_length, 0) // frame_shift, config.max_length)
        valid = max(1, min(n_time, -(-n_frames // config.time_stride)))
        return patches.mean(dim=1)[:, :valid]

    def embed_outputs(self, batch: Sequence[np.ndarray],
                      sample_rate: int) -> dict[str, list[np.ndarray]]:
        """Embed float32 ``(channels, samples)`` clips; per output, ``(rows, dim)`` per clip.

        One forward pass per chunk of equal-length clips gives every output.
        """
        rows: dict[str, list[np.ndarray | None]] = {name: [None] * len(batch)
                                                    for name in self.outputs}
        if not batch:
            return rows
        signals = map_clips(lambda audio: self.preprocess(audio, sample_rate), batch)
        for n_samples, indices in indices_by_length(signals).items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                out = self.forward(self.features([signals[i] for i in chunk]), n_samples)
                for name, layer_rows in zip(self.outputs, out, strict=True):
                    for index, clip_rows in zip(chunk, layer_rows, strict=True):
                        rows[name][index] = np.ascontiguousarray(clip_rows, dtype=np.float32)
        return rows

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; ``(rows, dim)`` float32 per clip.

        Raises
        ------
        AesensError
            For a model of ``+all`` layers, which gives several embeddings
            (:meth:`embed_outputs`).
        """
        if len(self.outputs) > 1:
            raise AesensError(f"{self.name} gives one embedding per layer "
                              f"({', '.join(self.outputs)}); use embed_outputs")
        return self.embed_outputs(batch, sample_rate)[self.name]

    def metadata(self, output: str | None = None) -> dict[str, str | int | float]:
        """Model description stored next to the features of ``output`` (default: :attr:`name`)."""
        layer = self.hf_name.layer if output is None else parse_name(output).layer
        return {
            "model": f"hf:{self.hf_name.model_id} ({type(self.model).__name__})",
            "model_id": self.hf_name.model_id,
            "model_type": self.model_type,
            "library": "transformers",
            "library_version": library_version("transformers"),
            "sample_rate": self.sample_rate,
            "layer": "projection" if self.model_type == "clap" else str(layer),
            "output": self.hf_name.output,
            "input": f"channel mean, {RESAMPLER} to {self.sample_rate} Hz, "
                     f"{type(self.extractor).__name__}",
            "weights": self.folder.name,
            "weights_source": self.source,
            "weights_sha256": json.dumps(self._hashes, sort_keys=True),
            "device": self.device,
        }


def _cached_folder(model_id: str) -> Path | None:
    """The cache snapshot holding ``model_id``'s config, if any."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def _source(hf_name: HfName, weights: str | None) -> tuple[str, bool]:
    """Where the model is read from (``--weights`` folder or model id) and whether only locally.

    Raises
    ------
    AesensError
        If ``weights`` is not a model folder.
    """
    if weights:
        source = Path(weights).expanduser()
        if not (source / "config.json").is_file():
            raise AesensError(f"--weights {source} is not a model folder (no config.json); give "
                              f"the folder that save_pretrained wrote or `hf download "
                              f"{hf_name.model_id} --local-dir DIR` fills")
        return str(source), True
    return hf_name.model_id, os.environ.get(ALLOW_DOWNLOAD_ENV) != "1"


def n_hidden_layers(config: Any) -> int:
    """The transformer layers of a configuration: its hidden states are ``0..n``."""
    return int(getattr(config, "encoder_layers", None) or config.num_hidden_layers)


def _loading_error(hf_name: HfName, where: str, weights: str | None, local: bool,
                   error: Exception, what: str, fix: str = "") -> AesensError:
    """The one-line error of a failed load: from ``--weights``, the cache or a download."""
    if weights:
        detail = " ".join(str(error).split())[:200]
        return AesensError(f"--weights {where}: {what} ({detail}){fix}")
    if local:
        return _missing(hf_name.model_id)
    return AesensError(f"hf:{hf_name.model_id}: download failed ({error}); fetch it with "
                       f"`hf download {hf_name.model_id}`")


def hidden_state_count(name: str, weights: str | None = None) -> int:
    """The last hidden-state index of an ``hf`` model, read from its configuration alone.

    Used to name the embeddings of ``+all`` before the model is loaded
    (:func:`aesens.models.hf_names.output_names`).

    Raises
    ------
    AesensError
        If transformers is missing, the configuration is found neither in
        ``weights`` nor in the cache, or the model has no layers to choose (CLAP).
    """
    hf_name = parse_name(name)
    transformers = import_transformers()
    where, local = _source(hf_name, weights)
    try:
        with _quiet(transformers):
            config = transformers.AutoConfig.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError) as error:
        raise _loading_error(hf_name, where, weights, local, error,
                             f"cannot read the configuration of hf:{hf_name.model_id}") from None
    if config.model_type == "clap":
        raise AesensError(f"{hf_name.name}: CLAP gives one projected row per clip; drop the "
                          "layer and output options")
    return n_hidden_layers(config)


def load(name: str, device: str = "cpu", batch_size: int = 32,
         weights: str | None = None) -> HfModel:
    """Build an ``hf`` embedding model.

    Parameters
    ----------
    name : str
        ``hf:<model id>[+option...]``.
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass.
    weights : str, optional
        A folder with the model's ``config.json``, weights and
        ``preprocessor_config.json``; else the local Hugging Face cache.

    Raises
    ------
    AesensError
        If transformers is missing, or the model is found neither in
        ``weights`` nor in the cache (and downloading is not allowed), or it
        is not a supported architecture.
    """
    hf_name = parse_name(name)
    transformers = import_transformers()
    where, local = _source(hf_name, weights)
    try:
        with _quiet(transformers):
            model = transformers.AutoModel.from_pretrained(where, local_files_only=local)
            extractor = transformers.AutoFeatureExtractor.from_pretrained(
                where, local_files_only=local)
    except (OSError, ValueError) as error:
        raise _loading_error(hf_name, where, weights, local, error,
                             f"cannot load hf:{hf_name.model_id}",
                             "; save the model and its feature extractor there with "
                             "save_pretrained") from None
    folder = Path(where) if weights else (_cached_folder(hf_name.model_id) or _hub_cache())
    return HfModel(hf_name, model, extractor, folder, "folder" if weights else "cache", device,
                   batch_size)

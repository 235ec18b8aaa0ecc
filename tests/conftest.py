"""Shared test fixtures: tiny generated audio and a tiny IRMAS-format dataset."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from aesens import effects, store
from aesens.effects.filters import cheby_lowpass_sos

SAMPLE_RATE = 44100

#: (instrument code, stem) pairs of the tiny dataset: both naming patterns,
#: several source recordings ("groups") per class, several excerpts each.
TINY_STEMS = [
    ("cel", "[cel][cla]0001__1"), ("cel", "[cel][cla]0001__2"),
    ("cel", "008__[cel][nod][cla]0058__1"), ("cel", "[cel][pop_roc]0002__1"),
    ("flu", "[flu][jaz_blu]0101__1"), ("flu", "[flu][jaz_blu]0101__2"),
    ("flu", "012__[flu][dru][pop_roc]0102__1"), ("flu", "[flu][cla]0103__1"),
    ("pia", "[pia][cou_fol]0201__1"), ("pia", "[pia][cou_fol]0201__2"),
    ("pia", "031__[pia][nod][jaz_blu]0202__3"), ("pia", "[pia][lat_sou]0203__1"),
]


def chirp(seconds: float = 3.0, sample_rate: int = SAMPLE_RATE, f0: float = 110.0,
          f1: float = 3520.0, channels: int = 2, amplitude: float = 0.3) -> np.ndarray:
    """A float32 ``(channels, samples)`` exponential chirp, channels slightly detuned."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rows = []
    for channel in range(channels):
        k = (f1 / f0) ** (1 / seconds)
        phase = 2 * np.pi * f0 * (1 + 0.01 * channel) * (k ** t - 1) / np.log(k)
        rows.append(amplitude * np.sin(phase))
    return np.asarray(rows, dtype=np.float32)


def clip_batch(n_clips: int, seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Clips of 16-bit-quantised audio (half of them) and of unquantised noise and chirps.

    16-bit values multiplied by powers of two land exactly on rounding ties,
    the hard case for bitcrush; chirps of several pitches excite the filters.
    """
    rng = np.random.default_rng(seed)
    samples = int(seconds * SAMPLE_RATE)
    clips = []
    for index in range(n_clips):
        audio = chirp(seconds, f0=80.0 * (index + 1), channels=channels)
        audio = audio + 0.05 * rng.standard_normal((channels, samples)).astype(np.float32)
        if index % 2 == 0:
            audio = np.round(audio * 32768) / 32768
        clips.append(audio.astype(np.float32))
    return np.stack(clips)


def misfit_outputs(inputs: np.ndarray) -> list[np.ndarray]:
    """Arrays an ``out`` argument may not be: larger, smaller, float64, float16, or not
    C-contiguous."""
    larger = np.zeros((*inputs.shape[:-1], inputs.shape[-1] + 1), np.float32)
    return [larger, larger[..., :-2].copy(), np.zeros(inputs.shape, np.float64),
            np.zeros(inputs.shape, np.float16), np.zeros(inputs.shape[::-1], np.float32).T]


def music(seconds: float, sample_rate: int, channels: int, seed: int = 0) -> np.ndarray:
    """A chirp with a little noise, float32 ``(channels, samples)``, peaks about -9 dBFS."""
    rng = np.random.default_rng(seed)
    audio = chirp(seconds, sample_rate=sample_rate, f1=3000.0, channels=channels)
    noise = 0.02 * rng.standard_normal(audio.shape)
    return (audio + noise).astype(np.float32)


def bursts(seconds: float, sample_rate: int, channels: int = 2) -> np.ndarray:
    """Silence with a 20-ms noise burst every 0.5 s (a sharp cross-correlation peak)."""
    rng = np.random.default_rng(1)
    audio = np.zeros((channels, int(seconds * sample_rate)), dtype=np.float32)
    width = sample_rate // 50
    for start in np.arange(0.25, seconds - 0.1, 0.5):
        begin = int(start * sample_rate)
        audio[:, begin:begin + width] = 0.5 * rng.standard_normal(width)
    return audio


def lag(reference: np.ndarray, shifted: np.ndarray) -> int:
    """The circular lag (samples) of ``shifted`` behind ``reference`` at the correlation peak."""
    correlation = np.fft.irfft(np.fft.rfft(shifted) * np.conj(np.fft.rfft(reference)),
                               n=len(reference))
    peak = int(np.argmax(correlation))
    return peak if peak < len(reference) // 2 else peak - len(reference)


@pytest.fixture
def stereo_chirp() -> np.ndarray:
    """3 s of stereo chirp at 44.1 kHz."""
    return chirp()


@pytest.fixture
def mono_chirp() -> np.ndarray:
    """3 s of mono chirp at 44.1 kHz, shape (1, samples)."""
    return chirp(channels=1)


@pytest.fixture
def silence() -> np.ndarray:
    """3 s of stereo digital silence."""
    return np.zeros((2, 3 * SAMPLE_RATE), dtype=np.float32)


def write_tiny_dataset(root: Path, seconds: float = 3.0) -> Path:
    """Write the tiny IRMAS-format dataset of :data:`TINY_STEMS` as 16-bit stereo WAVs."""
    rng = np.random.default_rng(0)
    base = {"cel": 65.0, "flu": 520.0, "pia": 220.0}
    for index, (code, stem) in enumerate(TINY_STEMS):
        folder = root / code
        folder.mkdir(parents=True, exist_ok=True)
        f0 = base[code] * (1 + 0.05 * index)
        audio = chirp(seconds, f0=f0, f1=f0 * 4) + 0.01 * rng.standard_normal(
            (2, int(seconds * SAMPLE_RATE))).astype(np.float32)
        sf.write(folder / f"{stem}.wav", audio.T, SAMPLE_RATE, subtype="PCM_16")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A 12-file IRMAS-format folder (3 instruments, both name patterns)."""
    return write_tiny_dataset(tmp_path / "IRMAS-TrainingData")


@pytest.fixture
def paper_split_csv() -> Path:
    """The paper's real split (real IRMAS names): ../shared/reference's copy, else the repo's.

    The repository ships the same file as ``train_test_split.csv``, so the
    tests that use it never skip.
    """
    repo = Path(__file__).resolve().parents[1]
    path = repo.parent / "shared" / "reference" / "irmas_paper_split.csv"
    return path if path.exists() else repo / "train_test_split.csv"


def cuda_available() -> bool:
    """Whether PyTorch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


#: Marks a test that runs only where a CUDA GPU is visible.
needs_cuda = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU")


def assert_cuda_rows_match_cpu(gpu_model, clips: list[np.ndarray],
                               cpu_rows: list[np.ndarray]) -> None:
    """A model's rows on the GPU equal its CPU rows.

    In full float32 (cuDNN's TF32 convolutions off, as on the paper's T4)
    within 1e-4 of the largest value; with PyTorch's default TF32
    convolutions (Ampere and newer) within 1e-2 relative (Frobenius norm).
    The deviations are printed (``pytest -s``).
    """
    import torch

    previous = torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = False
        full = gpu_model.embed(clips, SAMPLE_RATE)
        torch.backends.cudnn.allow_tf32 = True
        tf32 = gpu_model.embed(clips, SAMPLE_RATE)
    finally:
        torch.backends.cudnn.allow_tf32 = previous
    for cpu, exact, fast in zip(cpu_rows, full, tf32, strict=True):
        scale = max(float(np.abs(cpu).max()), 1.0)
        relative = float(np.linalg.norm(fast - cpu) / max(np.linalg.norm(cpu), 1e-30))
        print(f"{gpu_model.name}: float32 GPU vs CPU {np.abs(exact - cpu).max() / scale:.1e} "
              f"of the largest value, TF32 GPU vs CPU {relative:.1e} relative")
        np.testing.assert_allclose(exact, cpu, rtol=0, atol=1e-4 * scale)
        assert relative < 1e-2
    assert gpu_model.metadata()["device"].startswith("cuda")


def load_script(name: str):
    """Import a numbered root script (e.g. ``2A.1_featureExtract_original.py``) as a module."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / name
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_effect(monkeypatch):
    """A 3-value effect registered for the duration of a test."""
    effect = effects.Effect(name="tiny", grid=np.array([1.0, 2.0, 3.0]), param_format="{:.1f}",
                            apply_fn=lambda audio, rate, value: audio, unit="units",
                            identity_value=0.0)
    monkeypatch.setitem(effects.EFFECTS, "tiny", effect)
    return effect


def published_effected_audio(files: list[Path], effect, value: float,
                             folder: Path) -> list[tuple[np.ndarray, int]]:
    """The effected audio of the published 2A.2, computed with pedalboard and scipy themselves.

    Each file is read with ``pedalboard.io.AudioFile`` and ONE board
    streams every file in the given (dataset) order, one ``f.read(f.samplerate)``
    chunk at a time with ``reset=False`` (the low-pass: ``sosfilt`` over the
    whole file, float64 out); each result is written with
    ``pedalboard.io.AudioFile(path, "w", sr, channels)`` under ``folder``
    and read back with soundfile (float32, ``(channels, samples)``).
    """
    import pedalboard.io
    import scipy.signal

    board = None if effect.board_fn is None else effect.board_fn(value)
    results = []
    for index, path in enumerate(files):
        with pedalboard.io.AudioFile(str(path)) as source:
            rate = int(source.samplerate)
            if board is None:
                audio = source.read(source.frames)
                sos = cheby_lowpass_sos(value, rate)
                effected = audio if sos is None else scipy.signal.sosfilt(sos, audio, axis=-1)
            else:
                chunks = []
                while source.tell() < source.frames:
                    chunks.append(board(source.read(rate), rate, reset=False))
                effected = np.concatenate(chunks, axis=1)
        target = folder / f"{index:05d}.wav"
        with pedalboard.io.AudioFile(str(target), "w", rate, effected.shape[0]) as out:
            out.write(effected)
        audio, _ = sf.read(target, dtype="float32", always_2d=True)
        results.append((np.ascontiguousarray(audio.T), rate))
    return results


def write_published_h5(path: Path, features: np.ndarray, keys) -> None:
    """Embeddings written as the published scripts did: bytes keys, one row per frame."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        group = h5.create_group("irmas/openl3")
        group.create_dataset("features", data=features.astype(np.float32))
        group.create_dataset("keys", data=np.asarray(keys, dtype="S"))


def write_split_csv(folder: Path, instruments: dict[str, str], n_train: int,
                    n_test: int) -> pd.DataFrame:
    """``folder/train_test_split.csv`` with ``n_train`` train and ``n_test`` test files per
    instrument (long name -> code), train rows first, one recording per file; the table."""
    rows = []
    for split, count in (("train", n_train), ("test", n_test)):
        for instrument, code in instruments.items():
            for _ in range(count):
                rows.append((instrument, "classical",
                             f"[{code}][cla]{1000 + len(rows):04d}__1", split))
    split = pd.DataFrame(rows, columns=["instrument", "genre", "file_name", "split"])
    split.to_csv(folder / "train_test_split.csv", index=False)
    return split


def read_attrs(path, embedding: str) -> dict:
    """The attributes of one embedding group of an embeddings file."""
    import h5py

    with h5py.File(path, "r") as h5:
        return dict(h5[f"{store.DATASET_GROUP}/{embedding}"].attrs)


def apply_streaming(effect: effects.Effect, audio: np.ndarray, sample_rate: int, value: float,
                    chunk_seconds: float = 1.0) -> np.ndarray:
    """Apply an effect the way the published scripts did (reference implementation).

    Pedalboard effects stream the file through the board in chunks of
    ``chunk_seconds`` with ``reset=False``; the low-pass filters the whole
    excerpt at once with ``sosfilt``.
    """
    if effect.board_fn is None:
        return effect.apply(audio, sample_rate, value)
    board = effect.board_fn(value)
    chunk = int(chunk_seconds * sample_rate)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    pieces = [board(audio[:, start:start + chunk], sample_rate, reset=False)
              for start in range(0, audio.shape[1], chunk)]
    return np.concatenate(pieces, axis=1)


def foreground_ctrl_c() -> None:
    """``preexec_fn`` giving a child the SIGINT of a terminal's foreground job.

    A test suite started as a shell's background job ignores SIGINT, and its
    children would inherit that; the Ctrl-C tests need the default.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)

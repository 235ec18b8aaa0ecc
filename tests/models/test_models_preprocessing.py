"""The models' resampling against the libraries the published scripts called.

PANNs read its input with ``librosa.load(path, sr=32000, mono=True)``; msclap
(CLAP) resamples with ``torchaudio.transforms.Resample``. Clips here are WAVs
of odd lengths at rates other than 44.1 kHz, where soxr alone gives one sample
fewer than librosa, and where CLAP resamples at all.
"""

from __future__ import annotations

import importlib.machinery
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aesens.dataset import load_audio
from aesens.models import preprocessing
from aesens.models.preprocessing import librosa_resample, sinc_resample

torch = pytest.importorskip("torch")

#: (rate, samples): odd lengths, 3 s plus or minus one sample, and lengths soxr gets wrong.
CLIPS = [(8000, 24001), (8000, 12345), (11025, 53338), (11025, 33075), (16000, 48001),
         (22050, 66151), (22050, 4097), (24000, 71965), (48000, 144001), (48000, 143963),
         (96000, 287965)]


def _wav(folder: Path, rate: int, samples: int, channels: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    time = np.arange(samples) / rate
    audio = 0.3 * np.sin(2 * np.pi * 440 * time * (1 + time))[:, None] + 0.1 * rng.standard_normal(
        (samples, channels))
    path = folder / f"clip_{rate}_{samples}_{channels}.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


class _RecordingCnn14(torch.nn.Module):
    """Stands for Cnn14: records the waveforms it is given and returns zero embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[np.ndarray] = []

    def forward(self, waveform, mixup_lambda=None):
        self.inputs.extend(waveform.numpy())
        return {"embedding": torch.zeros(len(waveform), 2048)}


@pytest.mark.parametrize("channels", [1, 2])
def test_panns_input_is_librosa_load_at_32_khz(tmp_path, channels):
    """Length and values of the waveform Cnn14 receives equal ``librosa.load(sr=32000)``'s."""
    librosa = pytest.importorskip("librosa")
    from aesens.models.panns import PannsModel

    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"not read")
    network = _RecordingCnn14()
    model = PannsModel(network, "cpu", 4, weights)
    soxr_short = 0
    for rate, samples in CLIPS:
        path = _wav(tmp_path, rate, samples, channels)
        audio, sample_rate = load_audio(path)
        network.inputs.clear()
        model.embed([audio], sample_rate)
        expected, _ = librosa.load(path, sr=32000, mono=True)
        assert len(expected) == math.ceil(samples * 32000 / rate), (rate, samples)
        assert network.inputs[0].shape == expected.shape, (rate, samples)
        np.testing.assert_array_equal(network.inputs[0], expected)
        soxr_short += len(preprocessing.resample(audio.mean(axis=0), rate, 32000)) < len(expected)
    assert soxr_short >= 3  # the clips exercise the length fix


def test_librosa_resample_equals_librosa_resample():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(1)
    for rate, samples in [*CLIPS, (44100, 132300), (44100, 132301), (44100, 1)]:
        signal = rng.standard_normal(samples).astype(np.float32)
        for target in (16000, 32000, 48000):
            np.testing.assert_array_equal(
                librosa_resample(signal, rate, target),
                librosa.resample(signal, orig_sr=rate, target_sr=target))


def _direct_sinc(signal: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited interpolation written out sample by sample, in float64.

    ``y[k] = sum_i x[i] * (fc / orig_sr) * sinc(fc * d) * cos(pi * fc * d / 12) ** 2`` over the
    inputs with ``|fc * d| < 6``, where ``d = i / orig_sr - k / target_sr`` and ``fc = 0.99 *
    min(orig_sr, target_sr)``: torchaudio's ``sinc_interp_hann`` with its default 6 zero
    crossings and roll-off 0.99, for ``ceil(n * target_sr / orig_sr)`` outputs. With the rates
    reduced by their gcd to ``p -> q``, output ``k = m q + j`` sits at ``m + j / q`` input
    periods of ``p`` samples, and torchaudio takes ``j / q`` in float32 (an ``int64`` tensor
    divided by ``q``); that rounding moves its kernels by up to ~1e-5 of a sample, so it is
    written out here too.
    """
    gcd = math.gcd(orig_sr, target_sr)
    p, q = orig_sr // gcd, target_sr // gcd
    cutoff = 0.99 * min(orig_sr, target_sr)
    reach = 6 / cutoff  # seconds either side
    out = np.zeros(math.ceil(len(signal) * target_sr / orig_sr))
    for k in range(len(out)):
        periods, phase = divmod(k, q)
        centre = (periods + float(np.float32(phase) / np.float32(q))) * p / orig_sr
        first = max(0, math.floor((centre - reach) * orig_sr))
        last = min(len(signal), math.ceil((centre + reach) * orig_sr) + 1)
        inputs = np.arange(first, last)
        offset = cutoff * (inputs / orig_sr - centre)
        taps = (cutoff / orig_sr) * np.sinc(offset) * np.cos(np.pi * offset / 12) ** 2
        taps[np.abs(offset) >= 6] = 0
        out[k] = np.dot(signal[first:last].astype(np.float64), taps)
    return out


@pytest.mark.parametrize("orig_sr, target_sr, samples", [
    (48000, 44100, 1001), (22050, 44100, 700), (8000, 44100, 333), (16000, 44100, 517),
    (44100, 32000, 901), (96000, 44100, 2003)])
def test_sinc_resample_is_windowed_sinc_interpolation(orig_sr, target_sr, samples):
    """Equal to the formula within float32 rounding of the kernel and the sums (measured 2.5e-7)."""
    rng = np.random.default_rng(samples)
    signal = (0.5 * rng.standard_normal(samples)).astype(np.float32)
    ours = sinc_resample(signal, orig_sr, target_sr)
    expected = _direct_sinc(signal, orig_sr, target_sr)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_sinc_resample_in_blocks_equals_one_kernel(monkeypatch):
    """Kernels built in blocks of output phases (huge rate ratios) give the same samples."""
    rng = np.random.default_rng(3)
    signal = (0.5 * rng.standard_normal((2, 3001))).astype(np.float32)
    whole = sinc_resample(signal, 8000, 44100)
    monkeypatch.setattr(preprocessing, "MAX_KERNEL_ELEMENTS", 1000)
    np.testing.assert_allclose(sinc_resample(signal, 8000, 44100), whole, rtol=0, atol=1e-7)


#: Runs torchaudio's own ``transforms.Resample`` from its installed Python files. Its
#: compiled extension has no build for the pinned torch and ``Resample`` does not use it,
#: so the package ``__init__`` (which loads it) is replaced by a bare package.
_TORCHAUDIO_RESAMPLE = """
import importlib, json, sys, types
import numpy as np, torch
spec = importlib.util.find_spec("torchaudio")
package = types.ModuleType("torchaudio")
package.__path__ = list(spec.submodule_search_locations)
extension = types.ModuleType("torchaudio._extension")
extension._IS_TORCHAUDIO_EXT_AVAILABLE = extension._IS_ALIGN_AVAILABLE = False
extension.fail_if_no_align = lambda function: function
sys.modules.update({"torchaudio": package, "torchaudio._extension": extension})
transforms = importlib.import_module("torchaudio.transforms._transforms")
cases = json.loads(sys.argv[1])
for case in cases:
    audio = np.load(case["input"])
    resampled = transforms.Resample(case["rate"], 44100)(torch.from_numpy(audio))
    np.save(case["output"], resampled.numpy())
"""


def test_sinc_resample_equals_torchaudio_resample(tmp_path):
    """Bit for bit msclap's resampler, ``torchaudio.transforms.Resample(rate, 44100)``."""
    # PathFinder: other tests may leave a torchaudio placeholder in sys.modules.
    if importlib.machinery.PathFinder.find_spec("torchaudio") is None:
        pytest.skip("torchaudio's files are not installed")
    cases = []
    for index, (rate, samples) in enumerate(CLIPS):
        audio = np.random.default_rng(index).uniform(-1, 1, (2, samples)).astype(np.float32)
        np.save(tmp_path / f"in{index}.npy", audio)
        cases.append({"input": str(tmp_path / f"in{index}.npy"), "rate": rate,
                      "output": str(tmp_path / f"out{index}.npy")})
    result = subprocess.run([sys.executable, "-c", _TORCHAUDIO_RESAMPLE, json.dumps(cases)],
                            capture_output=True, text=True)
    if result.returncode and "torchaudio" in result.stderr and "Error" in result.stderr:
        pytest.skip(f"torchaudio's Resample did not load: {result.stderr.splitlines()[-1]}")
    assert result.returncode == 0, result.stderr
    for case in cases:
        expected = np.load(case["output"])
        ours = sinc_resample(np.load(case["input"]), case["rate"], 44100)
        assert ours.shape == expected.shape, case
        np.testing.assert_array_equal(ours, expected)


def test_clap_resamples_as_msclap_before_concatenating_channels():
    """msclap: ``Resample(rate, 44100)`` on (channels, samples), then ``reshape(-1)`` and tile."""
    from aesens.models import clap

    audio = np.random.default_rng(5).uniform(-0.5, 0.5, (2, 48001)).astype(np.float32)
    resampled = sinc_resample(audio, 48000, 44100)
    signal = resampled.reshape(-1)
    expected = np.tile(signal, math.ceil(clap.CLIP_SAMPLES / len(signal)))[:clap.CLIP_SAMPLES]
    np.testing.assert_array_equal(clap.preprocess(audio, 48000), expected)
    assert resampled.shape == (2, 44101)


def test_indices_by_length_groups_positions_in_first_seen_order() -> None:
    signals = [np.zeros(n) for n in (5, 3, 5, 7, 3, 5)]
    groups = preprocessing.indices_by_length(signals)
    assert list(groups.items()) == [(5, [0, 2, 5]), (3, [1, 4]), (7, [3])]
    assert preprocessing.indices_by_length([]) == {}

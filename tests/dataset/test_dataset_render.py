"""Tests of the rendering of a generated recording (aesens.dataset.render)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aesens.dataset import render
from aesens.dataset.plan import RecordingPlan
from aesens.errors import AesensError

pytest.importorskip("tinysoundfont")
pytest.importorskip("pretty_midi")


def test_drums_raise_the_high_frequency_share() -> None:
    plan = RecordingPlan("cel", "pop_roc", 1, 2, drums=True, prefix=None, entropy=(0, 0, 0))
    without = dataclasses.replace(plan, drums=False)

    def high_frequency_share(pcm: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(pcm.astype(float).mean(axis=-1).ravel())) ** 2
        frequency = np.fft.rfftfreq(pcm.shape[0] * pcm.shape[1], 1 / render.SAMPLE_RATE)
        return float(spectrum[frequency > 6000].sum() / spectrum.sum())

    soundfont = render.find_soundfont()
    with_drums = render.render_recording(plan, soundfont)
    no_drums = render.render_recording(without, soundfont)
    assert with_drums.shape == (2, 3 * render.SAMPLE_RATE, 2) and with_drums.dtype == np.int16
    assert high_frequency_share(with_drums) > 1.5 * high_frequency_share(no_drums)


def test_missing_pretty_midi_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AesensError, match="pip install pretty-midi"):
        render.find_soundfont()

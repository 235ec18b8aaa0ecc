"""Rendering of a generated recording.

The composed parts are played offline from a General MIDI soundfont (by
default ``TimGM6mb.sf2`` shipped with ``pretty_midi``) through
``tinysoundfont``, one fresh synthesizer per recording; sung parts get vowel
formants; the parts are panned and mixed, given a synthetic stereo room and
a recording-specific tone colour, normalised to a varied loudness and cut
into consecutive 3-s, 44.1-kHz, stereo, 16-bit excerpts.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy import fft, signal

from aesens.dataset.compose import _choose, compose
from aesens.dataset.material import FORMANT_BANDWIDTHS, GENRE_STYLES, VOWEL_FORMANTS, Part
from aesens.dataset.plan import RecordingPlan
from aesens.errors import AesensError
from aesens.safe_files import atomic_file

SAMPLE_RATE = 44100
EXCERPT_SECONDS = 3
EXCERPT_SAMPLES = EXCERPT_SECONDS * SAMPLE_RATE

SOUNDFONT_NAME = "TimGM6mb.sf2"
DRUM_CHANNEL = 9
MELODIC_CHANNEL = 0


def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """Locate the General MIDI soundfont.

    Parameters
    ----------
    path : path, optional
        An explicit ``.sf2`` file; default: ``TimGM6mb.sf2`` inside the
        installed ``pretty_midi`` package.

    Raises
    ------
    AesensError
        If the file does not exist or ``pretty_midi`` is not installed.
    """
    if path is not None:
        soundfont = Path(path)
        if not soundfont.is_file():
            raise AesensError(f"soundfont {soundfont} does not exist; pass an existing .sf2 file "
                              "to --soundfont")
        return soundfont
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise AesensError(f"the General MIDI soundfont {SOUNDFONT_NAME} comes with pretty_midi: "
                          "pip install pretty-midi, or pass --soundfont FILE.sf2")
    soundfont = Path(spec.origin).parent / SOUNDFONT_NAME
    if not soundfont.is_file():
        raise AesensError(f"{soundfont} is missing from the pretty_midi install; reinstall it "
                          "(pip install --force-reinstall pretty-midi) or pass --soundfont")
    return soundfont


def _tinysoundfont() -> Any:
    """Import :mod:`tinysoundfont`, or say how to install it."""
    try:
        import tinysoundfont
    except ImportError:
        raise AesensError("rendering needs tinysoundfont: pip install --no-deps tinysoundfont"
                          ) from None
    return tinysoundfont


def _render_part(synth: Any, soundfont_id: int, part: Part, samples: int) -> np.ndarray:
    """Render one part to float32 ``(samples, 2)``, then silence the synthesizer."""
    channel = DRUM_CHANNEL if part.is_drums else MELODIC_CHANNEL
    synth.program_select(channel, soundfont_id, 0, part.program, is_drums=part.is_drums)
    # (sample, order, action, a, b): note-offs before controls before note-ons.
    events: list[tuple[int, int, str, int, int]] = []
    for note in part.notes:
        events.append((round(note.start * SAMPLE_RATE), 2, "on", note.pitch, note.velocity))
        events.append((round(note.end * SAMPLE_RATE), 0, "off", note.pitch, 0))
    for control in part.controls:
        events.append((round(control.time * SAMPLE_RATE), 1, control.kind, control.value, 0))
    events.sort()
    buffer = memoryview(bytearray(samples * 8))
    position = 0
    for sample, _, action, first, second in events:
        if sample >= samples:
            break
        if sample > position:
            synth.generate_simple(sample - position, buffer=buffer[position * 8:sample * 8])
            position = sample
        if action == "on":
            synth.noteon(channel, first, second)
        elif action == "off":
            synth.noteoff(channel, first)
        elif action == "expression":
            synth.control_change(channel, 11, first)
        else:
            synth.pitchbend(channel, first)
    if position < samples:
        synth.generate_simple(samples - position, buffer=buffer[position * 8:])
    synth.sounds_off()
    synth.control_change(channel, 121, 0)
    synth.generate_simple(SAMPLE_RATE // 4)
    return np.frombuffer(buffer, dtype=np.float32).reshape(samples, 2).copy()


def _vowel(rng: np.random.Generator, stem: np.ndarray) -> np.ndarray:
    """Give a ``(samples, 2)`` part the three formant resonances of a random sung vowel."""
    formants = VOWEL_FORMANTS[_choose(rng, dict.fromkeys(VOWEL_FORMANTS, 1.0))]
    boost = rng.uniform(1.5, 3.0)
    out = stem.astype(np.float64)
    for frequency, bandwidth in zip(formants, FORMANT_BANDWIDTHS, strict=True):
        numerator, denominator = signal.iirpeak(frequency, frequency / bandwidth, fs=SAMPLE_RATE)
        out += boost * signal.lfilter(numerator, denominator, stem, axis=0)
    return out.astype(np.float32)


def _pan(stereo: np.ndarray, position: float) -> np.ndarray:
    """Constant-power balance of a ``(samples, 2)`` signal; 0 leaves it unchanged."""
    angle = (position + 1) * np.pi / 4
    return stereo * (np.sqrt(2) * np.array([np.cos(angle), np.sin(angle)], dtype=np.float32))


def _room(rng: np.random.Generator, mix: np.ndarray, genre: str) -> np.ndarray:
    """Add a decorrelated stereo reverb tail (exponentially decaying noise)."""
    reverb_seconds = rng.uniform(*GENRE_STYLES[genre].room_seconds)
    wet = rng.uniform(.15, .45) if genre == "cla" else rng.uniform(.06, .3)
    length = int(reverb_seconds * SAMPLE_RATE)
    decay = np.exp(-6.9 * np.arange(length) / length)
    predelay = int(rng.uniform(.005, .03) * SAMPLE_RATE)
    size = fft.next_fast_len(len(mix) + predelay + length, real=True)
    mono_spectrum = fft.rfft(mix.mean(axis=1), size)
    out = mix.copy()
    for channel in range(2):
        response = np.concatenate([np.zeros(predelay), rng.standard_normal(length) * decay])
        response = (response / np.sqrt(np.sum(response ** 2))).astype(np.float32)
        tail = fft.irfft(mono_spectrum * fft.rfft(response, size), size)[:len(mix)]
        out[:, channel] += wet * tail
    return out


def _tone(rng: np.random.Generator, mix: np.ndarray) -> np.ndarray:
    """Colour the mix like a different recording chain: random low and high shelves."""
    low = signal.butter(2, rng.uniform(150, 400), "lowpass", fs=SAMPLE_RATE, output="sos")
    high = signal.butter(2, rng.uniform(2500, 7000), "highpass", fs=SAMPLE_RATE, output="sos")
    low_gain = 10 ** (rng.uniform(-3, 3) / 20) - 1
    high_gain = 10 ** (rng.uniform(-5, 3) / 20) - 1
    return (mix + low_gain * signal.sosfilt(low, mix, axis=0)
            + high_gain * signal.sosfilt(high, mix, axis=0))


def render_recording(plan: RecordingPlan, soundfont: str | os.PathLike) -> np.ndarray:
    """Render a planned recording and return its excerpts.

    Parameters
    ----------
    plan : RecordingPlan
        The recording.
    soundfont : path
        General MIDI ``.sf2`` file.

    Returns
    -------
    numpy.ndarray
        int16 array ``(excerpts, 3 * 44100, 2)``: consecutive 3-s excerpts.
    """
    tinysoundfont = _tinysoundfont()
    rng = np.random.default_rng([*plan.entropy, 1])
    lead_in = rng.uniform(.5, 2.5)
    kept = plan.excerpts * EXCERPT_SAMPLES
    start = int(lead_in * SAMPLE_RATE)
    samples = start + kept
    parts = compose(plan, samples / SAMPLE_RATE)
    synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE)
    try:
        soundfont_id = synth.sfload(str(soundfont))
    except Exception as error:  # tinysoundfont raises bare Exceptions on unreadable files
        raise AesensError(f"cannot load soundfont {soundfont} ({error}); pass a valid .sf2 "
                          "file to --soundfont") from None
    mix = np.zeros((samples, 2), dtype=np.float32)
    for part in parts:
        stem = _render_part(synth, soundfont_id, part, samples)
        if part.sung:
            stem = _vowel(rng, stem)
        level = float(np.sqrt(np.mean(stem[start:] ** 2)))
        if level > 1e-6:
            mix += _pan(stem, part.pan) * (10 ** (part.level_db / 20) / level)
    mix = _tone(rng, _room(rng, mix, plan.genre))[start:]
    loudness_db = rng.uniform(-24, -17)
    mix *= 10 ** (loudness_db / 20) / max(float(np.sqrt(np.mean(mix ** 2))), 1e-9)
    peak = float(np.max(np.abs(mix)))
    if peak > .97:
        mix *= .97 / peak
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    return pcm.reshape(plan.excerpts, EXCERPT_SAMPLES, 2)


def write_wav_atomic(path: Path, pcm: np.ndarray) -> None:
    """Write int16 ``(samples, channels)`` as 16-bit WAV through a temporary file."""
    with atomic_file(path) as temporary:
        sf.write(temporary, pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")

"""Render an offline dataset in the IRMAS-TrainingData format.

Each source recording is a short piece of music composed by a seeded random
generator: a predominant instrument (several General MIDI programs per IRMAS
class, each in its own pitch range and playing technique) plays melodic
phrases with varied tempo, dynamics and articulation over a quieter,
genre-dependent accompaniment, with drums only in recordings that have them
(tagged ``[dru]`` in prefixed names). The parts are rendered offline from the
General MIDI soundfont ``TimGM6mb.sf2`` shipped with ``pretty_midi``, through
``tinysoundfont``; they are panned, mixed with a synthetic stereo room and a
recording-specific tone colour, normalised to a varied loudness and cut into
consecutive 3-s excerpts named like the real IRMAS files.

A recording's random generator is seeded from ``(seed, class, recording)`` and
every recording is rendered by a fresh synthesizer, so a given seed gives
byte-identical files whatever the number of parallel jobs.

Command line (through :mod:`aesens.dataset`)::

    python -m aesens.dataset generate --out DIR [--per-class N] [--seed S] [--jobs J]
    python -m aesens.dataset sanity DIR
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
from scipy import fft, signal

from aesens import store
from aesens.dataset import INSTRUMENTS, discover, load_audio, parse_stem
from aesens.errors import AesensError, run_cli

SAMPLE_RATE = 44100
EXCERPT_SECONDS = 3
EXCERPT_SAMPLES = EXCERPT_SECONDS * SAMPLE_RATE

#: Default approximate number of files per class.
DEFAULT_PER_CLASS = 15
#: Fewest source recordings per class (a 4-fold group split needs at least 4).
MIN_RECORDINGS_PER_CLASS = 5
#: Fewest and most 3-s excerpts cut from one recording.
EXCERPTS_PER_RECORDING = (2, 4)

SOUNDFONT_NAME = "TimGM6mb.sf2"
DRUM_CHANNEL = 9
MELODIC_CHANNEL = 0

# ---------------------------------------------------------------------------
# Musical material
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadProgram:
    """A General MIDI program that can play an IRMAS class as the predominant part.

    Attributes
    ----------
    program : int
        0-based General MIDI program number.
    low, high : int
        Playable MIDI pitch range.
    technique : str
        ``"line"`` (single melodic line), ``"keys"`` (melody over a left-hand
        pattern) or ``"guitar"`` (strums, finger-picking, riffs or a line).
    sustained : bool
        Whether the sound is held by bow or breath, which gets expression
        swells.
    vibrato_cents : float
        Largest vibrato depth; 0 for none.
    weight : float
        Relative probability among the programs of the class.
    sung : bool
        Whether the part is sung: it gets the formants of a vowel.
    """

    program: int
    low: int
    high: int
    technique: str = "line"
    sustained: bool = True
    vibrato_cents: float = 0.0
    weight: float = 1.0
    sung: bool = False


#: Programs of each IRMAS class with their ranges and playing techniques.
LEAD_PROGRAMS: dict[str, tuple[LeadProgram, ...]] = {
    "cel": (LeadProgram(42, 36, 76, vibrato_cents=30, weight=4),
            LeadProgram(44, 36, 72),
            LeadProgram(45, 36, 72, sustained=False)),
    "cla": (LeadProgram(71, 50, 86, weight=3),
            LeadProgram(71, 50, 74, vibrato_cents=8)),
    "flu": (LeadProgram(73, 60, 96, vibrato_cents=20, weight=3),
            LeadProgram(72, 74, 100, vibrato_cents=15),
            LeadProgram(75, 60, 88, vibrato_cents=10)),
    "gac": (LeadProgram(24, 40, 83, "guitar", sustained=False, weight=2),
            LeadProgram(25, 40, 84, "guitar", sustained=False, weight=3)),
    "gel": (LeadProgram(26, 40, 86, "guitar", sustained=False),
            LeadProgram(27, 40, 88, "guitar", sustained=False),
            LeadProgram(28, 40, 76, "guitar", sustained=False),
            LeadProgram(29, 40, 88, "guitar", sustained=False),
            LeadProgram(30, 40, 88, "guitar", sustained=False)),
    "org": (LeadProgram(16, 36, 96, "keys", sustained=False, weight=2),
            LeadProgram(17, 36, 96, "keys", sustained=False),
            LeadProgram(18, 36, 96, "keys", sustained=False, weight=2),
            LeadProgram(19, 36, 96, "keys", sustained=False),
            LeadProgram(20, 36, 91, "keys", sustained=False)),
    "pia": (LeadProgram(0, 36, 100, "keys", sustained=False, weight=4),
            LeadProgram(1, 36, 100, "keys", sustained=False),
            LeadProgram(2, 36, 96, "keys", sustained=False)),
    "sax": (LeadProgram(64, 56, 87, vibrato_cents=20),
            LeadProgram(65, 49, 81, vibrato_cents=25, weight=3),
            LeadProgram(66, 44, 76, vibrato_cents=25, weight=3),
            LeadProgram(67, 36, 69, vibrato_cents=15)),
    "tru": (LeadProgram(56, 54, 84, vibrato_cents=12, weight=3),
            LeadProgram(59, 54, 82, vibrato_cents=8)),
    "vio": (LeadProgram(40, 55, 96, vibrato_cents=35, weight=4),
            LeadProgram(110, 55, 91, vibrato_cents=20)),
    "voi": (LeadProgram(52, 48, 79, vibrato_cents=35, weight=2, sung=True),
            LeadProgram(53, 48, 79, vibrato_cents=30, weight=2, sung=True),
            LeadProgram(54, 48, 79, vibrato_cents=25, sung=True),
            LeadProgram(85, 50, 81, vibrato_cents=35, weight=2, sung=True)),
}

#: How often each class plays in each genre (normalised per class).
CLASS_GENRES: dict[str, dict[str, float]] = {
    "cel": {"cla": .6, "pop_roc": .15, "jaz_blu": .1, "cou_fol": .1, "lat_sou": .05},
    "cla": {"cla": .55, "jaz_blu": .25, "pop_roc": .05, "cou_fol": .05, "lat_sou": .1},
    "flu": {"cla": .45, "jaz_blu": .2, "pop_roc": .1, "cou_fol": .1, "lat_sou": .15},
    "gac": {"cou_fol": .4, "pop_roc": .3, "lat_sou": .15, "jaz_blu": .1, "cla": .05},
    "gel": {"pop_roc": .6, "jaz_blu": .2, "cou_fol": .1, "lat_sou": .1},
    "org": {"pop_roc": .35, "cla": .25, "jaz_blu": .25, "lat_sou": .1, "cou_fol": .05},
    "pia": {"cla": .3, "jaz_blu": .25, "pop_roc": .25, "lat_sou": .1, "cou_fol": .1},
    "sax": {"jaz_blu": .55, "pop_roc": .2, "lat_sou": .2, "cou_fol": .05},
    "tru": {"jaz_blu": .45, "lat_sou": .25, "pop_roc": .15, "cla": .15},
    "vio": {"cla": .55, "cou_fol": .2, "pop_roc": .1, "jaz_blu": .05, "lat_sou": .1},
    "voi": {"pop_roc": .45, "jaz_blu": .15, "cou_fol": .15, "lat_sou": .15, "cla": .1},
}

#: Probability that a recording of each genre has drums.
DRUMS_PROBABILITY = {"cla": .1, "pop_roc": .85, "jaz_blu": .6, "cou_fol": .5, "lat_sou": .8}

#: Probability that a recording is named ``PPP__[ins][dru|nod][genre]NNNN__K``.
PREFIXED_NAME_PROBABILITY = 0.5

#: Scale intervals of the modes (harmony is built on the 7-note scales).
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
#: Melody-only scale of the blues mode (its harmony is mixolydian).
BLUES_SCALE = (0, 3, 5, 6, 7, 10)


@dataclass(frozen=True)
class GenreStyle:
    """How a genre shapes tempo, harmony and accompaniment.

    Attributes
    ----------
    tempo : (float, float)
        Range of beats per minute.
    modes : dict
        Mode name (a key of :data:`MODES` or ``"blues"``) to probability.
    progressions : tuple of tuple of int
        Chord progressions as 0-based scale degrees, one chord per bar.
    arrangements : tuple
        Alternative accompaniments; each is a tuple of ``(style, programs)``
        with ``style`` a key of :data:`ACCOMPANIMENT_STYLES` and ``programs``
        the General MIDI programs that may play it.
    swing : (float, float)
        Range of the swing ratio (0.5 is straight eighths).
    sevenths : bool
        Whether chords are seventh chords.
    drum_style : str
        Key of :data:`DRUM_PATTERNS`.
    left_hand : tuple of str
        Left-hand patterns of a keyboard lead.
    room_seconds : (float, float)
        Range of the reverberation time.
    """

    tempo: tuple[float, float]
    modes: dict[str, float]
    progressions: tuple[tuple[int, ...], ...]
    arrangements: tuple[tuple[tuple[str, tuple[int, ...]], ...], ...]
    swing: tuple[float, float]
    sevenths: bool
    drum_style: str
    left_hand: tuple[str, ...]
    room_seconds: tuple[float, float]


GENRE_STYLES: dict[str, GenreStyle] = {
    "cla": GenreStyle(
        tempo=(60, 132), modes={"major": .5, "minor": .2, "harmonic_minor": .3},
        progressions=((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 2, 3, 0, 3, 4), (0, 1, 4, 0)),
        arrangements=(
            (("pad", (48, 49, 60, 68)), ("bass_root", (43, 70, 58))),
            (("arpeggio", (0, 46)),),
            (("alberti", (0,)), ("bass_root", (43, 70))),
            (("pad", (48, 49, 19)), ("arpeggio", (46, 0))),
        ),
        swing=(.5, .5), sevenths=False, drum_style="soft",
        left_hand=("alberti", "arpeggio", "block", "pad"), room_seconds=(1.2, 2.4)),
    "pop_roc": GenreStyle(
        tempo=(84, 140), modes={"major": .6, "minor": .4},
        progressions=((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 0, 4)),
        arrangements=(
            (("bass_eighths", (33, 34)), ("strum", (27, 25, 29))),
            (("bass_eighths", (33, 34, 38)), ("block", (0, 16, 4)), ("pad", (89, 50))),
            (("bass_root", (33, 35)), ("pad", (89, 48, 16)), ("arpeggio", (27, 0))),
        ),
        swing=(.5, .5), sevenths=False, drum_style="rock",
        left_hand=("block", "pad", "arpeggio"), room_seconds=(.4, 1.2)),
    "jaz_blu": GenreStyle(
        tempo=(70, 190), modes={"dorian": .35, "mixolydian": .25, "blues": .4},
        progressions=((1, 4, 0, 0), (0, 5, 1, 4), (0, 3, 0, 4), (0, 0, 3, 3, 0, 0, 4, 3)),
        arrangements=(
            (("bass_walking", (32,)), ("comp", (0, 4, 26))),
            (("bass_walking", (32, 33)), ("comp", (11, 26, 16))),
            (("bass_walking", (32,)), ("pad", (61, 16)), ("comp", (0, 26))),
        ),
        swing=(.58, .68), sevenths=True, drum_style="jazz",
        left_hand=("comp", "stride"), room_seconds=(.5, 1.4)),
    "cou_fol": GenreStyle(
        tempo=(88, 150), modes={"major": .7, "mixolydian": .3},
        progressions=((0, 3, 4, 0), (0, 0, 3, 0, 4, 4, 0, 0), (0, 4, 5, 3)),
        arrangements=(
            (("bass_root_fifth", (32, 33)), ("strum", (25, 24))),
            (("bass_root_fifth", (33,)), ("arpeggio", (25, 105)), ("pad", (21, 48))),
            (("bass_root_fifth", (32,)), ("block", (0, 105)), ("strum", (25,))),
        ),
        swing=(.5, .56), sevenths=False, drum_style="country",
        left_hand=("stride", "block"), room_seconds=(.4, 1.1)),
    "lat_sou": GenreStyle(
        tempo=(90, 130), modes={"minor": .5, "dorian": .5},
        progressions=((0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 0, 4)),
        arrangements=(
            (("bass_tumbao", (33, 32)), ("montuno", (0,))),
            (("bass_tumbao", (33,)), ("strum", (24,)), ("comp", (61, 57))),
            (("bass_tumbao", (32, 33)), ("montuno", (0, 11)), ("pad", (16, 89))),
        ),
        swing=(.5, .5), sevenths=False, drum_style="latin",
        left_hand=("montuno", "block"), room_seconds=(.4, 1.2)),
}

#: Rhythm palettes of melodic lines, in beats, by activity.
RHYTHMS: dict[str, tuple[float, ...]] = {
    "slow": (2, 1.5, 1, 1, 3, .5, 1),
    "medium": (1, .5, .5, 1.5, 2, .5, 1, .75),
    "fast": (.5, .25, .25, .5, 1, .5, .75),
}

#: Gate (sounding fraction of the written length) of each articulation.
ARTICULATION_GATES = {"legato": 1.03, "normal": .88, "staccato": .5}

# A drum pattern maps General MIDI drum keys to ``{sixteenth step: velocity}``
# over one 4/4 bar; "clave_b" entries replace the key's steps on odd bars.
DrumPattern = dict[int, dict[int, int]]
_EIGHTHS = {step: (80 if step % 4 == 0 else 62) for step in range(0, 16, 2)}
DRUM_PATTERNS: dict[str, tuple[DrumPattern, ...]] = {
    "rock": (
        {36: {0: 110, 8: 105}, 38: {4: 105, 12: 110}, 42: _EIGHTHS},
        {36: {0: 110, 6: 90, 8: 105, 10: 85}, 38: {4: 105, 12: 110}, 42: _EIGHTHS},
        {36: {0: 110, 7: 85, 8: 100}, 38: {4: 100, 12: 105}, 51: _EIGHTHS},
        {36: {0: 105, 8: 100}, 39: {4: 95, 12: 95},
         42: {step: 70 if step % 2 == 0 else 45 for step in range(16)}},
    ),
    "jazz": (
        {51: {0: 90, 4: 80, 6: 60, 8: 90, 12: 80, 14: 60}, 44: {4: 70, 12: 70}, 36: {0: 40}},
        {59: {0: 85, 4: 75, 6: 55, 8: 85, 12: 75, 14: 55}, 44: {4: 65, 12: 65},
         38: {10: 40, 14: 35}},
    ),
    "country": (
        {36: {0: 100, 8: 95}, 38: {4: 95, 12: 100}, 42: _EIGHTHS},
        {36: {0: 95, 8: 90}, 37: {4: 90, 12: 90}, 42: _EIGHTHS},
        {36: {0: 100, 8: 95}, 38: {step: (95 if step in (4, 12) else 40) for step in range(16)}},
    ),
    "latin": (
        {75: {0: 90, 6: 90, 12: 90}, 63: {6: 90, 7: 75, 14: 90, 15: 75}, 62: {2: 60, 10: 60},
         64: {12: 85}, 70: {step: 45 for step in range(16)}, 36: {6: 70, 12: 80}},
        {56: {0: 90, 4: 80, 8: 90, 12: 80}, 60: {2: 70, 6: 80, 10: 70, 14: 80},
         61: {4: 75, 12: 75}, 36: {0: 80, 10: 70}, 69: {step: 40 for step in range(0, 16, 2)}},
    ),
    "soft": (
        {42: {0: 50, 4: 45, 8: 50, 12: 45}, 36: {0: 60}, 37: {12: 50}},
        {51: {0: 55, 4: 45, 8: 55, 12: 45}, 36: {0: 55, 8: 45}},
    ),
}
#: Son clave 3-2: the second bar of the two-bar pattern.
CLAVE_SECOND_BAR = {4: 90, 8: 90}
#: Tom fill (high to low) played at the end of some 4-bar phrases.
TOM_FILL = {12: 50, 13: 48, 14: 45, 15: 43}
CRASH = 49

#: First three formant frequencies (Hz) of sung vowels, and their bandwidths.
VOWEL_FORMANTS = {"a": (800, 1150, 2900), "e": (400, 1600, 2700), "i": (300, 2100, 2900),
                  "o": (450, 800, 2830), "u": (325, 700, 2530)}
FORMANT_BANDWIDTHS = (80, 90, 120)

#: Relative level (dB, before the recording's accompaniment offset) of each role.
ROLE_LEVELS_DB = {"lead": (0, 0), "bass": (-23, -17), "harmony": (-23, -15), "drums": (-21, -14)}


class Note(NamedTuple):
    """A note of a part, in seconds from the start of the recording."""

    start: float
    end: float
    pitch: int
    velocity: int


class Control(NamedTuple):
    """A controller change: ``kind`` is ``"expression"`` (0-127) or ``"bend"`` (0-16383)."""

    time: float
    kind: str
    value: int


@dataclass
class Part:
    """One rendered track of a recording.

    Attributes
    ----------
    role : str
        ``"lead"``, ``"bass"``, ``"harmony"`` or ``"drums"``.
    program : int
        General MIDI program (ignored for drums).
    notes : list of Note
    controls : list of Control
    level_db : float
        Mix level relative to the lead.
    pan : float
        Stereo position from -1 (left) to 1 (right).
    sung : bool
        Whether the rendered part gets vowel formants.
    """

    role: str
    program: int
    notes: list[Note]
    controls: list[Control] = field(default_factory=list)
    level_db: float = 0.0
    pan: float = 0.0
    sung: bool = False

    @property
    def is_drums(self) -> bool:
        """Whether the part plays on the General MIDI drum channel."""
        return self.role == "drums"


@dataclass(frozen=True)
class RecordingPlan:
    """One source recording: its names, its content tags and its random seed.

    Attributes
    ----------
    instrument : str
        IRMAS class code of the predominant instrument.
    genre : str
        IRMAS genre code.
    group : int
        Four-digit recording id, unique across the dataset.
    excerpts : int
        Number of consecutive 3-s excerpts cut from the recording.
    drums : bool
        Whether the recording has drums.
    prefix : int or None
        ``PPP`` of the prefixed naming pattern, or None for ``[ins][genre]NNNN__K``.
    entropy : tuple of int
        Seed of the recording's :class:`numpy.random.Generator`.
    """

    instrument: str
    genre: str
    group: int
    excerpts: int
    drums: bool
    prefix: int | None
    entropy: tuple[int, ...]

    def stems(self) -> list[str]:
        """The IRMAS file stems of the excerpts, ``__1`` to ``__k`` in order."""
        if self.prefix is None:
            head = f"[{self.instrument}][{self.genre}]{self.group:04d}"
        else:
            drums = "dru" if self.drums else "nod"
            head = f"{self.prefix:03d}__[{self.instrument}][{drums}][{self.genre}]{self.group:04d}"
        return [f"{head}__{k}" for k in range(1, self.excerpts + 1)]


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------


def _allocate(weights: dict[str, float], count: int, rng: np.random.Generator) -> list[str]:
    """Draw ``count`` keys in proportion to ``weights`` (largest remainders drawn at random)."""
    keys = list(weights)
    share = np.array([weights[key] for key in keys], dtype=float)
    share = share / share.sum() * count
    counts = np.floor(share).astype(int)
    remainder = share - counts
    missing = count - int(counts.sum())
    if missing:
        extra = rng.choice(len(keys), size=missing, replace=False, p=remainder / remainder.sum())
        counts[extra] += 1
    chosen = [key for key, n in zip(keys, counts, strict=True) for _ in range(n)]
    rng.shuffle(chosen)
    return chosen


def plan_dataset(per_class: int = DEFAULT_PER_CLASS, seed: int = 0,
                 instruments: Sequence[str] | None = None,
                 min_recordings: int = MIN_RECORDINGS_PER_CLASS) -> list[RecordingPlan]:
    """Plan the recordings of a generated dataset.

    Parameters
    ----------
    per_class : int
        Approximate number of 3-s files per class.
    seed : int
        Dataset seed.
    instruments : sequence of str, optional
        Class codes to generate (default: all 11, in IRMAS order).
    min_recordings : int
        Fewest recordings per class, so that group-aware splits work.

    Returns
    -------
    list of RecordingPlan
        Recordings by class, with group ids numbered from 1 across the dataset.

    Raises
    ------
    AesensError
        For an unknown class code, a non-positive count or more than 9999
        recordings.
    """
    codes = list(INSTRUMENTS) if instruments is None else list(instruments)
    unknown = [code for code in codes if code not in INSTRUMENTS]
    if unknown:
        raise AesensError(f"unknown instrument code(s) {', '.join(unknown)}; "
                          f"choose among {', '.join(INSTRUMENTS)}")
    if per_class < 1 or min_recordings < 1:
        raise AesensError(f"--per-class must be a positive number of files, got {per_class}")
    low, high = EXCERPTS_PER_RECORDING
    plans: list[RecordingPlan] = []
    for code in codes:
        class_index = list(INSTRUMENTS).index(code)
        rng = np.random.default_rng([seed, class_index])
        target = max(per_class, min_recordings * low)
        lengths: list[int] = []
        while sum(lengths) < target:
            still_required = max(0, min_recordings - len(lengths) - 1)
            room = target - sum(lengths) - still_required * low
            lengths.append(max(low, min(int(rng.integers(low, high + 1)), room)))
        genres = _allocate(CLASS_GENRES[code], len(lengths), rng)
        for index, (length, genre) in enumerate(zip(lengths, genres, strict=True)):
            prefixed = rng.random() < PREFIXED_NAME_PROBABILITY
            plans.append(RecordingPlan(
                instrument=code, genre=genre, group=len(plans) + 1, excerpts=length,
                drums=bool(rng.random() < DRUMS_PROBABILITY[genre]),
                prefix=int(rng.integers(1, 1000)) if prefixed else None,
                entropy=(seed, class_index, index)))
    if len(plans) > 9999:
        raise AesensError(f"{len(plans)} recordings do not fit 4-digit group ids; "
                          "lower --per-class")
    return plans


# ---------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chord:
    """A chord of the harmony: pitch classes with the root first."""

    start_beat: float
    end_beat: float
    pitch_classes: tuple[int, ...]

    @property
    def root(self) -> int:
        """Pitch class of the root."""
        return self.pitch_classes[0]


@dataclass
class _Song:
    """Tempo, meter, key and harmony shared by all parts of a recording."""

    seconds_per_beat: float
    beats_per_bar: int
    swing: float
    key: int
    scale: tuple[int, ...]
    melody_scale: tuple[int, ...]
    chords: list[Chord]
    total_beats: float

    def time(self, beat: float) -> float:
        """Seconds at a (fractional) beat, with swung eighths."""
        whole = np.floor(beat)
        fraction = beat - whole
        if fraction < .5:
            fraction = fraction / .5 * self.swing
        else:
            fraction = self.swing + (fraction - .5) / .5 * (1 - self.swing)
        return float((whole + fraction) * self.seconds_per_beat)

    def chord_at(self, beat: float) -> Chord:
        """The chord sounding at a beat."""
        for chord in self.chords:
            if chord.start_beat <= beat < chord.end_beat:
                return chord
        return self.chords[-1]

    def note(self, start_beat: float, length_beats: float, pitch: int, velocity: float,
             rng: np.random.Generator, jitter: float = .008) -> Note:
        """A note from beats to seconds, with a humanised onset and clipped velocity."""
        start = max(0.0, self.time(start_beat) + rng.normal(0, jitter))
        end = max(start + .03, self.time(start_beat + length_beats))
        return Note(start, end, int(pitch), int(np.clip(round(velocity), 1, 127)))


def _choose(rng: np.random.Generator, options: dict[str, float]) -> str:
    """Draw a key of ``options`` with the given (unnormalised) probabilities."""
    keys = list(options)
    weights = np.array([options[key] for key in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def _compose_song(rng: np.random.Generator, genre: str, seconds: float,
                  drums: bool) -> _Song:
    """Draw tempo, meter, key, mode and chord progression for a recording of ``seconds``."""
    style = GENRE_STYLES[genre]
    tempo = rng.uniform(*style.tempo)
    beats_per_bar = 3 if genre == "cla" and not drums and rng.random() < .3 else 4
    mode = _choose(rng, style.modes)
    scale = MODES["mixolydian" if mode == "blues" else mode]
    melody_scale = BLUES_SCALE if mode == "blues" else scale
    key = int(rng.integers(12))
    progression = style.progressions[int(rng.integers(len(style.progressions)))]
    seconds_per_beat = 60.0 / tempo
    total_beats = seconds / seconds_per_beat + beats_per_bar
    chords_per_bar = 2 if style.sevenths and rng.random() < .3 else 1
    chord_beats = beats_per_bar / chords_per_bar
    tones = 4 if style.sevenths else 3
    chords = []
    for index in range(int(np.ceil(total_beats / chord_beats))):
        degree = progression[index % len(progression)]
        pitch_classes = tuple((key + scale[(degree + 2 * k) % 7]) % 12 for k in range(tones))
        chords.append(Chord(index * chord_beats, (index + 1) * chord_beats, pitch_classes))
    swing = rng.uniform(*style.swing)
    return _Song(seconds_per_beat, beats_per_bar, swing, key, scale, melody_scale, chords,
                 total_beats)


def _voicing(pitch_classes: Iterable[int], low: int, high: int, center: float) -> list[int]:
    """Place each pitch class at its octave nearest ``center`` within ``[low, high]``."""
    pitches = set()
    for pitch_class in pitch_classes:
        candidates = [p for p in range(low, high + 1) if p % 12 == pitch_class]
        if candidates:
            pitches.add(min(candidates, key=lambda p: abs(p - center)))
    return sorted(pitches)


def _bass_pitch(pitch_class: int) -> int:
    """The bass pitch of a pitch class, from A1 (33) to G#2 (44)."""
    return 33 + (pitch_class - 33) % 12


def _melody(rng: np.random.Generator, song: _Song, low: int, high: int,
            articulation: str) -> list[Note]:
    """A melodic line of phrases and short breaths over the song's harmony."""
    span = rng.uniform(6, 11)
    center = (low + high) / 2 + rng.uniform(-.2, .2) * (high - low)
    lowest, highest = int(max(low, center - span)), int(min(high, center + span))
    scale_set = {(song.key + step) % 12 for step in song.melody_scale}
    pitches = [p for p in range(lowest, highest + 1) if p % 12 in scale_set]
    activity = _choose(rng, {"slow": 1, "medium": 2, "fast": 1.5 if song.seconds_per_beat > .5
                             else .7})
    palette = RHYTHMS[activity]
    gate = ARTICULATION_GATES[articulation]
    dynamic = rng.uniform(50, 110)
    index = len(pitches) // 2
    notes: list[Note] = []
    beat = float(rng.choice([0, .5, 1]))
    while beat < song.total_beats:
        phrase_end = beat + song.beats_per_bar * int(rng.integers(1, 3))
        phrase_dynamic = dynamic + rng.normal(0, 8)
        phrase_start = beat
        while beat < phrase_end:
            length = float(min(rng.choice(palette), phrase_end - beat))
            step = int(rng.choice([-4, -3, -2, -1, 0, 1, 2, 3, 4],
                                  p=[.03, .06, .15, .22, .06, .22, .15, .07, .04]))
            index = int(np.clip(index + step, 0, len(pitches) - 1))
            pitch = pitches[index]
            if beat % 1 == 0 and rng.random() < .8:
                chord_tones = [p for p in pitches if p % 12 in song.chord_at(beat).pitch_classes]
                if chord_tones:
                    pitch = min(chord_tones, key=lambda p: abs(p - pitch))
                    index = pitches.index(pitch)
            arch = 10 * np.sin(np.pi * (beat - phrase_start) / (phrase_end - phrase_start))
            accent = 6 if beat % song.beats_per_bar == 0 else 0
            velocity = phrase_dynamic + arch + accent + rng.normal(0, 4)
            notes.append(song.note(beat, length * gate * rng.uniform(.95, 1.05), pitch,
                                   velocity, rng))
            beat += length
        beat += float(rng.choice([0, .5, 1, 1.5], p=[.2, .4, .3, .1]))
    return notes


def _vibrato_and_swells(rng: np.random.Generator, notes: list[Note], depth_cents: float,
                        sustained: bool) -> list[Control]:
    """Pitch-bend vibrato (delayed onset) and expression swells for held notes."""
    controls: list[Control] = []
    rate = rng.uniform(4.5, 6.5)
    depth = rng.uniform(.4, 1.0) * depth_cents
    for note in notes:
        duration = note.end - note.start
        times = np.arange(note.start, note.end, .02)
        if sustained:
            swell = rng.uniform(0, 30)
            for t in times:
                shape = np.sin(np.pi * (t - note.start) / duration)
                controls.append(Control(float(t), "expression", int(97 + swell * (shape - .5))))
        if depth > 0:
            controls.append(Control(note.start, "bend", 8192))
            onset = note.start + rng.uniform(.12, .3)
            for t in times[times > onset]:
                ramp = min(1.0, (t - onset) / .25)
                cents = depth * ramp * np.sin(2 * np.pi * rate * (t - onset))
                controls.append(Control(float(t), "bend", int(8192 + 8191 * cents / 200)))
    return controls


def _pattern_notes(style: str, rng: np.random.Generator, song: _Song, low: int, high: int,
                   velocity: float) -> list[Note]:
    """Notes of an accompaniment style (see :data:`ACCOMPANIMENT_STYLES`) over the harmony."""
    notes: list[Note] = []
    center = (low + high) / 2
    bar_beats = song.beats_per_bar

    def hit(beat: float, duration: float, pitches: Iterable[int], level: float = 1.0,
            spread: float = 0.0) -> None:
        """Strike ``pitches`` at ``beat``, ``spread`` seconds apart (a strum)."""
        for order, pitch in enumerate(pitches):
            onset = beat + order * spread / song.seconds_per_beat
            notes.append(song.note(onset, duration, pitch, velocity * level + rng.normal(0, 5),
                                   rng))

    for chord in song.chords:
        start, length = chord.start_beat, chord.end_beat - chord.start_beat
        voicing = _voicing(chord.pitch_classes, low, high, center)
        bass = _bass_pitch(chord.root)

        if style == "pad":
            hit(start, length * .98, voicing, .8)
        elif style == "block":
            for beat in np.arange(0, length, 1 if song.seconds_per_beat > .45 else 2):
                hit(start + beat, .9, voicing, 1.0 if beat % bar_beats == 0 else .85)
        elif style in ("arpeggio", "alberti"):
            tones = voicing + [voicing[0] + 12]
            order = ([0, 2, 1, 2] if style == "alberti"
                     else [0, 1, 2, 3, 2, 1] if rng.random() < .5 else [0, 1, 2, 3])
            for step, beat in enumerate(np.arange(0, length, .5)):
                pitch = tones[order[step % len(order)] % len(tones)]
                hit(start + beat, .6 if style == "alberti" else 1.2, [pitch], .9)
        elif style == "comp":
            shell = _voicing(chord.pitch_classes[1:], low, high, center)
            for beat in rng.choice([0, 1.5, 2, 2.5, 3.5, .5], size=2, replace=False):
                if beat < length:
                    hit(start + float(beat), rng.uniform(.4, .9), shell, rng.uniform(.7, 1.0))
        elif style == "stride":
            for beat in range(int(length)):
                if beat % 2 == 0:
                    hit(start + beat, .8, [bass + 12 if bass < low else bass], 1.0)
                else:
                    hit(start + beat, .6, voicing, .8)
        elif style == "strum":
            shape = [bass + 12] + _voicing(chord.pitch_classes, bass + 15, bass + 31, bass + 22)
            strokes = [0, 1, 1.5, 2.5, 3, 3.5] if rng.random() < .6 else [0, 1, 2, 2.5, 3]
            for beat in strokes:
                if beat < length:
                    down = beat % 1 == 0
                    hit(start + beat, .9, shape if down else shape[::-1], 1.0 if down else .75,
                        spread=rng.uniform(.008, .02))
        elif style == "montuno":
            for step, beat in enumerate(np.arange(0, length, .5)):
                if step % 4 != 3:
                    pitch = voicing[(step * 2) % len(voicing)]
                    hit(start + beat, .4, [pitch, pitch + 12], .9 if step % 3 == 0 else .75)
        elif style == "power":
            riff = [bass + 12, bass + 19, bass + 24]
            for beat in np.arange(0, length, .5):
                hit(start + beat, .35, riff, 1.0 if beat % 1 == 0 else .8)
        elif style == "bass_root":
            for beat in np.arange(0, length, 2 if rng.random() < .5 else bar_beats):
                hit(start + beat, 1.9, [bass], 1.0)
        elif style == "bass_eighths":
            for beat in np.arange(0, length, .5):
                hit(start + beat, .45, [bass], 1.0 if beat % 1 == 0 else .85)
        elif style == "bass_root_fifth":
            for beat in range(0, int(length), 2):
                hit(start + beat, .9, [bass if beat % 4 == 0 else bass + 7 - 12 * (bass + 7 > 52)])
        elif style == "bass_walking":
            walk = [bass, _voicing([chord.pitch_classes[1]], bass, bass + 12, bass + 4)[0],
                    bass + 7, bass + int(rng.choice([-1, 1, 10, 9]))]
            for beat in range(int(length)):
                hit(start + beat, .9, [walk[beat % 4]], 1.0 if beat % 2 == 0 else .9)
        elif style == "bass_tumbao":
            hit(start + 1.5, 1.0, [bass + 7 if bass + 7 <= 52 else bass - 5], 1.0)
            hit(start + 3, 1.0, [bass], 1.0)
        else:
            raise ValueError(f"unknown accompaniment style {style!r}")
    return notes


#: Accompaniment styles with the pitch range each is voiced in.
ACCOMPANIMENT_STYLES: dict[str, tuple[int, int]] = {
    "pad": (52, 76), "block": (52, 74), "arpeggio": (48, 76), "alberti": (48, 72),
    "comp": (52, 74), "stride": (40, 64), "strum": (40, 76), "montuno": (57, 77),
    "power": (40, 67), "bass_root": (28, 52), "bass_eighths": (28, 52),
    "bass_root_fifth": (28, 52), "bass_walking": (28, 55), "bass_tumbao": (28, 52),
}


def _family(program: int) -> str:
    """Instrument family of a General MIDI program, used to keep the lead predominant."""
    if program in (52, 53, 54, 85, 91):
        return "voice"
    if 40 <= program <= 51 or program == 110:
        return "strings"
    if program == 105:
        return "guitar"
    return f"gm{program // 8}"


def _drum_part(rng: np.random.Generator, song: _Song, style: str) -> Part:
    """A drum part: a genre pattern with velocity variation, fills and crashes."""
    pattern = DRUM_PATTERNS[style][int(rng.integers(len(DRUM_PATTERNS[style])))]
    sixteenth = .25
    bars = int(np.ceil(song.total_beats / 4))
    notes: list[Note] = []
    for bar in range(bars):
        start = bar * 4
        fill = style in ("rock", "country") and bar % 4 == 3 and rng.random() < .5
        hits = dict(pattern)
        if 75 in hits and bar % 2 == 1:
            hits[75] = CLAVE_SECOND_BAR
        for key, steps in hits.items():
            for step, velocity in steps.items():
                if fill and step >= 12:
                    continue
                if velocity < 50 and rng.random() < .25:
                    continue
                notes.append(song.note(start + step * sixteenth, .2, key,
                                       velocity + rng.normal(0, 6), rng, jitter=.005))
        if fill:
            for step, key in TOM_FILL.items():
                notes.append(song.note(start + step * sixteenth, .2, key,
                                       rng.uniform(85, 110), rng, jitter=.005))
        if style in ("rock", "country") and bar % 4 == 0 and rng.random() < .7:
            notes.append(song.note(start, 1, CRASH, rng.uniform(80, 105), rng))
    return Part("drums", 0, notes, pan=0.0)


def _lead_parts(rng: np.random.Generator, song: _Song, lead: LeadProgram,
                genre: str) -> list[Part]:
    """The predominant instrument's notes (one part; keyboards add a left hand)."""
    articulation = _choose(rng, {"legato": 3, "normal": 3, "staccato": 1} if lead.sustained
                           else {"legato": 1, "normal": 3, "staccato": 1})
    technique = lead.technique
    if technique == "guitar":
        options = {"line": 1.0, "strum": 1.0, "arpeggio": 1.0}
        if lead.program in (28, 29, 30):
            options = {"line": 1.0, "power": 1.2}
        elif lead.program == 26:
            options = {"line": 1.2, "comp": .8}
        technique = _choose(rng, options)
    if technique in ("line", "keys"):
        low = max(lead.low, 60) if technique == "keys" else lead.low
        notes = _melody(rng, song, low, lead.high, articulation)
        if technique == "keys" and rng.random() < .35:
            notes += [note._replace(pitch=note.pitch - 12 if note.pitch - 12 >= lead.low
                                    else note.pitch, velocity=max(1, note.velocity - 15))
                      for note in notes[::2]]
    else:
        notes = _pattern_notes(technique, rng, song, lead.low, min(lead.high, 79),
                               rng.uniform(70, 110))
    controls = _vibrato_and_swells(rng, notes, lead.vibrato_cents, lead.sustained)
    parts = [Part("lead", lead.program, notes, controls, pan=rng.uniform(-.25, .25),
                  sung=lead.sung)]
    if lead.technique == "keys":
        style = GENRE_STYLES[genre].left_hand[int(rng.integers(len(GENRE_STYLES[genre].left_hand)))]
        left = _pattern_notes(style, rng, song, lead.low, 64, rng.uniform(50, 85))
        parts.append(Part("lead", lead.program, left, level_db=rng.uniform(-6, -2),
                          pan=parts[0].pan + rng.uniform(-.15, .15)))
    return parts


def compose(plan: RecordingPlan, seconds: float) -> list[Part]:
    """Compose the parts of a recording.

    Parameters
    ----------
    plan : RecordingPlan
        The recording; its ``entropy`` seeds all random choices.
    seconds : float
        Length of music to compose.

    Returns
    -------
    list of Part
        Lead part(s), the genre's accompaniment, and a drum part exactly when
        ``plan.drums``.
    """
    rng = np.random.default_rng(list(plan.entropy))
    programs = LEAD_PROGRAMS[plan.instrument]
    weights = np.array([program.weight for program in programs])
    lead = programs[int(rng.choice(len(programs), p=weights / weights.sum()))]
    song = _compose_song(rng, plan.genre, seconds, plan.drums)
    parts = _lead_parts(rng, song, lead, plan.genre)
    style = GENRE_STYLES[plan.genre]
    arrangement = style.arrangements[int(rng.integers(len(style.arrangements)))]
    accompaniment_offset = rng.uniform(-3, 1)
    for accompaniment, candidates in arrangement:
        allowed = [p for p in candidates if _family(p) != _family(lead.program)]
        if not allowed:
            continue
        program = int(rng.choice(allowed))
        low, high = ACCOMPANIMENT_STYLES[accompaniment]
        role = "bass" if accompaniment.startswith("bass") else "harmony"
        notes = _pattern_notes(accompaniment, rng, song, low, high, rng.uniform(55, 95))
        pan = rng.uniform(-.1, .1) if role == "bass" else rng.choice([-1, 1]) * rng.uniform(.2, .7)
        parts.append(Part(role, program, notes, level_db=rng.uniform(*ROLE_LEVELS_DB[role])
                          + accompaniment_offset, pan=float(pan)))
    if plan.drums:
        drums = _drum_part(rng, song, style.drum_style)
        drums.level_db = rng.uniform(*ROLE_LEVELS_DB["drums"]) + accompaniment_offset
        parts.append(drums)
    return parts


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


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
    with store.atomic_file(path) as temporary:
        sf.write(temporary, pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _render_and_write(plan: RecordingPlan, out_dir: str, soundfont: str) -> list[str]:
    """Worker: render one recording and write its excerpts; returns the file paths."""
    excerpts = render_recording(plan, soundfont)
    folder = Path(out_dir) / plan.instrument
    paths = []
    for stem, pcm in zip(plan.stems(), excerpts, strict=True):
        path = folder / f"{stem}.wav"
        write_wav_atomic(path, pcm)
        paths.append(str(path))
    return paths


def _prepare_output(out_dir: Path, instruments: Iterable[str]) -> None:
    """Create the class folders, or explain why ``out_dir`` is not writable."""
    try:
        for code in instruments:
            (out_dir / code).mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out_dir, prefix=".write-test.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise AesensError(f"cannot write to output folder {out_dir} ({error.strerror or error}); "
                          "choose a writable --out") from None


def generate(out_dir: str | os.PathLike, per_class: int = DEFAULT_PER_CLASS, seed: int = 0,
             jobs: int = 1, instruments: Sequence[str] | None = None,
             soundfont: str | os.PathLike | None = None, progress: bool = False) -> list[Path]:
    """Render the IRMAS-format dataset into ``out_dir``.

    Existing files are never deleted; files of the same name are replaced
    atomically.

    Parameters
    ----------
    out_dir : path
        Output folder (``IRMAS-TrainingData`` layout: one folder per class).
    per_class : int
        Approximate number of 3-s files per class (at least
        :data:`MIN_RECORDINGS_PER_CLASS` recordings are made per class).
    seed : int
        Dataset seed; the same seed gives byte-identical files.
    jobs : int
        Parallel worker processes (results do not depend on it).
    instruments : sequence of str, optional
        Class codes to render (default all 11).
    soundfont : path, optional
        General MIDI ``.sf2`` (default ``TimGM6mb.sf2`` from ``pretty_midi``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of Path
        The written files, in plan order.

    Raises
    ------
    AesensError
        If tinysoundfont or the soundfont is missing, or ``out_dir`` is not
        writable.
    """
    from tqdm import tqdm

    _tinysoundfont()
    soundfont_path = find_soundfont(soundfont)
    plans = plan_dataset(per_class, seed, instruments)
    out = Path(out_dir)
    _prepare_output(out, dict.fromkeys(plan.instrument for plan in plans))
    total = sum(plan.excerpts for plan in plans)
    written: list[Path] = []
    with tqdm(total=total, unit="file", desc="rendering", disable=not progress) as bar:
        if jobs <= 1:
            results: Iterable[list[str]] = (
                _render_and_write(plan, str(out), str(soundfont_path)) for plan in plans)
            for paths in results:
                written.extend(map(Path, paths))
                bar.update(len(paths))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs)
            try:
                futures = [pool.submit(_render_and_write, plan, str(out), str(soundfont_path))
                           for plan in plans]
                for future in futures:
                    paths = future.result()
                    written.extend(map(Path, paths))
                    bar.update(len(paths))
            finally:  # on Ctrl-C or an error, drop the recordings not started yet
                pool.shutdown(cancel_futures=True)
    return written


# ---------------------------------------------------------------------------
# Sanity check
# ---------------------------------------------------------------------------


def mfcc_nearest_centroid_accuracy(dataset_dir: str | os.PathLike,
                                   progress: bool = False) -> float:
    """Leave-one-recording-out nearest-centroid accuracy on mean MFCCs.

    Each file becomes the mean of 20 MFCCs (librosa, mono mix). Every source
    recording (class and group id) is held out in turn; features are
    standardised with the remaining files, which also give one centroid per
    class; the held-out files take the class of the nearest centroid. A
    realistic task lands well above chance and well below 100 %.

    Parameters
    ----------
    dataset_dir : path
        IRMAS-format folder.
    progress : bool
        Show a tqdm progress bar while extracting features.

    Returns
    -------
    float
        Fraction of files classified correctly.

    Raises
    ------
    AesensError
        If the folder is not an IRMAS-format dataset or a class has a single
        recording.
    """
    import librosa
    from tqdm import tqdm

    files = discover(dataset_dir)
    names = [parse_stem(path.stem) for path in files]
    labels = np.array([name.instrument for name in names])
    groups = np.array([f"{name.instrument}/{name.group}" for name in names])
    for code in np.unique(labels):
        if len(np.unique(groups[labels == code])) < 2:
            raise AesensError(f"class {code} has a single recording in {dataset_dir}; "
                              "leave-one-recording-out needs at least two")
    features = []
    for path in tqdm(files, unit="file", desc="MFCC", disable=not progress):
        audio, sample_rate = load_audio(path)
        mfcc = librosa.feature.mfcc(y=audio.mean(axis=0), sr=sample_rate, n_mfcc=20)
        features.append(mfcc.mean(axis=1))
    matrix = np.asarray(features)
    correct = 0
    for group in np.unique(groups):
        test = groups == group
        train = ~test
        mean, std = matrix[train].mean(axis=0), matrix[train].std(axis=0) + 1e-9
        standard = (matrix - mean) / std
        classes = np.unique(labels[train])
        centroids = np.stack([standard[train & (labels == code)].mean(axis=0)
                              for code in classes])
        distances = ((standard[test][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
        correct += int(np.sum(classes[distances.argmin(axis=1)] == labels[test]))
    return correct / len(files)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    """The ``generate`` and ``sanity`` sub-commands."""
    parser = argparse.ArgumentParser(
        prog="python -m aesens.dataset",
        description="Render or check an offline dataset in the IRMAS-TrainingData format.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser(
        "generate", help="render the dataset with General MIDI instruments",
        description="Render 3-s, 44.1-kHz, stereo, 16-bit WAV excerpts named like "
                    "IRMAS-TrainingData (11 class folders). Existing files are never deleted.")
    make.add_argument("--out", required=True, type=Path,
                      help="output folder, e.g. datasets/IRMAS-TrainingData")
    make.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS,
                      help=f"approximate number of files per class (default {DEFAULT_PER_CLASS}; "
                           f"at least {MIN_RECORDINGS_PER_CLASS} recordings per class)")
    make.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    make.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                      help="parallel processes; the output does not depend on it "
                           "(default: up to 4)")
    make.add_argument("--instruments", default=",".join(INSTRUMENTS),
                      help="comma-separated class codes (default: all 11)")
    make.add_argument("--soundfont", type=Path, default=None,
                      help=f"General MIDI .sf2 (default: {SOUNDFONT_NAME} from pretty_midi)")
    make.add_argument("--no-sanity", action="store_true",
                      help="skip the MFCC nearest-centroid sanity figure")
    check = commands.add_parser(
        "sanity", help="MFCC nearest-centroid accuracy of a dataset folder",
        description="Leave-one-recording-out nearest-centroid accuracy on mean MFCCs.")
    check.add_argument("dataset_dir", type=Path, help="IRMAS-format folder")
    return parser


def _report_sanity(dataset_dir: Path) -> None:
    """Print the MFCC nearest-centroid accuracy with its chance level."""
    accuracy = mfcc_nearest_centroid_accuracy(dataset_dir, progress=True)
    classes = len({path.parent.name for path in discover(dataset_dir)})
    print(f"MFCC nearest-centroid accuracy (leave-one-recording-out, {classes} classes, "
          f"chance {100 / classes:.0f} %): {100 * accuracy:.1f} %")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m aesens.dataset``."""
    args = _parser().parse_args(argv)
    if args.command == "sanity":
        _report_sanity(args.dataset_dir)
        return 0
    instruments = [code.strip() for code in args.instruments.split(",") if code.strip()]
    if args.jobs < 1:
        raise AesensError(f"--jobs must be at least 1, got {args.jobs}")
    existing = {path.resolve() for path in args.out.glob("*/*.wav")}
    started = time.perf_counter()
    written = generate(args.out, args.per_class, args.seed, args.jobs, instruments,
                       args.soundfont, progress=True)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(written)} files to {args.out} in {elapsed:.1f} s")
    foreign = existing - {path.resolve() for path in written}
    if foreign:
        print(f"note: {len(foreign)} WAV files already in {args.out} are not from this run "
              "and were kept; remove them if the dataset should hold only this run")
    if not args.no_sanity:
        _report_sanity(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

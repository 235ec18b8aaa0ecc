"""Musical material of the generated IRMAS-format dataset.

The General MIDI programs that play each IRMAS class as the predominant
instrument, the genre styles (tempo, modes, chord progressions,
accompaniments, room), melodic rhythms, articulations, drum patterns, sung
vowel formants and mix levels; and the score types that composition
(:mod:`aesens.dataset.compose`) writes and rendering
(:mod:`aesens.dataset.render`) plays: notes, controller changes and parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


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
        with ``style`` a key of
        :data:`~aesens.dataset.compose.ACCOMPANIMENT_STYLES` and ``programs``
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

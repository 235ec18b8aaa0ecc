"""Composition of a generated recording.

A seeded random generator draws tempo, meter, key, mode and chord
progression from the recording's genre, then writes the predominant
instrument's part (a melodic line, keyboard melody over a left hand, or
guitar strums, picking and riffs, with vibrato and expression swells), the
genre's accompaniment in instrument families other than the lead's, and a
drum part exactly when the plan has drums.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from aesens.dataset.material import (
    ARTICULATION_GATES,
    BLUES_SCALE,
    CLAVE_SECOND_BAR,
    CRASH,
    DRUM_PATTERNS,
    GENRE_STYLES,
    LEAD_PROGRAMS,
    MODES,
    RHYTHMS,
    ROLE_LEVELS_DB,
    TOM_FILL,
    Control,
    LeadProgram,
    Note,
    Part,
)
from aesens.dataset.plan import RecordingPlan


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

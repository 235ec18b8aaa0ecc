"""Planning of the generated IRMAS-format dataset.

How many source recordings each class gets and how many 3-s excerpts each
is cut into, which genre each plays, whether it has drums, which of the two
IRMAS naming patterns it uses, and the seed of its random generator
(``(seed, class, recording)``, so that a recording does not depend on the
others or on the order in which they are rendered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aesens.dataset import INSTRUMENTS
from aesens.errors import AesensError

#: Default approximate number of files per class.
DEFAULT_PER_CLASS = 15
#: Fewest source recordings per class (a 4-fold group split needs at least 4).
MIN_RECORDINGS_PER_CLASS = 5
#: Fewest and most 3-s excerpts cut from one recording.
EXCERPTS_PER_RECORDING = (2, 4)

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

"""Planning of the generated IRMAS-format dataset.

How many source recordings each class gets and how many 3-s excerpts each
is cut into, which genre each plays, whether it has drums, which of the two
IRMAS naming patterns it uses, and the seed of its random generator
(``(seed, class, recording)``, so that a recording does not depend on the
others or on the order in which they are rendered).

The counts are chosen so that the published split (stage 2A.3,
:mod:`aesens.sweep.split`) uses every file it can: every recording has the
same length and every class the same number of recordings, numbered so that
the split's test fold receives a quarter of each class (:func:`number_groups`)
and its balanced train set keeps the other three quarters of every class; a
single short ``lat_sou`` recording exercises the split's genre drop without
paying for more files that are dropped anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aesens.dataset import INSTRUMENTS
from aesens.dataset.folds import FOLD_SEED, N_SPLITS, published_group_fold_test_rows
from aesens.errors import AesensError

#: Default number of files per class (outside the ``lat_sou`` recording).
DEFAULT_PER_CLASS = 16
#: Recording lengths (3-s excerpts) that the plan may use, longest first.
EXCERPTS_PER_RECORDING = (4, 3, 2)
#: The genre that the published split drops; the dataset holds one short recording of it.
DROPPED_GENRE = "lat_sou"
#: Most swaps tried while numbering the groups (each runs the published fold once), and
#: swaps without progress after which the search starts again from a fresh order.
MAX_NUMBERING_SWAPS = 1000
RESTART_AFTER = 40

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


def class_layout(per_class: int) -> tuple[int, int]:
    """Files per class and excerpts per recording for a requested ``per_class``.

    A class holds :data:`~aesens.dataset.folds.N_SPLITS` equal quarters (one per
    fold of the split), each of whole recordings of one common length: the
    quarter is ``per_class / 4`` rounded up to at least 2 and to a multiple of
    2, 3 or 4, and the recordings take the longest length of
    :data:`EXCERPTS_PER_RECORDING` that divides it (e.g. 28 -> 32 files in
    recordings of 4 excerpts, 12 -> 12 files in recordings of 3).

    Returns
    -------
    files : int
        Files of each class.
    excerpts : int
        Excerpts of every recording.
    """
    quarter = max(-(-per_class // N_SPLITS), min(EXCERPTS_PER_RECORDING))
    while not any(quarter % length == 0 for length in EXCERPTS_PER_RECORDING):
        quarter += 1
    excerpts = next(length for length in EXCERPTS_PER_RECORDING if quarter % length == 0)
    return N_SPLITS * quarter, excerpts


def number_groups(instruments: Sequence[str], excerpts: int,
                  rng: np.random.Generator) -> list[int]:
    """Group ids (1 to n) for recordings of equal length so that the split's test fold
    holds the same number of recordings of every class.

    The published split runs scikit-learn 1.2.2's ``StratifiedGroupKFold``, which
    balances the folds by the class counts of *other* groups than the ones it deals
    (:func:`~aesens.dataset.folds.published_group_fold_test_rows`): whatever the
    class sizes, the test fold takes a near-random share of each class, and
    balancing then drops the surplus train files. Which groups land in the test
    fold depends only on the sequence of (class, length) of the groups in id
    order, so a search over that order, swapping two groups of different
    classes, one from an over-full class in the test fold and one from an
    under-full class outside it, and keeping swaps that do not move away from
    an equal share (starting again from a fresh order after
    :data:`RESTART_AFTER` swaps without progress), finds a numbering that gives
    every class a quarter of its recordings in the test fold. After
    :data:`MAX_NUMBERING_SWAPS` tries it keeps the closest numbering found.

    Parameters
    ----------
    instruments : sequence of str
        Class code of each recording (each class the same number of times, a
        multiple of the number of folds).
    excerpts : int
        Files of every recording.
    rng : numpy.random.Generator
        Draws the starting order and the swaps.

    Returns
    -------
    list of int
        The group id of each recording, in the order of ``instruments``.
    """
    labels = np.array([INSTRUMENTS[code] for code in instruments])
    count = len(labels)
    _, class_index = np.unique(labels, return_inverse=True)
    target = count // (N_SPLITS * (class_index.max() + 1))
    groups = np.repeat(np.arange(count), excerpts)

    def test_fold(order: np.ndarray) -> np.ndarray:
        """Whether each group id (0-based) falls into the test fold."""
        rows = published_group_fold_test_rows(np.repeat(labels[order], excerpts), groups,
                                              N_SPLITS, FOLD_SEED)
        return np.isin(np.arange(count), groups[rows])

    def shortfall(order: np.ndarray, in_test: np.ndarray) -> np.ndarray:
        """Test-fold recordings of each class minus the target."""
        return np.bincount(class_index[order[in_test]], minlength=class_index.max() + 1) - target

    best = order = rng.permutation(count)  # order[i]: the recording that gets group id i + 1
    in_test = test_fold(order)
    excess = best_excess = shortfall(order, in_test)
    stalled = 0
    for _ in range(MAX_NUMBERING_SWAPS):
        if not best_excess.any():
            break
        held = class_index[order]
        over = np.flatnonzero(in_test & (excess[held] > 0))
        under = np.flatnonzero(~in_test & (excess[held] < 0))
        if stalled == RESTART_AFTER or not len(over) or not len(under):
            order = rng.permutation(count)
            in_test = test_fold(order)
            excess, stalled = shortfall(order, in_test), 0
            continue
        first, second = int(rng.choice(over)), int(rng.choice(under))
        trial = order.copy()
        trial[[first, second]] = trial[[second, first]]
        trial_in_test = test_fold(trial)
        trial_excess = shortfall(trial, trial_in_test)
        stalled = 0 if np.abs(trial_excess).sum() < np.abs(excess).sum() else stalled + 1
        if np.abs(trial_excess).sum() <= np.abs(excess).sum():
            order, in_test, excess = trial, trial_in_test, trial_excess
        if np.abs(excess).sum() < np.abs(best_excess).sum():
            best, best_excess = order, excess
    ids = np.empty(count, dtype=int)
    ids[best] = np.arange(1, count + 1)
    return ids.tolist()


def plan_dataset(per_class: int = DEFAULT_PER_CLASS, seed: int = 0,
                 instruments: Sequence[str] | None = None) -> list[RecordingPlan]:
    """Plan the recordings of a generated dataset.

    Every class gets the files of :func:`class_layout` in recordings of one
    common length, numbered by :func:`number_groups` so that the published
    split deals a quarter of every class to the test fold and keeps all the
    others in its balanced train set. The class with the most ``lat_sou``
    music (:data:`CLASS_GENRES`) gets one more recording, of the shortest
    length, in genre ``lat_sou``: the files the split drops by genre.

    Parameters
    ----------
    per_class : int
        Requested files per class (outside ``lat_sou``), rounded up by
        :func:`class_layout`.
    seed : int
        Dataset seed.
    instruments : sequence of str, optional
        Class codes to generate (default: all 11, in IRMAS order).

    Returns
    -------
    list of RecordingPlan
        Recordings by class (the ``lat_sou`` one last in its class), with
        group ids 1 to n as numbered for the split (the ``lat_sou`` one n).

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
    if per_class < 1:
        raise AesensError(f"--per-class must be a positive number of files, got {per_class}")
    files, excerpts = class_layout(per_class)
    recordings = files // excerpts
    if recordings * len(codes) + 1 > 9999:
        raise AesensError(f"{recordings * len(codes) + 1} recordings do not fit 4-digit group "
                          "ids; lower --per-class")
    dropped_class = max(codes, key=lambda code: CLASS_GENRES[code].get(DROPPED_GENRE, 0.0))
    drafts: list[tuple[str, str, int, int]] = []  # class, genre, excerpts, index in class
    for code in codes:
        rng = np.random.default_rng([seed, list(INSTRUMENTS).index(code)])
        kept = {genre: weight for genre, weight in CLASS_GENRES[code].items()
                if genre != DROPPED_GENRE}
        drafts += [(code, genre, excerpts, index)
                   for index, genre in enumerate(_allocate(kept, recordings, rng))]
    group_ids = number_groups([code for code, *_ in drafts], excerpts,
                              np.random.default_rng([seed, len(INSTRUMENTS)]))
    dropped = (dropped_class, DROPPED_GENRE, min(EXCERPTS_PER_RECORDING), recordings)
    drafts.insert(max(i for i, draft in enumerate(drafts) if draft[0] == dropped_class) + 1,
                  dropped)
    group_ids.insert(drafts.index(dropped), len(drafts))
    plans = []
    for (code, genre, length, index), group in zip(drafts, group_ids, strict=True):
        class_index = list(INSTRUMENTS).index(code)
        rng = np.random.default_rng([seed, class_index, index, 2])
        prefixed = rng.random() < PREFIXED_NAME_PROBABILITY
        plans.append(RecordingPlan(
            instrument=code, genre=genre, group=group, excerpts=length,
            drums=bool(rng.random() < DRUMS_PROBABILITY[genre]),
            prefix=int(rng.integers(1, 1000)) if prefixed else None,
            entropy=(seed, class_index, index)))
    return plans

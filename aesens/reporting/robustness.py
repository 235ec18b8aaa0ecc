"""Classification at the strongest effect setting: one definition of every drop, and its noise.

The summary report (:mod:`aesens.reporting.report`, its readings in
:mod:`aesens.reporting.reading`) and the scorecard
(:mod:`aesens.reporting.scorecard`) read the classification results
through these functions only, so their numbers agree.

Definition: per instrument, a metric (ROC AUC, F1 or accuracy) is the mean of
the instrument's result rows for the method and the train/test sets (one row
in the published files). A drop is ``before - after`` per instrument (positive:
the effect hurts), ``before`` the orig/orig value and ``after`` the value at
the strongest setting; its mean is over the instruments that have both values,
and its standard error (SE) is over the same instruments. An instrument whose
test set holds no positive example (``support`` 0: no ROC AUC and no F1) is
left out of every metric, so the three describe the same instruments. A mean
difference is beyond noise when its magnitude exceeds ``max(0.02, 2 SE)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from aesens.classification.results import ORIGINAL as ORIGINAL_SET
from aesens.effects import Effect

#: Metrics of the result files read here, and how the reports name them.
METRICS = {"roc_auc": "ROC AUC", "f1_score": "F1", "accuracy": "accuracy"}
#: The two conditions at the strongest setting: column name, and whether training is effected.
CONDITIONS = {"orig/eff.": False, "eff./orig": True}
#: ROC AUC of a classifier that ranks at random: what an embedding can lose is above it.
CHANCE_AUC = 0.5
#: The smallest mean difference ever called beyond noise.
NOISE_FLOOR = 0.02
#: Multiple of the standard error over instruments that a mean difference must exceed.
NOISE_SE = 2.0
#: Most decimals :func:`consistent_strings` uses.
MAX_DIGITS = 6
#: Magnitudes below this (float rounding of values between 0 and 1) are shown as 0.
ROUNDING = 1e-12


def strongest_rank(effect: Effect) -> int:
    """Grid rank farthest from the uneffected audio (e.g. 4 bits, −40 dB, 1.6 kHz, room 1.0)."""
    return int(np.argmax(np.abs(np.arange(len(effect.grid)) - effect.identity_rank)))


def standard_error(values: pd.Series | np.ndarray) -> float:
    """Standard error of the mean of the finite values (sample std / √n); NaN with fewer than 2."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def noise_level(error: float) -> float:
    """``max(NOISE_FLOOR, NOISE_SE × error)``; the floor alone when the SE is unknown (NaN)."""
    return NOISE_FLOOR if not np.isfinite(error) else max(NOISE_FLOOR, NOISE_SE * error)


def noise(differences: pd.Series | np.ndarray) -> float:
    """Noise level of a mean difference, from its per-instrument values (:func:`noise_level`)."""
    return noise_level(standard_error(differences))


@dataclass(frozen=True)
class Paired:
    """A mean difference ``first - second`` over the instruments that have both values.

    Attributes
    ----------
    first, second : float
        Means over those instruments (so ``first - second == difference``).
    difference : float
        Mean of the per-instrument differences (NaN if no instrument has both).
    se : float
        Its standard error over the instruments (NaN with fewer than two).
    instruments : int
        How many instruments have both values.
    """

    first: float
    second: float
    difference: float
    se: float
    instruments: int

    @property
    def noise(self) -> float:
        """The noise level of :attr:`difference` (:func:`noise_level`)."""
        return noise_level(self.se)

    @property
    def beyond_noise(self) -> bool:
        """Whether ``|difference|`` exceeds the noise level (False when unknown)."""
        return bool(np.isfinite(self.difference) and abs(self.difference) > self.noise)


def paired(first: pd.Series, second: pd.Series) -> Paired:
    """:class:`Paired` of two per-instrument series (indexed by instrument)."""
    both = pd.concat([first.rename("first"), second.rename("second")], axis=1).astype(float)
    both = both[np.isfinite(both["first"]) & np.isfinite(both["second"])]
    if both.empty:
        return Paired(np.nan, np.nan, np.nan, np.nan, 0)
    differences = both["first"] - both["second"]
    return Paired(float(both["first"].mean()), float(both["second"].mean()),
                  float(differences.mean()), standard_error(differences), len(both))


def instrument_values(table: pd.DataFrame, metric: str, train_set: str,
                      test_set: str) -> pd.Series:
    """Per instrument: the mean of its rows' ``metric`` for these sets (rows of one method).

    Rows whose ``support`` (positives in the test set) is 0 count as missing.
    """
    rows = table[(table["train_set"] == train_set) & (table["test_set"] == test_set)]
    values = pd.to_numeric(rows[metric], errors="coerce")
    if "support" in rows:
        values = values.where(pd.to_numeric(rows["support"], errors="coerce") != 0)
    return values.groupby(rows["instrument"], sort=False).mean()


def strongest_numbers(table: pd.DataFrame, effect: Effect) -> pd.DataFrame:
    """Per method, metric and instrument: the values at orig/orig and the strongest setting.

    Parameters
    ----------
    table : pandas.DataFrame
        Results of one effect and embedding
        (:func:`aesens.classification.results.load_results`, with its
        ``method`` column).
    effect : Effect
        The effect (its strongest setting is :func:`strongest_rank`).

    Returns
    -------
    pandas.DataFrame
        Columns ``method`` (as in ``table``), ``metric`` (a key of
        :data:`METRICS` the table has), ``instrument``, ``orig/orig``,
        ``orig/eff.`` (train original, test the strongest setting) and
        ``eff./orig`` (the reverse); NaN where a value is missing.
    """
    strongest = effect.param_strings[strongest_rank(effect)]
    sets = {"orig/orig": (ORIGINAL_SET, ORIGINAL_SET), "orig/eff.": (ORIGINAL_SET, strongest),
            "eff./orig": (strongest, ORIGINAL_SET)}
    frames = []
    for method, group in table.groupby("method", sort=False):
        for metric in (name for name in METRICS if name in group):
            values = pd.DataFrame({column: instrument_values(group, metric, *pair)
                                   for column, pair in sets.items()})
            frames.append(values.rename_axis("instrument").reset_index()
                          .assign(method=method, metric=metric))
    columns = ["method", "metric", "instrument", *sets]
    return (pd.concat(frames, ignore_index=True)[columns] if frames
            else pd.DataFrame(columns=columns))


def _by_instrument(rows: pd.DataFrame, column: str) -> pd.Series:
    return rows.set_index("instrument")[column]


def condition_drop(rows: pd.DataFrame, condition: str) -> Paired:
    """The drop ``orig/orig - <condition>`` of one method and metric's rows."""
    return paired(_by_instrument(rows, "orig/orig"), _by_instrument(rows, condition))


def mean_drop(rows: pd.DataFrame) -> Paired:
    """The drop averaged over both conditions, per instrument (instruments with all three values).

    ``first`` is orig/orig and ``second`` the mean of the two effected values.
    """
    indexed = rows.set_index("instrument")
    return paired(indexed["orig/orig"], (indexed["orig/eff."] + indexed["eff./orig"]) / 2)


def recovery(method_rows: pd.DataFrame, none_rows: pd.DataFrame, condition: str) -> Paired:
    """What a method recovers: its value minus no method's at the strongest setting."""
    return paired(_by_instrument(method_rows, condition), _by_instrument(none_rows, condition))


def relative_drop(drop: Paired) -> tuple[float, float]:
    """The ROC AUC drop as a share of what could be lost (orig/orig above chance), and its SE.

    ``drop / (before - 0.5)`` and ``SE / (before - 0.5)`` (the headroom taken
    as known); NaN when the headroom is not positive.
    """
    headroom = drop.first - CHANCE_AUC
    if not np.isfinite(headroom) or headroom <= 0:
        return np.nan, np.nan
    return drop.difference / headroom, drop.se / headroom


def _fixed(value: float, digits: int, sign: bool) -> str:
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def consistent_digits(before: float, after: float, difference: float) -> int:
    """Decimals that show ``before``, ``after`` and their difference consistently.

    Three, more (up to :data:`MAX_DIGITS`) until the shown before minus the
    shown after equals the shown difference and a non-zero difference does
    not show as zero.
    """
    if not (np.isfinite(before) and np.isfinite(after) and np.isfinite(difference)):
        return 3
    zero = abs(difference) < ROUNDING
    for digits in range(3, MAX_DIGITS + 1):
        shown = [Decimal(_fixed(value, digits, False)) for value in (before, after, difference)]
        if shown[0] - shown[1] == shown[2] and (shown[2] == 0) == zero:
            return digits
    return MAX_DIGITS


def consistent_strings(before: float, after: float, difference: float) -> tuple[str, str, str]:
    """``before``, ``after`` and the signed difference with :func:`consistent_digits` decimals.

    A zero difference (below :data:`ROUNDING`) shows as ``0``; the minus sign is ``-``
    (ASCII).
    """
    digits = consistent_digits(before, after, difference)
    return (unsigned(before, digits), unsigned(after, digits), signed(difference, digits))


def signed(value: float, digits: int = 3) -> str:
    """A signed difference with ``digits`` decimals; ``0`` only when it is 0.

    A non-zero value that rounds to zero shows two significant digits
    (``+0.00042``), so no ``+0.000`` or ``-0.000`` is ever shown; a magnitude
    below :data:`ROUNDING` is float rounding and shows as ``0``.
    """
    return _number(value, digits, "+")


def unsigned(value: float, digits: int = 3) -> str:
    """A value with ``digits`` decimals; a non-zero value that rounds to zero with 2 significant
    digits (never ``0.000`` or ``-0.000`` for a value that is not 0)."""
    return _number(value, digits, "")


def _number(value: float, digits: int, sign: str) -> str:
    """:func:`signed` (``sign`` ``"+"``) and :func:`unsigned` (``sign`` ``""``)."""
    if not np.isfinite(value):
        return "n/a"
    if abs(value) < ROUNDING:
        return "0"
    text = f"{value:{sign}.{digits}f}"
    return f"{value:{sign}.2g}" if Decimal(text) == 0 else text

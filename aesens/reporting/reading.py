"""What to notice: the summary report's tables read out in sentences.

Every claim follows from the numbers of the tables of ``results/summary.md``
(:mod:`aesens.reporting.report`) and of the shift tables by one of the
thresholds below; every number a sentence quotes is a cell of those tables or
the difference of two. Statistics are defined in ``docs/statistics.md``.

Three readings per embedding and effect, each from the statistic that
answers it:

- how far the embedding moves: the median relative displacement and the
  identification rate at the strongest setting against their floor (the
  gentlest setting), from ``<effect>/shift_<embedding>.csv``
  (:mod:`aesens.analysis.shift`), and the set-level distances against theirs;
- whether it moves along one shared direction: the paper's global CCA R²,
  in-sample as published (``spearman_corr2``) and held out on the test files
  (``global_r2_test``) together; a high in-sample value with a low held-out
  one is a direction fitted to the train paths, not shared; the count of
  normalised singular values of the sample-wise CCA directions says along
  how many directions, unless capped by the number of train files or the
  dimension;
- what the classifiers lose at the strongest setting: the ROC AUC drop and
  beside it the F1 and accuracy drops (a uniform shift can move the decision
  threshold without changing the ranking), each against the noise
  (:mod:`aesens.reporting.robustness`), and what the best desensitisation
  method recovers where there was a loss.

:mod:`aesens.reporting.findings` states the strongest findings in three lines
first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from aesens.analysis import shift
from aesens.analysis.files import GLOBAL_R2_COLUMN
from aesens.analysis.methods import SV_THRESHOLDS, display_name
from aesens.effects import EFFECTS, Effect
from aesens.reporting import robustness
from aesens.reporting.robustness import NOISE_FLOOR, NOISE_SE, Paired

#: A median held-out global R² at least this: the files move along one shared direction.
SHARED_R2 = 0.8
#: A median global R² at most this: no shared monotone direction (in between: partly shared).
UNSHARED_R2 = 0.3
#: An in-sample global R² exceeding the held-out one by more than this: part of the fit is
#: to the train paths themselves.
GAP_R2 = 0.2
#: A median sample-wise R² at least this, with a held-out global R² below :data:`SHARED_R2`:
#: each file follows its own direction closely while a shared direction explains less.
FOLLOWS_OWN_R2 = 0.8
#: A median count of normalised singular values at most this: "few directions".
FEW_DIRECTIONS = 3
#: A median count at least this fraction of the possible count: "many directions".
MANY_DIRECTIONS = 0.5
#: Share of effected files still nearest their own original below which an embedding
#: "moves far" at the strongest setting.
FAR_IDENTIFICATION = 0.5
#: Display name of no desensitisation in the classification tables.
NO_METHOD = display_name("")
#: Classification conditions read: column of the tables and how a sentence names it.
SETTINGS = (("orig/eff.", "Train original, test {setting}"),
            ("eff./orig", "Train {setting}, test original"))
#: Threshold metrics read beside ROC AUC.
THRESHOLD_METRICS = ("f1_score", "accuracy")

Label = Callable[[Effect, int], str]


def percent(value: float) -> str:
    """A share as a percentage: two significant digits below 1 %, whole percent above."""
    if not np.isfinite(value):
        return "n/a"
    return f"{100 * value:.2g} %" if abs(value) < 0.01 else f"{100 * value:.0f} %"


def noise_word(difference: Paired) -> str:
    """``"beyond noise"`` or ``"within noise"``."""
    return "beyond noise" if difference.beyond_noise else "within noise"


def rules() -> str:
    """The thresholds of the sentences, as the report states them."""
    return (
        "Read off the tables by fixed rules (definitions: docs/statistics.md). How far: the "
        "median relative displacement ‖B − A‖/‖A‖ and the share of effected files still "
        "nearest their own original (cosine) at the strongest setting, against the same at "
        "the gentlest setting (the floor); moves beyond the floor when the displacement "
        f"exceeds {shift.FLOOR_FACTOR:g}× it, far when fewer than "
        f"{percent(FAR_IDENTIFICATION)} of files are still nearest their own original. Shared "
        "direction: the global R² in-sample (as published: the direction is fitted on the "
        "same train paths it scores) and held out (the test files), medians over "
        f"instruments; held out ≥ {SHARED_R2:g}: one shared direction; ≤ {UNSHARED_R2:g}: "
        f"none, and with an in-sample value ≥ {SHARED_R2:g} the direction is fitted, not "
        "shared; in between: partly shared. Both R² are 1 by construction when the fit has "
        "at most dimension + 1 rows (sample-wise: grid values; global in-sample: train files "
        "× grid values) and then show nothing. Count of normalised singular values ≥ t σ₁ "
        f"(lowest t): at most {FEW_DIRECTIONS}: few directions; at least "
        f"{MANY_DIRECTIONS:g} of the possible count: many; equal to the number of train files "
        "or the dimension: capped. Classification: a drop is orig/orig minus the value at "
        "the strongest setting per instrument, averaged over instruments (positive: the "
        "effect hurts), beyond noise when larger than "
        f"max({NOISE_FLOOR:g}, {NOISE_SE:g} × its standard error over instruments); a "
        "method's recovery is its ROC AUC minus no method's, read only where ROC AUC was "
        "lost beyond noise.")


def _caps(group: pd.DataFrame, dim: int | None) -> tuple[pd.Series, pd.Series]:
    """Per instrument: the largest possible count and whether it is the train-file count."""
    n_train = (pd.to_numeric(group["n_train"], errors="coerce") if "n_train" in group
               else pd.Series(np.nan, index=group.index))
    by_dim = pd.Series(np.nan if dim is None else float(dim), index=group.index)
    caps = pd.concat([n_train, by_dim], axis=1).min(axis=1)
    return caps, caps == n_train


def _directions_sentence(group: pd.DataFrame, dim: int | None,
                         thresholds: Sequence[float]) -> str:
    columns = [(t, f"sv_count_{t:g}") for t in sorted(thresholds) if f"sv_count_{t:g}" in group]
    if not columns:
        return ""
    threshold, column = columns[0]
    counts = pd.to_numeric(group[column], errors="coerce")
    caps, by_files = _caps(group, dim)
    known = counts.notna()
    if not known.any():
        return ""
    counts, caps, by_files = counts[known], caps[known], by_files[known]
    count = f"{counts.median():.0f}"
    shown = float(count)
    values = f"normalised singular values ≥ {threshold:g} σ₁"
    bounded = caps.notna()
    capped = bounded & (counts >= caps)
    limit = ("number of train files" if by_files[capped].all() else "embedding dimension"
             if not by_files[capped].any() else "number of train files or the dimension")
    one_cap = caps.iloc[0] if bounded.all() and caps.nunique() == 1 else None
    if capped.any() and capped.all():
        cap = f" ({one_cap:.0f})" if one_cap is not None else ""
        return (f"Its count of {values} ({count}) equals the {limit}{cap} in every instrument: "
                "the count is capped by it and cannot show how many directions the effect uses.")
    if capped.any():
        return (f"It moves along {count} directions (median count of {values}), but in some "
                f"instruments the count reaches the {limit} (counts {counts.min():.0f}–"
                f"{counts.max():.0f}), where it is capped and cannot show how many directions "
                "the effect uses.")
    possible = f" of {one_cap:.0f} possible" if one_cap is not None else ""
    if shown <= FEW_DIRECTIONS:
        return f"It moves along few directions: {count} {values}{possible}."
    if one_cap is not None and shown >= MANY_DIRECTIONS * one_cap:
        return f"It moves along many directions: {count} {values}{possible}."
    return f"It moves along {count} directions ({values}{possible})."


def shown_median(group: pd.DataFrame, column: str) -> tuple[pd.Series, float]:
    """The finite values of a column and their median as shown (2 decimals; NaN if none)."""
    values = (pd.to_numeric(group[column], errors="coerce").dropna() if column in group
              else pd.Series(dtype=float))
    return values, (round(values.median(), 2) if not values.empty else np.nan)


def _two(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "n/a"


def _disagree(values: pd.Series) -> str:
    low, high = round(values.min(), 2), round(values.max(), 2)
    return (f", instruments disagree: {low:.2f}–{high:.2f}"
            if low <= UNSHARED_R2 and high >= SHARED_R2 else "")


def sensitivity_sentence(embedding: str, effect: str, group: pd.DataFrame,
                         dim: int | None = None,
                         thresholds: Sequence[float] = SV_THRESHOLDS,
                         n_params: int | None = None) -> str:
    """Whether an embedding moves along one shared direction, and along how many directions.

    Parameters
    ----------
    embedding, effect : str
        Names, as in the tables.
    group : pandas.DataFrame
        The ``correlations.csv`` rows of this embedding and effect (one per
        instrument): ``spearman_corr2`` (the paper's global R², in-sample),
        ``global_r2_test`` (held out), ``samplewise_r2_median``, optionally
        ``sv_count_<t>`` and ``n_train``.
    dim : int, optional
        Embedding dimension (unknown: the count is only capped by
        ``n_train``).
    thresholds : sequence of float
        Singular-value thresholds whose counts may be present; the lowest
        present is read.
    n_params : int, optional
        Number of grid values of the effect. With at most ``dim + 1`` of
        them, a file's sample-wise CCA fits its path exactly whatever the
        path, so its R² of 1 is said to show nothing. Likewise, when every
        instrument has at most ``dim + 1`` train rows (``n_train ×
        n_params``), the global direction fits them exactly and the
        in-sample global R² is near 1 whatever the data: only the held-out
        value is read.

    Notes
    -----
    The verdict reads the held-out global R² (the in-sample one when no
    held-out value exists); thresholds compare the values as shown (rounded
    to 2 decimals, as in the tables).
    """
    in_sample, fitted = shown_median(group, GLOBAL_R2_COLUMN)
    held_out, held = shown_median(group, "global_r2_test")
    if in_sample.empty and held_out.empty:
        return "Direction: no global R² (no instrument has a value)."
    n_train = (pd.to_numeric(group["n_train"], errors="coerce") if "n_train" in group
               else pd.Series(np.nan, index=group.index))
    by_construction = (not in_sample.empty and n_params is not None and dim is not None
                       and n_train.notna().all() and bool((n_train * n_params <= dim + 1).all()))
    numbers = f"global R² {_two(fitted)} in-sample, as published; {_two(held)} held out"
    if np.isnan(held):
        numbers = f"global R² {_two(fitted)} in-sample, as published; no held-out value"
        verdict = ("a direction fitted on the train paths follows the setting; whether it is "
                   "shared by other files is not measured" if fitted >= SHARED_R2 else
                   "no shared monotone direction" if fitted <= UNSHARED_R2 else
                   "a direction fitted on the train paths partly follows the setting")
        text = f"Direction: {verdict} ({numbers}{_disagree(in_sample)})"
    elif held >= SHARED_R2:
        text = (f"Direction: the files move along one shared monotone direction ({numbers}"
                f"{_disagree(held_out)})")
    elif held <= UNSHARED_R2 and (fitted >= SHARED_R2 or by_construction):
        text = (f"Direction: fitted, not shared ({numbers}{_disagree(held_out)}): the "
                "direction fitted on the train paths does not carry over to the test files")
    elif held <= UNSHARED_R2:
        text = f"Direction: no shared monotone direction ({numbers}{_disagree(held_out)})"
    else:
        text = f"Direction: partly shared ({numbers}{_disagree(held_out)})"
        if np.isfinite(fitted) and fitted - held > GAP_R2:
            text += "; the gap says part of the in-sample fit is to the train paths themselves"
    if by_construction:
        text += ("; the in-sample value is near 1 by construction (no instrument has more "
                 "train rows, files × grid values, than the dimension plus one) and shows "
                 "nothing")
    samplewise, own = shown_median(group, "samplewise_r2_median")
    if n_params is not None and dim is not None and n_params <= dim + 1 and np.isfinite(own):
        text += (f"; the sample-wise R² ({own:.2f}) is 1 by construction ({n_params} grid "
                 f"values in {dim} dimensions: each file's path is fitted exactly) and shows "
                 "nothing")
    elif own >= FOLLOWS_OWN_R2 and not (np.isfinite(held) and held >= SHARED_R2):
        text += (f"; each file follows its own direction closely (sample-wise R² {own:.2f}) "
                 "while a shared direction explains less")
    directions = _directions_sentence(group, dim, thresholds)
    return f"{text}." + (f" {directions}" if directions else "")


def movement_sentence(effect: Effect, table: pd.DataFrame, label: Label) -> str:
    """How far the embedding moves at the strongest setting, against its floor.

    Parameters
    ----------
    effect : Effect
        The effect.
    table : pandas.DataFrame
        Its shift table (:func:`aesens.analysis.shift.read_shift_table`).
    label : callable
        ``label(effect, rank)`` names a setting with its unit.
    """
    settings = table[table["kind"] == "setting"].set_index("rank")
    floor = table[table["kind"] == "floor"].iloc[0]
    strongest = shift.ranks_outward(effect)[-1]
    at = settings.loc[strongest]
    gentlest = label(effect, int(floor["rank"]))
    first = shift.first_rank_above_floor(table, effect, "median_relative_displacement")
    identified = float(at["identification_rate"])
    verdict = ("stays within its floor" if first is None
               else "moves far" if identified < FAR_IDENTIFICATION
               else "moves beyond its floor, but files stay recognisable")
    text = (f"How far: {verdict}: at {label(effect, strongest)} the median file moves "
            f"{percent(at['median_relative_displacement'])} of its norm "
            f"({percent(floor['median_relative_displacement'])} at {gentlest}, the gentlest "
            f"setting: the floor) and {percent(identified)} of effected files are still nearest "
            f"their own original ({percent(floor['identification_rate'])} at {gentlest})")
    text += ("; the displacement exceeds "
             f"{shift.FLOOR_FACTOR:g}× the floor from {label(effect, first)}" if first is not None
             else f"; the displacement stays within {shift.FLOOR_FACTOR:g}× the floor")
    sets = [shift.first_rank_above_floor(table, effect, statistic)
            for statistic in ("frechet_distance", "kernel_distance")]
    sets = [rank for rank in sets if rank is not None]
    if sets:
        rank = min(sets, key=shift.ranks_outward(effect).index)
        text += (f"; as a set the effected files leave the noise floor from {label(effect, rank)}"
                 " (Fréchet or kernel distance)")
    else:
        text += "; as a set they stay within the noise floor (Fréchet and kernel distances)"
    return text + "."


def method_rows(group: pd.DataFrame, method: str, metric: str) -> pd.DataFrame:
    """Rows of one method and metric (of :func:`aesens.reporting.report.classification_numbers`)."""
    return group[(group["method"] == method) & (group["metric"] == metric)]


def _quoted(name: str, drop: Paired) -> str:
    before, after, change = robustness.consistent_strings(drop.first, drop.second,
                                                          drop.difference)
    return f"{name} drop {change} ({before} → {after})"


def before_after(name: str, drop: Paired) -> str:
    """``'<name> 0.910 → 0.681 (drop +0.229)'`` with consistent decimals."""
    before, after, change = robustness.consistent_strings(drop.first, drop.second,
                                                          drop.difference)
    return f"{name} {before} → {after} (drop {change})"


def threshold_loss(group: pd.DataFrame, column: str) -> tuple[Paired, dict[str, Paired]]:
    """No method's ROC AUC drop in a condition, and the threshold metrics' drops beside it."""
    auc = robustness.condition_drop(method_rows(group, NO_METHOD, "roc_auc"), column)
    others = {metric: robustness.condition_drop(method_rows(group, NO_METHOD, metric), column)
              for metric in THRESHOLD_METRICS if not method_rows(group, NO_METHOD, metric).empty}
    return auc, {metric: drop for metric, drop in others.items() if drop.instruments}


def moves_threshold(auc: Paired, others: Mapping[str, Paired]) -> bool:
    """ROC AUC within noise while a threshold metric drops beyond noise."""
    return not auc.beyond_noise and any(drop.beyond_noise and drop.difference > 0
                                        for drop in others.values())


def _recovery_clause(group: pd.DataFrame, column: str, drop: Paired) -> str:
    if not (drop.beyond_noise and drop.difference > 0):
        return "no ROC AUC loss beyond noise, so nothing to recover"
    none = method_rows(group, NO_METHOD, "roc_auc")
    recoveries = []
    for method in dict.fromkeys(group["method"]):
        if method == NO_METHOD:
            continue
        gained = robustness.recovery(method_rows(group, method, "roc_auc"), none, column)
        if gained.instruments:
            recoveries.append((gained.difference, method, gained))
    if not recoveries:
        return "no desensitisation method has results there"
    _, method, best = max(recoveries, key=lambda item: item[0])
    recovered = robustness.signed(best.difference)
    if best.beyond_noise and best.difference > 0:
        return (f"{method} recovers the most: {recovered} ROC AUC (to "
                f"{robustness.unsigned(best.first)}), beyond noise")
    if not best.beyond_noise:
        return f"no method recovers beyond noise (best: {method}, {recovered}, within noise)"
    return f"every method scores lower than none (best: {method}, {recovered}, beyond noise)"


def _condition_sentence(group: pd.DataFrame, column: str, wording: str) -> str:
    if method_rows(group, NO_METHOD, "roc_auc").empty:
        return f"{wording}: no results without desensitisation, so no drop or recovery to read."
    auc, others = threshold_loss(group, column)
    if not auc.instruments:
        return f"{wording}: not run."
    spread = (f"SE {robustness.unsigned(auc.se)} over {auc.instruments} instruments"
              if np.isfinite(auc.se) else "a single instrument, no SE")
    before, after, change = robustness.consistent_strings(auc.first, auc.second,
                                                          auc.difference)
    text = (f"{wording}: ROC AUC drop {change} ({before} → {after}, {spread}), "
            f"{noise_word(auc)}")
    for metric, drop in others.items():
        text += f"; {_quoted(robustness.METRICS[metric], drop)}, {noise_word(drop)}"
    if moves_threshold(auc, others):
        text += ": the effect moves the decision threshold, not the ranking"
    return f"{text}; {_recovery_clause(group, column, auc)}."


def classification_sentences(group: pd.DataFrame) -> str:
    """Sentences on the drops at the strongest setting, per condition, and the best recovery.

    Parameters
    ----------
    group : pandas.DataFrame
        The rows of :func:`aesens.reporting.report.classification_numbers` of one
        embedding and effect (one per method, metric and instrument).
    """
    setting = group["strongest"].iloc[0]
    return " ".join(_condition_sentence(group, column, wording.format(setting=setting))
                    for column, wording in SETTINGS)


def what_to_notice(correlations: pd.DataFrame | None, classification: pd.DataFrame,
                   dims: Mapping[str, int] | None = None,
                   shifts: Mapping[tuple[str, str], pd.DataFrame] | None = None,
                   label: Label | None = None, short: Sequence[str] = ()) -> list[str]:
    """The report's "What to notice" section: the findings in short, the rules, one item per pair.

    Parameters
    ----------
    correlations : pandas.DataFrame or None
        ``correlations.csv`` as :func:`aesens.reporting.report.read_correlations` reads it.
    classification : pandas.DataFrame
        :func:`aesens.reporting.report.classification_numbers` (may be empty).
    dims : mapping, optional
        Embedding dimension per embedding.
    shifts : mapping, optional
        Shift table per ``(embedding, effect)``.
    label : callable, optional
        ``label(effect, rank)`` names a setting with its unit; without it the
        shift tables are left out.
    short : sequence of str
        The strongest findings (:func:`aesens.reporting.findings.in_short`),
        shown first.

    Returns
    -------
    list of str
        Markdown lines, ending with a blank line.
    """
    dims = dims or {}
    shifts = shifts if shifts and label is not None else {}
    texts: dict[tuple[str, str], list[str]] = {}
    for (embedding, effect), table in shifts.items():
        texts.setdefault((embedding, effect), []).append(
            movement_sentence(EFFECTS[effect], table, label))
    if correlations is not None:
        for (embedding, effect), group in correlations.groupby(["embedding", "effect"],
                                                               sort=False):
            n_params = len(EFFECTS[effect].grid) if effect in EFFECTS else None
            texts.setdefault((embedding, effect), []).append(
                sensitivity_sentence(embedding, effect, group, dims.get(embedding),
                                     n_params=n_params))
    for (embedding, effect), group in classification.groupby(["embedding", "effect"],
                                                             sort=False):
        texts.setdefault((embedding, effect), []).append(classification_sentences(group))
    order = list(EFFECTS)
    pairs = sorted(texts, key=lambda pair: (pair[0], order.index(pair[1])
                                            if pair[1] in order else len(order)))
    items = [f"- **{embedding} × {effect}**: " + " ".join(texts[embedding, effect])
             for embedding, effect in pairs]
    head = ["**In short**", "", *short, ""] if short else []
    return ["## What to notice", "", *head, rules(), "",
            *(items or ["Nothing to read yet."]), ""]

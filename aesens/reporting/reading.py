"""What to notice: the summary report's tables read out in sentences.

Every claim follows from the numbers of the tables of ``results/summary.md``
(:mod:`aesens.reporting.report`) by one of the thresholds below, and every number a
sentence quotes is a cell of those tables or the difference of two cells.

Sensitivity (per embedding and effect, from ``correlations.csv``): the
median over instruments of the paper's global CCA R² (``spearman_corr2``:
in-sample, as the published 3.1 notebook computed it) says how strongly the
embedding moves with the effect parameter; the median count of normalised
singular values of the sample-wise CCA directions at least t times the
largest (the lowest t written) says along how many directions. That count
cannot exceed an instrument's number of train files nor the embedding
dimension; where it reaches that cap it says nothing about how many
directions the effect uses, and the sentence says so.

Classification (per embedding and effect, from the results CSVs): the drop
of ROC AUC at the strongest setting without desensitisation, and the method
that recovers the most ROC AUC there (its ROC AUC minus that of no method),
each compared with the noise (:func:`noise`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from aesens.analysis.files import GLOBAL_R2_COLUMN
from aesens.analysis.methods import SV_THRESHOLDS, display_name
from aesens.effects import EFFECTS

#: A median global R² at least this: the embedding "moves strongly" with the parameter.
STRONG_R2 = 0.8
#: A median global R² at most this: it "barely moves" (between the two: "moves moderately").
BARELY_R2 = 0.3
#: A median sample-wise R² at least this, with a global R² below :data:`STRONG_R2`: each
#: file follows its own direction closely while a direction shared by the files explains less.
FOLLOWS_OWN_R2 = 0.8
#: A median count of normalised singular values at most this: "few directions".
FEW_DIRECTIONS = 3
#: A median count at least this fraction of the possible count: "many directions".
MANY_DIRECTIONS = 0.5
#: The smallest ROC AUC difference ever called beyond noise.
AUC_NOISE_FLOOR = 0.02
#: Multiple of the standard error over instruments of a ROC AUC difference that it must
#: exceed to be beyond noise (with :data:`AUC_NOISE_FLOOR`: see :func:`noise`).
NOISE_SE = 2.0
#: Display name of no desensitisation in the classification tables.
NO_METHOD = display_name("")
#: Classification settings read: column of the tables and how a sentence names it.
SETTINGS = (("orig/eff.", "Training on original and testing on {setting} audio"),
            ("eff./orig", "Training on {setting} and testing on original audio"))


def standard_error(values: pd.Series | np.ndarray) -> float:
    """Standard error of the mean of the finite values (sample std / √n); NaN with fewer than 2."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def signed(value: float) -> str:
    """A ROC AUC difference with its sign and 3 decimals (``+0.000``, never ``-0.000``)."""
    return f"{round(value, 3) + 0.0:+.3f}"


def noise(differences: pd.Series | np.ndarray) -> float:
    """Noise level of a mean ROC AUC difference, from its per-instrument values.

    ``max(AUC_NOISE_FLOOR, NOISE_SE × standard error)``; with one instrument
    (no standard error) the floor alone.
    """
    error = standard_error(differences)
    return AUC_NOISE_FLOOR if np.isnan(error) else max(AUC_NOISE_FLOOR, NOISE_SE * error)


def rules() -> str:
    """The thresholds of the sentences, as the report states them."""
    return ("Read off the tables below by fixed rules. Global R² (median over instruments) "
            f"≥ {STRONG_R2:g}: moves strongly; ≤ {BARELY_R2:g}: barely moves; else "
            "moderately; instruments disagree when their values reach both. Sample-wise R² "
            f"≥ {FOLLOWS_OWN_R2:g} with a global R² below {STRONG_R2:g}: each file follows its "
            "own direction, unless the grid has at most dimension + 1 values (then every "
            "file's fit is exact and R² is 1 by construction); likewise the global R², which is "
            "in-sample as published, when no instrument has more train rows (files × grid "
            "values) than the dimension plus one. A global R² ≥ "
            f"{STRONG_R2:g} whose held-out value is ≤ {BARELY_R2:g}: the direction does not "
            "carry over to the test files. Count of normalised singular "
            "values ≥ t σ₁ (median over "
            f"instruments, lowest t): at most {FEW_DIRECTIONS}: few directions; at least "
            f"{MANY_DIRECTIONS:g} of the possible count: many; equal to the number of train "
            "files or the dimension: capped. ROC AUC differences of means over instruments are "
            f"beyond noise when larger than max({AUC_NOISE_FLOOR:g}, {NOISE_SE:g} × the "
            "standard error of the per-instrument differences); a method recovers its ROC AUC "
            "minus that of no method at the same setting.")


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


def sensitivity_sentence(embedding: str, effect: str, group: pd.DataFrame,
                         dim: int | None = None,
                         thresholds: Sequence[float] = SV_THRESHOLDS,
                         n_params: int | None = None) -> str:
    """One or two sentences on how strongly and along how many directions an embedding moves.

    Parameters
    ----------
    embedding, effect : str
        Names, as in the tables.
    group : pandas.DataFrame
        The ``correlations.csv`` rows of this embedding and effect (one per
        instrument): ``spearman_corr2`` (the paper's global R²),
        ``samplewise_r2_median``, optionally
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
        path (the least-squares fit of n points in ``n - 1 <= dim`` centred
        dimensions), so its R² of 1 is said to show nothing. Likewise, when
        every instrument has at most ``dim + 1`` train rows (``n_train ×
        n_params``), the global direction fits them exactly and the global
        R² (in-sample, as published) is near 1 whatever the data: the
        sentence says so and quotes the held-out value (``global_r2_test``).
    """
    # thresholds compare the values as shown (rounded as in the tables)
    r2 = pd.to_numeric(group[GLOBAL_R2_COLUMN], errors="coerce").dropna()
    median = round(r2.median(), 2) if not r2.empty else np.nan
    if r2.empty:
        text = f"{embedding} under {effect}: no global R² (no instrument has a value)"
    else:
        level = ("moves strongly" if median >= STRONG_R2 else
                 "barely moves" if median <= BARELY_R2 else "moves moderately")
        text = f"{embedding} {level} under {effect} (global R² {median:.2f}"
        low, high = round(r2.min(), 2), round(r2.max(), 2)
        if low <= BARELY_R2 and high >= STRONG_R2:
            text += f", but instruments disagree: {low:.2f}–{high:.2f}"
        text += ")"
    n_train = (pd.to_numeric(group["n_train"], errors="coerce") if "n_train" in group
               else pd.Series(np.nan, index=group.index))
    held_out = pd.to_numeric(group.get("global_r2_test", pd.Series(dtype=float)),
                             errors="coerce").dropna()
    test_median = round(held_out.median(), 2) if not held_out.empty else np.nan
    if (not r2.empty and n_params is not None and dim is not None and n_train.notna().all()
            and (n_train * n_params <= dim + 1).all()):
        text += ("; that R² is in-sample and near 1 by construction (no instrument has more "
                 "train rows, files × grid values, than the dimension plus one: its direction "
                 "fits them exactly)" + (f"; held out it is {test_median:.2f}"
                                          if np.isfinite(test_median) else ""))
    elif median >= STRONG_R2 and test_median <= BARELY_R2:
        text += (f"; held out it is {test_median:.2f}: the direction fits the train paths it "
                 "was fitted on but does not carry over to the test files")
    samplewise = pd.to_numeric(group["samplewise_r2_median"], errors="coerce").dropna()
    own = round(samplewise.median(), 2) if not samplewise.empty else np.nan
    exact = n_params is not None and dim is not None and n_params <= dim + 1
    if exact and np.isfinite(own):
        text += (f"; its sample-wise R² ({own:.2f}) is 1 by construction ({n_params} grid values "
                 f"in {dim} dimensions: each file's path is fitted exactly), so it shows nothing")
    elif own >= FOLLOWS_OWN_R2 and (np.isnan(median) or median < STRONG_R2):
        text += (f"; each file follows its own direction closely (sample-wise R² {own:.2f}) "
                 "while a shared direction explains less")
    directions = _directions_sentence(group, dim, thresholds)
    return f"{text}." + (f" {directions}" if directions else "")


def _setting_sentence(group: pd.DataFrame, column: str, wording: str) -> str:
    none = group[group["method"] == NO_METHOD].set_index("instrument")
    if none.empty:
        return f"{wording}: no results without desensitisation, so no drop or recovery to read."
    paired = none["orig/orig"] - none[column]
    if paired.isna().all():
        return f"{wording}: not run."
    base, effected = none["orig/orig"].mean(), none[column].mean()
    drop = base - effected
    level = noise(paired)
    error = standard_error(paired)
    spread = (f"SE {error:.3f} over {paired.notna().sum()} instruments" if np.isfinite(error)
              else "a single instrument, no SE")
    if drop > level:
        text = (f"{wording} costs {drop:.3f} ROC AUC without desensitisation ({base:.3f} → "
                f"{effected:.3f}, {spread}), beyond noise")
    elif drop < -level:
        text = (f"{wording} raises ROC AUC by {-drop:.3f} without desensitisation ({base:.3f} → "
                f"{effected:.3f}, {spread}), beyond noise")
    else:
        text = (f"{wording} changes ROC AUC without desensitisation by {signed(-drop)} "
                f"({base:.3f} → {effected:.3f}, {spread}), within noise")
    recoveries = []
    for method, rows in group[group["method"] != NO_METHOD].groupby("method", sort=False):
        rows = rows.set_index("instrument")
        recovery = rows[column].mean() - effected
        if np.isfinite(recovery):
            recoveries.append((recovery, method, rows[column].mean(),
                               noise(rows[column] - none[column])))
    if not recoveries:
        return f"{text}; no desensitisation method has results there."
    recovery, method, auc, level = max(recoveries, key=lambda item: item[0])
    if recovery > level:
        return (f"{text}; {method} recovers the most: {signed(recovery)} (to {auc:.3f}), "
                "beyond noise.")
    if recovery >= -level:
        return (f"{text}; no method recovers beyond noise (best: {method}, {signed(recovery)}, "
                "within noise).")
    return (f"{text}; every method scores lower than none (best: {method}, {signed(recovery)}, "
            "beyond noise).")


def classification_sentences(group: pd.DataFrame) -> str:
    """Two sentences on the drop at the strongest setting and the best recovery.

    Parameters
    ----------
    group : pandas.DataFrame
        The rows of :func:`aesens.reporting.report.classification_numbers` of one
        embedding and effect (one per method and instrument).
    """
    setting = group["strongest"].iloc[0]
    return " ".join(_setting_sentence(group, column, wording.format(setting=setting))
                    for column, wording in SETTINGS)


def what_to_notice(correlations: pd.DataFrame | None, classification: pd.DataFrame,
                   dims: Mapping[str, int] | None = None) -> list[str]:
    """The report's "What to notice" section: the rules, then one item per embedding and effect.

    Parameters
    ----------
    correlations : pandas.DataFrame or None
        ``correlations.csv`` as :func:`aesens.reporting.report.read_correlations` reads it.
    classification : pandas.DataFrame
        :func:`aesens.reporting.report.classification_numbers` (may be empty).
    dims : mapping, optional
        Embedding dimension per embedding.

    Returns
    -------
    list of str
        Markdown lines, ending with a blank line.
    """
    dims = dims or {}
    texts: dict[tuple[str, str], list[str]] = {}
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
    items = [f"- **{embedding} × {effect}**: " + " ".join(parts)
             for (embedding, effect), parts in texts.items()]
    return ["## What to notice", "", rules(), "", *(items or ["Nothing to read yet."]), ""]

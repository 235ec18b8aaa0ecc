"""The strongest findings of a run in three lines, the first lines of "What to notice".

Read across every embedding and effect by the rules of
:mod:`aesens.reporting.reading`: the largest ROC AUC loss beyond noise; the
largest case of a kept ROC AUC with F1 or accuracy lost beyond noise (a
uniform shift moves the decision threshold, not the ranking); and how far the
embeddings move (farthest and least, by the identification rate at the
strongest setting), with the embeddings whose global direction is fitted,
not shared (in-sample R² high, held-out low).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from aesens.analysis import shift
from aesens.analysis.files import GLOBAL_R2_COLUMN
from aesens.effects import EFFECTS
from aesens.reporting import robustness
from aesens.reporting.reading import (
    NO_METHOD,
    SETTINGS,
    SHARED_R2,
    UNSHARED_R2,
    Label,
    before_after,
    method_rows,
    moves_threshold,
    percent,
    shown_median,
    threshold_loss,
)


def _condition_words(column: str) -> str:
    return ("training on original and testing effected" if column == "orig/eff."
            else "training effected and testing on original")


def _loss_line(classification: pd.DataFrame) -> str:
    losses, pairs = [], set()
    for (embedding, effect), group in classification.groupby(["embedding", "effect"],
                                                             sort=False):
        for column, _ in SETTINGS:
            auc = robustness.condition_drop(method_rows(group, NO_METHOD, "roc_auc"), column)
            if auc.instruments:
                pairs.add((embedding, effect))
            if auc.beyond_noise and auc.difference > 0:
                losses.append((auc.difference, embedding, effect, column, auc,
                               group["strongest"].iloc[0]))
    if not losses:
        return (f"ROC AUC: no embedding loses ROC AUC beyond noise at the strongest setting "
                f"({len(pairs)} embedding × effect pairs, both conditions).")
    _, embedding, effect, column, auc, setting = max(losses, key=lambda item: item[0])
    losing = len({(item[1], item[2]) for item in losses})
    return (f"ROC AUC: the largest loss is {embedding} under {effect} at {setting}, "
            f"{_condition_words(column)}: {before_after('ROC AUC', auc)}, beyond noise; "
            f"{losing} of {len(pairs)} embedding × effect pairs lose ROC AUC beyond noise in "
            "at least one condition.")


def _threshold_line(classification: pd.DataFrame) -> str:
    found = []
    for (embedding, effect), group in classification.groupby(["embedding", "effect"],
                                                             sort=False):
        for column, _ in SETTINGS:
            auc, others = threshold_loss(group, column)
            if moves_threshold(auc, others):
                largest = max(drop.difference for drop in others.values()
                              if drop.beyond_noise)
                found.append((largest, embedding, effect, column, auc, others,
                              group["strongest"].iloc[0]))
    if not found:
        return ("F1 and accuracy: no pair keeps its ROC AUC while losing F1 or accuracy "
                "beyond noise.")
    _, embedding, effect, column, auc, others, setting = max(found, key=lambda item: item[0])
    before, after, change = robustness.consistent_strings(auc.first, auc.second,
                                                          auc.difference)
    quoted = " and ".join(before_after(f"{robustness.METRICS[metric]} falls", drop)
                          for metric, drop in others.items()
                          if drop.beyond_noise and drop.difference > 0)
    more = (f" ({len(found) - 1} more embedding × effect conditions show the same)"
            if len(found) > 1 else "")
    return (f"F1 and accuracy: {embedding} under {effect} at {setting}, "
            f"{_condition_words(column)}, keeps its ROC AUC ({before} → {after}, drop {change}, "
            f"within noise) while {quoted}, beyond noise: the effect moves the decision "
            f"threshold, not the ranking{more}.")


def _movement_line(shifts: Mapping[tuple[str, str], pd.DataFrame],
                   correlations: pd.DataFrame | None, label: Label) -> str:
    parts = []
    reached = []
    for (embedding, effect), table in shifts.items():
        info = EFFECTS[effect]
        strongest = shift.ranks_outward(info)[-1]
        at = table[(table["kind"] == "setting") & (table["rank"] == strongest)].iloc[0]
        reached.append((float(at["identification_rate"]),
                        float(at["median_relative_displacement"]), embedding, effect,
                        label(info, strongest)))
    if reached:
        far, near = min(reached), max(reached, key=lambda item: (item[0], -item[1]))
        parts.append(f"{far[2]} moves farthest under {far[3]} (at {far[4]} "
                     f"{percent(far[0])} of files are still nearest their own original, median "
                     f"displacement {percent(far[1])} of the norm); {near[2]} least under "
                     f"{near[3]} ({percent(near[0])}, {percent(near[1])} at {near[4]})")
    if correlations is not None and "global_r2_test" in correlations:
        fitted = []
        for (embedding, effect), group in correlations.groupby(["embedding", "effect"],
                                                               sort=False):
            _, in_sample = shown_median(group, GLOBAL_R2_COLUMN)
            _, held = shown_median(group, "global_r2_test")
            if in_sample >= SHARED_R2 and held <= UNSHARED_R2:
                fitted.append((embedding, effect, in_sample, held))
        for embedding in dict.fromkeys(item[0] for item in fitted):
            mine = [item for item in fitted if item[0] == embedding]
            low, high = min(item[2] for item in mine), max(item[2] for item in mine)
            held_low, held_high = min(item[3] for item in mine), max(item[3] for item in mine)
            effects = ", ".join(item[1] for item in mine)
            parts.append(f"{embedding}'s global R² is {_span(low, high)} in-sample but "
                         f"{_span(held_low, held_high)} held out under {effects}: its direction "
                         "is fitted to the train paths, not shared")
    if not parts:
        return ""
    text = "; ".join(parts)
    return f"Movement: {text}."


def _span(low: float, high: float) -> str:
    return f"{low:.2f}" if low == high else f"{low:.2f}–{high:.2f}"


def in_short(correlations: pd.DataFrame | None, classification: pd.DataFrame,
             shifts: Mapping[tuple[str, str], pd.DataFrame], label: Label) -> list[str]:
    """The three lines of the strongest findings: loss, threshold metrics, movement.

    Returns
    -------
    list of str
        Markdown list items (fewer when an input is missing).
    """
    lines = []
    if not classification.empty:
        lines += [_loss_line(classification), _threshold_line(classification)]
    movement = _movement_line(shifts, correlations, label)
    if movement:
        lines.append(movement)
    return [f"{index}. {line}" for index, line in enumerate(lines, start=1)]

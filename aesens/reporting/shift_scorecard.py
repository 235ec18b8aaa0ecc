"""Scorecard columns of the shift curves, the held-out sample-wise R² and the probe.

Read from the tables ``python -m aesens.figures`` writes
(:mod:`aesens.analysis.shift`, :mod:`aesens.analysis.heldout`,
:mod:`aesens.analysis.probe`); NaN where a table is missing. :func:`markdown_section` and
:func:`html_section` show them as a table of their own in ``scorecard.md`` and
``scorecard.html``.
"""

from __future__ import annotations

import html
import os

import numpy as np
import pandas as pd

from aesens.analysis import heldout, probe, shift
from aesens.effects import get_effect
from aesens.reporting import robustness
from aesens.reporting.report import setting_label

PathLike = str | os.PathLike
#: Columns added to ``scorecard.csv``, in order.
COLUMNS = ["displacement_strongest", "displacement_floor", "identification_strongest",
           "first_moving_displacement", "first_moving_frechet", "first_moving_kernel",
           "samplewise_r2_heldout", "probe_r2_effected", "probe_spearman_effected",
           "probe_r2_displacement", "probe_spearman_displacement"]
#: Headers of the displayed table.
HEADERS = {"embedding": "embedding", "effect": "effect",
           "displacement_strongest": "‖B−A‖/‖A‖ strongest",
           "displacement_floor": "‖B−A‖/‖A‖ floor",
           "identification_strongest": "identified strongest",
           "first_moving_displacement": "first > 3× floor: ‖B−A‖/‖A‖",
           "first_moving_frechet": "first > 3× floor: Fréchet",
           "first_moving_kernel": "first > 3× floor: kernel",
           "samplewise_r2": "sample-wise R² (published)",
           "samplewise_r2_heldout": "sample-wise R² held-out",
           "probe_r2_effected": "probe R² (B)", "probe_spearman_effected": "probe ρ (B)",
           "probe_r2_displacement": "probe R² (B−A)",
           "probe_spearman_displacement": "probe ρ (B−A)"}
DEFINITIONS = [
    "‖B−A‖/‖A‖: median over files of the relative displacement at the strongest setting; "
    "floor: the same at the gentlest grid value. Identified: share of effected files whose "
    "nearest original (cosine) is their own.",
    "First > 3× floor: the first setting, from the uneffected audio towards the strongest, "
    f"whose statistic exceeds {shift.FLOOR_FACTOR:g} times its noise floor (Fréchet and "
    "kernel distances: their largest value between random halves of the original files); — "
    "if none.",
    "Sample-wise R² held-out: the direction fitted on alternating grid values and scored on "
    "the others, both ways averaged; median per instrument, then over instruments (the "
    "published value is 1 by construction whenever the grid has at most dim + 1 values).",
    "Probe: ridge regression predicting the parameter rank from the effected embedding (B) or "
    "from the displacement (B−A), cross-validated with folds by source recording; "
    "out-of-fold R² and Spearman ρ.",
]


def extra_columns(embedding: str, effect: str, results_dir: PathLike) -> dict[str, object]:
    """The :data:`COLUMNS` of one pair from its tables (those missing are left out)."""
    columns: dict[str, object] = {}
    if shift.shift_path(results_dir, effect, embedding).exists():
        info = get_effect(effect)
        table = shift.read_shift_table(results_dir, effect, embedding)
        settings = table[table["kind"] == "setting"].set_index("rank")
        strongest = shift.ranks_outward(info)[-1]
        floor = table[table["kind"] == "floor"].iloc[0]
        columns.update(
            displacement_strongest=float(settings.loc[strongest, "median_relative_displacement"]),
            displacement_floor=float(floor["median_relative_displacement"]),
            identification_strongest=float(settings.loc[strongest, "identification_rate"]))
        for column, statistic in (("first_moving_displacement", "median_relative_displacement"),
                                  ("first_moving_frechet", "frechet_distance"),
                                  ("first_moving_kernel", "kernel_distance")):
            found = shift.first_above_floor(table, info, statistic)
            columns[column] = found if found is not None else np.nan
    if heldout.heldout_path(results_dir, effect, embedding).exists():
        table = heldout.read_heldout_table(results_dir, effect, embedding)
        columns["samplewise_r2_heldout"] = heldout.median_over_instruments(
            table, "samplewise_r2_heldout")
    path = probe.probe_path(results_dir, effect, embedding)
    if path.exists():
        table = pd.read_csv(path).set_index("features")
        for features in probe.FEATURES:
            if features in table.index:
                columns[f"probe_r2_{features}"] = float(table.loc[features, "r2"])
                columns[f"probe_spearman_{features}"] = float(table.loc[features, "spearman"])
    return columns


def _cell(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value):
        return "\N{EM DASH}"
    return robustness.unsigned(float(value)).replace("-", "\N{MINUS SIGN}")


def _setting(effect: str, param: object) -> str:
    """A parameter string of the effect's grid as the report names it (``'12.2 kHz'``)."""
    if param is None or (not isinstance(param, str) and pd.isna(param)):
        return "\N{EM DASH}"
    info = get_effect(effect)
    strings = [str(value) for value in info.param_strings]
    if str(param) in strings:
        return setting_label(info, strings.index(str(param)))
    close = np.flatnonzero(np.isclose(np.asarray(info.grid, dtype=float), float(param)))
    return setting_label(info, int(close[0])) if len(close) else str(param)


def display_table(card: pd.DataFrame) -> pd.DataFrame:
    """The columns of this module (and the published sample-wise R² beside the held-out one).

    Settings show with their units, as the report names them.
    """
    shown = [name for name in HEADERS if name in card.columns]
    table = card[shown].copy()
    for column in shown[2:]:
        if column.startswith("first_moving_"):
            table[column] = [_setting(effect, value)
                             for effect, value in zip(card["effect"], card[column], strict=True)]
        else:
            table[column] = [_cell(value) for value in table[column]]
    return table.rename(columns=HEADERS)


def markdown_section(card: pd.DataFrame) -> list[str]:
    """Lines of the Markdown section (empty if no pair has any of the columns)."""
    if not any(column in card.columns and card[column].notna().any() for column in COLUMNS):
        return []
    table = display_table(card)
    lines = ["## How far the embeddings move, held-out R² and probe", "",
             "| " + " | ".join(table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |"
              for row in table.itertuples(index=False)]
    return [*lines, "", *(f"- {text}" for text in DEFINITIONS), ""]


def html_section(card: pd.DataFrame) -> str:
    """The HTML section (empty if no pair has any of the columns)."""
    if not any(column in card.columns and card[column].notna().any() for column in COLUMNS):
        return ""
    table = display_table(card)
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row)
                   + "</tr>" for row in table.itertuples(index=False))
    definitions = "".join(f"<li>{html.escape(text)}</li>" for text in DEFINITIONS)
    return (f"<h2>How far the embeddings move, held-out R² and probe</h2>"
            f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            f"</table></div><ul>{definitions}</ul>")

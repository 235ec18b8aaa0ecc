"""Rendering of the sensitivity scorecard: heat map, display tables, Markdown and HTML.

Every function takes the scorecard (:func:`aesens.reporting.scorecard.scorecard`)
and its ranking (:func:`aesens.reporting.scorecard.ranking`) as tables and returns
a figure or text; :func:`aesens.reporting.scorecard.write_scorecard` writes them.
Missing values are shown as :data:`MISSING`.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aesens.analysis.methods import SV_THRESHOLD, display_name
from aesens.effects import EFFECTS
from aesens.layout import PathLike
from aesens.reporting import plots, robustness, shift_scorecard
from aesens.reporting.report import markdown_table

#: Shown for a missing value.
MISSING = "\N{EM DASH}"
#: Marks of a difference beyond noise: a loss (True) or a rise (False).
MARKS = {True: "\N{BLACK UP-POINTING TRIANGLE}", False: "\N{BLACK DOWN-POINTING TRIANGLE}"}
#: Shown where no method is read because nothing was lost.
NOTHING_LOST = "nothing lost beyond noise"


def _number(value: object, digits: int = 3, sign: bool = False) -> str:
    """A cell: the value with ``digits`` decimals, or "—" when missing.

    A non-zero value that rounds to zero shows two significant digits, so no
    cell reads ``−0.000`` or ``+0.000``; minus signs are typographic.
    """
    if value is None or pd.isna(value):
        return MISSING
    text = (robustness.signed(float(value), digits) if sign
            else robustness.unsigned(float(value), digits))
    return text.replace("-", "\N{MINUS SIGN}")


def _with_se(value: object, error: object, beyond: object = None, digits: int = 3) -> str:
    """``+0.228 ± 0.078 ▲``: a signed difference, its SE and the noise mark (:data:`MARKS`)."""
    if value is None or pd.isna(value):
        return MISSING
    text = _number(value, digits, sign=True)
    if error is not None and not pd.isna(error):
        text += f" ± {_number(error, digits)}"
    if beyond is not None and not pd.isna(beyond) and bool(beyond):
        text += f" {MARKS[float(value) > 0]}"
    return text


def _text(value: object) -> str:
    """A text cell, or "—" when missing."""
    missing = value is None or (not isinstance(value, str) and pd.isna(value))
    return MISSING if missing else str(value)


def heatmap_figure(card: pd.DataFrame, order: Sequence[str] | None = None) -> Figure:
    """Mean drop of ROC AUC, embeddings (rows, in ``order``) x effects, values annotated.

    The colours are centred on 0 (red: the effect hurts, blue: it helps);
    a pair without a drop is grey and marked "—".
    """
    rows = list(order) if order is not None else sorted(card["embedding"].unique())
    effect_order = list(EFFECTS)
    cols = sorted(card["effect"].unique(), key=effect_order.index)
    drops = {(row.embedding, row.effect): row.mean_drop for row in card.itertuples(index=False)}
    grid = np.array([[drops.get((embedding, effect), np.nan) for effect in cols]
                     for embedding in rows], dtype=float)
    finite = grid[np.isfinite(grid)]
    limit = max(float(np.abs(finite).max()) if len(finite) else 0.0, 0.01)
    with matplotlib.rc_context(plots.style()):
        fig = Figure(figsize=(1.4 + 1.0 * len(cols), 1.0 + 0.45 * len(rows)),
                     layout="constrained")
        ax = fig.subplots()
        cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-limit, vmax=limit,
                          aspect="auto")
        for (row, col), value in np.ndenumerate(grid):
            strong = np.isfinite(value) and abs(value) > 0.6 * limit
            ax.text(col, row, _number(value, sign=True), ha="center", va="center",
                    color="white" if strong else "black")
        ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title("ROC AUC drop at the strongest setting\n(mean of both conditions)")
        fig.colorbar(image, ax=ax, label="ROC AUC drop")
    return fig


def figure_links(card: pd.DataFrame, plots_dir: PathLike,
                 out_dir: PathLike) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Existing per-pair figures, as ``(label, href relative to out_dir)`` per pair.

    The pair's singular values (``singular_values_<embedding>_<effect>``) and
    its embedding's ROC AUC curves (``roc_auc_<embedding>``), as PNG or else
    PDF, when they exist in ``plots_dir``.
    """
    links: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for embedding, effect in zip(card["embedding"], card["effect"], strict=True):
        found = []
        for label, stem in (("singular values", f"singular_values_{embedding}_{effect}"),
                            ("ROC AUC", f"roc_auc_{embedding}")):
            for suffix in (".png", ".pdf"):
                path = Path(plots_dir) / f"{stem}{suffix}"
                if path.is_file():
                    href = Path(os.path.relpath(path.resolve(), Path(out_dir).resolve()))
                    found.append((label, quote(href.as_posix())))
                    break
        links[embedding, effect] = found
    return links


def ranking_note(ranked: pd.DataFrame) -> str:
    """A warning when the ranked embeddings have drops for different numbers of effects."""
    counts = ranked["effects"]
    if counts.nunique() < 2:
        return ""
    return (f"The embeddings have drops for between {counts.min()} and {counts.max()} effects: "
            "their mean drops average different effects; compare them on the heat map.")


def _by_construction(row: object, n_params: int | None) -> tuple[bool, bool]:
    """Whether the in-sample global R² and the sample-wise R² are 1 by construction."""
    dim = None if pd.isna(row.dim) else int(row.dim)
    if dim is None or n_params is None:
        return False, False
    global_exact = not pd.isna(row.n_train) and row.n_train * n_params <= dim + 1
    return bool(global_exact), n_params <= dim + 1


def _capped(row: object) -> bool:
    """Whether the direction count reaches the number of train files or the dimension."""
    caps = [cap for cap in (row.n_train, row.dim) if not pd.isna(cap)]
    return not pd.isna(row.n_directions) and bool(caps) and row.n_directions >= min(caps)


def display_sensitivity(card: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity cells, with the caveats (by construction, capped) in the cells."""
    rows = []
    for row in card.itertuples(index=False):
        effect = EFFECTS.get(row.effect)
        global_exact, samplewise_exact = _by_construction(
            row, len(effect.grid) if effect is not None else None)
        direction = _number(row.n_directions, 1)
        rows.append({
            "embedding": row.embedding, "effect": row.effect,
            "global R² in-sample (published)": _number(row.global_r2)
            + (" (by construction)" if global_exact and not pd.isna(row.global_r2) else ""),
            "global R² held out": _number(row.global_r2_test),
            "sample-wise R² (published)": _number(row.samplewise_r2)
            + (" (by construction)" if samplewise_exact and not pd.isna(row.samplewise_r2)
               else ""),
            f"directions (σ ≥ {SV_THRESHOLD:g} σ₁)": direction
            + (" (capped)" if _capped(row) else ""),
            "participation ratio": _number(row.participation_ratio, 2),
            "train files": _number(row.n_train, 0), "dim": _number(row.dim, 0)})
    return pd.DataFrame(rows)


def display_robustness(card: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC and the threshold metrics at the strongest setting, no desensitisation."""
    rows = []
    for row in card.itertuples(index=False):
        cells = {"embedding": row.embedding, "effect": row.effect,
                 "strongest": _text(row.strongest_label),
                 "ROC AUC orig/orig": _number(row.auc_orig_orig),
                 "ROC AUC drop orig/eff": _with_se(row.drop_orig_eff, row.se_drop_orig_eff,
                                                   _beyond(row.drop_orig_eff,
                                                           row.se_drop_orig_eff)),
                 "ROC AUC drop eff/orig": _with_se(row.drop_eff_orig, row.se_drop_eff_orig,
                                                   _beyond(row.drop_eff_orig,
                                                           row.se_drop_eff_orig)),
                 "share of AUC above chance lost": _with_se(
                     row.relative_drop, row.se_relative_drop, row.drop_beyond_noise, 2)}
        for prefix, label in (("f1", "F1"), ("accuracy", "accuracy")):
            cells[f"{label} orig/orig"] = _number(getattr(row, f"{prefix}_orig_orig"))
            for suffix, shown in (("orig_eff", "orig/eff"), ("eff_orig", "eff/orig")):
                value = getattr(row, f"{prefix}_drop_{suffix}")
                error = getattr(row, f"se_{prefix}_drop_{suffix}")
                cells[f"{label} drop {shown}"] = _with_se(value, error, _beyond(value, error))
        rows.append(cells)
    return pd.DataFrame(rows)


def _beyond(value: object, error: object) -> bool:
    """The noise rule of :mod:`aesens.reporting.robustness` on a mean difference and its SE."""
    if value is None or pd.isna(value):
        return False
    error = np.nan if error is None or pd.isna(error) else float(error)
    return abs(float(value)) > robustness.noise_level(error)


def display_recovery(card: pd.DataFrame) -> pd.DataFrame:
    """The best desensitisation method where ROC AUC was lost beyond noise, else why none."""
    rows = []
    for row in card.itertuples(index=False):
        has_drop = not pd.isna(row.best_condition)
        lost = has_drop and not pd.isna(row.best_method)
        rows.append({
            "embedding": row.embedding, "effect": row.effect,
            "condition": _text(row.best_condition),
            "best method": display_name(row.best_method) if lost else MISSING,
            "ROC AUC": _number(row.best_auc) if lost else MISSING,
            "AUC recovered": (f"{_with_se(row.auc_recovered, row.se_auc_recovered)}, "
                              f"{'beyond' if row.recovered_beyond_noise else 'within'} noise"
                              if lost else MISSING),
            "why no method": ("" if lost or not has_drop else NOTHING_LOST)})
    return pd.DataFrame(rows)


def display_ranking(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking's cells as shown in Markdown and HTML."""
    return pd.DataFrame([{
        "rank": index + 1, "embedding": row.embedding,
        "ROC AUC orig/orig": _number(row.auc_orig_orig),
        "can lose (above chance)": _number(row.auc_orig_orig - robustness.CHANCE_AUC),
        "mean drop": _with_se(row.mean_drop, row.se_mean_drop),
        "noise": (MISSING if pd.isna(row.beyond_noise) else
                  "beyond noise" if row.beyond_noise else "within noise"),
        "share lost": _with_se(row.relative_drop, row.se_relative_drop, digits=2),
        "losses beyond noise": f"{row.losses_beyond_noise} of {row.effects} effects",
        "worst effect": _text(row.worst_effect)}
        for index, row in enumerate(ranked.itertuples(index=False))])


RANKING_RULE = (
    "Ranked by the share of ROC AUC above chance lost at the strongest setting: per effect the "
    "mean over both conditions of the per-instrument drop (orig/orig minus effected), divided "
    f"by orig/orig minus {robustness.CHANCE_AUC:g}, then the mean over the effects; smallest "
    "(most robust) first. ± standard errors over instruments (effects combined as if "
    "independent). A drop is beyond noise when larger than "
    f"max({robustness.NOISE_FLOOR:g}, {robustness.NOISE_SE:g} SE); within noise, the ranking "
    "shows no measurable loss, not robustness: an embedding near chance has little to lose, "
    "so read its rank with its orig/orig ROC AUC. "
    f"{MARKS[True]}: a loss beyond noise; {MARKS[False]}: a rise beyond noise.")

CAVEATS = [
    "(by construction): the fit has at most dimension + 1 rows (sample-wise: grid values; "
    "global in-sample: train files × grid values), so the R² is 1 (or near 1) whatever the "
    "data and shows nothing; read the held-out values.",
    "(capped): the direction count equals the number of train files or the dimension, its "
    "largest possible value, so it cannot show how many directions the effect uses.",
]

DEFINITIONS = [
    "Global R²: the paper's global correlation: squared Spearman correlation between the "
    "parameter values and the instrument's train paths projected on its global CCA direction "
    "(fitted on those paths: in-sample, as published), all settings pooled; held out: the same "
    "for its test paths; medians over instruments. A high in-sample value with a low held-out "
    "one: the direction is fitted to the train paths, not shared.",
    "Sample-wise R²: each train path on its own CCA direction; median per instrument, then "
    "median over instruments.",
    f"Directions: number of singular values of the instrument's stacked sample-wise CCA "
    f"directions at least {SV_THRESHOLD:g} times the largest; participation ratio "
    "(Σσ²)²/Σσ⁴ of the same values; medians over instruments.",
    "ROC AUC, F1, accuracy: without desensitisation, per instrument, then means over the "
    "instruments (an instrument whose test set has no positive example is left out). Drops at "
    "the strongest setting (grid end farthest from the uneffected audio) are orig/orig minus "
    "train orig / test effected (orig/eff) and minus train effected / test orig (eff/orig), "
    "per instrument, ± their standard error over instruments. ROC AUC measures the ranking, F1 "
    "and accuracy the decisions at the threshold: a uniform shift can lower them while ROC AUC "
    "holds.",
    "Best method: read only where a no-method ROC AUC drop is a loss beyond noise, in the "
    "condition of the larger such loss: the desensitisation method whose ROC AUC there exceeds "
    "no method's by the most (per instrument); AUC recovered = that excess ± its SE.",
]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; color: #222; line-height: 1.4; padding: 0 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
a { white-space: nowrap; }
.note { color: #a04000; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
td.name { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; }
.missing { color: #999; }
footer { color: #666; font-size: 0.85em; margin-top: 2em; }
"""


def _html_table(table: pd.DataFrame,
                names: Sequence[str] = ("embedding", "effect", "strongest", "best method",
                                        "condition"),
                extra: Mapping[int, str] | None = None, extra_name: str = "") -> str:
    """An HTML table of already formatted cells; ``extra`` adds a raw HTML column per row."""
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in table.columns)
    if extra is not None:
        head += f"<th>{html.escape(extra_name)}</th>"
    body = []
    for index, row in enumerate(table.itertuples(index=False)):
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            classes = ["name"] if column in names else []
            if str(value) == MISSING:
                classes.append("missing")
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{html.escape(str(value))}</td>")
        if extra is not None:
            cells.append(f'<td class="name">{extra[index]}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


#: Sections after the ranking and the heat map: title, table function, and its note.
SECTIONS = (
    ("Sensitivity (CCA)", display_sensitivity, CAVEATS),
    ("Robustness at the strongest setting (no desensitisation)", display_robustness,
     ["± the standard error over instruments. Share of AUC above chance lost: the mean of "
      f"both conditions' drops divided by orig/orig minus {robustness.CHANCE_AUC:g}.",
      f"Noise: a mean difference is beyond noise when larger than "
      f"max({robustness.NOISE_FLOOR:g}, {robustness.NOISE_SE:g} SE); {MARKS[True]}: a loss "
      f"beyond noise, {MARKS[False]}: a rise beyond noise."]),
    ("Desensitisation where ROC AUC was lost", display_recovery,
     [f"Condition: that of the larger no-method ROC AUC loss beyond noise (else of the larger "
      f"drop). {NOTHING_LOST}: the no-method ROC AUC drop is within noise (or a rise) in both "
      "conditions, so there is nothing to recover and no method is named."]),
)


def render_html(card: pd.DataFrame, ranked: pd.DataFrame,
                links: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                heatmap_png: bytes, stamp: str, statistics: str | None = None) -> str:
    """The self-contained HTML page: inline CSS, heat map as a data URI, relative links.

    ``statistics``: relative link to ``docs/statistics.md`` (None: named only).
    """
    cells = {}
    for index, (embedding, effect) in enumerate(zip(card["embedding"], card["effect"],
                                                    strict=True)):
        found = links.get((embedding, effect), [])
        cells[index] = (" · ".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>'
                                   for label, href in found)
                        or f'<span class="missing">{MISSING}</span>')
    image = base64.b64encode(heatmap_png).decode("ascii")
    page = ("<code>docs/statistics.md</code> of the aesens repository" if statistics is None
            else f'<a href="{html.escape(quote(statistics))}">docs/statistics.md</a>')
    definitions = "".join(f"<li>{html.escape(text)}</li>" for text in DEFINITIONS)
    definitions = (f"<li>Every statistic is defined in one line, with its reference, in {page}."
                   f"</li>{definitions}")
    sections = []
    for index, (title, table, notes) in enumerate(SECTIONS):
        sections += [f"<h2>{html.escape(title)}</h2>", '<div class="scroll">',
                     _html_table(table(card), extra=cells if index == 0 else None,
                                 extra_name="figures"), "</div>",
                     "<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in notes)
                     + "</ul>"]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>Sensitivity scorecard</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        "<h1>Sensitivity of audio embeddings to effects: scorecard</h1>",
        "<h2>Models ranked by the share of ROC AUC above chance lost (most robust first)</h2>",
        _html_table(display_ranking(ranked), names=("embedding", "worst effect")),
        f"<p>{html.escape(RANKING_RULE)}</p>",
        *([f'<p class="note">{html.escape(note)}</p>'] if (note := ranking_note(ranked))
          else []),
        "<h2>Heat map</h2>",
        f'<img alt="mean ROC AUC drop, embeddings x effects" src="data:image/png;base64,{image}">',
        *sections,
        shift_scorecard.html_section(card),
        f"<h2>Definitions</h2><ul>{definitions}</ul>",
        f"<footer>Generated {html.escape(stamp)} by <code>python -m aesens.scorecard</code>; "
        f"{MISSING} marks a stage not yet run for the pair.</footer>",
        "</body>", "</html>", ""])


def render_markdown(card: pd.DataFrame, ranked: pd.DataFrame,
                    links: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                    heatmap_name: str, stamp: str, statistics: str | None = None) -> str:
    """The Markdown report: ranking, heat map, the three tables (figure links), definitions.

    ``statistics``: relative link to ``docs/statistics.md`` (None: named only).
    """
    lines = ["# Sensitivity of audio embeddings to effects: scorecard", "",
             f"Generated {stamp} by `python -m aesens.scorecard`; {MISSING} marks a stage not "
             "yet run for the pair.", "",
             "## Models ranked by the share of ROC AUC above chance lost (most robust first)",
             "", markdown_table(display_ranking(ranked)), "", RANKING_RULE, "",
             *([f"*{note}*", ""] if (note := ranking_note(ranked)) else []),
             f"![mean ROC AUC drop, embeddings x effects]({heatmap_name})", ""]
    for index, (title, table, notes) in enumerate(SECTIONS):
        shown = table(card)
        if index == 0:
            shown["figures"] = [", ".join(f"[{label}]({href})" for label, href in
                                          links.get((embedding, effect), [])) or MISSING
                                for embedding, effect in zip(card["embedding"], card["effect"],
                                                             strict=True)]
        lines += [f"## {title}", "", markdown_table(shown), "", *(f"- {note}" for note in notes),
                  ""]
    page = ("`docs/statistics.md` of the aesens repository" if statistics is None
            else f"[docs/statistics.md]({statistics})")
    lines += [*shift_scorecard.markdown_section(card), "## Definitions", "",
              f"- Every statistic is defined in one line, with its reference, in {page}."]
    lines += [f"- {text}" for text in DEFINITIONS]
    return "\n".join(lines) + "\n"

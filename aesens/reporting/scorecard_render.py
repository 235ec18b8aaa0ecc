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
from aesens.reporting import plots, shift_scorecard
from aesens.reporting.report import markdown_table

#: Shown for a missing value.
MISSING = "\N{EM DASH}"


def _number(value: object, digits: int = 3, sign: bool = False) -> str:
    """A cell: the value with ``digits`` decimals, or "—" when missing."""
    if value is None or pd.isna(value):
        return MISSING
    text = f"{float(value):+.{digits}f}" if sign else f"{float(value):.{digits}f}"
    return text.replace("-", "\N{MINUS SIGN}")


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


def display_table(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard's cells as shown in Markdown and HTML ("—" for missing)."""
    rows = []
    for row in card.itertuples(index=False):
        rows.append({
            "embedding": row.embedding, "effect": row.effect,
            "global R²": _number(row.global_r2),
            "global R² (held out)": _number(row.global_r2_test),
            "sample-wise R²": _number(row.samplewise_r2),
            f"directions (σ ≥ {SV_THRESHOLD:g} σ₁)": _number(row.n_directions, 1),
            "participation ratio": _number(row.participation_ratio, 2),
            "AUC orig/orig": _number(row.auc_orig_orig),
            "strongest": _text(row.strongest_label),
            "drop orig/eff": _number(row.drop_orig_eff, sign=True),
            "drop eff/orig": _number(row.drop_eff_orig, sign=True),
            "best method": (MISSING if pd.isna(row.best_method)
                            else display_name(row.best_method)),
            "condition": _text(row.best_condition),
            "recovered AUC": _number(row.best_auc),
            "gain": _number(row.best_gain, sign=True)})
    return pd.DataFrame(rows)


def display_ranking(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking's cells as shown in Markdown and HTML."""
    return pd.DataFrame([{"rank": index + 1, "embedding": row.embedding,
                          "mean drop": _number(row.mean_drop, sign=True),
                          "effects": row.effects, "worst effect": _text(row.worst_effect)}
                         for index, row in enumerate(ranked.itertuples(index=False))])


DEFINITIONS = [
    "Global R²: the paper's global correlation: squared Spearman correlation between the "
    "parameter values and the instrument's train paths projected on its global CCA direction "
    "(fitted on those paths), all settings pooled; held out: the same for its test paths; "
    "medians over instruments.",
    "Sample-wise R²: each train path on its own CCA direction; median per instrument, then "
    "median over instruments.",
    f"Directions: number of singular values of the instrument's stacked sample-wise CCA "
    f"directions at least {SV_THRESHOLD:g} times the largest; participation ratio "
    "(Σσ²)²/Σσ⁴ of the same values; medians over instruments.",
    "AUC: ROC AUC without desensitisation, mean over instruments. Drops at the strongest "
    "setting (grid end farthest from the uneffected audio) are orig/orig minus train orig / "
    "test effected (orig/eff) and minus train effected / test orig (eff/orig).",
    "Best method: the desensitisation method with the highest mean ROC AUC at the strongest "
    "setting in the condition of the larger drop; gain = its ROC AUC minus no method's.",
    "Ranking: mean over an embedding's effects of the mean of the two drops; most robust first.",
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


def render_html(card: pd.DataFrame, ranked: pd.DataFrame,
                links: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                heatmap_png: bytes, stamp: str) -> str:
    """The self-contained HTML page: inline CSS, heat map as a data URI, relative figure links."""
    cells = {}
    for index, (embedding, effect) in enumerate(zip(card["embedding"], card["effect"],
                                                    strict=True)):
        found = links.get((embedding, effect), [])
        cells[index] = (" · ".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>'
                                   for label, href in found)
                        or f'<span class="missing">{MISSING}</span>')
    image = base64.b64encode(heatmap_png).decode("ascii")
    definitions = "".join(f"<li>{html.escape(text)}</li>" for text in DEFINITIONS)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>Sensitivity scorecard</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        "<h1>Sensitivity of audio embeddings to effects: scorecard</h1>",
        "<h2>Models ranked by mean drop (most robust first)</h2>",
        _html_table(display_ranking(ranked), names=("embedding", "worst effect")),
        *([f'<p class="note">{html.escape(note)}</p>'] if (note := ranking_note(ranked))
          else []),
        "<h2>Heat map</h2>",
        f'<img alt="mean ROC AUC drop, embeddings x effects" src="data:image/png;base64,{image}">',
        "<h2>Scorecard</h2>",
        '<div class="scroll">',
        _html_table(display_table(card), extra=cells, extra_name="figures"), "</div>",
        shift_scorecard.html_section(card),
        f"<h2>Definitions</h2><ul>{definitions}</ul>",
        f"<footer>Generated {html.escape(stamp)} by <code>python -m aesens.scorecard</code>; "
        f"{MISSING} marks a stage not yet run for the pair.</footer>",
        "</body>", "</html>", ""])


def render_markdown(card: pd.DataFrame, ranked: pd.DataFrame,
                    links: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
                    heatmap_name: str, stamp: str) -> str:
    """The Markdown report: ranking, heat map, scorecard with figure links, definitions."""
    table = display_table(card)
    table["figures"] = [", ".join(f"[{label}]({href})" for label, href in
                                  links.get((embedding, effect), [])) or MISSING
                        for embedding, effect in zip(card["embedding"], card["effect"],
                                                     strict=True)]
    lines = ["# Sensitivity of audio embeddings to effects: scorecard", "",
             f"Generated {stamp} by `python -m aesens.scorecard`; {MISSING} marks a stage not "
             "yet run for the pair.", "",
             "## Models ranked by mean drop (most robust first)", "",
             markdown_table(display_ranking(ranked)), "",
             *([f"*{note}*", ""] if (note := ranking_note(ranked)) else []),
             f"![mean ROC AUC drop, embeddings x effects]({heatmap_name})", "",
             "## Scorecard", "", markdown_table(table), "",
             *shift_scorecard.markdown_section(card), "## Definitions", ""]
    lines += [f"- {text}" for text in DEFINITIONS]
    return "\n".join(lines) + "\n"

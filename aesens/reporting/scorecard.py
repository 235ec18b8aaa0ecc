"""Sensitivity scorecard: one row per embedding and effect, models ranked by robustness.

``python -m aesens.scorecard`` reads what the pipeline has produced so far,
for every embedding and effect present (a grouped file
``embeddings/grouped/<embedding>/<effect>.h5``, classification results
``results/<effect>/result_<embedding>.csv``, or both), and writes to the
output folder (default: the results folder):

- ``scorecard.csv``: the columns of :data:`COLUMNS`, NaN where a stage has
  not run for the pair;
- ``scorecard.md``: the ranking and the scorecard as Markdown tables;
- ``scorecard.html``: the same as one self-contained page (inline CSS, the
  heat map embedded as a PNG data URI, no external resource), with relative
  links to the pair's figures in ``plots/`` when they exist;
- ``scorecard_heatmap.png``: mean drop of ROC AUC, embeddings x effects.

The columns (each defined in :func:`scorecard`) measure, per pair: how
linearly the effect moves the embeddings (global and sample-wise CCA R²),
in how many directions (count and participation ratio of the singular
values of the sample-wise CCA directions), how much the instrument
classifiers lose at the strongest setting of the effect, and how much the
best desensitisation method gives back. Missing values are shown as "—".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from aesens import layout
from aesens.analysis import sensitivity as analysis
from aesens.analysis.files import GLOBAL_R2_COLUMN
from aesens.analysis.methods import SV_THRESHOLD
from aesens.analysis.sensitivity import direction_count
from aesens.classification import results
from aesens.cli.commands import scorecard_parser
from aesens.effects import EFFECTS, get_effect
from aesens.errors import AesensError, run_cli
from aesens.layout import PathLike
from aesens.reporting import roc_figures as classification_figures
from aesens.reporting import shift_scorecard
from aesens.reporting.plots import PNG_DPI
from aesens.reporting.report import setting_label, strongest_rank
from aesens.reporting.scorecard_render import (
    figure_links,
    heatmap_figure,
    render_html,
    render_markdown,
)
from aesens.safe_files import atomic_file

#: Columns of ``scorecard.csv``, in order.
COLUMNS = ["embedding", "effect", "instruments_cca", "global_r2", "global_r2_test",
           "samplewise_r2",
           "n_directions", "participation_ratio", "instruments_auc", "auc_orig_orig",
           "strongest", "strongest_label", "auc_orig_eff", "drop_orig_eff", "auc_eff_orig",
           "drop_eff_orig", "mean_drop", "best_condition", "best_method", "best_auc",
           "best_gain"]
#: Names of the files written in the output folder.
OUTPUT_NAMES = ("scorecard.csv", "scorecard.md", "scorecard.html", "scorecard_heatmap.png")


# --------------------------------------------------------------------------- measures


def participation_ratio(singular_values: np.ndarray) -> float:
    """Participation ratio ``(Σσ²)² / Σσ⁴`` of singular values (NaN values left out).

    It is 1 when one singular value carries everything and ``n`` when ``n``
    are equal; dividing all values by the largest does not change it.

    Returns
    -------
    float
        The ratio, NaN if no value is finite and positive.
    """
    values = np.asarray(singular_values, dtype=np.float64)
    squares = values[np.isfinite(values)] ** 2
    total = squares.sum()
    return float(total ** 2 / np.sum(squares ** 2)) if total > 0 else np.nan


def _median(values: Sequence[float]) -> float:
    """Median of the finite values, NaN if there is none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else np.nan


# --------------------------------------------------------------------------- discovery


def find_pairs(embeddings_dir: PathLike = "embeddings", results_dir: PathLike = "results",
               embeddings: Sequence[str] | None = None,
               effects: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Embedding and effect pairs with a grouped file, classification results, or both.

    Found as :mod:`aesens.reporting.figures` finds them; embeddings sorted by name,
    effects in :data:`~aesens.effects.EFFECTS` order, optionally restricted
    to the given names.
    """
    present = {(embedding, effect) for embedding in analysis.find_embeddings(embeddings_dir)
               for effect in analysis.find_effects(embedding, embeddings_dir)}
    present |= {(embedding, effect)
                for embedding, names in layout.find_results(results_dir).items()
                for effect in names}
    order = list(EFFECTS)
    return sorted(((embedding, effect) for embedding, effect in present
                   if (not embeddings or embedding in embeddings)
                   and (not effects or effect in effects)),
                  key=lambda pair: (pair[0], order.index(pair[1])))


# --------------------------------------------------------------------------- one pair


def sensitivity_columns(analysis: analysis.Analysis,
                        threshold: float = SV_THRESHOLD) -> dict[str, float]:
    """The CCA columns of one pair from :func:`aesens.analysis.sensitivity.analyse`.

    Medians over instruments.

    Returns
    -------
    dict
        ``instruments_cca``, ``global_r2`` (the paper's global R²: the
        instrument's train paths on its global CCA direction, in-sample as
        the published 3.1 notebook computed it), ``global_r2_test`` (the
        same for its held-out test paths), ``samplewise_r2`` (median over instruments
        of each instrument's median over its train files), ``n_directions``
        and ``participation_ratio`` (of each instrument's normalised
        singular values of its stacked sample-wise CCA directions).
    """
    table = analysis.table()
    instruments = list(analysis.instruments.values())
    return {"instruments_cca": len(instruments),
            "global_r2": _median(table[GLOBAL_R2_COLUMN]),
            "global_r2_test": _median(table["global_r2_test"]),
            "samplewise_r2": _median(table["samplewise_r2_median"]),
            "n_directions": _median([direction_count(r.sv_directions, threshold)
                                     for r in instruments]),
            "participation_ratio": _median([participation_ratio(r.sv_directions)
                                            for r in instruments])}


def classification_columns(table: pd.DataFrame, effect: str) -> dict[str, object]:
    """The ROC AUC columns of one pair from :func:`aesens.classification.results.load_results`.

    ROC AUC values are means over instruments (of the rows of the CSV) of
    :func:`aesens.reporting.roc_figures.roc_auc_curves`; the strongest
    setting is the grid end farthest (in rank) from the uneffected audio
    (:func:`aesens.reporting.report.strongest_rank`).

    Returns
    -------
    dict
        ``instruments_auc``; ``auc_orig_orig`` (no method); ``auc_orig_eff``
        and ``auc_eff_orig`` (no method, train orig / test strongest and the
        reverse) with ``drop_* = auc_orig_orig - auc_*``; ``mean_drop``,
        the mean of the two drops (NaN if either is missing);
        ``best_condition``, the condition of the larger no-method drop
        (``"orig/eff"`` on a tie); ``best_method``, the desensitisation
        method (any but no method, SVD thresholds counted separately) with
        the largest mean ROC AUC in that condition at the strongest
        setting (the first in
        :func:`~aesens.reporting.roc_figures.roc_auc_curves` order on a
        tie); ``best_auc``, that ROC AUC; ``best_gain``, ``best_auc`` minus
        the no-method ROC AUC of the condition.
    """
    info = get_effect(effect)
    rank = strongest_rank(info)
    columns: dict[str, object] = {
        "instruments_auc": int(table["instrument"].nunique()),
        "strongest": info.param_strings[rank], "strongest_label": setting_label(info, rank)}
    effected: dict[str, dict[str, float]] = {}
    for key, train_effected in (("orig/eff", False), ("eff/orig", True)):
        curves, identity = classification_figures.roc_auc_curves(table, info, train_effected)
        effected[key] = {method: float(curve[rank]) for method, curve in curves.items()}
        if key == "orig/eff":
            columns["auc_orig_orig"] = identity.get("", np.nan)
    base = columns["auc_orig_orig"]
    drops = {}
    for key, suffix in (("orig/eff", "orig_eff"), ("eff/orig", "eff_orig")):
        columns[f"auc_{suffix}"] = effected[key].get("", np.nan)
        drops[key] = columns[f"drop_{suffix}"] = base - columns[f"auc_{suffix}"]
    columns["mean_drop"] = (drops["orig/eff"] + drops["eff/orig"]) / 2
    finite = {key: drop for key, drop in drops.items() if np.isfinite(drop)}
    condition = max(finite, key=finite.get) if finite else None
    candidates = ({method: auc for method, auc in effected[condition].items()
                   if method and np.isfinite(auc)} if condition else {})
    best = max(candidates, key=candidates.get) if candidates else None
    columns["best_condition"] = condition if best else np.nan
    columns["best_method"] = best if best else np.nan
    columns["best_auc"] = candidates[best] if best else np.nan
    columns["best_gain"] = (candidates[best] - effected[condition][""]) if best else np.nan
    return columns


# --------------------------------------------------------------------------- scorecard


def scorecard(embeddings_dir: PathLike = "embeddings", results_dir: PathLike = "results",
              models_dir: PathLike | None = None, embeddings: Sequence[str] | None = None,
              effects: Sequence[str] | None = None, progress: bool = False) -> pd.DataFrame:
    """One row per embedding and effect present, with the columns of :data:`COLUMNS`.

    Sensitivity (from the grouped embeddings, :func:`aesens.analysis.sensitivity.analyse`,
    medians over instruments, see :func:`sensitivity_columns`):

    - ``global_r2``: the paper's global R² (``spearman_corr2`` of
      ``correlations.csv``): the instrument's train paths projected on its
      global CCA direction, fitted on them (in-sample, as the published 3.1
      notebook computed it), as the figures and the summary report show it;
    - ``global_r2_test``: the same R² of the instrument's held-out test paths;
    - ``samplewise_r2``: per instrument the median R² of its train paths on
      their own sample-wise CCA directions;
    - ``n_directions``: number of normalised singular values ``σ/σ₁ ≥
      0.3`` (:data:`SV_THRESHOLD`) of the instrument's stacked sample-wise CCA directions;
    - ``participation_ratio``: ``(Σσ²)² / Σσ⁴`` of the same singular values.

    Robustness (from the classification results, means over instruments,
    see :func:`classification_columns`): ROC AUC orig/orig, its drops at the
    strongest setting for train orig / test effected and the reverse, and
    the best desensitisation method with its recovered ROC AUC. The best
    method is defined in the condition of the larger no-method drop
    (``best_condition``, ``"orig/eff"`` on a tie): among the methods other
    than no method (each SVD threshold a method of its own), the one whose
    ROC AUC at the strongest setting in that condition, averaged over
    instruments, is largest (the first in :data:`aesens.analysis.methods.METHODS`
    order on a tie); ``best_auc`` is that mean ROC AUC and ``best_gain`` it
    minus the no-method one.

    Parameters
    ----------
    embeddings_dir, results_dir : path
        Folders of the grouped embeddings and of the classification results.
    models_dir : path, optional
        Folder of the global CCA directions the figures use (default:
        ``models`` beside ``embeddings_dir``).
    embeddings, effects : sequence of str, optional
        Restrict to these names (default: every one present).
    progress : bool
        Show a progress bar over the pairs.

    Returns
    -------
    pandas.DataFrame
        The scorecard; a column a stage has not produced is NaN.

    Raises
    ------
    AesensError
        If no pair has a grouped file or classification results.
    """
    pairs = find_pairs(embeddings_dir, results_dir, embeddings, effects)
    if not pairs:
        raise AesensError(
            f"no grouped embeddings in {Path(embeddings_dir) / 'grouped'} and no classification "
            f"results in {results_dir} for embeddings {list(embeddings or []) or 'any'} and "
            f"effects {list(effects or EFFECTS)}; run group_effect_params.py (and "
            "desensitize_classif.py) first")
    rows = []
    for embedding, effect in tqdm(pairs, desc="scorecard", unit="pair", disable=not progress):
        row: dict[str, object] = {"embedding": embedding, "effect": effect}
        if layout.grouped_path(embedding, effect, embeddings_dir).exists():
            row.update(sensitivity_columns(
                analysis.analyse(embedding, effect, embeddings_dir, models_dir)))
        if layout.results_csv_path(embedding, effect, results_dir).exists():
            row.update(classification_columns(
                results.load_results(effect, embedding, results_dir), effect))
        else:
            info = get_effect(effect)
            row.update(strongest=info.param_strings[strongest_rank(info)],
                       strongest_label=setting_label(info, strongest_rank(info)))
        row.update(shift_scorecard.extra_columns(embedding, effect, results_dir))
        rows.append(row)
    card = pd.DataFrame(rows).reindex(columns=[*COLUMNS, *shift_scorecard.COLUMNS])
    for column in ("instruments_cca", "instruments_auc"):
        card[column] = card[column].astype("Int64")
    return card


def ranking(card: pd.DataFrame) -> pd.DataFrame:
    """Embeddings ranked by mean drop over their effects, most robust (smallest) first.

    Returns
    -------
    pandas.DataFrame
        ``embedding``, ``mean_drop`` (mean of the pairs' ``mean_drop`` over
        the effects that have one), ``effects`` (how many), ``worst_effect``
        (largest ``mean_drop``); embeddings without any drop last, ties by
        name.
    """
    rows = []
    for embedding, group in card.groupby("embedding", sort=True):
        drops = group.dropna(subset=["mean_drop"])
        rows.append({"embedding": embedding,
                     "mean_drop": float(drops["mean_drop"].mean()) if len(drops) else np.nan,
                     "effects": len(drops),
                     "worst_effect": (drops.loc[drops["mean_drop"].idxmax(), "effect"]
                                      if len(drops) else np.nan)})
    table = pd.DataFrame(rows, columns=["embedding", "mean_drop", "effects", "worst_effect"])
    return table.sort_values(["mean_drop", "embedding"], na_position="last",
                             kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- writing


def write_scorecard(card: pd.DataFrame, out_dir: PathLike = "results",
                    plots_dir: PathLike = "plots") -> list[Path]:
    """Write :data:`OUTPUT_NAMES` in ``out_dir``, each atomically (temporary file + rename).

    Returns
    -------
    list of Path
        The files written.
    """
    out_dir = Path(out_dir)
    ranked = ranking(card)
    links = figure_links(card, plots_dir, out_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    csv_path, md_path, html_path, png_path = (out_dir / name for name in OUTPUT_NAMES)
    with atomic_file(csv_path) as tmp:
        card.to_csv(tmp, index=False, na_rep="NaN")
    fig = heatmap_figure(card, list(ranked["embedding"]))
    with atomic_file(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=PNG_DPI)
    png = png_path.read_bytes()
    with atomic_file(md_path) as tmp:
        tmp.write_text(render_markdown(card, ranked, links, png_path.name, stamp),
                       encoding="utf-8")
    with atomic_file(html_path) as tmp:
        tmp.write_text(render_html(card, ranked, links, png, stamp), encoding="utf-8")
    return [csv_path, md_path, html_path, png_path]


# --------------------------------------------------------------------------- command


def main(argv: list[str] | None = None) -> int:
    """Command line: write the scorecard (CSV, Markdown, HTML and heat map)."""
    parser = scorecard_parser()
    args = parser.parse_args(argv)
    card = scorecard(args.embeddings_dir, args.results_dir, args.models_dir, args.embeddings,
                     args.effects, progress=True)
    written = write_scorecard(card, args.out or args.results_dir,
                              analysis.default_plots_dir(args.embeddings_dir, args.plots_dir))
    print(f"scorecard of {len(card)} embedding/effect pairs; wrote:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

"""Sensitivity scorecard: one row per embedding and effect, models ranked by robustness.

``python -m aesens.scorecard`` reads what the pipeline has produced so far,
for every embedding and effect present (a grouped file
``embeddings/grouped/<embedding>/<effect>.h5``, classification results
``results/<effect>/result_<embedding>.csv``, or both), and writes to the
output folder (default: the results folder):

- ``scorecard.csv``: the columns of :data:`COLUMNS`, NaN where a stage has
  not run for the pair;
- ``scorecard.md``: the ranking and the scorecard's tables (sensitivity,
  robustness, desensitisation) as Markdown;
- ``scorecard.html``: the same as one self-contained page (inline CSS, the
  heat map embedded as a PNG data URI, no external resource), with relative
  links to the pair's figures in ``plots/`` when they exist;
- ``scorecard_heatmap.png``: mean drop of ROC AUC, embeddings x effects.

The columns (each defined in :func:`scorecard`) measure, per pair: whether
the effect moves the embeddings along a shared direction (global CCA R²
in-sample and held out, sample-wise R²), in how many directions (count and
participation ratio of the singular values of the sample-wise CCA
directions), what the instrument classifiers lose at the strongest setting
of the effect (ROC AUC, F1 and accuracy, with standard errors and the noise
flag, through :mod:`aesens.reporting.robustness`, which the summary report
shares), and, where ROC AUC was lost beyond noise, how much the best
desensitisation method gives back. Models are ranked by the share of their
ROC AUC above chance lost (:func:`ranking`). Missing values are shown as "—".
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
from aesens.reporting import robustness, shift_scorecard
from aesens.reporting.plots import PNG_DPI
from aesens.reporting.report import embedding_dims, setting_label, statistics_href
from aesens.reporting.robustness import strongest_rank
from aesens.reporting.scorecard_render import (
    figure_links,
    heatmap_figure,
    render_html,
    render_markdown,
)
from aesens.safe_files import atomic_file, atomic_write_csv

#: Columns of the threshold metrics, per metric prefix (``f1``, ``accuracy``).
THRESHOLD_COLUMNS = [column.format(metric=metric) for metric in ("f1", "accuracy")
                     for column in ("{metric}_orig_orig", "{metric}_orig_eff",
                                    "{metric}_eff_orig", "{metric}_drop_orig_eff",
                                    "se_{metric}_drop_orig_eff", "{metric}_drop_eff_orig",
                                    "se_{metric}_drop_eff_orig")]
#: Columns of ``scorecard.csv``, in order.
COLUMNS = ["embedding", "effect", "instruments_cca", "n_train", "dim", "global_r2",
           "global_r2_test", "samplewise_r2", "n_directions", "participation_ratio",
           "instruments_auc", "auc_orig_orig", "strongest", "strongest_label", "auc_orig_eff",
           "drop_orig_eff", "se_drop_orig_eff", "auc_eff_orig", "drop_eff_orig",
           "se_drop_eff_orig", "mean_drop", "se_mean_drop", "drop_beyond_noise",
           "relative_drop", "se_relative_drop", *THRESHOLD_COLUMNS, "best_condition",
           "best_method", "best_auc", "auc_recovered", "se_auc_recovered",
           "recovered_beyond_noise"]
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
        ``instruments_cca``, ``n_train`` (train files), ``global_r2`` (the
        paper's global R²: the instrument's train paths on its global CCA
        direction, in-sample as the published 3.1 notebook computed it),
        ``global_r2_test`` (the same for its held-out test paths),
        ``samplewise_r2`` (median over instruments of each instrument's median
        over its train files), ``n_directions`` and ``participation_ratio``
        (of each instrument's normalised singular values of its stacked
        sample-wise CCA directions).
    """
    table = analysis.table()
    instruments = list(analysis.instruments.values())
    return {"instruments_cca": len(instruments),
            "n_train": _median(table["n_train"]),
            "global_r2": _median(table[GLOBAL_R2_COLUMN]),
            "global_r2_test": _median(table["global_r2_test"]),
            "samplewise_r2": _median(table["samplewise_r2_median"]),
            "n_directions": _median([direction_count(r.sv_directions, threshold)
                                     for r in instruments]),
            "participation_ratio": _median([participation_ratio(r.sv_directions)
                                            for r in instruments])}


#: Condition names of the columns, and the column of the shared numbers.
CONDITION_COLUMNS = {"orig_eff": "orig/eff.", "eff_orig": "eff./orig"}
#: How ``best_condition`` names the conditions.
CONDITION_NAMES = {"orig_eff": "orig/eff", "eff_orig": "eff/orig"}


def classification_columns(table: pd.DataFrame, effect: str) -> dict[str, object]:
    """The classification columns of one pair, from its results table.

    ``table`` is :func:`aesens.classification.results.load_results`' table.

    Every value is read through :mod:`aesens.reporting.robustness` (the
    definition the summary report shares): per instrument, then means over
    the instruments that have both values of a difference, with standard
    errors over them.

    Returns
    -------
    dict
        ``instruments_auc``; ``auc_orig_orig`` (no method); ``auc_orig_eff``
        and ``auc_eff_orig`` (no method, train orig / test strongest and the
        reverse) with ``drop_*`` (orig/orig minus them) and ``se_drop_*``;
        ``mean_drop`` and ``se_mean_drop`` (per instrument the mean of the two
        drops); ``drop_beyond_noise`` (``|mean_drop| > max(0.02, 2 SE)``);
        ``relative_drop`` and ``se_relative_drop`` (``mean_drop`` as a share of
        orig/orig above chance, 0.5); the same values and drops for F1 and
        accuracy (``f1_*``, ``accuracy_*``); ``best_condition``, the condition
        of the larger no-method ROC AUC loss beyond noise (of the larger drop
        where neither is; ``"orig/eff"`` on a tie); where it is a loss beyond
        noise: ``best_method``, the method
        (any but none, SVD thresholds separately) that recovers the most ROC
        AUC there (its value minus no method's, per instrument), ``best_auc``
        its ROC AUC, ``auc_recovered`` and ``se_auc_recovered`` the
        recovery, ``recovered_beyond_noise``; NaN for all four otherwise
        (nothing was lost to recover).
    """
    info = get_effect(effect)
    rank = strongest_rank(info)
    numbers = robustness.strongest_numbers(table, info)
    none = numbers[numbers["method"] == ""]
    auc = none[none["metric"] == "roc_auc"]
    columns: dict[str, object] = {
        "instruments_auc": int(auc["orig/orig"].notna().sum()),
        "strongest": info.param_strings[rank], "strongest_label": setting_label(info, rank)}
    drops = {}
    for suffix, condition in CONDITION_COLUMNS.items():
        drop = drops[suffix] = robustness.condition_drop(auc, condition)
        columns[f"auc_{suffix}"] = drop.second
        columns[f"drop_{suffix}"], columns[f"se_drop_{suffix}"] = drop.difference, drop.se
    columns["auc_orig_orig"] = next((drop.first for drop in drops.values()
                                     if np.isfinite(drop.first)), np.nan)
    both = robustness.mean_drop(auc)
    columns.update(mean_drop=both.difference, se_mean_drop=both.se,
                   drop_beyond_noise=both.beyond_noise if both.instruments else np.nan)
    columns["relative_drop"], columns["se_relative_drop"] = robustness.relative_drop(both)
    for metric, prefix in (("f1_score", "f1"), ("accuracy", "accuracy")):
        rows = none[none["metric"] == metric]
        for suffix, condition in CONDITION_COLUMNS.items():
            drop = robustness.condition_drop(rows, condition)
            if np.isfinite(drop.first):
                columns[f"{prefix}_orig_orig"] = drop.first
            columns[f"{prefix}_{suffix}"] = drop.second
            columns[f"{prefix}_drop_{suffix}"] = drop.difference
            columns[f"se_{prefix}_drop_{suffix}"] = drop.se
    finite = {key: drop.difference for key, drop in drops.items()
              if np.isfinite(drop.difference)}
    losses = {key: value for key, value in finite.items()
              if value > 0 and drops[key].beyond_noise}
    read = losses or finite
    condition = max(read, key=read.get) if read else None
    columns["best_condition"] = CONDITION_NAMES[condition] if condition else np.nan
    if not losses:
        return columns
    auc_all = numbers[numbers["metric"] == "roc_auc"]
    recoveries = {}
    for method in dict.fromkeys(auc_all["method"]):
        if method:
            gained = robustness.recovery(auc_all[auc_all["method"] == method], auc,
                                         CONDITION_COLUMNS[condition])
            if gained.instruments:
                recoveries[method] = gained
    if recoveries:
        best = max(recoveries, key=lambda method: recoveries[method].difference)
        columns.update(best_method=best, best_auc=recoveries[best].first,
                       auc_recovered=recoveries[best].difference,
                       se_auc_recovered=recoveries[best].se,
                       recovered_beyond_noise=recoveries[best].beyond_noise)
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

    Robustness (from the classification results, see
    :func:`classification_columns`; the definitions of
    :mod:`aesens.reporting.robustness`, which the summary report shares): ROC
    AUC orig/orig, its drops at the strongest setting for train orig / test
    effected and the reverse with standard errors over instruments, their
    mean, its noise flag and its share of what could be lost (orig/orig above
    chance); F1 and accuracy beside them; and, where ROC AUC was lost beyond
    noise, the desensitisation method that recovers the most. ``dim``: the
    embedding dimension (from the averaged original embeddings, where
    readable), which with ``n_train`` bounds the direction counts.

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
    dims = embedding_dims(sorted({embedding for embedding, _ in pairs}), embeddings_dir)
    rows = []
    for embedding, effect in tqdm(pairs, desc="scorecard", unit="pair", disable=not progress):
        row: dict[str, object] = {"embedding": embedding, "effect": effect,
                                  "dim": dims.get(embedding, np.nan)}
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
    for column in ("instruments_cca", "instruments_auc", "dim"):
        card[column] = card[column].astype("Int64")
    return card


#: Columns of :func:`ranking`.
RANKING_COLUMNS = ["embedding", "auc_orig_orig", "mean_drop", "se_mean_drop", "beyond_noise",
                   "relative_drop", "se_relative_drop", "effects", "losses_beyond_noise",
                   "worst_effect"]


def ranking(card: pd.DataFrame) -> pd.DataFrame:
    """Embeddings ranked by the share of their ROC AUC above chance lost, smallest first.

    An embedding near chance has little to lose, so its absolute drop says
    little about robustness: ranked instead by ``relative_drop``, the mean over
    its effects of each pair's mean drop divided by its orig/orig ROC AUC
    above chance (0.5).

    Returns
    -------
    pandas.DataFrame
        :data:`RANKING_COLUMNS`: ``auc_orig_orig`` (mean over the effects),
        ``mean_drop`` and ``relative_drop`` (means over the effects that have
        one) with their standard errors (the pairs' SEs combined as if the
        effects were independent: ``sqrt(Σ SE²) / n``), ``beyond_noise``
        (``|mean_drop| > max(0.02, 2 SE)``), ``effects`` (how many),
        ``losses_beyond_noise`` (pairs with a positive mean drop beyond
        noise), ``worst_effect`` (largest relative drop); embeddings without
        any drop last, ties by name.
    """
    rows = []
    for embedding, group in card.groupby("embedding", sort=True):
        drops = group.dropna(subset=["mean_drop"])
        relative = drops.dropna(subset=["relative_drop"])
        n = len(drops)
        mean = float(drops["mean_drop"].mean()) if n else np.nan
        error = float(np.sqrt(np.sum(drops["se_mean_drop"] ** 2)) / n) if n else np.nan
        rows.append({
            "embedding": embedding,
            "auc_orig_orig": float(drops["auc_orig_orig"].mean()) if n else np.nan,
            "mean_drop": mean, "se_mean_drop": error,
            "beyond_noise": (bool(abs(mean) > robustness.noise_level(error)) if n
                             else np.nan),
            "relative_drop": float(relative["relative_drop"].mean()) if len(relative)
            else np.nan,
            "se_relative_drop": (float(np.sqrt(np.sum(relative["se_relative_drop"] ** 2))
                                       / len(relative)) if len(relative) else np.nan),
            "effects": n,
            "losses_beyond_noise": int(((drops["mean_drop"] > 0)
                                        & drops["drop_beyond_noise"].astype(bool)).sum()),
            "worst_effect": (relative.loc[relative["relative_drop"].idxmax(), "effect"]
                             if len(relative) else np.nan)})
    table = pd.DataFrame(rows, columns=RANKING_COLUMNS)
    return table.sort_values(["relative_drop", "embedding"], na_position="last",
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
    atomic_write_csv(csv_path, card, na_rep="NaN")
    fig = heatmap_figure(card, list(ranked["embedding"]))
    with atomic_file(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=PNG_DPI)
    png = png_path.read_bytes()
    statistics = statistics_href(out_dir)
    with atomic_file(md_path) as tmp:
        tmp.write_text(render_markdown(card, ranked, links, png_path.name, stamp, statistics),
                       encoding="utf-8")
    with atomic_file(html_path) as tmp:
        tmp.write_text(render_html(card, ranked, links, png, stamp, statistics),
                       encoding="utf-8")
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

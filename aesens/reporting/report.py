"""The summary report a researcher reads first: ``results/summary.md``.

``python -m aesens.report`` (also run by ``python -m aesens.figures``)
collects, from ``results/correlations.csv`` (merged by
:mod:`aesens.reporting.figures`) and the classification results
``results/<effect>/result_<embedding>.csv``:

- sensitivity per embedding and effect: the paper's global CCA R²
  (in-sample, as the published 3.1 notebook computed it: the
  ``spearman_corr2`` column) and the same R² of the held-out test paths
  (median and range over instruments), median sample-wise R², numbers of normalised singular
  values of the sample-wise CCA directions at least 0.3 and 0.5, the
  numbers of train files and the embedding dimension (from the averaged
  original embeddings, where readable), which bound those numbers;
- robustness per embedding, effect and desensitisation method: ROC AUC
  (mean over instruments) for orig/orig and for the strongest effect
  setting (train orig / test effected and train effected / test orig),
  with the drops and their standard errors over instruments
  (:mod:`aesens.reporting.robustness`, the definition the scorecard shares);
  F1 and accuracy beside ROC AUC without desensitisation;
- links to every figure under ``plots/``.

A "What to notice" section at the top reads those tables and the shift
tables in sentences (:mod:`aesens.reporting.reading`), the strongest findings
in three lines first (:mod:`aesens.reporting.findings`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from aesens import layout, store
from aesens.analysis import shift
from aesens.analysis.files import GLOBAL_R2_COLUMN, read_correlations_text
from aesens.analysis.methods import GLOBAL_CCA, SV_THRESHOLDS, display_name
from aesens.classification.results import load_results
from aesens.cli.commands import report_parser
from aesens.effects import EFFECTS, Effect
from aesens.errors import AesensError, run_cli
from aesens.layout import PathLike
from aesens.reporting import findings, reading, robustness, shift_reading
from aesens.reporting.plots import format_value, param_scale
from aesens.reporting.robustness import strongest_rank
from aesens.safe_files import atomic_file


def setting_label(effect: Effect, rank: int) -> str:
    """A grid value with its unit: ``'−40 dB'``, ``'4 bits'``, ``'1.6 kHz'``, ``'room size 1'``."""
    scale = param_scale(effect)
    value = format_value(effect.grid[rank] * scale.factor)
    unit = re.search(r"\(([^)]*)\)", scale.label)
    return f"{value} {unit.group(1)}" if unit else f"{scale.label} {value}"


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table of a data frame's (already formatted) cells."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join(" --- " for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _range(values: pd.Series, digits: int = 2) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    if values.min() == values.max():
        return f"{values.median():.{digits}f}"
    return f"{values.median():.{digits}f} [{values.min():.{digits}f}–{values.max():.{digits}f}]"


def sensitivity_table(correlations: pd.DataFrame,
                      thresholds: Sequence[float] = SV_THRESHOLDS,
                      dims: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Per embedding and effect: R² and singular-value counts, median [range] over instruments.

    Parameters
    ----------
    correlations : pandas.DataFrame
        ``results/correlations.csv`` (one row per embedding, effect, instrument).
    thresholds : sequence of float
        Singular-value thresholds whose counts were written.
    dims : mapping, optional
        Embedding dimension per embedding: adds a ``dim`` column (``n/a``
        where unknown).
    """
    rows = []
    for (embedding, effect), group in correlations.groupby(["embedding", "effect"], sort=False):
        row = {"embedding": embedding, "effect": effect, "instruments": len(group),
               "global R²": _range(group[GLOBAL_R2_COLUMN]),
               "global R² (held out)": _range(group["global_r2_test"]),
               "sample-wise R²": _range(group["samplewise_r2_median"])}
        for threshold in thresholds:
            column = f"sv_count_{threshold:g}"
            if column in group:
                row[f"σ ≥ {threshold:g} σ₁"] = _range(group[column], 0)
        if "n_train" in group:
            row["train files"] = _range(pd.to_numeric(group["n_train"], errors="coerce"), 0)
        if dims is not None:
            row["dim"] = dims.get(embedding, "n/a")
        rows.append(row)
    return pd.DataFrame(rows)


def read_correlations(path: PathLike) -> pd.DataFrame:
    """The global-CCA rows of ``correlations.csv``, numbers as numbers.

    Reads the published 3.1 notebook's file (only its columns) as well as
    ours (:func:`aesens.analysis.files.read_correlations_text`); rows of another
    ``desensitization_method`` than ``cca`` are left out, and a column the
    file lacks (``global_r2_test``, ``samplewise_r2_median``) is NaN.

    Raises
    ------
    AesensError
        If the file does not parse, lacks a key column, or has neither R² column.
    """
    table = read_correlations_text(path)
    if GLOBAL_R2_COLUMN not in table and "global_r2_test" not in table:
        raise AesensError(f"{path} lacks the column {GLOBAL_R2_COLUMN}; rerun python -m "
                          "aesens.reporting.figures (it keeps the other rows and columns)")
    table = table[table["desensitization_method"] == GLOBAL_CCA.name].copy()
    for column in (GLOBAL_R2_COLUMN, "global_r2_test", "samplewise_r2_median"):
        if column not in table:
            table[column] = np.nan
    for column in table.columns:
        if (column in (GLOBAL_R2_COLUMN, "global_r2_test", "samplewise_r2_median", "n_train")
                or column.startswith("sv_count_")):
            table[column] = pd.to_numeric(table[column], errors="coerce")
    return table.reset_index(drop=True)


def embedding_dims(embeddings: Iterable[str], embeddings_dir: PathLike) -> dict[str, int]:
    """Dimension of each embedding whose averaged original file is readable (others left out)."""
    dims = {}
    for embedding in embeddings:
        path = layout.averaged_path(embedding, embeddings_dir=embeddings_dir)
        try:
            train = store.read_arrays(path, ["X_train"])["X_train"]
        except AesensError:
            continue
        if train.ndim == 2:
            dims[embedding] = int(train.shape[1])
    return dims


def classification_numbers(results_dir: PathLike = "results") -> pd.DataFrame:
    """Per embedding, effect, method, metric and instrument: values at orig/orig and the strongest.

    :func:`aesens.reporting.robustness.strongest_numbers` of every results
    file, with the columns ``embedding``, ``effect``, ``strongest`` (the
    setting, with its unit) and ``method`` as its display name.
    """
    frames = []
    for name, effect in EFFECTS.items():
        folder = Path(results_dir) / name
        for path in sorted(folder.glob("result_*.csv")) if folder.is_dir() else ():
            embedding = path.stem[len("result_"):]
            numbers = robustness.strongest_numbers(load_results(name, embedding, results_dir),
                                                   effect)
            numbers["method"] = [display_name(method) for method in numbers["method"]]
            frames.append(numbers.assign(
                embedding=embedding, effect=name,
                strongest=setting_label(effect, strongest_rank(effect))))
    columns = ["embedding", "effect", "strongest", "method", "metric", "instrument",
               "orig/orig", *robustness.CONDITIONS]
    return (pd.concat(frames, ignore_index=True)[columns] if frames
            else pd.DataFrame(columns=columns))


def _condition_cells(rows: pd.DataFrame, prefix: str = "") -> dict[str, str]:
    """Cells of one method and metric: orig/orig, each condition's value, drop and SE."""
    drops = {condition: robustness.condition_drop(rows, condition)
             for condition in robustness.CONDITIONS}
    digits = max(robustness.consistent_digits(drop.first, drop.second, drop.difference)
                 for drop in drops.values())
    first = next((drop.first for drop in drops.values() if np.isfinite(drop.first)), np.nan)
    cells = {f"{prefix}orig/orig": robustness.unsigned(first, digits)}
    for condition, drop in drops.items():
        cells[f"{prefix}{condition}"] = robustness.unsigned(drop.second, digits)
        cells[f"{prefix}drop ({condition})"] = robustness.signed(drop.difference, digits)
        cells[f"{prefix}SE ({condition})"] = robustness.unsigned(drop.se)
    return cells


def format_classification(numbers: pd.DataFrame) -> pd.DataFrame:
    """The shown ROC AUC table of :func:`classification_numbers`' rows, one row per method.

    Values are means over instruments; a drop is orig/orig minus the
    effected value per instrument, averaged over the instruments that have
    both (positive: the effect hurts), with its standard error over them
    (:mod:`aesens.reporting.robustness`). Values and drops share their
    decimals, so the shown orig/orig minus the shown value is the shown drop.
    """
    rows = []
    auc = numbers[numbers["metric"] == "roc_auc"]
    for (embedding, effect, shown, method), group in auc.groupby(
            ["embedding", "effect", "strongest", "method"], sort=False):
        rows.append({"embedding": embedding, "effect": effect, "strongest": shown,
                     "method": method, **_condition_cells(group),
                     "instruments": int(group["orig/orig"].notna().sum())})
    return pd.DataFrame(rows)


def format_threshold_metrics(numbers: pd.DataFrame) -> pd.DataFrame:
    """F1 and accuracy beside ROC AUC without desensitisation, one row per embedding and effect."""
    rows = []
    none = numbers[numbers["method"] == reading.NO_METHOD]
    for (embedding, effect, shown), group in none.groupby(["embedding", "effect", "strongest"],
                                                          sort=False):
        row = {"embedding": embedding, "effect": effect, "strongest": shown}
        for metric, label in robustness.METRICS.items():
            rows_of = group[group["metric"] == metric]
            for condition in robustness.CONDITIONS:
                drop = robustness.condition_drop(rows_of, condition)
                before, after, change = robustness.consistent_strings(
                    drop.first, drop.second, drop.difference)
                row[f"{label} {condition}"] = (
                    f"{before} → {after} (drop {change}, {reading.noise_word(drop)})"
                    if drop.instruments else "n/a")
        rows.append(row)
    return pd.DataFrame(rows)


def classification_table(results_dir: PathLike = "results") -> pd.DataFrame:
    """Per embedding, effect and method: ROC AUC at orig/orig and at the strongest setting.

    See :func:`classification_numbers` and :func:`format_classification`.
    """
    return format_classification(classification_numbers(results_dir))


def figure_links(plots_dir: PathLike, relative_to: PathLike) -> list[str]:
    """Markdown list items linking every figure under ``plots_dir`` and its sub-folders.

    A figure saved as PNG links the PNG, with its PDF beside it where one
    exists; a figure saved only as PDF (the paper's figures) links the PDF.
    Labels are the paths under ``plots_dir`` without suffix.
    """
    root = Path(plots_dir)
    stems = sorted({path.with_suffix("") for suffix in ("png", "pdf")
                    for path in root.rglob(f"*.{suffix}") if path.is_file()})
    items = []
    for stem in stems:
        label = stem.relative_to(root).as_posix()
        png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
        shown = png if png.is_file() else pdf
        link = Path(os.path.relpath(shown, relative_to)).as_posix()
        item = f"- [{label}]({link})"
        if shown == png and pdf.is_file():
            item += f" ([pdf]({Path(link).with_suffix('.pdf').as_posix()}))"
        items.append(item)
    return items


def statistics_href(from_dir: PathLike) -> str | None:
    """The relative link from ``from_dir`` to ``docs/statistics.md``, where there is one.

    None where ``from_dir`` is outside the source checkout holding the page
    (or there is none: an installed package).
    """
    root = Path(__file__).resolve().parents[2]
    page, here = root / "docs" / "statistics.md", Path(from_dir).resolve()
    if not page.is_file() or not here.is_relative_to(root):
        return None
    return Path(os.path.relpath(page, here)).as_posix()


def statistics_link(from_dir: PathLike) -> str:
    """A Markdown link to ``docs/statistics.md`` (:func:`statistics_href`), else its name."""
    href = statistics_href(from_dir)
    return ("`docs/statistics.md` of the aesens repository" if href is None
            else f"[docs/statistics.md]({href})")


def write_summary(results_dir: PathLike = "results", plots_dir: PathLike = "plots",
                  embeddings_dir: PathLike | None = None) -> Path:
    """Write ``<results_dir>/summary.md`` from the tables and figures present.

    Parameters
    ----------
    results_dir, plots_dir : path
        Folders of the tables (and of the report) and of the figures.
    embeddings_dir : path, optional
        Folder of ``averaged/``, read for the embedding dimensions (default:
        ``embeddings`` beside ``results_dir``; dimensions it lacks are not
        shown).

    Returns
    -------
    Path
        The report.

    Raises
    ------
    AesensError
        If there is neither ``correlations.csv`` nor any classification result.
    """
    results_dir = Path(results_dir)
    embeddings_dir = (results_dir.parent / "embeddings" if embeddings_dir is None
                      else Path(embeddings_dir))
    correlations_csv = results_dir / "correlations.csv"
    numbers = classification_numbers(results_dir)
    if not correlations_csv.exists() and numbers.empty:
        raise AesensError(f"no {correlations_csv} and no classification results under "
                          f"{results_dir}; run python -m aesens.figures (and "
                          "desensitize_classif.py) first")
    correlations = read_correlations(correlations_csv) if correlations_csv.exists() else None
    dims = (embedding_dims(correlations["embedding"].unique(), embeddings_dir)
            if correlations is not None else {})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Sensitivity of audio embeddings to effects: summary", "",
             f"Generated {stamp} by `python -m aesens.report`.", ""]
    shifts = {(embedding, effect): shift.read_shift_table(results_dir, effect, embedding)
              for effect in EFFECTS if (results_dir / effect).is_dir()
              for embedding in sorted(path.stem[len("shift_"):]
                                      for path in (results_dir / effect).glob("shift_*.csv"))}
    lines += [f"Every statistic is defined in one line, with its reference, in "
              f"{statistics_link(results_dir)}.", ""]
    short = findings.in_short(correlations, numbers, shifts, setting_label)
    lines += reading.what_to_notice(correlations, numbers, dims, shifts, setting_label, short)
    lines += shift_reading.heldout_and_probe(results_dir)
    lines += ["## Sensitivity (CCA)", ""]
    if correlations is not None:
        lines += [
            "Global R²: the paper's global correlation (`spearman_corr2`): squared Spearman "
            "correlation between the parameter values and the instrument's train paths "
            "projected on its global CCA direction (fitted on those same paths), all settings "
            "pooled; held out: the same for its test paths; median [min–max] over instruments. "
            "Sample-wise R²: each train path on its own CCA "
            "direction, median per instrument, then median [min–max] over instruments. "
            "σ ≥ t σ₁: number of singular values of an instrument's stacked sample-wise CCA "
            "directions at least t times the largest (how many directions the effect uses; "
            "at most the instrument's number of train files or the embedding dimension).", "",
            markdown_table(sensitivity_table(correlations, dims=dims)), "",
            f"Per instrument: [{correlations_csv.name}]({correlations_csv.name}); sample-wise "
            "R² of every train file: `<effect>/cca_r2s_<embedding>.txt`.", ""]
    else:
        lines += [f"No {correlations_csv.name}: run `python -m aesens.figures`.", ""]
    lines += ["## Classification ROC AUC at the strongest effect setting", ""]
    if numbers.empty:
        lines += ["No classification results: run `desensitize_classif.py`.", ""]
    else:
        lines += [
            "Mean ROC AUC over instruments. orig/eff.: train on original audio, test on the "
            "strongest setting; eff./orig: the reverse. A drop is orig/orig minus the "
            "effected value per instrument, averaged over the instruments that have both "
            "(positive: the effect hurts); SE: its standard error over them. Values and drops "
            "share their decimals (3, more where needed for the shown values to subtract to "
            "the shown drop). An instrument whose test set holds no positive example has no "
            "ROC AUC or F1 and is left out of every metric.", "",
            markdown_table(format_classification(numbers)), "",
            "### Threshold metrics beside ROC AUC (no desensitisation)", "",
            "ROC AUC measures the ranking of the test files, F1 and accuracy the decisions at "
            "the classifier's threshold: a uniform shift of the embeddings can move every "
            "score past the threshold while keeping their order, so F1 and accuracy fall "
            "where ROC AUC holds. Means over the same instruments, orig/orig → strongest "
            f"setting (drop; beyond noise when larger than max({robustness.NOISE_FLOOR:g}, "
            f"{robustness.NOISE_SE:g} SE)).", "",
            markdown_table(format_threshold_metrics(numbers)), ""]
    lines += ["## Figures", ""]
    lines += figure_links(plots_dir, results_dir) or [f"No figures in {plots_dir}."]
    path = results_dir / "summary.md"
    with atomic_file(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write the summary report."""
    parser = report_parser()
    args = parser.parse_args(argv)
    print(f"wrote {write_summary(args.results_dir, args.plots_dir, args.embeddings_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

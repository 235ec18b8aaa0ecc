"""Layer profiles of Hugging Face encoders: every statistic against the depth of the layer.

An ``hf`` encoder extracted at two or more hidden states (``--layer all``,
or ``--layer N`` run for several ``N``) gives embeddings named
``<model>+layer0``, ``<model>+layer1``, … (:mod:`aesens.models.hf_names`;
``<model>`` keeps the output choice, e.g. ``hf+facebook--wav2vec2-base`` or
``…+frames``). Once ``python -m aesens.figures`` has written the
statistics of each of them, :func:`render_layer_profiles` draws, for every
such model, ``plots/layer_profile_<model>.png`` (and the other figure
formats): one panel per statistic, the hidden state on the x axis, one
curve per effect; and writes the values drawn to
``results/layer_profile_<model>.csv`` (one row per effect and layer).

Every value is read from the files the pipeline wrote for that layer's
embedding, by the readers of their modules, and reduced as the scorecard
reduces it:

- the shift table (:func:`aesens.analysis.shift.read_shift_table`) at the
  effect's strongest setting (:func:`aesens.analysis.shift.ranks_outward`):
  the median relative displacement, the mean cosine distance, the
  identification rate, and the Fréchet and kernel distances divided by
  their noise floor;
- the held-out sample-wise R² (:func:`aesens.analysis.heldout.read_heldout_table`):
  median over the train files of each instrument, then over instruments;
- the effect-strength probe's out-of-fold R², from the effected embedding
  and from the displacement (:func:`aesens.analysis.probe.read_probe_table`);
- the global R², published (in-sample, ``spearman_corr2``) and held out
  (``global_r2_test``), medians over instruments of ``results/correlations.csv``
  (:func:`aesens.analysis.files.read_correlations_text`).

A value whose file is missing is left out of its curve (NaN in the table).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from aesens.analysis import heldout, probe, shift
from aesens.analysis.files import GLOBAL_R2_COLUMN, read_correlations_text
from aesens.analysis.methods import GLOBAL_CCA
from aesens.effects import EFFECTS, get_effect
from aesens.errors import AesensError
from aesens.models.hf_names import is_hf_name, parse_name
from aesens.safe_files import atomic_write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PathLike = str | os.PathLike
#: Stem prefix of the figures (``plots/layer_profile_<model>.png``) and tables.
PREFIX = "layer_profile_"
#: Least number of layers of a model for a profile.
MIN_LAYERS = 2
#: Resolution of the PNG figures.
DPI = 200
#: Statistics of a profile, in panel order: column -> axis label.
STATISTICS = {
    "median_relative_displacement": "median ‖B−A‖/‖A‖",
    "mean_cosine_distance": "mean cosine distance",
    "identification_rate": "identification rate",
    "frechet_over_floor": "Fréchet distance / floor",
    "kernel_over_floor": "kernel distance / floor",
    "samplewise_r2_heldout": "sample-wise R² held-out",
    "probe_r2_effected": "probe R² (B)",
    "probe_r2_displacement": "probe R² (B−A)",
    "global_r2": "global R² (published)",
    "global_r2_test": "global R² held-out",
}
#: Columns of a profile table.
COLUMNS = ["effect", "layer", "embedding", *STATISTICS]
#: Statistics drawn on a log axis (ratios to a floor).
LOG_SCALE = ("frechet_over_floor", "kernel_over_floor")
#: Statistics within [0, 1], drawn on that whole range (small differences between layers are
#: not magnified); the probe's R² may be negative, the distances start at 0.
UNIT_RANGE = ("identification_rate", "samplewise_r2_heldout", "global_r2", "global_r2_test")


def layer_variants(embeddings: Iterable[str]) -> dict[str, dict[int, str]]:
    """The ``hf`` embeddings at a hidden-state index, by model: ``{model: {layer: embedding}}``.

    ``model`` is the embedding's name without its layer (output choice kept).
    Only models with at least :data:`MIN_LAYERS` layers are returned, their
    layers in increasing order.
    """
    found: dict[str, dict[int, str]] = {}
    for name in embeddings:
        if not is_hf_name(name):
            continue
        try:
            parsed = parse_name(name)
        except AesensError:
            continue
        if isinstance(parsed.layer, int) and parsed.name == name:
            found.setdefault(replace(parsed, layer="last").name, {})[parsed.layer] = name
    return {model: dict(sorted(layers.items())) for model, layers in sorted(found.items())
            if len(layers) >= MIN_LAYERS}


def _median(values: Iterable[float]) -> float:
    """Median of the finite values, NaN if there is none (as the scorecard's medians)."""
    values = np.asarray(list(values), dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else np.nan


def _global_r2(correlations: pd.DataFrame | None, embedding: str, effect: str) -> dict:
    """Medians over instruments of the published and held-out global R² of one pair."""
    columns = {"global_r2": np.nan, "global_r2_test": np.nan}
    if correlations is None:
        return columns
    rows = correlations[(correlations["embedding"] == embedding)
                        & (correlations["effect"] == effect)
                        & (correlations["desensitization_method"] == GLOBAL_CCA.name)]
    for column, source in (("global_r2", GLOBAL_R2_COLUMN), ("global_r2_test", "global_r2_test")):
        if source in rows.columns:
            columns[column] = _median(pd.to_numeric(rows[source], errors="coerce"))
    return columns


def pair_statistics(embedding: str, effect: str, results_dir: PathLike,
                    correlations: pd.DataFrame | None = None) -> dict[str, float]:
    """Every statistic of :data:`STATISTICS` for one embedding and effect (NaN where missing).

    Parameters
    ----------
    embedding, effect : str
        The pair.
    results_dir : path
        Folder of the tables ``python -m aesens.figures`` writes.
    correlations : pandas.DataFrame, optional
        ``correlations.csv`` as :func:`aesens.analysis.files.read_correlations_text`
        reads it (None: no global R²).
    """
    values = dict.fromkeys(STATISTICS, np.nan)
    if shift.shift_path(results_dir, effect, embedding).exists():
        table = shift.read_shift_table(results_dir, effect, embedding)
        strongest = shift.ranks_outward(get_effect(effect))[-1]
        setting = table[table["kind"] == "setting"].set_index("rank").loc[strongest]
        floor = table[table["kind"] == "floor"].iloc[0]
        for statistic in shift.PAIRED:
            values[statistic] = float(setting[statistic])
        for statistic, column in (("frechet_distance", "frechet_over_floor"),
                                  ("kernel_distance", "kernel_over_floor")):
            scale = float(floor[statistic])
            values[column] = float(setting[statistic]) / scale if scale > 0 else np.nan
    if heldout.heldout_path(results_dir, effect, embedding).exists():
        table = heldout.read_heldout_table(results_dir, effect, embedding)
        values["samplewise_r2_heldout"] = heldout.median_over_instruments(
            table, "samplewise_r2_heldout")
    if probe.probe_path(results_dir, effect, embedding).exists():
        table = probe.read_probe_table(results_dir, effect, embedding).set_index("features")
        for features in probe.FEATURES:
            if features in table.index:
                values[f"probe_r2_{features}"] = float(table.loc[features, "r2"])
    values.update(_global_r2(correlations, embedding, effect))
    return values


def read_correlations(results_dir: PathLike) -> pd.DataFrame | None:
    """``results/correlations.csv`` as text cells, or None when it does not exist."""
    path = Path(results_dir) / "correlations.csv"
    return read_correlations_text(path) if path.exists() else None


def profile_table(layers: dict[int, str], effects: Sequence[str],
                  results_dir: PathLike) -> pd.DataFrame:
    """One row per effect and layer: :data:`COLUMNS` (effects in the order given)."""
    correlations = read_correlations(results_dir)
    rows = [{"effect": effect, "layer": layer, "embedding": embedding,
             **pair_statistics(embedding, effect, results_dir, correlations)}
            for effect in effects for layer, embedding in layers.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def profile_figure(table: pd.DataFrame, model: str) -> Figure:
    """Every statistic (panels) against the hidden state, one curve per effect."""
    import matplotlib.pyplot as plt

    from aesens.reporting import plots

    effects = list(dict.fromkeys(table["effect"]))
    n_cols = 5
    n_rows = -(-len(STATISTICS) // n_cols)
    with plt.rc_context({**plots.style(), "figure.dpi": DPI}):
        fig, axes = plots.figure_grid(n_rows, n_cols, (2.3, 1.8), sharex=True)
        for ax, (statistic, label) in zip(axes.flat, STATISTICS.items(), strict=False):
            for index, effect in enumerate(effects):
                rows = table[table["effect"] == effect].sort_values("layer")
                values = rows[statistic].to_numpy(dtype=float)
                shown = np.isfinite(values) & ((values > 0) if statistic in LOG_SCALE else True)
                ax.plot(rows["layer"].to_numpy()[shown], values[shown], color=f"C{index}",
                        marker="o", markersize=3, linewidth=1.1, label=effect)
            if statistic in LOG_SCALE:
                ax.set_yscale("log")
                ax.axhline(shift.FLOOR_FACTOR, color="grey", linestyle=":", linewidth=0.8)
                low, high = ax.get_ylim()
                ax.set_ylim(min(low, 0.5), max(high, 2 * shift.FLOOR_FACTOR))
            elif statistic in UNIT_RANGE:
                ax.set_ylim(-0.02, 1.02)
            elif statistic.startswith("probe_r2"):
                ax.set_ylim(top=1.02, bottom=min(-0.02, ax.get_ylim()[0]))
            else:
                ax.set_ylim(0, 1.1 * ax.get_ylim()[1])
            ax.set_title(label)
            ax.set_xticks(sorted(set(table["layer"])))
        for ax in axes.flat[len(STATISTICS):]:
            ax.set_axis_off()
        for ax in axes[-1]:
            ax.set_xlabel("hidden state")
        handles = [plt.Line2D([], [], color=f"C{index}", marker="o", label=effect)
                   for index, effect in enumerate(effects)]
        handles.append(plt.Line2D([], [], color="grey", linestyle=":",
                                  label=f"{shift.FLOOR_FACTOR:g}× floor"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
        fig.suptitle(f"{model}: statistics at each hidden state (0 = input of the first "
                     "transformer layer); shift values at each effect's strongest setting")
    return fig


def table_path(results_dir: PathLike, model: str) -> Path:
    """``<results_dir>/layer_profile_<model>.csv``."""
    return Path(results_dir) / f"{PREFIX}{model}.csv"


def write_profile_table(table: pd.DataFrame, results_dir: PathLike, model: str) -> Path:
    """Write a profile table atomically at :func:`table_path`."""
    return atomic_write_csv(table_path(results_dir, model), table)


def render_layer_profiles(pairs: Sequence[tuple[str, str]], results_dir: PathLike,
                          save_figure: Callable[[Figure, str], list[Path]]) -> list[Path]:
    """The profile figure and table of every model with several layers among ``pairs``.

    Parameters
    ----------
    pairs : sequence of tuple
        ``(embedding, effect)`` pairs whose tables are written in ``results_dir``.
    results_dir : path
        Folder of the tables, and of the profile tables written.
    save_figure : callable
        ``save_figure(figure, name) -> files written`` (and closes the figure).

    Returns
    -------
    list of Path
        The files written (none when no model has several layers).
    """
    written: list[Path] = []
    order = list(EFFECTS)
    for model, layers in layer_variants(dict.fromkeys(pair[0] for pair in pairs)).items():
        effects = sorted({effect for embedding, effect in pairs if embedding in layers.values()},
                         key=lambda name: order.index(name) if name in order else len(order))
        table = profile_table(layers, effects, results_dir)
        written.append(write_profile_table(table, results_dir, model))
        written += save_figure(profile_figure(table, model), f"{PREFIX}{model}")
    return written


def find_profiles(plots_dir: PathLike) -> list[Path]:
    """The PNG layer profiles in ``plots_dir``, sorted by name."""
    return sorted(Path(plots_dir).glob(f"{PREFIX}*.png"))

"""Shift curves, held-out sample-wise R² and the effect-strength probe: tables and figures.

:func:`render_extras` (called by ``python -m aesens.figures``) writes, for
every embedding and effect it is given:

- ``results/<effect>/shift_<embedding>.csv`` (:mod:`aesens.analysis.shift`);
- ``results/<effect>/samplewise_r2_heldout_<embedding>.csv`` (:mod:`aesens.analysis.heldout`);
- ``results/<effect>/probe_<embedding>.csv`` (:mod:`aesens.analysis.probe`);

and the figures ``plots/shift_curves`` (statistics, rows, against the
setting, effects in columns, one curve per embedding, its noise floor as a
band) and ``plots/samplewise_r2_heldout_histograms`` (published in-sample
against held-out sample-wise R², effects x embeddings).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from aesens.analysis import heldout, probe, shift
from aesens.effects import get_effect
from aesens.reporting import plots
from aesens.sweep.sweep import Sweep

PathLike = str | os.PathLike
#: Axis label of every statistic of the shift figure.
LABELS = {"median_relative_displacement": "median ‖B−A‖/‖A‖",
          "mean_cosine_distance": "mean cosine distance",
          "identification_rate": "identification rate",
          "frechet_distance": "Fréchet distance / floor",
          "kernel_distance": "kernel distance / floor"}
#: Paired statistics that grow with the shift from 0 (the identification rate falls from 1).
MAGNITUDES = ("median_relative_displacement", "mean_cosine_distance")
#: Decades below the largest value that a paired row shows on its log scale (smaller values,
#: zero included, share the linear stretch at the bottom of the symmetric-log axis).
PAIRED_DECADES = 5
#: Largest over smallest positive value of a paired row beyond which it gets a log scale.
LOG_SPAN = 100.0


def row_scale(statistic: str, values: np.ndarray) -> dict:
    """Keyword arguments of ``Axes.set_yscale`` for one statistic's row of panels.

    Distributional statistics, divided by their floor: symmetric log, linear
    within ±1 (the floor), so values far below the floor sit near 0 and the
    kernel distance's negative values (its unbiased estimate goes below 0
    when the sets are as close as paired files are) stay on the axis.
    Displacement and cosine distance: symmetric log over
    :data:`PAIRED_DECADES` decades when their positive values span more than
    :data:`LOG_SPAN` (one embedding moving a hundred times less than another
    would otherwise be a flat line at 0), else linear. Identification rate: linear.

    Parameters
    ----------
    statistic : str
        Name of the statistic (:data:`aesens.analysis.shift.STATISTICS`).
    values : numpy.ndarray
        Every value drawn in the row (floors included).
    """
    if statistic in shift.DISTRIBUTIONAL:
        return {"value": "symlog", "linthresh": 1.0, "linscale": 1.0}
    if statistic in MAGNITUDES:
        values = np.asarray(values, dtype=float)
        positive = values[np.isfinite(values) & (values > 0)]
        if len(positive) and positive.max() / positive.min() > LOG_SPAN:
            top = np.floor(np.log10(positive.max()))
            return {"value": "symlog", "linthresh": 10.0 ** (top - PAIRED_DECADES),
                    "linscale": 0.5}
    return {"value": "linear"}


def _row_values(tables: Mapping[tuple[str, str], pd.DataFrame], statistic: str) -> np.ndarray:
    return np.concatenate([table.loc[table["kind"].isin(["setting", "floor"]), statistic]
                           .to_numpy(dtype=float) for table in tables.values()])


def shift_curve_grid(tables: Mapping[tuple[str, str], pd.DataFrame]) -> Figure:
    """Statistics (rows) against the setting, effects (columns), one curve per embedding.

    Paired statistics are drawn as they are, with the floor (the gentlest
    setting's value) as a band from no change (0; 1 for the identification
    rate) to the floor, edged by a dashed line, in the curve's colour;
    distributional ones divided by their floor (the largest value between
    random halves of the originals), with the band from the halves' mean to
    that floor in the curve's colour and the 3× line dotted. Each row shares
    one y-axis, on the scale :func:`row_scale` picks. Each embedding keeps a
    dash pattern, marker and marker offset of its own
    (:func:`aesens.reporting.plots.curve_style`), so curves that coincide
    (an identification rate of 1) both show.
    """
    embeddings = list(dict.fromkeys(key[0] for key in tables))
    effects = list(dict.fromkeys(key[1] for key in tables))
    colours = {name: f"C{index}" for index, name in enumerate(embeddings)}
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(shift.STATISTICS), len(effects), (2.3, 1.7),
                                      sharex="col", sharey="row")
        for row, statistic in enumerate(shift.STATISTICS):
            scale = row_scale(statistic, _row_values(tables, statistic))
            axes[row, 0].set_yscale(**scale)
        for (embedding, name), table in tables.items():
            effect = get_effect(name)
            column = effects.index(name)
            settings = table[table["kind"] == "setting"]
            floor = table[table["kind"] == "floor"].iloc[0]
            mean = table[table["kind"] == "floor_mean"].iloc[0]
            index = embeddings.index(embedding)
            style = plots.curve_style(index, len(settings), len(embeddings))
            colour = colours[embedding]
            for row, statistic in enumerate(shift.STATISTICS):
                ax = axes[row, column]
                values = settings[statistic].to_numpy(dtype=float)
                level = float(floor[statistic])
                if statistic in shift.DISTRIBUTIONAL:
                    values = values / level if level > 0 else np.full_like(values, np.nan)
                    if level > 0:
                        ax.axhspan(min(float(mean[statistic]) / level, 1.0), 1.0, color=colour,
                                   alpha=plots.BAND_ALPHA, linewidth=0)
                    ax.axhline(shift.FLOOR_FACTOR, color="grey", linestyle=":", linewidth=0.8)
                else:
                    unchanged = 1.0 if statistic == "identification_rate" else 0.0
                    ax.axhspan(min(unchanged, level), max(unchanged, level), color=colour,
                               alpha=plots.BAND_ALPHA, linewidth=0)
                    ax.axhline(level, color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
                ax.plot(settings["rank"], values, color=colour, linewidth=1, label=embedding,
                        **style)
                if column == 0:
                    ax.set_ylabel(LABELS[statistic])
                if row == 0:
                    ax.set_title(name)
                if row == len(shift.STATISTICS) - 1:
                    plots.set_rank_axis(ax, effect, identity=True)
        axes[shift.STATISTICS.index("identification_rate"), 0].set_ylim(-0.03, 1.03)
        handles = [plt.Line2D([], [], color=colours[name], label=name,
                              **{key: value for key, value in plots.curve_style(
                                  index, 1, len(embeddings)).items() if key != "markevery"})
                   for index, name in enumerate(embeddings)]
        handles += [plt.Rectangle((0, 0), 1, 1, color="grey", alpha=2 * plots.BAND_ALPHA,
                                  label="paired floor: no change to the gentlest setting "
                                        "(dashed)"),
                    plt.Rectangle((0, 0), 1, 1, color="grey", alpha=2 * plots.BAND_ALPHA,
                                  label="distributional floor: random halves of the originals, "
                                        "mean to max (= 1)"),
                    plt.Line2D([], [], color="grey", linestyle=":",
                               label=f"{shift.FLOOR_FACTOR:g}× floor")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
        fig.suptitle("Shift of the embeddings with the effect setting, against its noise floor\n"
                     "each row shares its y-axis; symmetric-log axes are linear near 0, so 0 and "
                     "the kernel distance's negative values show")
    return fig


def heldout_histogram_grid(tables: Mapping[tuple[str, str], pd.DataFrame]) -> Figure:
    """Published (in-sample) and held-out sample-wise R², effects (rows) x embeddings.

    The published values filled, the held-out ones as an outline over them,
    so both show where they share a bin; values a rounding past 1 count in
    the last bin (:func:`aesens.reporting.plots.unit_interval`).
    """
    embeddings = list(dict.fromkeys(key[0] for key in tables))
    effects = list(dict.fromkeys(key[1] for key in tables))
    bins = np.linspace(0, 1, 21)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.6, 1.7), sharex=True)
        for (embedding, effect), table in tables.items():
            ax = axes[effects.index(effect), embeddings.index(embedding)]
            medians = []
            for column, label, draw in (
                    ("samplewise_r2", "in-sample (published)",
                     {"color": "tab:blue", "alpha": 0.5}),
                    ("samplewise_r2_heldout", "held-out",
                     {"color": "tab:orange", "histtype": "step", "linewidth": 1.4})):
                values = plots.unit_interval(table[column])
                ax.hist(values, bins=bins, label=label, **draw)
                medians.append(f"{np.median(values):.2f}" if len(values) else "n/a")
            ax.set_title(f"{embedding}, {effect}\nmedian {medians[0]} published, "
                         f"{medians[1]} held-out")
            ax.set_xlim(0, 1)
            ax.set_ylabel("files")
        for ax in axes[-1]:
            ax.set_xlabel("sample-wise R²")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def compute_extras(sweep: Sweep, in_sample_r2: np.ndarray
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Shift, held-out R² and probe tables of one sweep.

    ``in_sample_r2``: the published sample-wise R² of its train files. A grid
    of fewer than ``2 * heldout.MIN_HALF`` values gets NaN held-out R².
    """
    effect = get_effect(sweep.effect)
    # Small matrices: one BLAS thread is fastest, and several lose badly on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        shift_table = shift.sweep_shift_table(sweep, effect)
        paths = sweep.paths()
        held_out = (heldout.heldout_samplewise_r2(paths)
                    if paths.shape[1] >= 2 * heldout.MIN_HALF else np.full(len(paths), np.nan))
        held = heldout.heldout_table(in_sample_r2, held_out, sweep.Y_train,
                                     sweep.file_name_train)
        originals = np.concatenate([sweep.train_A, sweep.test_A])
        effected = np.concatenate([sweep.train_Bs, sweep.test_Bs], axis=1)
        probe_table = probe.probe_table(originals, effected, probe.sweep_file_names(sweep))
    return shift_table, held, probe_table


def render_extras(pairs: Sequence[tuple[str, str]], load_sweep: Callable[[str, str], Sweep],
                  in_sample_r2: Mapping[tuple[str, str], np.ndarray],
                  results_dir: PathLike,
                  save_figure: Callable[[Figure, str], list[Path]]) -> list[Path]:
    """Write the three tables of every pair and the two figures; returns the files written.

    Parameters
    ----------
    pairs : sequence of tuple
        ``(embedding, effect)`` pairs, each loaded in turn with ``load_sweep``
        (so only one pair's embeddings are held at a time).
    load_sweep : callable
        ``load_sweep(embedding, effect) -> Sweep``.
    in_sample_r2 : mapping
        ``(embedding, effect) ->`` the published sample-wise R² of the train files.
    results_dir : path
        Where the tables go.
    save_figure : callable
        ``save_figure(figure, name) -> files written`` (and closes the figure).
    """
    start = time.perf_counter()
    written: list[Path] = []
    shifts, helds = {}, {}
    for embedding, effect in pairs:
        key = (embedding, effect)
        shifts[key], helds[key], probe_table = compute_extras(load_sweep(embedding, effect),
                                                              in_sample_r2[key])
        written += [shift.write_shift_table(shifts[key], results_dir, effect, embedding),
                    heldout.write_heldout_table(helds[key], results_dir, effect, embedding),
                    probe.write_probe_table(probe_table, results_dir, effect, embedding)]
    if shifts:
        written += save_figure(shift_curve_grid(shifts), "shift_curves")
        written += save_figure(heldout_histogram_grid(helds), "samplewise_r2_heldout_histograms")
    print(f"shift curves, held-out R² and probe of {len(pairs)} pairs: "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    return written

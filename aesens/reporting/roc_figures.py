"""ROC AUC figures of the classification stage.

Read from :func:`aesens.classification.results.load_results`.

:func:`roc_auc_curves` reads the ROC AUC along the effect's grid per
desensitisation method out of a results table; :func:`roc_auc_figure` draws
them with :mod:`aesens.reporting.plots`, one row of panels per effect (train orig /
test effected, train effected / test orig). ``python -m aesens.figures``
saves one per embedding (``roc_auc_<embedding>``); the classification
notebook draws :func:`default_method_groups` separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aesens.analysis.methods import METHODS, result_name, result_order, split_result_name
from aesens.classification.results import ORIGINAL as ORIGINAL_SET
from aesens.effects import Effect, get_effect
from aesens.reporting import plots


def roc_auc_curves(table: pd.DataFrame, effect: Effect, train_effected: bool,
                   instrument: str | None = None, methods: Sequence[str] | None = None
                   ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """ROC AUC along the grid per method, and the orig/orig value, from :func:`load_results`.

    Parameters
    ----------
    table : pandas.DataFrame
        Results of one effect and embedding.
    effect : Effect
        The effect (its parameter strings give the grid order).
    train_effected : bool
        ``False``: train on original, test on effected (``orig/p``);
        ``True``: train on effected, test on original (``p/orig``).
    instrument : str, optional
        One instrument; ``None`` averages over instruments.
    methods : sequence of str, optional
        Methods to return, in this order (either spelling of
        :func:`aesens.analysis.methods.result_name`; ones without results are left out). Default:
        every method present.

    Returns
    -------
    tuple of dict
        Method to ``(n_params,)`` ROC AUC (NaN where missing), and method to
        the orig/orig ROC AUC; by default methods in
        :data:`aesens.analysis.methods.METHODS` order, SVD thresholds increasing.
    """
    if instrument is not None:
        table = table[table["instrument"] == instrument]
    other = "train_set" if train_effected else "test_set"
    fixed = "test_set" if train_effected else "train_set"
    rows = table[table[fixed] == ORIGINAL_SET]
    present = set(rows["method"])
    order = (sorted(present, key=result_order) if methods is None
             else [key for key in dict.fromkeys(map(result_name, methods)) if key in present])
    curves, identity = {}, {}
    for method in order:
        mean = rows[rows["method"] == method].groupby(other)["roc_auc"].mean()
        curves[method] = mean.reindex(effect.param_strings).to_numpy(dtype=float)
        identity[method] = float(mean.get(ORIGINAL_SET, np.nan))
    return curves, identity


def default_method_groups(tables: Mapping[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Method groups of the ROC AUC figures: the projections, and the CCA methods.

    ``"projections"``: none, LDA, average direction and the two PCA
    projections; ``"cca"``: none, global CCA and the sample-wise CCA SVD at
    every threshold present in ``tables`` (from :func:`load_results`).
    Methods without results are left out.
    """
    present = {key for table in tables.values() for key in table["method"]}
    svd = sorted((key for key in present
                  if METHODS.get(split_result_name(key)[0], METHODS[""]).uses_threshold),
                 key=result_order)
    groups = {"projections": ["", "lda", "avgdirproj", "pcaproj_nonnorm", "pcaproj_norm"],
              "cca": ["", "cca", *svd]}
    return {name: [key for key in keys if key in present] for name, keys in groups.items()}


def roc_auc_figure(tables: Mapping[str, pd.DataFrame], embedding: str,
                   instrument: str | None = None, methods: Sequence[str] | None = None,
                   ylim: tuple[float, float] | None = None, title: str = "") -> Figure:
    """ROC AUC against the effect parameter, one curve per method; stars mark orig/orig.

    Parameters
    ----------
    tables : mapping
        Effect name to :func:`load_results` table: one row of panels each,
        (train orig / test effected, train effected / test orig).
    embedding : str
        Embedding name (title).
    instrument : str, optional
        One instrument; ``None`` averages over instruments.
    methods : sequence of str, optional
        Methods drawn, in order (see :func:`roc_auc_curves`); a method keeps
        its colour whichever group it is drawn in.
    ylim : tuple of float, optional
        ROC AUC axis limits of every panel (default: fitted to each row).
    title : str
        Text after the embedding and instrument in the title (e.g. the group name).
    """
    every = sorted({key for table in tables.values() for key in table["method"]},
                   key=result_order)
    # grey is left out: the orig/orig star of the legend is grey
    cycle = [color for color in plt.rcParams["axes.prop_cycle"].by_key()["color"]
             if mcolors.to_hex(color) != "#7f7f7f"] or ["C0"]
    colors = {key: cycle[index % len(cycle)] for index, key in enumerate(every)}
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(tables), 2, (3.0, 2.0), sharey="row")
        for row, (name, table) in enumerate(tables.items()):
            effect = get_effect(name)
            for col, train_effected in enumerate((False, True)):
                curves, identity = roc_auc_curves(table, effect, train_effected, instrument,
                                                  methods)
                which = ("train effected / test orig" if train_effected
                         else "train orig / test effected")
                plots.roc_auc_panel(axes[row, col], curves, identity, effect,
                                    title=f"{name}: {which}", colors=colors)
                if ylim is not None:
                    axes[row, col].set_ylim(*ylim)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles.append(Line2D([], [], marker="*", markersize=7, color="0.3", linestyle="none"))
        labels.append("train orig / test orig")
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)))
        who = "mean over instruments" if instrument is None else instrument
        fig.suptitle(f"{embedding} ({who})" + (f": {title}" if title else ""))
    return fig

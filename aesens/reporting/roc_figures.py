"""ROC AUC figures of the classification stage.

Read from :func:`aesens.classification.results.load_results`.

:func:`roc_auc_curves` reads the ROC AUC along the effect's grid per
desensitisation method out of a results table (the mean over instruments),
:func:`roc_auc_standard_errors` its standard error over the instruments;
:func:`roc_auc_figure` draws them with :mod:`aesens.reporting.plots`, one row of
panels per effect (train orig / test effected, train effected / test orig)
on one stated ROC AUC range, the standard errors shaded. ``python -m aesens.figures``
saves one per embedding (``roc_auc_<embedding>``); the classification
notebook draws :func:`default_method_groups` separately.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from aesens.analysis.methods import (
    METHODS,
    display_name,
    result_name,
    result_order,
    split_result_name,
)
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
    return _per_setting(table, effect, train_effected, instrument, methods,
                        lambda values: values.mean())


def roc_auc_standard_errors(table: pd.DataFrame, effect: Effect, train_effected: bool,
                            instrument: str | None = None, methods: Sequence[str] | None = None
                            ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Standard error over instruments of each point of :func:`roc_auc_curves`.

    The standard deviation (``ddof=1``) of the instruments' ROC AUC divided
    by the square root of their number, per method and setting, and of the
    orig/orig value; NaN where fewer than two instruments have a result
    (always, for one ``instrument``). Same parameters and order as
    :func:`roc_auc_curves`.
    """
    return _per_setting(table, effect, train_effected, instrument, methods,
                        lambda values: values.std(ddof=1) / np.sqrt(values.count()))


def _per_setting(table: pd.DataFrame, effect: Effect, train_effected: bool,
                 instrument: str | None, methods: Sequence[str] | None,
                 statistic: Callable[[pd.Series], float]
                 ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``statistic`` of the ROC AUC over instruments per method and setting, and orig/orig."""
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
        values = rows[rows["method"] == method].groupby(other)["roc_auc"].agg(statistic)
        curves[method] = values.reindex(effect.param_strings).to_numpy(dtype=float)
        identity[method] = float(values.get(ORIGINAL_SET, np.nan))
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


def coinciding(curves: Mapping[str, Sequence[np.ndarray]],
               tolerance: float = 1e-12) -> dict[str, str]:
    """Methods whose curves equal an earlier method's in every panel: method -> that method.

    Parameters
    ----------
    curves : mapping
        Method to its curves (one array per panel, orig/orig values included if wanted).
    tolerance : float
        Largest absolute difference counted as equal (NaN equals NaN).
    """
    same: dict[str, str] = {}
    names = list(curves)
    for position, method in enumerate(names):
        mine = np.concatenate([np.ravel(curve) for curve in curves[method]])
        for earlier in names[:position]:
            theirs = np.concatenate([np.ravel(curve) for curve in curves[earlier]])
            if (earlier not in same and mine.shape == theirs.shape
                    and np.isfinite(mine).any()
                    and np.allclose(mine, theirs, rtol=0, atol=tolerance, equal_nan=True)):
                same[method] = earlier
                break
    return same


def shared_limits(values: Sequence[np.ndarray], margin: float = 0.04) -> tuple[float, float]:
    """One axis range holding every finite value, widened by ``margin`` of its span each side."""
    finite = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values] or [[]])
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    pad = margin * (high - low) if high > low else 0.01
    return low - pad, high + pad


def roc_auc_figure(tables: Mapping[str, pd.DataFrame], embedding: str,
                   instrument: str | None = None, methods: Sequence[str] | None = None,
                   ylim: tuple[float, float] | None = None, title: str = "") -> Figure:
    """ROC AUC against the effect parameter, one curve per method; stars mark orig/orig.

    Averaged over instruments, each curve and star carries its standard
    error over the instruments (:func:`roc_auc_standard_errors`), shaded.
    Every panel shows one ROC AUC range (the suptitle says so). Each method
    keeps its colour, dash pattern and marker (:func:`aesens.reporting.plots.curve_style`)
    whichever group it is drawn in, so curves that coincide stay visible; a
    method whose curves equal another's in every panel says so in the legend.

    Parameters
    ----------
    tables : mapping
        Effect name to :func:`load_results` table: one row of panels each,
        (train orig / test effected, train effected / test orig).
    embedding : str
        Embedding name (title).
    instrument : str, optional
        One instrument (no standard error); ``None`` averages over instruments.
    methods : sequence of str, optional
        Methods drawn, in order (see :func:`roc_auc_curves`).
    ylim : tuple of float, optional
        ROC AUC range of every panel (default: the range of every curve,
        star and standard error of the figure).
    title : str
        Text after the embedding and instrument in the title (e.g. the group name).
    """
    every = sorted({key for table in tables.values() for key in table["method"]},
                   key=result_order)
    # grey is left out: the orig/orig star of the legend is grey
    cycle = [color for color in plt.rcParams["axes.prop_cycle"].by_key()["color"]
             if mcolors.to_hex(color) != "#7f7f7f"] or ["C0"]
    colors = {key: cycle[index % len(cycle)] for index, key in enumerate(every)}
    panels = []
    for name, table in tables.items():
        effect = get_effect(name)
        for train_effected in (False, True):
            curves, identity = roc_auc_curves(table, effect, train_effected, instrument, methods)
            errors, identity_errors = roc_auc_standard_errors(table, effect, train_effected,
                                                              instrument, methods)
            panels.append((name, effect, train_effected, curves, identity, errors,
                           identity_errors))
    drawn = list(dict.fromkeys(method for panel in panels for method in panel[3]))
    same = coinciding({method: [np.append(panel[3][method], panel[4][method])
                                if method in panel[3] else np.full(1, np.nan)
                                for panel in panels] for method in drawn})
    labels = {method: display_name(method) + (f": same curves as {display_name(same[method])}"
                                              if method in same else "")
              for method in drawn}
    if ylim is None:
        ylim = shared_limits([values for panel in panels for method in panel[3]
                              for values in (panel[3][method] - np.nan_to_num(panel[5][method]),
                                             panel[3][method] + np.nan_to_num(panel[5][method]),
                                             [panel[4][method] - np.nan_to_num(panel[6][method]),
                                              panel[4][method] + np.nan_to_num(
                                                  panel[6][method])])])
    n_instruments = max((table["instrument"].nunique() for table in tables.values()), default=0)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(tables), 2, (3.0, 2.0), sharey=True)
        for index, (name, effect, train_effected, curves, identity, errors,
                    identity_errors) in enumerate(panels):
            ax = axes[index // 2, index % 2]
            which = ("train effected / test orig" if train_effected
                     else "train orig / test effected")
            styles = {method: plots.curve_style(every.index(method), len(effect.grid),
                                                len(every)) for method in curves}
            plots.roc_auc_panel(ax, curves, identity, effect, title=f"{name}: {which}",
                                colors=colors, errors=errors, identity_errors=identity_errors,
                                styles=styles, labels=labels)
        axes[0, 0].set_ylim(*ylim)
        for ax in axes[:, 1]:
            ax.set_ylabel("")
        handles = {}
        for ax in axes.flat:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        names = [labels[method] for method in drawn if labels[method] in handles]
        entries = [handles[label] for label in names]
        entries.append(Line2D([], [], marker="*", markersize=7, color="0.3", linestyle="none"))
        names.append("train orig / test orig")
        if instrument is None:
            entries.append(Patch(color="0.3", alpha=plots.BAND_ALPHA * 2, linewidth=0))
            names.append("± 1 standard error over instruments")
        fig.legend(entries, names, loc="outside lower center", ncols=min(3, len(names)))
        who = (f"mean over {n_instruments} instruments ± 1 SE" if instrument is None
               else instrument)
        fig.suptitle(f"{embedding} ({who})" + (f": {title}" if title else "")
                     + f"\nROC AUC axis shared by all panels: {ylim[0]:.2f}–{ylim[1]:.2f}")
    return fig

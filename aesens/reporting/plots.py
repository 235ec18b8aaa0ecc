"""Pure plotting functions: arrays in, matplotlib artists out.

Every function draws on an :class:`~matplotlib.axes.Axes` it is given (or
returns a new :class:`~matplotlib.figure.Figure`) from plain arrays; loading
data and computing directions is the job of :mod:`aesens.analysis.sensitivity`. Parameter
axes are spaced by grid rank, as in the paper, and labelled with the
parameter values in the effect's unit (low-pass cut-offs in kHz).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aesens.analysis.methods import SV_THRESHOLDS, display_name
from aesens.effects import Effect

#: Base font size (points) of every figure: readable at the paper's column width.
FONT_SIZE = 8
#: Colour map of parameter values (the published 2B.1 notebook's).
PARAM_CMAP = "coolwarm"
#: Resolution of every PNG the tool saves (figures, scorecard heat map), dots per inch.
PNG_DPI = 200
#: Markers and dash patterns given to the curves of a panel in turn, so that curves which
#: coincide (mfcc's two PCA directions give the same ROC AUC) both stay visible.
CURVE_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "h")
CURVE_DASHES = ("-", "--", "-.", ":")
#: Opacity of standard-error and noise-floor bands.
BAND_ALPHA = 0.12


@dataclass(frozen=True)
class ParamScale:
    """How the parameter values of an effect are shown.

    Attributes
    ----------
    factor : float
        Multiplier from grid values to displayed values (1e-3 for Hz shown in kHz).
    label : str
        Axis or colour-bar label, with the unit.
    log : bool
        Whether the grid is geometric (colour scale on a log axis).
    """

    factor: float
    label: str
    log: bool


def param_scale(effect: Effect) -> ParamScale:
    """Display unit of an effect's parameter: kHz for cut-offs of 1 kHz and above.

    Parameters
    ----------
    effect : Effect
        The effect.

    Returns
    -------
    ParamScale
        Factor, label and whether the grid is geometric.
    """
    grid = np.asarray(effect.grid, dtype=float)
    factor, label = 1.0, effect.unit
    if "(Hz)" in label and np.abs(grid).min() >= 1000:
        factor, label = 1e-3, label.replace("(Hz)", "(kHz)")
    log = False
    if np.all(grid > 0):
        ratios = grid[1:] / grid[:-1]
        log = bool(np.allclose(ratios, ratios[0], rtol=1e-3) and not np.isclose(ratios[0], 1))
    return ParamScale(factor, label, log)


def format_value(value: float) -> str:
    """Short label of a displayed parameter value (``'0.5'``, ``'−40'``, ``'22.5'``, ``'4000'``)."""
    text = f"{value:.3g}"
    if "e" in text and np.isfinite(value):
        text = f"{value:.0f}"
    return text.replace("-", "\N{MINUS SIGN}")


def round_values(effect: Effect, max_ticks: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Round displayed parameter values inside the grid, and their fractional grid ranks.

    Round values (e.g. −40, −30 ... dB, or 2, 5, 10 kHz on a geometric grid)
    are placed by interpolating the grid (linearly, or in log for geometric
    grids).

    Parameters
    ----------
    effect : Effect
        The effect.
    max_ticks : int
        Largest number of values.

    Returns
    -------
    tuple of numpy.ndarray
        Displayed values (in :func:`param_scale` units) and their ranks.
    """
    scale = param_scale(effect)
    grid = np.asarray(effect.grid, dtype=float) * scale.factor
    ascending = grid[-1] > grid[0]
    values, ranks = (grid, np.arange(len(grid))) if ascending else (
        grid[::-1], np.arange(len(grid))[::-1])
    low, high = values[0], values[-1]
    if scale.log:
        decades = np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
        candidates = (np.array([1.0, 2.0, 5.0])[None, :] * 10.0 ** decades[:, None]).ravel()
        where = np.interp(np.log(candidates), np.log(values), ranks)
    else:
        candidates = MaxNLocator(nbins=max_ticks, steps=[1, 2, 2.5, 5, 10],
                                 integer=bool(np.allclose(grid, np.round(grid)))
                                 ).tick_values(low, high)
        where = np.interp(candidates, values, ranks)
    tolerance = 1e-9 * (high - low)
    inside = (candidates >= low - tolerance) & (candidates <= high + tolerance)
    return candidates[inside], where[inside]


def rank_ticks(effect: Effect, max_ticks: int = 6,
               identity: bool = False) -> tuple[np.ndarray, list[str]]:
    """Tick positions (fractional grid ranks) at round parameter values, and their labels.

    Parameters
    ----------
    effect : Effect
        The effect.
    max_ticks : int
        Largest number of ticks inside the grid (see :func:`round_values`).
    identity : bool
        Also tick the uneffected audio at :attr:`Effect.identity_rank` when it
        lies off the grid, labelled with its value (e.g. 16 bits) or the
        effect's ``identity_label``; grid ticks that would overlap it are
        dropped.

    Returns
    -------
    tuple
        Positions and labels, in increasing position.
    """
    shown, ticks = (list(array) for array in round_values(effect, max_ticks))
    labels = [format_value(value) for value in shown]
    if identity and not 0 <= effect.identity_rank <= len(effect.grid) - 1:
        # The off-grid identity tick: drop grid ticks that would overlap it.
        kept = [i for i, tick in enumerate(ticks) if abs(tick - effect.identity_rank) > 1.5]
        ticks, labels = [ticks[i] for i in kept], [labels[i] for i in kept]
        ticks.append(effect.identity_rank)
        labels.append(effect.identity_label
                      or format_value(effect.identity_value * param_scale(effect).factor))
    order = np.argsort(ticks)
    return np.asarray(ticks)[order], [labels[i] for i in order]


def set_rank_axis(ax: Axes, effect: Effect, identity: bool = False) -> None:
    """Label the x axis of a panel whose x values are grid ranks with the parameter values."""
    ticks, labels = rank_ticks(effect, identity=identity)
    ax.set_xticks(ticks, labels)
    ax.set_xlabel(param_scale(effect).label)


def param_norm(effect: Effect) -> mcolors.Normalize:
    """Colour normalisation of an effect's displayed parameter values (log for geometric grids)."""
    scale = param_scale(effect)
    values = np.asarray(effect.grid, dtype=float) * scale.factor
    kind = mcolors.LogNorm if scale.log else mcolors.Normalize
    return kind(vmin=values.min(), vmax=values.max())


def trajectory_panel(ax: Axes, paths_2d: np.ndarray, originals_2d: np.ndarray,
                     effect: Effect, title: str = "") -> ScalarMappable:
    """Draw 2-D effect trajectories coloured by parameter value, originals as black ×.

    Parameters
    ----------
    ax : Axes
        Panel to draw on.
    paths_2d : numpy.ndarray
        ``(n_files, n_params, 2)`` coordinates of each file's path.
    originals_2d : numpy.ndarray
        ``(n_files, 2)`` coordinates of the original embeddings.
    effect : Effect
        The effect (for the colours).
    title : str
        Panel title.

    Returns
    -------
    ScalarMappable
        The colour mapping, for :func:`param_colorbar`.
    """
    scale = param_scale(effect)
    values = np.asarray(effect.grid, dtype=float) * scale.factor
    norm = param_norm(effect)
    for path in paths_2d:
        ax.plot(path[:, 0], path[:, 1], color="0.75", linewidth=0.6, zorder=1)
        ax.scatter(path[:, 0], path[:, 1], c=values, cmap=PARAM_CMAP, norm=norm, s=9,
                   linewidths=0, zorder=2)
    ax.scatter(originals_2d[:, 0], originals_2d[:, 1], marker="x", color="black", s=28,
               linewidths=1.2, zorder=3, label="original")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ScalarMappable(norm=norm, cmap=PARAM_CMAP)


def param_colorbar(fig: Figure, mappable: ScalarMappable, axes: Axes | Sequence[Axes],
                   effect: Effect, orientation: str = "horizontal") -> None:
    """Add a colour bar labelled with the effect's parameter and unit."""
    bar = fig.colorbar(mappable, ax=axes, orientation=orientation, shrink=0.9,
                       aspect=25, pad=0.02)
    bar.set_label(param_scale(effect).label)
    values, _ = round_values(effect)
    bar.set_ticks(values, labels=[format_value(value) for value in values])
    bar.ax.minorticks_off()


def r2_title(r2: float) -> str:
    """An R² as the published 3.1 notebook titled its panels: ``$R^2 \\approx 0.1234$``."""
    return f"$R^2 \\approx {r2:.4f}$"


def correlation_panel(ax: Axes, projections: np.ndarray, r2: float, effect: Effect,
                      title: str = "") -> None:
    """Projection of effect paths on a direction against the parameter rank.

    Parameters
    ----------
    ax : Axes
        Panel to draw on.
    projections : numpy.ndarray
        ``(n_files, n_params)`` coordinate of every file's path on the direction.
    r2 : float
        Squared Spearman correlation, shown in the title as :func:`r2_title` writes it.
    effect : Effect
        The effect (x-axis ticks and label).
    title : str
        Text before the R² in the title.
    """
    projections = np.atleast_2d(projections)
    ranks = np.arange(projections.shape[1])
    for row in projections:
        ax.plot(ranks, row, color="tab:blue", alpha=max(0.08, 1 / np.sqrt(len(projections))),
                linewidth=0.7)
    if len(projections) > 1:
        ax.plot(ranks, np.median(projections, axis=0), color="black", linewidth=1.4,
                label="median")
    ax.set_title(f"{title}{r2_title(r2)}")
    set_rank_axis(ax, effect)
    ax.set_ylabel("projection")


def unit_interval(values: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Finite R² values with rounding past 0 or 1 (within ``tolerance``) clipped onto [0, 1].

    A squared correlation of 1 can come out as 1 + 4e-16; a histogram on
    [0, 1] would leave such files out of its last bin.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    rounding = (values > -tolerance) & (values < 1 + tolerance)
    return np.where(rounding, np.clip(values, 0.0, 1.0), values)


def r2_histogram_panel(ax: Axes, r2: np.ndarray, title: str = "", bins: int = 20) -> None:
    """Histogram of sample-wise R² values on [0, 1] with their median marked."""
    r2 = unit_interval(r2)
    ax.hist(r2, bins=np.linspace(0, 1, bins + 1), color="tab:blue", edgecolor="white",
            linewidth=0.4)
    if len(r2):
        median = float(np.median(r2))
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
        title = f"{title} (median {median:.2f})" if title else f"median {median:.2f}"
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.set_xlabel("sample-wise R²")
    ax.set_ylabel("files")


def singular_value_panel(ax: Axes, sv_directions: np.ndarray, sv_originals: np.ndarray,
                         title: str = "", max_components: int = 40,
                         thresholds: Sequence[float] = SV_THRESHOLDS) -> None:
    """Normalised singular values of CCA directions against those of the original data.

    Parameters
    ----------
    ax : Axes
        Panel to draw on.
    sv_directions, sv_originals : numpy.ndarray
        Singular values divided by the largest (one or several profiles, as
        ``(n,)`` or ``(n_profiles, n)`` with NaN padding).
    title : str
        Panel title.
    max_components : int
        Number of leading singular values shown.
    thresholds : sequence of float
        Fractions of the largest singular value drawn as dotted lines.
    """
    for values, label, color in ((sv_directions, "sample-wise CCA directions", "tab:red"),
                                 (sv_originals, "original data (centred)", "0.4")):
        values = np.atleast_2d(values)[:, :max_components]
        index = np.arange(1, values.shape[1] + 1)
        if len(values) == 1:
            ax.plot(index, values[0], marker=".", markersize=3, color=color, label=label)
        else:
            ax.fill_between(index, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                            color=color, alpha=0.2, linewidth=0)
            ax.plot(index, np.nanmedian(values, axis=0), color=color, label=label)
    for threshold in thresholds:
        ax.axhline(threshold, color="black", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, 1.03)
    ax.set_xlim(0.5, None)
    ax.set_title(title)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("σ / σ₁")


def curve_style(index: int, n_points: int, n_curves: int) -> dict:
    """Line style, marker and marker spacing of the ``index``-th of ``n_curves`` curves.

    Curves that coincide stay visible: each gets its own dash pattern and
    marker (:data:`CURVE_DASHES`, :data:`CURVE_MARKERS`), and markers every
    few points starting at an offset of its own, so the markers of two equal
    curves alternate along them.

    Parameters
    ----------
    index : int
        Position of the curve (the same curve keeps the same index in every panel).
    n_points : int
        Points of the curve.
    n_curves : int
        Curves that may share a panel.

    Returns
    -------
    dict
        Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.
    """
    step = max(2, min(n_curves, n_points // 3))
    return {"linestyle": CURVE_DASHES[index % len(CURVE_DASHES)],
            "marker": CURVE_MARKERS[index % len(CURVE_MARKERS)],
            "markevery": (index % step, step), "markersize": 3.5}


def standard_error_band(ax: Axes, x: np.ndarray, mean: np.ndarray, error: np.ndarray,
                        color: str, alpha: float = BAND_ALPHA) -> None:
    """Shade ``mean ± error`` (nothing where the error is not finite), labelled ``_se_band``."""
    mean, error = np.asarray(mean, dtype=float), np.asarray(error, dtype=float)
    where = np.isfinite(mean) & np.isfinite(error)
    if where.any():
        ax.fill_between(x, mean - error, mean + error, where=where, color=color,
                        alpha=alpha, linewidth=0, label="_se_band")


def roc_auc_panel(ax: Axes, curves: Mapping[str, np.ndarray], identity: Mapping[str, float],
                  effect: Effect, title: str = "",
                  colors: Mapping[str, str] | None = None,
                  errors: Mapping[str, np.ndarray] | None = None,
                  identity_errors: Mapping[str, float] | None = None,
                  styles: Mapping[str, dict] | None = None,
                  labels: Mapping[str, str] | None = None) -> None:
    """ROC AUC against the effect parameter, one curve per desensitisation method.

    Parameters
    ----------
    ax : Axes
        Panel to draw on.
    curves : mapping
        Method key (``''`` for none, see :func:`aesens.analysis.methods.display_name`) to
        ``(n_params,)`` ROC AUC in grid order (NaN where missing).
    identity : mapping
        Method to the orig/orig ROC AUC, drawn as a star at
        :attr:`Effect.identity_rank` (the uneffected audio's place on the axis).
    effect : Effect
        The effect.
    title : str
        Panel title.
    colors : mapping, optional
        Method to colour (default: the colour cycle in the order of ``curves``).
    errors, identity_errors : mapping, optional
        Method to the standard error of each point of its curve and of its
        star: shaded around the curve (:func:`standard_error_band`), an error
        bar on the star.
    styles : mapping, optional
        Method to :func:`curve_style` keywords (default: by position in ``curves``).
    labels : mapping, optional
        Method to its legend label (default: :func:`display_name`).
    """
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ranks = np.arange(len(effect.grid))
    for index, (method, auc) in enumerate(curves.items()):
        color = (colors or {}).get(method, cycle[index % len(cycle)])
        style = (styles or {}).get(method) or curve_style(index, len(ranks), len(curves))
        ax.plot(ranks, auc, color=color, linewidth=1.1,
                label=(labels or {}).get(method, display_name(method)), **style)
        if errors is not None and method in errors:
            # fainter when many bands overlap, so that the curves stay readable
            standard_error_band(ax, ranks, auc, errors[method], color,
                                alpha=BAND_ALPHA * min(1.0, 4 / len(curves)))
        if method in identity and np.isfinite(identity[method]):
            error = (identity_errors or {}).get(method, np.nan)
            ax.errorbar([effect.identity_rank], [identity[method]],
                        yerr=[error] if np.isfinite(error) else None, marker="*",
                        markersize=7, color=color, linestyle="none", elinewidth=0.8,
                        label="_orig_orig")
    ax.axvline(effect.identity_rank, color="0.6", linestyle=":", linewidth=0.8)
    set_rank_axis(ax, effect, identity=True)
    ax.set_ylabel("ROC AUC")
    ax.set_title(title)


def figure_grid(n_rows: int, n_cols: int, panel_size: tuple[float, float] = (2.2, 1.8),
                **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure of ``n_rows x n_cols`` panels (always a 2-D array of axes), constrained layout."""
    width, height = panel_size
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols + 0.6, height * n_rows + 0.5),
                             squeeze=False, layout="constrained", **kwargs)
    return fig, axes


def style() -> dict:
    """Matplotlib rc settings of every figure (use with ``matplotlib.rc_context``)."""
    return {"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1,
            "legend.fontsize": FONT_SIZE - 1, "figure.titlesize": FONT_SIZE + 1,
            "savefig.dpi": PNG_DPI, "pdf.fonttype": 42}

"""The paper's figures as the published notebooks drew and named them.

Each figure has the published panels when the paper's embeddings
(:data:`PAPER_EMBEDDINGS`) are present, and falls back to what exists
otherwise (other embeddings, effects or instruments: the first ones found):

- 2B.1 :func:`umap_figure`, saved ``plots/umap/umap_<instrument>_<indices>.pdf``:
  per embedding (rows) and effect (columns :data:`UMAP_EFFECTS`),
  ``UMAP(n_neighbors=3)`` fitted on the chosen train files' effected paths of
  one instrument (default :data:`UMAP_INSTRUMENT`, file index 0), the
  originals and each path drawn through ``reducer.transform``
  (:func:`umap_transformed`);
- 3.1 ``plots/corr/corr_<instrument>.png``:
  :func:`aesens.reporting.figures.global_correlation_grid`;
- 3.5 :func:`svd_figure`, saved ``plots/svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf``:
  the panels :data:`SVD_TRIPLES`;
- 4 :func:`rocauc_figure` and :func:`rocauc_legend`, saved
  ``plots/rocauc_curves/rocauc_two_paper.pdf`` and ``rocauc_two_paper_legend.pdf``:
  rows :data:`ROCAUC_ROWS`, column groups :data:`ROCAUC_GROUPS`, each for
  train orig / test effected and train effected / test orig, x = the
  parameter value with the original audio at the effect's identity value.

:func:`aesens.reporting.figures.render_all` saves them all; the notebooks draw them one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from aesens import layout
from aesens.analysis.methods import display_name, result_name
from aesens.analysis.sensitivity import (
    analyse,
    find_effects,
    find_embeddings,
    load,
    present_instruments,
)
from aesens.classification.results import load_results
from aesens.effects import get_effect
from aesens.errors import AesensError
from aesens.layout import PathLike
from aesens.reporting import plots
from aesens.reporting.roc_figures import roc_auc_curves

#: The paper's embeddings, in the order of its figures' rows and columns.
PAPER_EMBEDDINGS = ("openl3", "panns", "clap")
#: Effects (columns) of the 2B.1 UMAP figure, in the published order.
UMAP_EFFECTS = ("lowpass_cheby", "gain", "reverb", "bitcrush")
#: Default instrument and file indices (among its train files) of the 2B.1 figure.
UMAP_INSTRUMENT = "flute"
UMAP_INDICES = (0,)
#: UMAP neighbourhood size of 2B.1.
UMAP_NEIGHBORS = 3
#: Panels (embedding, effect, instrument) of the 3.5 figure.
SVD_TRIPLES = (("clap", "lowpass_cheby", "cello"), ("panns", "reverb", "cello"),
               ("openl3", "gain", "cello"))
#: Instrument of the 3.5 panels when they fall back to other embeddings or effects.
SVD_INSTRUMENT = "cello"
#: Rows (embedding, effect, instrument) of the figure of section 4.
ROCAUC_ROWS = (("openl3", "reverb", "cello"), ("panns", "gain", "organ"),
               ("clap", "lowpass_cheby", "guitar_acc"))
#: Column groups of the figure of section 4: the methods drawn in each (published keys).
ROCAUC_GROUPS = (("", "-avgdirproj", "-cca_samplewise_svd-0.4", "-pcaproj_nonnorm"),
                 ("", "-cca_samplewise_svd-0.3", "-cca_samplewise_svd-0.4",
                  "-cca_samplewise_svd-0.5"))
#: Folders (under ``plots/``) and names of the saved files.
CORR_FOLDER, UMAP_FOLDER = "corr", "umap"
SVD_FOLDER, SVD_NAME = "svd_singvals_ccadirs", "svd_singvals_ccadirs_paper"
ROCAUC_FOLDER, ROCAUC_NAME = "rocauc_curves", "rocauc_two_paper"
ROCAUC_LEGEND_NAME = f"{ROCAUC_NAME}_legend"
#: Every folder the published notebooks save into.
PLOT_FOLDERS = (CORR_FOLDER, UMAP_FOLDER, SVD_FOLDER, ROCAUC_FOLDER)


def make_plot_folders(plots_dir: PathLike) -> list[Path]:
    """Create ``plots/`` and the sub-folders the published notebooks save into."""
    folders = [Path(plots_dir) / name for name in PLOT_FOLDERS]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def paper_order(names: Sequence[str], paper: Sequence[str]) -> list[str]:
    """``names`` with those of ``paper`` first, in the paper's order, then the others."""
    names = list(dict.fromkeys(names))
    return [name for name in paper if name in names] + [n for n in names if n not in paper]


def paper_embeddings(embeddings_dir: PathLike = "embeddings",
                     embeddings: Sequence[str] | None = None) -> list[str]:
    """Embeddings with grouped files (of ``embeddings``, if given): the paper's (in its order)
    if any, else every one found."""
    found = [name for name in find_embeddings(embeddings_dir)
             if embeddings is None or name in embeddings]
    paper = [name for name in PAPER_EMBEDDINGS if name in found]
    return paper or found


def _instrument(labels: Sequence[str], preferred: str) -> str:
    present = present_instruments(labels)
    if not present:
        raise AesensError("no train file of any instrument")
    return preferred if preferred in present else present[0]


def _first_pairs(pairs: Sequence[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """Up to ``count`` of ``pairs``: the first pair of every embedding first, then the others."""
    chosen: list[tuple[str, str]] = []
    for pair in pairs:
        if pair[0] not in {c[0] for c in chosen} and len(chosen) < count:
            chosen.append(pair)
    return chosen + [pair for pair in pairs if pair not in chosen][:count - len(chosen)]


def paper_sorted(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(embedding, effect) pairs, the paper's embeddings first (:func:`paper_order`), then by
    effect in :data:`~aesens.effects.EFFECTS` order."""
    from aesens.effects import EFFECTS

    embeddings = paper_order([pair[0] for pair in pairs], PAPER_EMBEDDINGS)
    effects = list(EFFECTS)
    return sorted(pairs, key=lambda pair: (embeddings.index(pair[0]), effects.index(pair[1])
                                           if pair[1] in effects else len(effects)))


# --------------------------------------------------------------------------- 2B.1 UMAP


def umap_transformed(paths: np.ndarray, originals: np.ndarray,
                     n_neighbors: int = UMAP_NEIGHBORS,
                     random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The published 2B.1 view: UMAP fitted on the paths, everything drawn through ``transform``.

    ``UMAP(n_neighbors=3)`` is fitted on the paths stacked; then the
    originals and each file's path are placed with ``reducer.transform``
    (as published; the fitted layout of the paths themselves is not shown).

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)`` effected paths of the chosen files.
    originals : numpy.ndarray
        ``(n_files, dim)`` their original embeddings.
    n_neighbors : int
        UMAP neighbourhood size.
    random_state : int, optional
        Seed of the layout (the published notebook set none), also of ARPACK
        (:func:`aesens.analysis.seeding.seeded_arpack`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_files, n_params, 2)`` and ``(n_files, 2)`` coordinates.
    """
    import umap  # imported here: slow to import and only needed for this view

    from aesens.analysis.seeding import seeded_arpack

    paths = np.asarray(paths)
    n_files, n_params, dim = paths.shape
    reducer = umap.UMAP(n_neighbors=n_neighbors, random_state=random_state)
    with seeded_arpack(random_state):
        reducer.fit(paths.reshape(n_files * n_params, dim))
        originals_2d = reducer.transform(np.asarray(originals).reshape(n_files, dim))
        paths_2d = np.stack([reducer.transform(path) for path in paths])
    return paths_2d, originals_2d


def umap_selection(embeddings_dir: PathLike = "embeddings", instrument: str | None = None,
                   embeddings: Sequence[str] | None = None
                   ) -> tuple[list[tuple[str, str]], str]:
    """Panels (embedding, effect) of the 2B.1 figure and its instrument.

    Rows: :func:`paper_embeddings` (of ``embeddings``, if given); columns:
    :data:`UMAP_EFFECTS` present (else the effects found); instrument: the given one, else
    :data:`UMAP_INSTRUMENT` if the first embedding has train files of it,
    else its first instrument.
    """
    embeddings = paper_embeddings(embeddings_dir, embeddings)
    if not embeddings:
        raise AesensError(f"no grouped embeddings in {Path(embeddings_dir) / 'grouped'}; run "
                          "group_effect_params.py first")
    found = [effect for name in embeddings for effect in find_effects(name, embeddings_dir)]
    effects = [effect for effect in UMAP_EFFECTS if effect in found] or list(
        dict.fromkeys(found))
    pairs = [(name, effect) for name in embeddings for effect in effects
             if effect in find_effects(name, embeddings_dir)]
    if instrument is None:
        instrument = _instrument(load(*pairs[0], embeddings_dir).Y_train.astype(str),
                                 UMAP_INSTRUMENT)
    return pairs, instrument


def umap_panels(pairs: Sequence[tuple[str, str]], instrument: str,
                indices: Sequence[int] = UMAP_INDICES, embeddings_dir: PathLike = "embeddings",
                seed: int = 0) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Coordinates of every panel of the 2B.1 figure (see :func:`umap_transformed`).

    ``indices`` pick files among the train files of ``instrument`` (in
    train-set order).

    Raises
    ------
    AesensError
        If an embedding has no such file.
    """
    coordinates = {}
    for embedding, effect in pairs:
        sweep = load(embedding, effect, embeddings_dir)
        rows = np.flatnonzero(sweep.Y_train.astype(str) == instrument)
        if not len(rows) or max(indices) >= len(rows) or min(indices) < -len(rows):
            raise AesensError(f"{embedding}/{effect} has {len(rows)} train files of "
                              f"{instrument!r}; choose indices below {len(rows)}")
        chosen = rows[list(indices)]
        coordinates[embedding, effect] = umap_transformed(sweep.paths()[chosen],
                                                          sweep.train_A[chosen],
                                                          random_state=seed)
    return coordinates


def umap_name(instrument: str, indices: Sequence[int] = UMAP_INDICES) -> str:
    """``umap_<instrument>_<indices>`` (indices joined by ``_``), as published."""
    return f"umap_{instrument}_{'_'.join(str(int(index)) for index in indices)}"


# --------------------------------------------------------------------------- 3.5 SVD


def svd_triples(embeddings_dir: PathLike = "embeddings",
                embeddings: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """Panels of the 3.5 figure: :data:`SVD_TRIPLES` that exist, else the first pairs found.

    Only ``embeddings``, if given. The fall-back takes up to three (embedding,
    effect) pairs with grouped files, one per embedding first, with
    :data:`SVD_INSTRUMENT` where it has train files, else the first instrument.
    """
    def instruments(embedding: str, effect: str) -> list[str]:
        return present_instruments(load(embedding, effect, embeddings_dir).Y_train.astype(str))

    names = paper_embeddings(embeddings_dir, embeddings)
    found = [t for t in SVD_TRIPLES if t[0] in names and t[1] in find_effects(t[0], embeddings_dir)
             and t[2] in instruments(t[0], t[1])]
    if found:
        return found
    pairs = [(name, effect) for name in names for effect in find_effects(name, embeddings_dir)]
    return [(embedding, effect, _instrument(instruments(embedding, effect), SVD_INSTRUMENT))
            for embedding, effect in _first_pairs(pairs, len(SVD_TRIPLES))]


def svd_figure(triples: Sequence[tuple[str, str, str]], embeddings_dir: PathLike = "embeddings",
               models_dir: PathLike | None = None) -> Figure:
    """The 3.5 figure: normalised singular values, one panel per (embedding, effect, instrument).

    Each panel: ``np.linalg.svd`` of the instrument's rows of ``cca_dirs``
    (constant paths left out) and of its centred original train
    embeddings, each divided by its largest value.
    """
    if not triples:
        raise AesensError("no (embedding, effect, instrument) panel to show; run "
                          "group_effect_params.py first")
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(1, len(triples), (2.2, 1.8), sharey=True)
        for ax, (embedding, effect, instrument) in zip(axes[0], triples, strict=True):
            result = analyse(embedding, effect, embeddings_dir, models_dir).instruments.get(
                instrument)
            if result is None:
                raise AesensError(f"no train file of {instrument!r} in {embedding}/{effect}")
            plots.singular_value_panel(ax, result.sv_directions, result.sv_originals,
                                       title=f"{embedding}, {effect}, {instrument}")
        for ax in axes[0, 1:]:
            ax.set_ylabel("")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


# --------------------------------------------------------------------------- 4 ROC AUC


def rocauc_rows(results_dir: PathLike = "results",
                embeddings: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """Rows of the figure of section 4: :data:`ROCAUC_ROWS` with results, else the first found.

    Only ``embeddings``, if given. The fall-back takes up to three (embedding,
    effect) pairs with results, one per embedding first, each with the
    instrument of the published row of the same position where it has
    results, else the first.
    """
    def instruments(embedding: str, effect: str) -> list[str]:
        return present_instruments(load_results(effect, embedding, results_dir)["instrument"])

    available = {name: effects for name, effects in layout.find_results(results_dir).items()
                 if embeddings is None or name in embeddings}
    found = [row for row in ROCAUC_ROWS if row[1] in available.get(row[0], ())
             and row[2] in instruments(row[0], row[1])]
    if found:
        return found
    pairs = [(embedding, effect) for embedding in paper_order(list(available), PAPER_EMBEDDINGS)
             for effect in available[embedding]]
    return [(embedding, effect, _instrument(instruments(embedding, effect), ROCAUC_ROWS[i][2]))
            for i, (embedding, effect) in enumerate(_first_pairs(pairs, len(ROCAUC_ROWS)))]


def curve_with_original(curve: np.ndarray, identity_auc: float,
                        effect_name: str) -> tuple[np.ndarray, np.ndarray]:
    """A ROC AUC curve against the parameter value, the original audio inserted at its value.

    The x values are the grid values and the effect's identity value (0 dB,
    16 bits, 22500 Hz, room size 0), sorted; the original's y value is the
    orig/orig ROC AUC.
    """
    effect = get_effect(effect_name)
    x = np.append(np.asarray(effect.grid, dtype=float), float(effect.identity_value))
    y = np.append(np.asarray(curve, dtype=float), identity_auc)
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _method_colors(groups: Sequence[Sequence[str]]) -> dict[str, str]:
    keys = list(dict.fromkeys(result_name(key) for group in groups for key in group))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {key: cycle[index % len(cycle)] for index, key in enumerate(keys)}


def rocauc_figure(rows: Sequence[tuple[str, str, str]], results_dir: PathLike = "results",
                  groups: Sequence[Sequence[str]] = ROCAUC_GROUPS) -> Figure:
    """The figure of section 4: ROC AUC against the parameter value, per method.

    One row per (embedding, effect, instrument); per method group two
    columns, train orig / test effected and train effected / test orig. The
    original audio is a point of every curve, at the effect's identity value
    (:func:`curve_with_original`). Methods without results are left out.
    """
    if not rows:
        raise AesensError(f"no classification results in {results_dir}; run "
                          "desensitize_classif.py first")
    colors = _method_colors(groups)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(rows), 2 * len(groups), (2.2, 1.7))
        for row, (embedding, effect, instrument) in enumerate(rows):
            table = load_results(effect, embedding, results_dir)
            effect_info = get_effect(effect)
            for index, methods in enumerate(groups):
                for side, train_effected in enumerate((False, True)):
                    ax = axes[row, 2 * index + side]
                    curves, identity = roc_auc_curves(table, effect_info, train_effected,
                                                      instrument, methods)
                    for method, curve in curves.items():
                        x, y = curve_with_original(curve, identity[method], effect)
                        ax.plot(x, y, "--" if method == "" else "-", color=colors[method],
                                linewidth=1.0, marker=".", markersize=2.5,
                                label=display_name(method))
                    if plots.param_scale(effect_info).log:
                        ax.set_xscale("log")
                    which = "train eff. / test orig" if train_effected else \
                        "train orig / test eff."
                    ax.set_title(f"{embedding}, {effect}, {instrument}\n{which}")
                    ax.set_xlabel(effect_info.unit)
                    if 2 * index + side == 0:
                        ax.set_ylabel("ROC AUC")
    return fig


def rocauc_legend(groups: Sequence[Sequence[str]] = ROCAUC_GROUPS) -> Figure:
    """The legend of :func:`rocauc_figure` alone (the published figure saved it apart)."""
    colors = _method_colors(groups)
    with plt.rc_context(plots.style()):
        fig = plt.figure(figsize=(6.5, 0.45))
        handles = [plt.Line2D([], [], color=color, linestyle="--" if key == "" else "-",
                              marker=".", label=display_name(key))
                   for key, color in colors.items()]
        fig.legend(handles=handles, loc="center", ncols=len(handles), frameon=False)
    return fig

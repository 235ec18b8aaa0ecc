"""The paper's figures and correlation tables, from the pipeline's outputs.

``python -m aesens.figures`` renders, for every embedding and effect whose
grouped file exists (``embeddings/grouped/<embedding>/<effect>.h5``):

- ``umap_trajectories``: UMAP trajectories, embeddings (rows) x effects (columns);
- ``global_correlation_<instrument>``: projection of the test paths on the
  instrument's global CCA direction against the parameter, R² in each
  title, effects (rows) x embeddings (columns);
- ``samplewise_r2_histograms``: sample-wise R² of every train file, effects x embeddings;
- ``singular_values``: normalised singular values of the sample-wise CCA
  directions against those of the centred original data (median and range
  over instruments), effects x embeddings; ``singular_values_<embedding>_<effect>``
  shows one panel per instrument;
- ``roc_auc_<embedding>``: ROC AUC against the effect parameter (train orig /
  test effected, train effected / test orig), one curve per
  desensitisation method, from ``results/<effect>/result_<embedding>.csv``;

as PDF and PNG in ``plots/``, plus ``results/correlations.csv`` and
``results/<effect>/r2_<embedding>.txt``, then the summary report
(:mod:`aesens.report`).

The functions below are also what the notebooks call: :func:`analyse` and
:func:`umap_coordinates` compute (cached per embedding and effect), the
``*_figure`` / ``*_grid`` functions draw with :mod:`aesens.plots`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aesens import plots, store
from aesens.aggregate import load_grouped
from aesens.cca import (
    ConstantPathWarning,
    global_cca_direction,
    global_r2,
    project,
    samplewise_cca_directions,
    samplewise_r2,
    singular_value_profiles,
    umap_trajectories,
)
from aesens.dataset import INSTRUMENTS
from aesens.desensitize import METHODS
from aesens.effects import EFFECTS, Effect, get_effect
from aesens.errors import AesensError, run_cli

PathLike = str | os.PathLike
#: Output formats of :func:`render_all` by default.
DEFAULT_FORMATS = ("pdf", "png")
#: Files shown per UMAP panel by default.
DEFAULT_UMAP_FILES = 5
#: Train/test labels of the classification results for the uneffected audio.
ORIGINAL_SET = "orig"


# --------------------------------------------------------------------------- discovery


def default_dirs(embeddings_dir: PathLike | None = None,
                 results_dir: PathLike | None = None) -> tuple[Path, Path]:
    """Folders of the embeddings and results, found if not given.

    ``None`` means: the first of ``.``, ``..``, ``./demo`` and ``../demo``
    that holds ``embeddings/grouped`` (so a notebook finds the outputs of
    ``make demo`` or of stages run at the repository root); the results
    folder then sits beside the embeddings folder.

    Returns
    -------
    tuple of Path
        ``(embeddings_dir, results_dir)``.

    Raises
    ------
    AesensError
        If no folder holds grouped embeddings.
    """
    if embeddings_dir is None:
        candidates = [Path(".", "embeddings"), Path("..", "embeddings"),
                      Path("demo", "embeddings"), Path("..", "demo", "embeddings")]
        found = [path for path in candidates if (path / "grouped").is_dir()]
        if not found:
            raise AesensError("no embeddings/grouped folder in ., .., demo or ../demo; run the "
                              "pipeline (make demo) or give embeddings_dir")
        embeddings_dir = found[0]
    embeddings_dir = Path(embeddings_dir)
    results_dir = embeddings_dir.parent / "results" if results_dir is None else Path(results_dir)
    return embeddings_dir, results_dir


def find_embeddings(embeddings_dir: PathLike = "embeddings") -> list[str]:
    """Embeddings with at least one grouped effect file, sorted by name."""
    root = Path(embeddings_dir) / "grouped"
    if not root.is_dir():
        return []
    return sorted(path.name for path in root.iterdir()
                  if path.is_dir() and find_effects(path.name, embeddings_dir))


def find_effects(embedding: str, embeddings_dir: PathLike = "embeddings") -> list[str]:
    """Effects (in :data:`~aesens.effects.EFFECTS` order) with a grouped file for an embedding."""
    return [name for name in EFFECTS
            if store.grouped_path(embedding, name, embeddings_dir).exists()]


def present_instruments(labels: Iterable[str]) -> list[str]:
    """Instrument long names present in ``labels``, in IRMAS folder order."""
    present = set(np.asarray(list(labels)).astype(str))
    return [name for name in INSTRUMENTS.values() if name in present] + sorted(
        present - set(INSTRUMENTS.values()))


def default_selection(embeddings_dir: PathLike = "embeddings", embedding: str | None = None,
                      effect: str | None = None) -> tuple[str, str]:
    """An embedding and effect with grouped data: the given ones, else the first found.

    Raises
    ------
    AesensError
        If there is no grouped file (for the given embedding).
    """
    embedding = embedding or next(iter(find_embeddings(embeddings_dir)), None)
    if embedding is None:
        raise AesensError(f"no grouped embeddings in {Path(embeddings_dir) / 'grouped'}; run "
                          "group_effect_params.py first")
    effects = find_effects(embedding, embeddings_dir)
    if effect is None and not effects:
        raise AesensError(f"no grouped file of {embedding} in {Path(embeddings_dir) / 'grouped'}")
    return embedding, effect or effects[0]


def result_path(effect: str, embedding: str, results_dir: PathLike = "results") -> Path:
    """Path of the classification results of one effect and embedding."""
    return Path(results_dir) / effect / f"result_{embedding}.csv"


def find_results(results_dir: PathLike = "results") -> dict[str, list[str]]:
    """Embeddings with classification results, each with its effects (in EFFECTS order)."""
    found: dict[str, list[str]] = {}
    for effect in EFFECTS:
        for path in sorted((Path(results_dir) / effect).glob("result_*.csv")):
            found.setdefault(path.stem[len("result_"):], []).append(effect)
    return dict(sorted(found.items()))


def result_selection(results_dir: PathLike = "results", embedding: str | None = None,
                     effect: str | None = None) -> tuple[str, str]:
    """An embedding and effect with classification results: the given ones, else the first found.

    Raises
    ------
    AesensError
        If there are no results (for the given embedding).
    """
    available = find_results(results_dir)
    embedding = embedding or next(iter(available), None)
    if embedding is None or (effect is None and embedding not in available):
        raise AesensError(f"no classification results in {results_dir} for "
                          f"{embedding or 'any embedding'}; run desensitize_classif.py first")
    return embedding, effect or available[embedding][0]


# --------------------------------------------------------------------------- computation


@lru_cache(maxsize=1)
def _load_cached(embedding: str, effect: str, embeddings_dir: str) -> dict[str, np.ndarray]:
    return load_grouped(embedding, effect, embeddings_dir)


def load(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> dict:
    """:func:`aesens.aggregate.load_grouped`, cached for the last embedding and effect."""
    return _load_cached(embedding, effect, str(Path(embeddings_dir).resolve()))


def sweep_paths(data: Mapping[str, np.ndarray], part: str = "train") -> np.ndarray:
    """``(n_files, n_params, dim)`` paths of the train (or test) files of loaded grouped data."""
    return np.moveaxis(np.asarray(data[f"{part}_Bs"]), 0, 1)


def samplewise_directions(embedding: str, effect: str,
                          embeddings_dir: PathLike = "embeddings") -> np.ndarray:
    """Sample-wise CCA directions of the train files, ``(n_train, dim)``.

    Read from ``averaged/<embedding>/ccadirs_<effect>.h5`` (stage 3.2) when it
    exists, else computed with :func:`aesens.cca.samplewise_cca_directions`.

    Raises
    ------
    AesensError
        If the stored directions do not match the grouped train files.
    """
    data = load(embedding, effect, embeddings_dir)
    path = store.ccadirs_path(embedding, effect, embeddings_dir)
    if path.exists():
        directions = store.read_arrays(path, ["cca_dirs"])["cca_dirs"]
        if directions.shape != data["train_A"].shape:
            raise AesensError(f"{path} holds {directions.shape} directions but the grouped train "
                              f"set is {data['train_A'].shape}; rerun "
                              f"3.2_extract_samplewise_cca_dirs.py for {embedding} {effect}")
        return directions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        return samplewise_cca_directions(sweep_paths(data))


@dataclass(frozen=True)
class InstrumentAnalysis:
    """Sensitivity of one embedding to one effect, for one instrument.

    Attributes
    ----------
    instrument : str
        Instrument long name.
    projections : numpy.ndarray
        ``(n_files, n_params)`` test paths (train paths if the instrument
        has no test file) projected on the global CCA direction.
    global_r2 : float
        R² of those projections against the parameter.
    global_r2_train : float
        R² of the train paths (on which the direction was fitted).
    samplewise_r2 : numpy.ndarray
        ``(n_train_files,)`` R² of each train path on its own direction.
    sv_directions, sv_originals : numpy.ndarray
        Normalised singular values of the sample-wise directions and of
        the centred original train embeddings.
    n_train, n_test : int
        Numbers of files.
    """

    instrument: str
    projections: np.ndarray
    global_r2: float
    global_r2_train: float
    samplewise_r2: np.ndarray
    sv_directions: np.ndarray
    sv_originals: np.ndarray
    n_train: int
    n_test: int

    def sv_count(self, threshold: float) -> int:
        """Number of direction singular values at least ``threshold`` of the largest."""
        return int(np.sum(self.sv_directions >= threshold))


@dataclass(frozen=True)
class Analysis:
    """Sensitivity of one embedding to one effect, per instrument (see :func:`analyse`)."""

    embedding: str
    effect: Effect
    instruments: dict[str, InstrumentAnalysis]

    def all_samplewise_r2(self, instrument: str | None = None) -> np.ndarray:
        """Sample-wise R² of every train file (of one instrument, or of all)."""
        names = list(self.instruments) if instrument is None else [instrument]
        return np.concatenate([self.instruments[name].samplewise_r2 for name in names])

    def table(self, thresholds: Sequence[float] = plots.SV_THRESHOLDS) -> pd.DataFrame:
        """One row per instrument: R² values, file counts and singular-value counts."""
        rows = []
        for name, result in self.instruments.items():
            row = {"embedding": self.embedding, "effect": self.effect.name, "instrument": name,
                   "n_train": result.n_train, "n_test": result.n_test,
                   "global_r2": result.global_r2, "global_r2_train": result.global_r2_train,
                   "samplewise_r2_median": float(np.nanmedian(result.samplewise_r2))
                   if np.isfinite(result.samplewise_r2).any() else np.nan}
            row.update({f"sv_count_{t:g}": result.sv_count(t) for t in thresholds})
            rows.append(row)
        return pd.DataFrame(rows)


def _analyse_instrument(name: str, train: np.ndarray, test: np.ndarray, originals: np.ndarray,
                        directions: np.ndarray) -> InstrumentAnalysis:
    direction = global_cca_direction(train)
    shown = test if len(test) else train
    finite = ~np.isnan(directions).any(axis=1)
    sv_directions, sv_originals = (singular_value_profiles(directions, originals)
                                   if finite.any() else (np.array([np.nan]),) * 2)
    return InstrumentAnalysis(
        instrument=name, projections=project(shown, direction),
        global_r2=global_r2(shown, direction), global_r2_train=global_r2(train, direction),
        samplewise_r2=samplewise_r2(train, directions), sv_directions=sv_directions,
        sv_originals=sv_originals, n_train=len(train), n_test=len(test))


@lru_cache(maxsize=16)
def _analyse_cached(embedding: str, effect: str, embeddings_dir: str) -> Analysis:
    data = load(embedding, effect, embeddings_dir)
    directions = samplewise_directions(embedding, effect, embeddings_dir)
    train, test = sweep_paths(data, "train"), sweep_paths(data, "test")
    labels_train, labels_test = data["Y_train"].astype(str), data["Y_test"].astype(str)
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        for name in present_instruments(labels_train):
            mask = labels_train == name
            results[name] = _analyse_instrument(name, train[mask], test[labels_test == name],
                                                data["train_A"][mask], directions[mask])
    return Analysis(embedding, get_effect(effect), results)


def analyse(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Analysis:
    """Global and sample-wise CCA correlations and singular values, per instrument.

    For each instrument: the global CCA direction of its train paths, the
    projection of its test paths on it and their R²; the R² of each train
    path on its own sample-wise direction; the normalised singular values
    of its sample-wise directions and of its centred original embeddings.
    Cached per embedding and effect.
    """
    return _analyse_cached(embedding, effect, str(Path(embeddings_dir).resolve()))


def umap_coordinates(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings",
                     n_files: int = DEFAULT_UMAP_FILES, seed: int = 0,
                     instrument: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """UMAP view of the paths of a few train files drawn at random.

    Parameters
    ----------
    embedding, effect : str
        Which grouped data.
    embeddings_dir : path
        Folder holding ``grouped/`` and ``averaged/``.
    n_files : int
        Number of files (fewer if fewer exist).
    seed : int
        Seed of the file draw and of UMAP (change it to shuffle).
    instrument : str, optional
        Draw only files of this instrument.

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_files, n_params, 2)`` path coordinates and ``(n_files, 2)``
        coordinates of the original embeddings.
    """
    data = load(embedding, effect, embeddings_dir)
    candidates = np.arange(len(data["train_A"]))
    if instrument is not None:
        candidates = candidates[data["Y_train"].astype(str) == instrument]
        if not len(candidates):
            raise AesensError(f"no train file of {instrument!r} in {embedding}/{effect}")
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, min(n_files, len(candidates)),
                                                        replace=False))
    with warnings.catch_warnings():
        # Tiny selections make UMAP fall back from spectral initialisation; expected here.
        warnings.simplefilter("ignore", UserWarning)
        return umap_trajectories(sweep_paths(data)[chosen], data["train_A"][chosen],
                                 random_state=seed)


# --------------------------------------------------------------------------- figures


def umap_grid(coordinates: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> Figure:
    """UMAP trajectories, embeddings (rows) x effects (columns), a colour bar per effect.

    Parameters
    ----------
    coordinates : mapping
        ``(embedding, effect) -> (paths_2d, originals_2d)`` from :func:`umap_coordinates`.
    """
    embeddings = list(dict.fromkeys(key[0] for key in coordinates))
    effects = list(dict.fromkeys(key[1] for key in coordinates))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(embeddings), len(effects), (1.7, 1.6))
        for col, name in enumerate(effects):
            effect = get_effect(name)
            mappable = None
            for row, embedding in enumerate(embeddings):
                ax = axes[row, col]
                if (embedding, name) not in coordinates:
                    ax.set_axis_off()
                    continue
                paths_2d, originals_2d = coordinates[embedding, name]
                mappable = plots.trajectory_panel(ax, paths_2d, originals_2d, effect,
                                                  title=name if row == 0 else "")
                if col == 0:
                    ax.set_ylabel(embedding)
            if mappable is not None:
                plots.param_colorbar(fig, mappable, axes[:, col], effect)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper right")
    return fig


def global_correlation_grid(analyses: Mapping[tuple[str, str], Analysis],
                            instrument: str) -> Figure:
    """Projections on an instrument's global CCA direction, effects (rows) x embeddings."""
    embeddings = list(dict.fromkeys(key[0] for key in analyses))
    effects = list(dict.fromkeys(key[1] for key in analyses))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.3, 1.9))
        for (embedding, effect), analysis in analyses.items():
            ax = axes[effects.index(effect), embeddings.index(embedding)]
            result = analysis.instruments.get(instrument)
            if result is None:
                ax.set_axis_off()
                continue
            plots.correlation_panel(ax, result.projections, result.global_r2, analysis.effect,
                                    title=f"{embedding}, {effect}\n", r2_fit=result.global_r2_train)
        fig.suptitle(f"{instrument}, global CCA direction")
    return fig


def r2_histogram_grid(analyses: Mapping[tuple[str, str], Analysis],
                      instrument: str | None = None) -> Figure:
    """Histograms of sample-wise R² values, effects (rows) x embeddings (columns)."""
    embeddings = list(dict.fromkeys(key[0] for key in analyses))
    effects = list(dict.fromkeys(key[1] for key in analyses))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.2, 1.6),
                                      sharex=True)
        for (embedding, effect), analysis in analyses.items():
            ax = axes[effects.index(effect), embeddings.index(embedding)]
            plots.r2_histogram_panel(ax, analysis.all_samplewise_r2(instrument),
                                     title=f"{embedding}, {effect}")
        for ax in axes[:-1].flat:
            ax.set_xlabel("")
        if instrument is not None:
            fig.suptitle(instrument)
    return fig


def _padded(profiles: Sequence[np.ndarray]) -> np.ndarray:
    out = np.full((len(profiles), max(len(p) for p in profiles)), np.nan)
    for row, profile in enumerate(profiles):
        out[row, :len(profile)] = profile
    return out


def singular_value_grid(analyses: Mapping[tuple[str, str], Analysis]) -> Figure:
    """Normalised singular values (median and range over instruments), effects x embeddings."""
    embeddings = list(dict.fromkeys(key[0] for key in analyses))
    effects = list(dict.fromkeys(key[1] for key in analyses))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.2, 1.7))
        for (embedding, effect), analysis in analyses.items():
            results = list(analysis.instruments.values())
            plots.singular_value_panel(axes[effects.index(effect), embeddings.index(embedding)],
                                       _padded([r.sv_directions for r in results]),
                                       _padded([r.sv_originals for r in results]),
                                       title=f"{embedding}, {effect}")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def singular_value_figure(analysis: Analysis, instruments: Sequence[str] | None = None,
                          n_cols: int = 4) -> Figure:
    """Normalised singular values, one panel per instrument, for one embedding and effect."""
    names = list(analysis.instruments) if instruments is None else list(instruments)
    n_cols = min(n_cols, len(names))
    n_rows = -(-len(names) // n_cols)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(n_rows, n_cols, (1.7, 1.5), sharey=True)
        for ax, name in zip(axes.flat, names, strict=False):
            result = analysis.instruments[name]
            plots.singular_value_panel(ax, result.sv_directions, result.sv_originals,
                                       title=name)
        for ax in axes.flat[len(names):]:
            ax.set_axis_off()
        for ax in axes[:, 1:].flat:
            ax.set_ylabel("")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        fig.suptitle(f"{analysis.embedding}, {analysis.effect.name}")
    return fig


def samplewise_correlation_figure(embedding: str, effect: str, index: int,
                                  embeddings_dir: PathLike = "embeddings") -> Figure:
    """One train file's path projected on its own CCA direction and on its instrument's global one.

    Parameters
    ----------
    embedding, effect : str
        Which grouped data.
    index : int
        Row of the file in the train set.
    embeddings_dir : path
        Folder holding ``grouped/`` and ``averaged/``.
    """
    data = load(embedding, effect, embeddings_dir)
    if not 0 <= index < len(data["train_A"]):
        raise AesensError(f"file index {index} is outside 0..{len(data['train_A']) - 1}")
    instrument = str(data["Y_train"][index])
    path = sweep_paths(data)[index]
    own = samplewise_directions(embedding, effect, embeddings_dir)[index]
    mask = data["Y_train"].astype(str) == instrument
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        shared = global_cca_direction(sweep_paths(data)[mask])
    effect_info = get_effect(effect)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(1, 2, (2.8, 2.2), sharex=True)
        for ax, direction, label in ((axes[0, 0], own, "own direction"),
                                     (axes[0, 1], shared, "global direction")):
            projection = project(path, direction)
            plots.correlation_panel(ax, projection[None], float(samplewise_r2(
                path[None], direction[None])[0]), effect_info, title=f"{label}: ")
        fig.suptitle(f"{embedding}, {effect}: train file {index} ({instrument})")
    return fig


def _method_key(method: str, params: str) -> str:
    threshold = json.loads(params).get("svd_thr") if params.strip().startswith("{") else None
    return method if threshold is None else f"{method}:{threshold:g}"


def load_results(effect: str, embedding: str, results_dir: PathLike = "results") -> pd.DataFrame:
    """Classification results of one effect and embedding, with a ``method`` column.

    ``train_set`` and ``test_set`` are read as strings (parameter strings
    such as ``'4'`` or ``'-40.0'`` stay as written); ``method`` is the
    ``embedding`` column without the model name (``''`` for none), followed
    by ``:<threshold>`` when ``embedding_params`` holds an SVD threshold
    (one file may hold several thresholds).

    Raises
    ------
    AesensError
        If the file is missing or lacks a needed column.
    """
    path = result_path(effect, embedding, results_dir)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run desensitize_classif.py for {effect} "
                          f"{embedding} first")
    table = pd.read_csv(path, dtype={"train_set": str, "test_set": str, "embedding": str},
                        keep_default_na=False)
    needed = {"instrument", "train_set", "test_set", "roc_auc", "embedding"}
    if not needed <= set(table.columns):
        raise AesensError(f"{path} lacks columns {sorted(needed - set(table.columns))}; "
                          "rerun desensitize_classif.py")
    prefix = f"{embedding}-"
    params = table["embedding_params"] if "embedding_params" in table else [""] * len(table)
    table["method"] = [_method_key(name[len(prefix):] if name.startswith(prefix) else name, text)
                       for name, text in zip(table["embedding"], params, strict=True)]
    table["roc_auc"] = pd.to_numeric(table["roc_auc"], errors="coerce")
    return table


def roc_auc_curves(table: pd.DataFrame, effect: Effect, train_effected: bool,
                   instrument: str | None = None
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

    Returns
    -------
    tuple of dict
        Method to ``(n_params,)`` ROC AUC (NaN where missing), and method to
        the orig/orig ROC AUC; methods in :data:`aesens.desensitize.METHODS` order.
    """
    if instrument is not None:
        table = table[table["instrument"] == instrument]
    other = "train_set" if train_effected else "test_set"
    fixed = "test_set" if train_effected else "train_set"
    rows = table[table[fixed] == ORIGINAL_SET]
    present = set(rows["method"])
    order = sorted(present, key=lambda key: (list(METHODS).index(key.partition(":")[0])
                                             if key.partition(":")[0] in METHODS
                                             else len(METHODS), key))
    curves, identity = {}, {}
    for method in order:
        mean = rows[rows["method"] == method].groupby(other)["roc_auc"].mean()
        curves[method] = mean.reindex(effect.param_strings).to_numpy(dtype=float)
        identity[method] = float(mean.get(ORIGINAL_SET, np.nan))
    return curves, identity


def roc_auc_figure(tables: Mapping[str, pd.DataFrame], embedding: str,
                   instrument: str | None = None) -> Figure:
    """ROC AUC against the effect parameter: effects (rows) x (train orig/test effected,
    train effected/test orig), one curve per method; stars mark orig/orig."""
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(tables), 2, (3.0, 2.0), sharey="row")
        for row, (name, table) in enumerate(tables.items()):
            effect = get_effect(name)
            for col, train_effected in enumerate((False, True)):
                curves, identity = roc_auc_curves(table, effect, train_effected, instrument)
                title = ("train effected / test orig" if train_effected
                         else "train orig / test effected")
                plots.roc_auc_panel(axes[row, col], curves, identity, effect,
                                    title=f"{name}: {title}")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles.append(Line2D([], [], marker="*", markersize=7, color="0.3", linestyle="none"))
        labels.append("train orig / test orig")
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)))
        who = "mean over instruments" if instrument is None else instrument
        fig.suptitle(f"{embedding} ({who})")
    return fig


def save(fig: Figure, plots_dir: PathLike, name: str,
         formats: Sequence[str] = DEFAULT_FORMATS, close: bool = True) -> list[Path]:
    """Save a figure as ``<plots_dir>/<name>.<format>`` for each format (and close it)."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = plots_dir / f"{name}.{fmt}"
        fig.savefig(path)
        paths.append(path)
    if close:
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------- tables


def write_correlations(analyses: Mapping[tuple[str, str], Analysis],
                       results_dir: PathLike = "results") -> list[Path]:
    """Write ``correlations.csv`` and ``<effect>/r2_<embedding>.txt`` under ``results_dir``.

    Returns
    -------
    list of Path
        The files written.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    tables = {key: analysis.table() for key, analysis in analyses.items()}
    path = results_dir / "correlations.csv"
    pd.concat(tables.values(), ignore_index=True).to_csv(path, index=False, float_format="%.4f")
    written = [path]
    for (embedding, effect), table in tables.items():
        text_path = results_dir / effect / f"r2_{embedding}.txt"
        text_path.parent.mkdir(parents=True, exist_ok=True)
        body = table.drop(columns=["embedding", "effect"]).to_string(
            index=False, float_format=lambda v: f"{v:.3f}")
        text_path.write_text(f"{embedding}, {effect}: global R² on test paths (direction fitted "
                             f"on train paths), median sample-wise R² of train paths,\nnumbers "
                             f"of normalised singular values of sample-wise CCA directions at "
                             f"least 0.3 / 0.5\n\n{body}\n")
        written.append(text_path)
    return written


# --------------------------------------------------------------------------- command


def render_all(embeddings_dir: PathLike = "embeddings", results_dir: PathLike = "results",
               plots_dir: PathLike = "plots", embeddings: Sequence[str] | None = None,
               effects: Sequence[str] | None = None, formats: Sequence[str] = DEFAULT_FORMATS,
               umap_files: int = DEFAULT_UMAP_FILES, seed: int = 0) -> list[Path]:
    """Render every figure and table for the embeddings and effects present.

    Parameters
    ----------
    embeddings_dir, results_dir, plots_dir : path
        Inputs (grouped, averaged and ccadirs files; classification
        results) and outputs.
    embeddings, effects : sequence of str, optional
        Restrict to these (default: all with grouped files).
    formats : sequence of str
        Figure formats.
    umap_files : int
        Files per UMAP panel (0: no UMAP figure).
    seed : int
        Seed of the UMAP file draw and layout.

    Returns
    -------
    list of Path
        Every file written.

    Raises
    ------
    AesensError
        If no grouped file matches the selection.
    """
    names = list(embeddings) if embeddings else find_embeddings(embeddings_dir)
    for name in effects or ():
        get_effect(name)
    pairs = [(embedding, effect) for embedding in names
             for effect in find_effects(embedding, embeddings_dir)
             if not effects or effect in effects]
    if not pairs:
        raise AesensError(f"no grouped embeddings in {Path(embeddings_dir) / 'grouped'} for "
                          f"embeddings {names or 'any'} and effects {list(effects or EFFECTS)}; "
                          "run group_effect_params.py first")
    analyses: dict[tuple[str, str], Analysis] = {}
    coordinates = {}
    for embedding, effect in pairs:
        print(f"analysing {embedding} / {effect}", flush=True)
        analyses[embedding, effect] = analyse(embedding, effect, embeddings_dir)
        if umap_files:
            coordinates[embedding, effect] = umap_coordinates(embedding, effect, embeddings_dir,
                                                              umap_files, seed)
    written = write_correlations(analyses, results_dir)
    if coordinates:
        written += save(umap_grid(coordinates), plots_dir, "umap_trajectories", formats)
    instruments = present_instruments(name for analysis in analyses.values()
                                      for name in analysis.instruments)
    for instrument in instruments:
        written += save(global_correlation_grid(analyses, instrument), plots_dir,
                        f"global_correlation_{instrument}", formats)
    written += save(r2_histogram_grid(analyses), plots_dir, "samplewise_r2_histograms", formats)
    written += save(singular_value_grid(analyses), plots_dir, "singular_values", formats)
    for (embedding, effect), analysis in analyses.items():
        written += save(singular_value_figure(analysis), plots_dir,
                        f"singular_values_{embedding}_{effect}", formats)
    for embedding in dict.fromkeys(key[0] for key in pairs):
        tables = {effect: load_results(effect, embedding, results_dir)
                  for emb, effect in pairs
                  if emb == embedding and result_path(effect, embedding, results_dir).exists()}
        if tables:
            written += save(roc_auc_figure(tables, embedding), plots_dir,
                            f"roc_auc_{embedding}", formats)
        else:
            print(f"no classification results for {embedding} in {results_dir}: "
                  "skipping its ROC AUC figure", flush=True)
    return written


def _names(value: str) -> list[str]:
    return [name for name in value.split(",") if name]


def main(argv: list[str] | None = None) -> int:
    """Command line: render every figure, the correlation tables and the summary report."""
    from aesens.report import write_summary

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder with grouped/ and averaged/ (default: embeddings)")
    parser.add_argument("--results-dir", default="results",
                        help="classification results in, tables and summary out "
                             "(default: results)")
    parser.add_argument("--plots-dir", default="plots", help="figures out (default: plots)")
    parser.add_argument("--embeddings", type=_names, default=None,
                        help="comma-separated embeddings (default: all present)")
    parser.add_argument("--effects", type=_names, default=None,
                        help="comma-separated effects (default: all present)")
    parser.add_argument("--format", type=_names, default=list(DEFAULT_FORMATS),
                        help="comma-separated figure formats (default: pdf,png)")
    parser.add_argument("--umap-files", type=int, default=DEFAULT_UMAP_FILES,
                        help=f"files per UMAP panel, 0 for none (default: {DEFAULT_UMAP_FILES})")
    parser.add_argument("--seed", type=int, default=0, help="UMAP file draw seed (default: 0)")
    args = parser.parse_args(argv)
    written = render_all(args.embeddings_dir, args.results_dir, args.plots_dir, args.embeddings,
                         args.effects, args.format, args.umap_files, args.seed)
    written.append(write_summary(args.results_dir, args.plots_dir))
    print(f"wrote {len(written)} files:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

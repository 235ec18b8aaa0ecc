"""What the figures and notebooks compute from the pipeline's outputs: discovery and analysis.

- Discovery: the default folders, which embeddings and effects have
  grouped files (:func:`find_embeddings`, :func:`find_effects`), and the
  default selections of the notebooks.
- Analysis, cached per embedding and effect: :func:`analyse` (each
  instrument's global CCA direction, from the classification stage's
  ``deformdir`` pickle when it holds them, its projections and R², the
  sample-wise CCA directions and their singular-value profile),
  :func:`umap_coordinates` and :func:`umap_grid_coordinates`.

:mod:`aesens.reporting.figures` draws these; the notebooks call both.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from aesens import layout, store
from aesens.analysis import DEFAULT_UMAP_FILES
from aesens.analysis.cca import (
    ConstantPathWarning,
    global_cca_direction,
    global_r2,
    project,
    samplewise_cca_directions,
    samplewise_r2,
    singular_value_profiles,
    umap_trajectories,
)
from aesens.analysis.directions import stored_directions
from aesens.analysis.files import (
    GLOBAL_R2_COLUMN,
    read_global_directions,
)
from aesens.analysis.methods import GLOBAL_CCA, SV_THRESHOLD, SV_THRESHOLDS
from aesens.dataset import INSTRUMENTS
from aesens.effects import EFFECTS, Effect, get_effect
from aesens.errors import AesensError
from aesens.layout import PathLike
from aesens.sweep.sweep import Sweep

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


def default_plots_dir(embeddings_dir: PathLike, plots_dir: PathLike | None = None) -> Path:
    """Folder of the figures: given, else ``plots/`` beside the embeddings folder."""
    return Path(embeddings_dir).parent / "plots" if plots_dir is None else Path(plots_dir)


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
            if layout.grouped_path(embedding, name, embeddings_dir).exists()]


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


def result_selection(results_dir: PathLike = "results", embedding: str | None = None,
                     effect: str | None = None) -> tuple[str, str]:
    """An embedding and effect with classification results: the given ones, else the first found.

    Raises
    ------
    AesensError
        If there are no results (for the given embedding).
    """
    available = layout.find_results(results_dir)
    embedding = embedding or next(iter(available), None)
    if embedding is None or (effect is None and embedding not in available):
        raise AesensError(f"no classification results in {results_dir} for "
                          f"{embedding or 'any embedding'}; run desensitize_classif.py first")
    return embedding, effect or available[embedding][0]


# --------------------------------------------------------------------------- computation


@lru_cache(maxsize=1)
def _load_cached(embedding: str, effect: str, embeddings_dir: str) -> Sweep:
    return Sweep.load(embedding, effect, embeddings_dir)


def load(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Sweep:
    """:meth:`aesens.sweep.sweep.Sweep.load`, cached for the last embedding and effect."""
    return _load_cached(embedding, effect, str(Path(embeddings_dir).resolve()))


def samplewise_directions(embedding: str, effect: str,
                          embeddings_dir: PathLike = "embeddings") -> np.ndarray:
    """Sample-wise CCA directions of the train files, ``(n_train, dim)``.

    Read from ``averaged/<embedding>/ccadirs_<effect>.h5`` (stage 3.2) when it
    exists (:func:`aesens.analysis.directions.stored_directions`), else computed with
    :func:`aesens.analysis.cca.samplewise_cca_directions`.

    Raises
    ------
    AesensError
        If the stored directions do not match the grouped train files.
    """
    sweep = load(embedding, effect, embeddings_dir)
    if layout.ccadirs_path(embedding, effect, embeddings_dir).exists():
        return stored_directions(sweep, embeddings_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        return samplewise_cca_directions(sweep.paths())


def direction_count(singular_values: np.ndarray, threshold: float = SV_THRESHOLD) -> float:
    """Number of singular values at least ``threshold`` times the largest (NaN if none finite):
    the number of directions an effect moves the embeddings along."""
    values = np.asarray(singular_values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values) or values.max() <= 0:
        return np.nan
    return float(np.sum(values / values.max() >= threshold))


@dataclass(frozen=True)
class InstrumentAnalysis:
    """Sensitivity of one embedding to one effect, for one instrument.

    Attributes
    ----------
    instrument : str
        Instrument long name.
    projections : numpy.ndarray
        ``(n_train, n_params)`` train paths projected on the global CCA
        direction (the paths it was fitted on, as the published 3.1 notebook
        drew them).
    global_r2 : float
        The paper's global R²: squared Spearman correlation of those
        projections, all settings pooled, with the parameter values
        (:func:`aesens.analysis.cca.global_r2`; in-sample, as published).
    global_r2_test : float
        The same R² of the test paths (held out from the direction's fit);
        NaN when the instrument has no test file.
    samplewise_r2 : numpy.ndarray
        ``(n_train_files,)`` R² of each train path on its own direction.
    sv_directions, sv_originals : numpy.ndarray
        Normalised singular values of the sample-wise directions and of
        the centred original train embeddings.
    n_train, n_test : int
        Numbers of files.
    direction_source : str
        Where the global direction comes from: ``"deformdir"`` (the
        classification stage's pickle) or ``"computed"``.
    """

    instrument: str
    projections: np.ndarray
    global_r2: float
    global_r2_test: float
    samplewise_r2: np.ndarray
    sv_directions: np.ndarray
    sv_originals: np.ndarray
    n_train: int
    n_test: int
    direction_source: str = "computed"

    def sv_count(self, threshold: float) -> int:
        """Number of direction singular values at least ``threshold`` of the largest
        (:func:`direction_count`; 0 if none is finite)."""
        count = direction_count(self.sv_directions, threshold)
        return 0 if np.isnan(count) else int(count)


@dataclass(frozen=True)
class Analysis:
    """Sensitivity of one embedding to one effect, per instrument (see :func:`analyse`).

    Attributes
    ----------
    embedding : str
        Embedding name.
    effect : Effect
        The effect.
    instruments : dict
        Instrument to :class:`InstrumentAnalysis`, in IRMAS folder order.
    train_labels : numpy.ndarray
        Instrument of every train file, in train-set order.
    """

    embedding: str
    effect: Effect
    instruments: dict[str, InstrumentAnalysis]
    train_labels: np.ndarray

    def all_samplewise_r2(self, instrument: str | None = None) -> np.ndarray:
        """Sample-wise R² of the train files (of one instrument, or of all), in train-set order."""
        r2 = np.full(len(self.train_labels), np.nan)
        for name, result in self.instruments.items():
            r2[self.train_labels == name] = result.samplewise_r2
        return r2 if instrument is None else r2[self.train_labels == instrument]

    def table(self, thresholds: Sequence[float] = SV_THRESHOLDS) -> pd.DataFrame:
        """One row per instrument: R² values, file counts and singular-value counts.

        The first columns are those of the published ``correlations.csv``
        (:data:`aesens.analysis.files.CORRELATION_KEYS`, then ``spearman_corr2``,
        the paper's global R²), then ours: ``global_r2_test`` (held out),
        the file counts, the median sample-wise R², where the direction came
        from and the singular-value counts.
        """
        rows = []
        for name, result in self.instruments.items():
            row = {"embedding": self.embedding, "effect": self.effect.name, "instrument": name,
                   "desensitization_method": GLOBAL_CCA.name,
                   GLOBAL_R2_COLUMN: result.global_r2, "global_r2_test": result.global_r2_test,
                   "n_train": result.n_train, "n_test": result.n_test,
                   "samplewise_r2_median": float(np.nanmedian(result.samplewise_r2))
                   if np.isfinite(result.samplewise_r2).any() else np.nan,
                   "global_direction": result.direction_source}
            row.update({f"sv_count_{t:g}": result.sv_count(t) for t in thresholds})
            rows.append(row)
        return pd.DataFrame(rows)


def default_models_dir(embeddings_dir: PathLike, models_dir: PathLike | None = None) -> Path:
    """Folder of the classification pickles: given, else ``models/`` beside the embeddings."""
    return Path(embeddings_dir).parent / "models" if models_dir is None else Path(models_dir)


def global_directions(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings",
                      models_dir: PathLike | None = None) -> dict[str, tuple[np.ndarray, str]]:
    """Global CCA direction of every instrument, with where it comes from.

    Read from ``<models_dir>/<effect>/deformdir_<embedding>.pkl``
    (``deformdir["-cca"][instrument]``, written by the classification stage)
    where it holds the instrument, else computed with
    :func:`aesens.analysis.cca.global_cca_direction` on the instrument's train paths.

    Returns
    -------
    dict
        Instrument to ``((dim,) direction, "deformdir" or "computed")``.
    """
    sweep = load(embedding, effect, embeddings_dir)
    train, labels = sweep.paths(), sweep.Y_train.astype(str)
    stored = read_global_directions(effect, embedding,
                                    default_models_dir(embeddings_dir, models_dir),
                                    dim=train.shape[-1])
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        for name in present_instruments(labels):
            found[name] = ((stored[name], "deformdir") if name in stored
                           else (global_cca_direction(train[labels == name]), "computed"))
    return found


def _analyse_instrument(name: str, train: np.ndarray, test: np.ndarray, originals: np.ndarray,
                        directions: np.ndarray, direction: np.ndarray, source: str,
                        params: np.ndarray) -> InstrumentAnalysis:
    finite = ~np.isnan(directions).any(axis=1)
    sv_directions, sv_originals = (singular_value_profiles(directions, originals)
                                   if finite.any() else (np.array([np.nan]),) * 2)
    return InstrumentAnalysis(
        instrument=name, projections=project(train, direction),
        global_r2=global_r2(train, direction, params),
        global_r2_test=global_r2(test, direction, params) if len(test) else np.nan,
        samplewise_r2=samplewise_r2(train, directions), sv_directions=sv_directions,
        sv_originals=sv_originals, n_train=len(train), n_test=len(test),
        direction_source=source)


@lru_cache(maxsize=16)
def _analyse_cached(embedding: str, effect: str, embeddings_dir: str,
                    models_dir: str) -> Analysis:
    sweep = load(embedding, effect, embeddings_dir)
    directions = samplewise_directions(embedding, effect, embeddings_dir)
    shared = global_directions(embedding, effect, embeddings_dir, models_dir)
    train, test = sweep.paths("train"), sweep.paths("test")
    labels_train, labels_test = sweep.Y_train.astype(str), sweep.Y_test.astype(str)
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        for name, (direction, source) in shared.items():
            mask = labels_train == name
            results[name] = _analyse_instrument(name, train[mask], test[labels_test == name],
                                                sweep.train_A[mask], directions[mask],
                                                direction, source, sweep.params)
    return Analysis(embedding, get_effect(effect), results, labels_train)


def analyse(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings",
            models_dir: PathLike | None = None) -> Analysis:
    """Global and sample-wise CCA correlations and singular values, per instrument.

    For each instrument: the global CCA direction (see
    :func:`global_directions`: the classification stage's pickle under
    ``models_dir`` when it holds one, else computed on the instrument's
    train paths, as that stage computes it), the projection of its train
    paths on it and their R² with the parameter values (the paper's global
    R², in-sample as the published 3.1 notebook computed it) and the same
    R² of its test paths (held out); the
    R² of each train path on its own sample-wise direction; the normalised
    singular values of its sample-wise directions and of its centred
    original embeddings. Cached per embedding, effect and folders.

    Parameters
    ----------
    embedding, effect : str
        Which grouped data.
    embeddings_dir : path
        Folder holding ``grouped/`` and ``averaged/``.
    models_dir : path, optional
        Folder of ``<effect>/deformdir_<embedding>.pkl`` (default: ``models``
        beside ``embeddings_dir``).
    """
    models = default_models_dir(embeddings_dir, models_dir)
    return _analyse_cached(embedding, effect, str(Path(embeddings_dir).resolve()),
                           str(models.resolve()))


def choose_files(labels: np.ndarray, n_files: int = DEFAULT_UMAP_FILES, seed: int = 0,
                 instrument: str | None = None) -> np.ndarray:
    """Sorted rows of ``n_files`` train files drawn at random (of one instrument, if given).

    Raises
    ------
    AesensError
        If no train file is of ``instrument``.
    """
    labels = np.asarray(labels).astype(str)
    candidates = np.arange(len(labels))
    if instrument is not None:
        candidates = candidates[labels == instrument]
        if not len(candidates):
            raise AesensError(f"no train file of {instrument!r}; choose one of "
                              f"{present_instruments(labels)}")
    return np.sort(np.random.default_rng(seed).choice(candidates, min(n_files, len(candidates)),
                                                      replace=False))


def umap_coordinates(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings",
                     n_files: int = DEFAULT_UMAP_FILES, seed: int = 0,
                     instrument: str | None = None,
                     files: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """UMAP view of the paths of a few train files (drawn at random unless given).

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
    files : sequence of int, optional
        Train-set rows to show instead of a draw (see :func:`choose_files`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_files, n_params, 2)`` path coordinates and ``(n_files, 2)``
        coordinates of the original embeddings.
    """
    sweep = load(embedding, effect, embeddings_dir)
    chosen = (choose_files(sweep.Y_train, n_files, seed, instrument) if files is None
              else np.asarray(files, dtype=int))
    with warnings.catch_warnings():
        # Tiny selections make UMAP fall back from spectral initialisation; expected here.
        warnings.simplefilter("ignore", UserWarning)
        return umap_trajectories(sweep.paths()[chosen], sweep.train_A[chosen],
                                 random_state=seed)


def umap_grid_coordinates(pairs: Iterable[tuple[str, str]],
                          embeddings_dir: PathLike = "embeddings",
                          n_files: int = DEFAULT_UMAP_FILES, seed: int = 0,
                          instrument: str | None = None
                          ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """UMAP views of the same train files for several embeddings and effects.

    For :func:`umap_grid`.

    The files are drawn once (:func:`choose_files`) from the train set,
    which every embedding shares (the same split).

    Raises
    ------
    AesensError
        If the embeddings' train sets differ.
    """
    pairs = list(pairs)
    if not pairs:
        raise AesensError("no embedding and effect to show; run group_effect_params.py first")
    labels = {embedding: store.read_arrays(
                  layout.averaged_path(embedding, embeddings_dir=embeddings_dir),
                  ["Y_train"])["Y_train"].astype(str)
        for embedding in dict.fromkeys(pair[0] for pair in pairs)}
    first = labels[pairs[0][0]]
    for embedding, other in labels.items():
        if not np.array_equal(other, first):
            raise AesensError(f"the train set of {embedding} differs from that of "
                              f"{pairs[0][0]}; average both with the same train_test_split.csv")
    files = choose_files(first, n_files, seed, instrument)
    return {pair: umap_coordinates(*pair, embeddings_dir, seed=seed, files=files)
            for pair in pairs}

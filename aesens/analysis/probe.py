"""Effect-strength probe: can a linear model read the effect's strength off an embedding?

For one embedding and effect, every file (train and test) at every grid
value gives a row: the effected embedding ``B`` (or the displacement ``B −
A`` from the file's original) and its parameter rank. A ridge regression
(features standardised, penalty chosen among :data:`ALPHAS` by 3 inner group
folds of each training fold, :class:`RidgeProbe`) predicts the rank; its
out-of-fold predictions over :data:`N_FOLDS` group folds give the R² and the
Spearman correlation with the true rank. Folds are by source recording (the
4 digits before ``__`` in the file stem, as the train/test split groups
them), so no recording's excerpts, and no file's settings, straddle training
and testing; without file names each file is its own group.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold

from aesens.dataset import parse_stem
from aesens.safe_files import atomic_write_csv

PathLike = str | os.PathLike
#: Group folds of the cross-validation (fewer when there are fewer groups).
N_FOLDS = 5
#: Ridge penalties tried on each training fold.
ALPHAS = tuple(10.0 ** k for k in range(-3, 6))
#: What the probe reads: the effected embedding, or its displacement from the original.
FEATURES = ("effected", "displacement")
#: Columns of a probe table.
COLUMNS = ["features", "r2", "spearman", "folds", "groups", "rows"]


def recording_groups(file_names: np.ndarray | None, n_files: int) -> np.ndarray:
    """Source recording of every file (its group in the split), or the file index without names."""
    if file_names is None:
        return np.arange(n_files).astype(str)
    return np.array([parse_stem(str(name)).group for name in file_names])


def _ridge_path(features: np.ndarray, target: np.ndarray, alphas: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Standardised ridge fits for every penalty from one eigendecomposition of the Gram matrix.

    Returns the feature means and scales (1 where the standard deviation is
    0, as :class:`~sklearn.preprocessing.StandardScaler`), the target mean and
    the ``(dim, n_alphas)`` coefficients of the centred, standardised problem.
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale == 0, 1.0, scale)
    standard = (features - mean) / scale
    target_mean = float(target.mean())
    eigenvalues, eigenvectors = np.linalg.eigh(standard.T @ standard)
    projected = eigenvectors.T @ (standard.T @ (target - target_mean))
    shrunk = projected[:, None] / (np.clip(eigenvalues, 0.0, None)[:, None] + alphas[None, :])
    return mean, scale, target_mean, eigenvectors @ shrunk


class RidgeProbe:
    """Standardised ridge regression with the penalty chosen by group cross-validation.

    Fits as ``GridSearchCV(make_pipeline(StandardScaler(), Ridge()),
    {"ridge__alpha": alphas}, cv=GroupKFold(inner_folds),
    scoring="neg_mean_squared_error")`` with the groups does (tested against
    it): the penalty with the smallest mean over the inner folds of the
    held-out mean squared error (the first on a tie), then a refit on all
    rows. Choosing the penalty by folds of whole recordings matters: the
    settings of one file are near-duplicates, so a row-wise leave-one-out
    (``RidgeCV``'s) picks penalties that fit the training recordings and
    generalise badly. Every penalty's fit comes from one eigendecomposition
    of the ``dim × dim`` Gram matrix.
    """

    def __init__(self, alphas: tuple[float, ...] = ALPHAS, inner_folds: int = 3) -> None:
        self.alphas = tuple(alphas)
        self.inner_folds = inner_folds

    def fit(self, features: np.ndarray, target: np.ndarray,
            groups: np.ndarray | None = None) -> RidgeProbe:
        """Fit on ``(n_rows, dim)`` features and an ``(n_rows,)`` target.

        ``groups``: the group of every row (default: each row its own group).
        """
        features = np.asarray(features, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        alphas = np.asarray(self.alphas, dtype=np.float64)
        groups = np.arange(len(target)) if groups is None else np.asarray(groups)
        folds = min(self.inner_folds, len(np.unique(groups)))
        errors = np.zeros(len(alphas))
        if len(alphas) > 1 and folds >= 2:
            for train, test in GroupKFold(n_splits=folds).split(features, target, groups):
                mean, scale, target_mean, coefs = _ridge_path(features[train], target[train],
                                                              alphas)
                predicted = ((features[test] - mean) / scale) @ coefs + target_mean
                errors += np.mean((predicted - target[test, None]) ** 2, axis=0) / folds
        best = int(np.argmin(errors))
        self.alpha_ = float(alphas[best])
        self.mean_, self.scale_, self.target_mean_, coefs = _ridge_path(
            features, target, alphas[best:best + 1])
        self.coef_ = coefs[:, 0]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted target of ``(n_rows, dim)`` features."""
        standard = (np.asarray(features, dtype=np.float64) - self.mean_) / self.scale_
        return standard @ self.coef_ + self.target_mean_


def probe_scores(features: np.ndarray, ranks: np.ndarray, groups: np.ndarray,
                 n_folds: int = N_FOLDS,
                 alphas: tuple[float, ...] = ALPHAS) -> dict[str, float]:
    """Out-of-fold R² and Spearman correlation of a ridge probe of the rank.

    Parameters
    ----------
    features : numpy.ndarray
        ``(n_rows, dim)``.
    ranks : numpy.ndarray
        ``(n_rows,)`` the target.
    groups : numpy.ndarray
        ``(n_rows,)`` the group of every row; a group is never split across folds.
    n_folds : int
        Folds (at most the number of groups).
    alphas : tuple of float
        Ridge penalties.

    Returns
    -------
    dict
        ``r2``, ``spearman``, ``folds``, ``groups``, ``rows``.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    n_groups = len(np.unique(groups))
    folds = min(n_folds, n_groups)
    if folds < 2:
        raise ValueError(f"a cross-validated probe needs at least 2 groups, not {n_groups}")
    predictions = np.empty_like(ranks)
    for train, test in GroupKFold(n_splits=folds).split(features, ranks, groups):
        model = RidgeProbe(alphas).fit(features[train], ranks[train], groups[train])
        predictions[test] = model.predict(features[test])
    return {"r2": float(r2_score(ranks, predictions)),
            "spearman": float(scipy.stats.spearmanr(predictions, ranks).statistic),
            "folds": folds, "groups": n_groups, "rows": len(ranks)}


def probe_table(originals: np.ndarray, effected: np.ndarray,
                file_names: np.ndarray | None = None, n_folds: int = N_FOLDS) -> pd.DataFrame:
    """The probe on the effected embeddings and on the displacements.

    Parameters
    ----------
    originals : numpy.ndarray
        ``(n_files, dim)``.
    effected : numpy.ndarray
        ``(n_params, n_files, dim)``, in grid order.
    file_names : numpy.ndarray, optional
        File stem of every file (for the recording groups).
    n_folds : int
        Group folds.

    Returns
    -------
    pandas.DataFrame
        One row per :data:`FEATURES` entry, :data:`COLUMNS` (NaN scores with
        fewer than 2 groups).
    """
    originals = np.asarray(originals, dtype=np.float64)
    effected = np.asarray(effected, dtype=np.float64)
    n_params, n_files, dim = effected.shape
    ranks = np.repeat(np.arange(n_params), n_files)
    groups = np.tile(recording_groups(file_names, n_files), n_params)
    rows = []
    n_groups = len(np.unique(groups))
    for name in FEATURES:
        values = effected - originals[None] if name == "displacement" else effected
        if n_groups < 2:  # nothing to cross-validate on
            rows.append({"features": name, "r2": np.nan, "spearman": np.nan, "folds": 0,
                         "groups": n_groups, "rows": len(ranks)})
            continue
        rows.append({"features": name, **probe_scores(values.reshape(-1, dim), ranks, groups,
                                                      n_folds)})
    return pd.DataFrame(rows, columns=COLUMNS)


def sweep_file_names(sweep) -> np.ndarray | None:
    """File stems of a sweep's train then test files (None when the files do not record them)."""
    if sweep.file_name_train is None or sweep.file_name_test is None:
        return None
    return np.concatenate([sweep.file_name_train, sweep.file_name_test]).astype(str)


def probe_path(results_dir: PathLike, effect: str, embedding: str) -> Path:
    """``<results_dir>/<effect>/probe_<embedding>.csv``."""
    return Path(results_dir) / effect / f"probe_{embedding}.csv"


def write_probe_table(table: pd.DataFrame, results_dir: PathLike, effect: str,
                      embedding: str) -> Path:
    """Write a probe table atomically at :func:`probe_path`."""
    return atomic_write_csv(probe_path(results_dir, effect, embedding), table)


def read_probe_table(results_dir: PathLike, effect: str, embedding: str) -> pd.DataFrame:
    """Read a table written by :func:`write_probe_table`."""
    return pd.read_csv(probe_path(results_dir, effect, embedding))

"""Held-out sample-wise R²: a version of the paper's sample-wise statistic that can fail.

The published sample-wise R² fits a file's CCA direction on its whole path
and scores the squared Spearman correlation on the same points. A path of
``n`` grid values spans at most ``n − 1`` dimensions, so whenever ``n ≤ dim
+ 1`` a direction exists along which the projections follow the ranks
exactly: the statistic is 1 by construction (OpenL3, PANNs, CLAP and CREPE
with the paper's 12–34 settings).

The held-out version fits the direction on half of the grid values
(alternating ranks: 0, 2, 4, …) with the published fit
(:func:`aesens.analysis.cca.samplewise_cca_directions` on that half) and scores the
squared Spearman correlation of the other half's projections against their
ranks (:func:`aesens.analysis.cca.samplewise_r2`), then the other way round; the
file's value is the mean of the two. It is 1 only if the direction fitted
on one half orders the other half too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from aesens.analysis.cca import ConstantPathWarning, samplewise_cca_directions, samplewise_r2
from aesens.safe_files import atomic_write_csv

PathLike = str | os.PathLike
#: Columns of the per-file table.
COLUMNS = ["file", "file_name", "instrument", "samplewise_r2", "samplewise_r2_heldout"]
#: Fewest grid values of a half: a Spearman correlation over 2 points is always ±1.
MIN_HALF = 3


def heldout_samplewise_r2(paths: np.ndarray) -> np.ndarray:
    """Held-out sample-wise R² of every path (see the module docstring).

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``, ``n_params`` at least ``2 * MIN_HALF``.

    Returns
    -------
    numpy.ndarray
        ``(n_files,)`` mean of the two held-out squared Spearman correlations
        (NaN for paths that do not vary on a half).
    """
    paths = np.asarray(paths)
    if paths.ndim != 3:
        raise ValueError(f"paths must be (n_files, n_params, dim), not {paths.shape}")
    if paths.shape[1] < 2 * MIN_HALF:
        raise ValueError(f"a held-out R² needs at least {2 * MIN_HALF} grid values, "
                         f"not {paths.shape[1]}")
    halves = (np.arange(0, paths.shape[1], 2), np.arange(1, paths.shape[1], 2))
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        for fit, score in (halves, halves[::-1]):
            directions = samplewise_cca_directions(paths[:, fit])
            scores.append(samplewise_r2(paths[:, score], directions))
    return (scores[0] + scores[1]) / 2


def heldout_table(in_sample: np.ndarray, heldout: np.ndarray, labels: np.ndarray,
                  file_names: np.ndarray | None = None) -> pd.DataFrame:
    """Per train file: the published (in-sample) and the held-out sample-wise R²."""
    n_files = len(in_sample)
    names = (np.asarray(file_names).astype(str) if file_names is not None
             else np.full(n_files, ""))
    return pd.DataFrame({"file": np.arange(n_files), "file_name": names,
                         "instrument": np.asarray(labels).astype(str),
                         "samplewise_r2": in_sample, "samplewise_r2_heldout": heldout},
                        columns=COLUMNS)


def heldout_path(results_dir: PathLike, effect: str, embedding: str) -> Path:
    """``<results_dir>/<effect>/samplewise_r2_heldout_<embedding>.csv``."""
    return Path(results_dir) / effect / f"samplewise_r2_heldout_{embedding}.csv"


def write_heldout_table(table: pd.DataFrame, results_dir: PathLike, effect: str,
                        embedding: str) -> Path:
    """Write the per-file table atomically at :func:`heldout_path`."""
    return atomic_write_csv(heldout_path(results_dir, effect, embedding), table)


def read_heldout_table(results_dir: PathLike, effect: str, embedding: str) -> pd.DataFrame:
    """Read a table written by :func:`write_heldout_table`."""
    return pd.read_csv(heldout_path(results_dir, effect, embedding),
                       dtype={"file_name": str}, keep_default_na=False,
                       na_values={"samplewise_r2": ["", "NaN", "nan"],
                                  "samplewise_r2_heldout": ["", "NaN", "nan"]})


def median_over_instruments(table: pd.DataFrame, column: str) -> float:
    """The median per instrument of ``column``, then the median of those (NaN where none).

    How the summary, the scorecard and the layer profiles report a table of
    :func:`heldout_table` (``samplewise_r2`` or ``samplewise_r2_heldout``), so
    that they quote the same number.
    """
    medians = table.groupby("instrument")[column].median().to_numpy(dtype=np.float64)
    medians = medians[np.isfinite(medians)]
    return float(np.median(medians)) if len(medians) else np.nan

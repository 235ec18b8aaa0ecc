"""The published group k-fold of stage 2A.3, as scikit-learn 1.2.2 computed it.

The split (:mod:`aesens.sweep.split`) uses it to deal source recordings to
folds; the dataset generator (:mod:`aesens.dataset.plan`) uses it to number
its recordings so that the split keeps every generated file.
"""

from __future__ import annotations

import numpy as np

#: Folds and seed of the published ``StratifiedGroupKFold``.
N_SPLITS = 4
FOLD_SEED = 20220419


def published_group_fold_test_rows(labels: np.ndarray, groups: np.ndarray, n_splits: int,
                                   seed: int) -> np.ndarray:
    """Test rows of the first fold of ``StratifiedGroupKFold(n_splits, shuffle=True,
    random_state=seed)`` as scikit-learn 1.2.2 computed it.

    The published split ran scikit-learn 1.2.2. Up to 1.7 its shuffle permuted the
    rows of the per-group class counts but not the group each row stands for, so
    groups were dealt to folds by another group's counts; scikit-learn 1.8 fixed that
    (pull request 32540), which changes the split. This is the 1.2.2 algorithm
    written out (scikit-learn, BSD-3-Clause), so the split stays the published one
    under any version: groups in the order of ``np.unique``, their count rows
    shuffled by ``RandomState(seed)``, visited by decreasing spread of the class
    counts (stable), each dealt to the fold whose class proportions it disturbs
    least (ties within ``np.isclose``: the fold with fewer rows).

    Parameters
    ----------
    labels, groups : numpy.ndarray
        Class and group of every row.
    n_splits : int
        Folds.
    seed : int
        ``random_state``.

    Returns
    -------
    numpy.ndarray
        Sorted row indices of the first fold.
    """
    rng = np.random.RandomState(seed)
    _, label_index, label_counts = np.unique(labels, return_inverse=True, return_counts=True)
    _, group_index, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    counts_per_group = np.zeros((len(group_sizes), len(label_counts)))
    np.add.at(counts_per_group, (group_index, label_index), 1)
    counts_per_fold = np.zeros((n_splits, len(label_counts)))
    groups_per_fold: list[set[int]] = [set() for _ in range(n_splits)]
    rng.shuffle(counts_per_group)  # rows only: the 1.2.2 behaviour
    for group in np.argsort(-np.std(counts_per_group, axis=1), kind="mergesort"):
        group_counts = counts_per_group[group]
        best_fold, min_eval, min_samples = None, np.inf, np.inf
        for fold in range(n_splits):
            counts_per_fold[fold] += group_counts
            std_per_class = np.std(counts_per_fold / label_counts.reshape(1, -1), axis=0)
            counts_per_fold[fold] -= group_counts
            fold_eval = np.mean(std_per_class)
            samples = np.sum(counts_per_fold[fold])
            if fold_eval < min_eval or (np.isclose(fold_eval, min_eval)
                                        and samples < min_samples):
                best_fold, min_eval, min_samples = fold, fold_eval, samples
        counts_per_fold[best_fold] += group_counts
        groups_per_fold[best_fold].add(int(group))
    return np.flatnonzero(np.isin(group_index, list(groups_per_fold[0])))

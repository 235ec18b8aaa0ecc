"""The analysis stages' numbers on generated inputs, to compare two library environments.

``make test-published-env`` runs ``write`` under today's versions and ``compare`` under
the published analysis environment's (numpy 1.26.4, scikit-learn 1.2.2, ...): the
per-file means, the split, every desensitisation method's directions, the chosen C,
coefficients and test metrics of both grid-search solvers must agree. Exact equality
is required except for rounding of the linear algebra (CCA, LDA and SVD directions go
through different LAPACK builds): at most 1e-13 there.

Usage: ``python tests/published_env_numbers.py write|compare FILE.npz``
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from aesens.analysis import cca, desensitize
from aesens.classification import gridsearch
from aesens.sweep import averaged
from aesens.sweep.split import make_split, read_split

ROOT = Path(__file__).resolve().parents[1]
#: Results that go through LAPACK routines whose rounding differs between builds.
LINEAR_ALGEBRA = ("samplewise", "dir_lda", "dir_cca_samplewise_svd")
TOLERANCE = 1e-13


def numbers() -> dict[str, np.ndarray]:
    """Every checked result, by name."""
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    keys = np.repeat([f"f{index}" for index in range(40)], rng.integers(1, 140, 40))
    features = (rng.standard_normal((len(keys), 16)) + 3).astype(np.float32)
    out["averaged"] = averaged.average_by_key(features, keys[rng.permutation(len(keys))],
                                               [f"f{index}" for index in range(40)])
    split = make_split(list(read_split(ROOT / "train_test_split.csv")["file_name"]))
    out["split"] = (split["split"] + "," + split["file_name"]).to_numpy(dtype=str)
    n_files, n_params, dim = 60, 8, 12
    a_all = rng.standard_normal((200, dim)) * np.linspace(3, 0.2, dim) + 5
    a_pos = a_all[:n_files]
    bs_pos = (a_pos[None] + np.linspace(0, 1, n_params)[:, None, None] * rng.standard_normal(dim)
              + 0.2 * rng.standard_normal((n_params, n_files, dim)))
    samplewise = cca.samplewise_cca_directions(bs_pos.transpose(1, 0, 2))
    out["samplewise"] = samplewise
    for method in desensitize.DIRECTIONS:
        out[f"dir_{method}"] = desensitize.deformation_directions(
            method, a_pos, bs_pos, a_all=a_all, samplewise_dirs=samplewise, threshold=0.3)
    features = rng.standard_normal((150, dim))
    labels = (features[:, 0] + 0.8 * rng.standard_normal(150) > 0).astype(int)
    for solver in gridsearch.SOLVERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            classifier, C = gridsearch.grid_search(features, labels, solver)
        metrics = gridsearch.metrics_on_test_set(classifier, features[:80], labels[:80])
        out[f"C_{solver}"] = np.array(C)
        out[f"coef_{solver}"] = np.r_[classifier.coef_[0], classifier.intercept_]
        out[f"metrics_{solver}"] = np.array([metrics[name] for name in sorted(metrics)])
    return out


def compare(reference: dict[str, np.ndarray], ours: dict[str, np.ndarray]) -> list[str]:
    """Lines naming every result that differs beyond its tolerance."""
    problems = [f"{name}: missing" for name in sorted(set(reference) ^ set(ours))]
    for name in sorted(set(reference) & set(ours)):
        expected, actual = reference[name], ours[name]
        if expected.shape != actual.shape:
            problems.append(f"{name}: shape {actual.shape}, expected {expected.shape}")
        elif name in LINEAR_ALGEBRA:
            difference = np.max(np.abs(actual - expected), initial=0.0)
            if not difference <= TOLERANCE:
                problems.append(f"{name}: differs by {difference:.3g} (> {TOLERANCE})")
        elif not np.array_equal(actual, expected):
            problems.append(f"{name}: not equal")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("write", "compare"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    if argv[0] == "write":
        np.savez(argv[1], **numbers())
        return 0
    with np.load(argv[1]) as stored:
        problems = compare(dict(stored), numbers())
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{'differ' if problems else 'equal'}: {argv[1]} against numpy {np.__version__}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

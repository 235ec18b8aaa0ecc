"""Result files of the sensitivity analysis: merged correlations.csv, cca_r2s, deformdir."""

from __future__ import annotations

import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import QuantileTransformer
from test_figures import INSTRUMENTS, N_TRAIN, build_outputs

matplotlib.use("Agg")

from aesens import analysis, analysis_files, figures, results  # noqa: E402
from aesens.errors import AesensError  # noqa: E402


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny pipeline outputs (see :func:`test_figures.build_outputs`)."""
    return build_outputs(tmp_path_factory.mktemp("analysis_files"))


def _reference_r2(path: np.ndarray) -> float:
    """Sample-wise R² as the published notebooks computed it (scikit-learn, scipy)."""
    n_params = len(path)
    target = QuantileTransformer(n_quantiles=n_params).fit_transform(
        np.arange(n_params, dtype=float)[:, None])
    direction = CCA(n_components=1, scale=False).fit(path, target).x_weights_[:, 0]
    return scipy.stats.spearmanr(path @ direction, np.arange(n_params)).statistic ** 2


def test_correlations_are_merged(outputs: Path, tmp_path: Path) -> None:
    """Rows of other embeddings and the hand-edited comment column survive a rerun."""
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    existing = pd.DataFrame({
        "embedding": ["openl3", "openl3", "toy", "toy"],
        "effect": ["gain", "reverb", "gain", "gain"],
        "instrument": ["cello", "cello", "flute", "organ"],
        "global_r2": [0.91, 0.42, 0.0, 0.33],
        "comment": ["checked by hand", "", "to be replaced", "kept: not recomputed"],
        "reviewer": ["ab", "cd", "ef", "gh"],
    })
    existing.to_csv(results_dir / "correlations.csv", index=False)
    result = analysis.analyse("toy", "gain", outputs / "embeddings")
    written = figures.write_correlations({("toy", "gain"): result}, results_dir)
    assert results_dir / "correlations.csv" in written
    merged = pd.read_csv(results_dir / "correlations.csv", keep_default_na=False)
    assert list(merged.columns[:6]) == list(existing.columns)  # old columns first, in order
    assert len(merged) == 2 + len(INSTRUMENTS) + 1  # openl3 x2, toy organ, toy x3 instruments
    first = merged.iloc[:4]
    assert first["embedding"].tolist() == existing["embedding"].tolist()
    assert first["comment"].tolist() == existing["comment"].tolist()
    assert first["reviewer"].tolist() == existing["reviewer"].tolist()
    assert first["global_r2"].iloc[[0, 1, 3]].tolist() == [0.91, 0.42, 0.33]
    flute = merged[(merged["embedding"] == "toy") & (merged["instrument"] == "flute")]
    assert len(flute) == 1
    assert float(flute["global_r2"].iloc[0]) == pytest.approx(
        result.instruments["flute"].global_r2, abs=1e-4)
    assert flute["comment"].iloc[0] == "to be replaced"  # the user's note stays with the row
    # a second run changes nothing, and no temporary file is left behind
    figures.write_correlations({("toy", "gain"): result}, results_dir)
    again = pd.read_csv(results_dir / "correlations.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(again, merged)
    assert not [p.name for p in results_dir.iterdir() if p.name.endswith(".part")]


def test_new_correlations_file_has_a_comment_column(outputs: Path, tmp_path: Path) -> None:
    result = analysis.analyse("toy", "bitcrush", outputs / "embeddings")
    path = analysis_files.merge_correlations(result.table(), tmp_path)
    table = pd.read_csv(path, keep_default_na=False)
    assert list(table.columns[:4]) == ["embedding", "effect", "instrument", "comment"]
    assert table["comment"].eq("").all() and len(table) == len(INSTRUMENTS)


def test_correlations_bad_file(tmp_path: Path, outputs: Path) -> None:
    table = analysis.analyse("toy", "gain", outputs / "embeddings").table()
    (tmp_path / "correlations.csv").write_text("instrument,comment\ncello,x\n")
    with pytest.raises(AesensError, match="correlations.csv lacks columns embedding, effect"):
        analysis_files.merge_correlations(table, tmp_path)
    (tmp_path / "correlations.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(AesensError, match="correlations.csv is not a readable CSV"):
        analysis_files.merge_correlations(table, tmp_path)


def test_cca_r2s_equal_the_published_computation(outputs: Path, tmp_path: Path) -> None:
    """One line per train file, in train order, equal to scikit-learn's CCA + scipy's Spearman."""
    embeddings_dir = outputs / "embeddings"
    result = analysis.analyse("toy", "gain", embeddings_dir)
    figures.write_correlations({("toy", "gain"): result}, tmp_path)
    path = tmp_path / "gain" / "cca_r2s_toy.txt"
    lines = path.read_text().splitlines()
    assert len(lines) == N_TRAIN * len(INSTRUMENTS)
    values = np.loadtxt(path)
    paths = analysis.load("toy", "gain", embeddings_dir).paths()
    for index in (0, N_TRAIN + 1, len(paths) - 1):  # one file of each instrument
        assert values[index] == pytest.approx(_reference_r2(paths[index]), abs=1e-6)
    np.testing.assert_array_equal(
        figures.samplewise_r2_values("toy", "gain", embeddings_dir, tmp_path), values)
    flute = figures.samplewise_r2_values("toy", "gain", embeddings_dir, tmp_path, "flute")
    np.testing.assert_array_equal(flute, values[N_TRAIN:2 * N_TRAIN])


def test_cca_r2s_bad_files(tmp_path: Path) -> None:
    path = analysis_files.write_cca_r2s(np.array([0.5, np.nan, 1.0]), "gain", "toy", tmp_path)
    assert path.read_text() == "0.5\nnan\n1.0\n"
    with pytest.raises(AesensError, match="holds 3 values but the train set has 4"):
        analysis_files.read_cca_r2s("gain", "toy", tmp_path, n_files=4)
    path.write_text("0.5\nzero\n")
    with pytest.raises(AesensError, match="cca_r2s_toy.txt is not one R"):
        analysis_files.read_cca_r2s("gain", "toy", tmp_path)
    with pytest.raises(AesensError, match="cca_r2s_panns.txt does not exist"):
        analysis_files.read_cca_r2s("gain", "panns", tmp_path)


def test_global_direction_from_deformdir(outputs: Path, tmp_path: Path) -> None:
    """A direction in deformdir["-cca"] replaces the computed one; others are computed."""
    embeddings_dir = outputs / "embeddings"
    data = analysis.load("toy", "bitcrush", embeddings_dir)
    dim = data.train_A.shape[1]
    direction = np.random.default_rng(3).normal(size=dim)
    direction /= np.linalg.norm(direction)
    models_dir = tmp_path / "models"
    pickle_path = results.deformdir_path(models_dir, "bitcrush", "toy")
    pickle_path.parent.mkdir(parents=True)
    with open(pickle_path, "wb") as handle:
        pickle.dump({"": {}, "-lda": {"cello": np.ones((1, dim))},
                     "-cca": {"cello": direction[None, :]}}, handle)
    result = analysis.analyse("toy", "bitcrush", embeddings_dir, models_dir)
    cello, flute = result.instruments["cello"], result.instruments["flute"]
    assert cello.direction_source == "deformdir" and flute.direction_source == "computed"
    test = data.paths("test")[data.Y_test.astype(str) == "cello"]
    np.testing.assert_allclose(cello.projections, test @ direction, rtol=1e-12)
    ranks = np.tile(np.arange(test.shape[1]), len(test))
    expected = scipy.stats.spearmanr((test @ direction).ravel(), ranks).statistic ** 2
    assert cello.global_r2 == pytest.approx(expected, abs=1e-12)
    # the computed direction is scikit-learn's global CCA (up to sign)
    train = data.paths()[data.Y_train.astype(str) == "flute"]
    n_params = train.shape[1]
    target = QuantileTransformer(n_quantiles=n_params).fit_transform(
        np.arange(n_params, dtype=float)[:, None])
    reference = CCA(n_components=1, scale=False).fit(
        train.reshape(-1, dim), np.tile(target[:, 0], len(train))).x_weights_[:, 0]
    computed = analysis.global_directions("toy", "bitcrush", embeddings_dir, models_dir)
    assert computed["flute"][1] == "computed"
    assert abs(float(computed["flute"][0] @ reference)) == pytest.approx(
        np.linalg.norm(reference), rel=1e-6)
    assert analysis.analyse("toy", "bitcrush", embeddings_dir,
                           tmp_path / "none").table()["global_direction"].eq("computed").all()


def test_deformdir_bad_files(tmp_path: Path) -> None:
    path = results.deformdir_path(tmp_path, "gain", "toy")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle")
    with pytest.raises(AesensError, match="deformdir_toy.pkl is not a readable pickle"):
        analysis_files.read_global_directions("gain", "toy", tmp_path)
    with open(path, "wb") as handle:
        pickle.dump({"-cca": {"cello": np.ones((2, 5))}}, handle)
    with pytest.raises(AesensError, match=r"\(2, 5\) global CCA direction for cello"):
        analysis_files.read_global_directions("gain", "toy", tmp_path, dim=5)
    with open(path, "wb") as handle:
        pickle.dump([1, 2], handle)
    with pytest.raises(AesensError, match="holds a list, not a dictionary"):
        analysis_files.read_global_directions("gain", "toy", tmp_path)
    with open(path, "wb") as handle:
        pickle.dump({"-cca": [1, 2]}, handle)
    with pytest.raises(AesensError, match="holds no {instrument: direction} dict under '-cca'"):
        analysis_files.read_global_directions("gain", "toy", tmp_path)
    with open(path, "wb") as handle:
        pickle.dump({"-lda": {"cello": np.ones(5)}}, handle)
    assert analysis_files.read_global_directions("gain", "toy", tmp_path, dim=5) == {}
    with open(path, "wb") as handle:
        pickle.dump({"-cca": {"cello": np.zeros((0, 5)), "flute": np.ones((5, 1))}}, handle)
    found = analysis_files.read_global_directions("gain", "toy", tmp_path, dim=5)
    assert list(found) == ["flute"] and found["flute"].shape == (5,)

"""Result files of the sensitivity analysis: merged correlations.csv, cca_r2s, deformdir."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from reporting.test_figures import INSTRUMENTS, N_TRAIN, build_outputs
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import QuantileTransformer

matplotlib.use("Agg")

from aesens import layout
from aesens.analysis import files as analysis_files  # noqa: E402
from aesens.analysis import sensitivity as analysis  # noqa: E402
from aesens.classification import results  # noqa: E402
from aesens.errors import AesensError  # noqa: E402
from aesens.reporting import figures  # noqa: E402


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


PUBLISHED_COLUMNS = ["embedding", "effect", "instrument", "desensitization_method",
                     "spearman_corr2", "comment"]


#: One unit in the last place of a float64 near 1 (pandas 2.2's default CSV float parser).
ULP = float(np.finfo(np.float64).eps)


def published_load_results(path: Path) -> pd.DataFrame:
    """The published 3.1 notebook's ``load_results()``: the file if it exists, else empty."""
    if path.exists():
        return pd.read_csv(path)
    return pd.DataFrame(columns=PUBLISHED_COLUMNS)


def published_save_result(path: Path, embedding: str, effect: str, instrument: str,
                          r2: float) -> None:
    """The published 3.1 notebook's update: look the row up by its key, set or append
    ``spearman_corr2``, write with ``to_csv(index=False)``."""
    table = published_load_results(path)
    row = ((table["embedding"] == embedding) & (table["effect"] == effect)
           & (table["instrument"] == instrument) & (table["desensitization_method"] == "cca"))
    if row.any():
        table.loc[row, "spearman_corr2"] = r2
    else:
        table = pd.concat([table, pd.DataFrame([{
            "embedding": embedding, "effect": effect, "instrument": instrument,
            "desensitization_method": "cca", "spearman_corr2": r2, "comment": ""}])],
            ignore_index=True)
    table.to_csv(path, index=False)


def test_correlations_are_merged(outputs: Path, tmp_path: Path) -> None:
    """Rows, cells and comments the merge does not own keep their text exactly."""
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    existing = pd.DataFrame({
        "embedding": ["openl3", "openl3", "toy", "toy", "toy"],
        "effect": ["gain", "reverb", "gain", "gain", "gain"],
        "instrument": ["cello", "cello", "flute", "flute", "organ"],
        "desensitization_method": ["cca", "cca", "cca", "lda", "cca"],
        "spearman_corr2": [0.9123456789012345, 0.42, 0.0, 0.1 + 0.2, 1 / 3],
        "comment": ["checked by hand", "", "to be replaced", "not ours", "kept"],
        "reviewer": ["ab", "cd", "ef", "gh", "ij"],
    })
    existing.to_csv(results_dir / "correlations.csv", index=False)
    before = (results_dir / "correlations.csv").read_text().splitlines()
    result = analysis.analyse("toy", "gain", outputs / "embeddings")
    written = figures.write_correlations({("toy", "gain"): result}, results_dir)
    assert results_dir / "correlations.csv" in written
    after = (results_dir / "correlations.csv").read_text().splitlines()
    merged = pd.read_csv(results_dir / "correlations.csv", keep_default_na=False)
    assert list(merged.columns[:7]) == list(existing.columns)  # published columns first
    assert len(merged) == len(existing) + len(INSTRUMENTS) - 1  # toy flute cca updated
    # rows of other keys: the same text, cell for cell (the new columns empty)
    extra = len(merged.columns) - len(existing.columns)
    for index in (0, 1, 3, 4):
        assert after[1 + index] == before[1 + index] + "," * extra
    flute = merged[(merged["embedding"] == "toy") & (merged["instrument"] == "flute")
                   & (merged["desensitization_method"] == "cca")]
    assert len(flute) == 1
    assert float(flute["spearman_corr2"].iloc[0]) == result.instruments["flute"].global_r2
    assert float(flute["global_r2_test"].iloc[0]) == result.instruments["flute"].global_r2_test
    assert flute["comment"].iloc[0] == "to be replaced"  # the user's note stays with the row
    assert flute["reviewer"].iloc[0] == "ef"
    # a second run changes nothing, and no temporary file is left behind
    figures.write_correlations({("toy", "gain"): result}, results_dir)
    assert (results_dir / "correlations.csv").read_text().splitlines() == after
    assert not [p.name for p in results_dir.iterdir() if p.name.endswith(".part")]


def test_new_correlations_file_has_the_published_columns(outputs: Path, tmp_path: Path) -> None:
    result = analysis.analyse("toy", "bitcrush", outputs / "embeddings")
    path = analysis_files.merge_correlations(result.table(), tmp_path)
    table = pd.read_csv(path, keep_default_na=False, float_precision="round_trip")
    assert list(table.columns[:6]) == PUBLISHED_COLUMNS
    assert table["comment"].eq("").all() and len(table) == len(INSTRUMENTS)
    assert table["desensitization_method"].eq("cca").all()
    # full precision: the file holds the exact floats (pandas' round-trip parser reads them;
    # its default parser of pandas 2.2, the published environment's, can be one ulp off)
    expected = [result.instruments[name].global_r2 for name in table["instrument"]]
    assert table["spearman_corr2"].tolist() == expected
    text = path.read_text()
    pd.read_csv(path, float_precision="round_trip").to_csv(tmp_path / "again.csv", index=False)
    assert (tmp_path / "again.csv").read_text() == text


def test_the_published_notebook_reads_and_updates_our_file(outputs: Path,
                                                           tmp_path: Path) -> None:
    """Our file through the published reader and writer, and its file through our merge."""
    path = tmp_path / "correlations.csv"
    gain = analysis.analyse("toy", "gain", outputs / "embeddings")
    analysis_files.merge_correlations(gain.table(), tmp_path)
    ours = path.read_text()
    table = published_load_results(path)
    assert list(table.columns[:6]) == PUBLISHED_COLUMNS and len(table) == len(INSTRUMENTS)
    cello = table[(table["instrument"] == "cello") & (table["effect"] == "gain")]
    # pandas' default float parser (the notebook's reader) is exact from pandas 3 on, and
    # within one unit in the last place in pandas 2.2 (the published environment)
    assert cello["spearman_corr2"].iloc[0] == pytest.approx(gain.instruments["cello"].global_r2,
                                                            rel=ULP, abs=0)
    # the notebook rewrites its rows: with the same values the numbers are unchanged
    for name, result in gain.instruments.items():
        published_save_result(path, "toy", "gain", name, result.global_r2)
    pd.testing.assert_frame_equal(pd.read_csv(path, float_precision="round_trip"),
                                  pd.read_csv(io.StringIO(ours), float_precision="round_trip"),
                                  check_exact=False, rtol=ULP, atol=0)
    # it adds a row of its own, a user comments one; our merge keeps both
    published_save_result(path, "openl3", "reverb", "cello", 0.123456789)
    edited = published_load_results(path)
    edited["comment"] = edited["comment"].astype(object)  # as a user's edit
    edited.loc[edited["instrument"] == "flute", "comment"] = "odd, check"
    edited.to_csv(path, index=False)
    bitcrush = analysis.analyse("toy", "bitcrush", outputs / "embeddings")
    analysis_files.merge_correlations(bitcrush.table(), tmp_path)
    merged = published_load_results(path)
    openl3 = merged[merged["embedding"] == "openl3"]
    assert openl3["spearman_corr2"].tolist() == pytest.approx([0.123456789], rel=ULP, abs=0)
    assert merged.loc[merged["instrument"] == "flute", "comment"].iloc[0] == "odd, check"
    assert len(merged) == 2 * len(INSTRUMENTS) + 1
    # and a file the notebook started from nothing merges too
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    published_save_result(fresh / "correlations.csv", "toy", "gain", "cello", 0.5)
    analysis_files.merge_correlations(gain.table(), fresh)
    again = published_load_results(fresh / "correlations.csv")
    assert len(again) == len(INSTRUMENTS)
    assert again.loc[again["instrument"] == "cello", "spearman_corr2"].iloc[0] == \
        pytest.approx(gain.instruments["cello"].global_r2, rel=ULP, abs=0)


def test_a_correlations_file_without_the_method_column_is_refused_and_kept(
        outputs: Path, tmp_path: Path) -> None:
    """The published key includes ``desensitization_method``: a file without it is not ours."""
    path = tmp_path / "correlations.csv"
    pd.DataFrame({"embedding": ["toy"], "effect": ["gain"], "instrument": ["cello"],
                  "global_r2": [0.25], "comment": ["mine"]}).to_csv(path, index=False)
    before = path.read_bytes()
    result = analysis.analyse("toy", "bitcrush", outputs / "embeddings")
    with pytest.raises(AesensError, match="correlations.csv lacks columns desensitization_method"):
        analysis_files.merge_correlations(result.table(), tmp_path)
    assert path.read_bytes() == before


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


def notebook_global_r2(train_rows: np.ndarray, direction: np.ndarray,
                       params: np.ndarray) -> float:
    """The published 3.1 notebook's global R², written out.

    ``train_rows[i]``: the instrument's train rows of the averaged file of the
    i-th setting (grid order); ``direction``: ``deformdir["-cca"][instrument]``.
    """
    projections, values = [], []
    for rows, value in zip(train_rows, params, strict=True):
        projections.append(rows @ np.asarray(direction).T)
        values.append(np.full(len(rows), value))
    return scipy.stats.spearmanr(np.concatenate(projections).ravel(),
                                 np.concatenate(values)).statistic ** 2


@pytest.mark.parametrize("effect", ["gain", "bitcrush"])
def test_global_r2_is_the_published_in_sample_value(outputs: Path, tmp_path: Path,
                                                    effect: str) -> None:
    """Our direction is the one the classification stage stores as deformdir["-cca"][inst];
    the R² with it (computed or read from the pickle) is the notebook's expression."""
    from aesens.classification import classify

    embeddings_dir = outputs / "embeddings"
    data = analysis.load("toy", effect, embeddings_dir)
    labels = data.Y_train.astype(str)
    stored = {name: classify.saved_directions("cca", classify.instrument_directions(
        "cca", data.train_A, data.train_Bs, labels == name, None, 0.3))
        for name in INSTRUMENTS}
    models_dir = tmp_path / "models"
    results.update_pickle(layout.deformdir_path("toy", effect, models_dir),
                          {"-cca": stored}, depth=2)
    with open(layout.deformdir_path("toy", effect, models_dir), "rb") as handle:
        deformdir = pickle.load(handle)
    computed = analysis.analyse("toy", effect, embeddings_dir, tmp_path / "no_models")
    from_pickle = analysis.analyse("toy", effect, embeddings_dir, models_dir)
    for name in INSTRUMENTS:
        direction = deformdir["-cca"][name]
        ours = analysis.global_directions("toy", effect, embeddings_dir,
                                          tmp_path / "no_models")[name][0]
        np.testing.assert_allclose(ours, np.ravel(direction), rtol=1e-12, atol=1e-14)
        expected = notebook_global_r2(data.train_Bs[:, labels == name], direction, data.params)
        assert from_pickle.instruments[name].direction_source == "deformdir"
        assert from_pickle.instruments[name].global_r2 == expected
        assert computed.instruments[name].global_r2 == pytest.approx(expected, abs=1e-12)
        assert expected > 0.8  # the synthetic paths move along one direction, in-sample


def test_global_direction_from_deformdir(outputs: Path, tmp_path: Path) -> None:
    """A direction in deformdir["-cca"] replaces the computed one; others are computed."""
    embeddings_dir = outputs / "embeddings"
    data = analysis.load("toy", "bitcrush", embeddings_dir)
    dim = data.train_A.shape[1]
    direction = np.random.default_rng(3).normal(size=dim)
    direction /= np.linalg.norm(direction)
    models_dir = tmp_path / "models"
    pickle_path = layout.deformdir_path("toy", "bitcrush", models_dir)
    pickle_path.parent.mkdir(parents=True)
    with open(pickle_path, "wb") as handle:
        pickle.dump({"": {}, "-lda": {"cello": np.ones((1, dim))},
                     "-cca": {"cello": direction[None, :]}}, handle)
    result = analysis.analyse("toy", "bitcrush", embeddings_dir, models_dir)
    cello, flute = result.instruments["cello"], result.instruments["flute"]
    assert cello.direction_source == "deformdir" and flute.direction_source == "computed"
    train = data.paths()[data.Y_train.astype(str) == "cello"]
    np.testing.assert_allclose(cello.projections, train @ direction, rtol=1e-12)
    assert cello.global_r2 == notebook_global_r2(data.train_Bs[:, data.Y_train == "cello"],
                                                 direction[None, :], data.params)
    test = data.paths("test")[data.Y_test.astype(str) == "cello"]
    ranks = np.tile(np.arange(test.shape[1]), len(test))
    expected = scipy.stats.spearmanr((test @ direction).ravel(), ranks).statistic ** 2
    assert cello.global_r2_test == pytest.approx(expected, abs=1e-12)
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
    path = layout.deformdir_path("toy", "gain", tmp_path)
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

"""The paper's figures: published file names and panels, and the fall-back to other data.

Tiny outputs in the published layout (:func:`test_figures.build_outputs`)
under the paper's names (openl3, panns, clap; the four effects; the
instruments of the published panels), and the demo-like ones of
:mod:`test_figures` (mfcc, toy) for the fall-back.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import test_figures
from test_figures import build_outputs

matplotlib.use("Agg")

from aesens import (
    layout,
    store,  # noqa: E402
)
from aesens.analysis import sensitivity as analysis  # noqa: E402
from aesens.analysis.cca import samplewise_cca_directions  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.reporting import (
    figures,  # noqa: E402
    paper_figures,  # noqa: E402
)

PAPER_EMBEDDINGS = {"openl3": 8, "panns": 9, "clap": 10}
PAPER_EFFECTS = ("bitcrush", "gain", "lowpass_cheby", "reverb")
PAPER_INSTRUMENTS = ("cello", "flute", "organ", "guitar_acc")


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Outputs of the paper's embeddings, effects and instruments, SVD at t = 0.3, 0.4, 0.5."""
    root = tmp_path_factory.mktemp("paper")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_figures, "EMBEDDINGS", PAPER_EMBEDDINGS)
        patch.setattr(test_figures, "EFFECTS", PAPER_EFFECTS)
        patch.setattr(test_figures, "INSTRUMENTS", PAPER_INSTRUMENTS)
        patch.setattr(test_figures, "SVD_THRESHOLDS", (0.3, 0.4, 0.5))
        build_outputs(root, seed=4)
    embeddings_dir = root / "embeddings"
    for embedding in PAPER_EMBEDDINGS:  # stage 3.2's files, read by the 3.5 figure
        for effect in PAPER_EFFECTS:
            grouped = store.read_arrays(layout.grouped_path(embedding, effect, embeddings_dir))
            store.write_arrays(layout.ccadirs_path(embedding, effect, embeddings_dir), {
                "cca_dirs": samplewise_cca_directions(np.moveaxis(grouped["train_Bs"], 0, 1))})
    return root


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo-like outputs: other embeddings (mfcc, toy), effects bitcrush and gain."""
    return build_outputs(tmp_path_factory.mktemp("demo_like"))


class FakeUMAP:
    """A deterministic stand-in of ``umap.UMAP``: records its calls, ``transform`` is linear."""

    calls: list[tuple[str, np.ndarray]] = []

    def __init__(self, n_neighbors: int = 15, random_state: int | None = None):
        self.n_neighbors, self.random_state = n_neighbors, random_state

    def fit(self, data: np.ndarray) -> FakeUMAP:
        self.calls.append(("fit", np.array(data)))
        self.mean = data.mean(axis=0)
        self.weights = np.random.default_rng(0).normal(size=(data.shape[1], 2))
        return self

    def fit_transform(self, data: np.ndarray) -> np.ndarray:
        raise AssertionError("the published view draws everything through transform")

    def transform(self, data: np.ndarray) -> np.ndarray:
        self.calls.append(("transform", np.array(data)))
        return (data - self.mean) @ self.weights + 0.5


def test_umap_panels_draw_each_path_through_transform(paper: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    embeddings_dir = paper / "embeddings"
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    FakeUMAP.calls = []
    pairs, instrument = paper_figures.umap_selection(embeddings_dir)
    assert instrument == "flute"  # the published default
    assert pairs == [(embedding, effect) for embedding in ("openl3", "panns", "clap")
                     for effect in ("lowpass_cheby", "gain", "reverb", "bitcrush")]
    coordinates = paper_figures.umap_panels(pairs[:2], "flute", (0, 2), embeddings_dir, seed=7)
    sweep = analysis.load("openl3", "gain", embeddings_dir)
    rows = np.flatnonzero(sweep.Y_train.astype(str) == "flute")[[0, 2]]
    paths, originals = sweep.paths()[rows], sweep.train_A[rows]
    calls = list(FakeUMAP.calls)
    # second panel (openl3, gain): fit on the two paths stacked, then transform
    fit = [index for index, (kind, _) in enumerate(calls) if kind == "fit"][1]
    np.testing.assert_array_equal(calls[fit][1], paths.reshape(-1, paths.shape[-1]))
    reducer = FakeUMAP().fit(paths.reshape(-1, paths.shape[-1]))
    paths_2d, originals_2d = coordinates["openl3", "gain"]
    np.testing.assert_array_equal(originals_2d, reducer.transform(originals))
    for path, drawn in zip(paths, paths_2d, strict=True):
        np.testing.assert_array_equal(drawn, reducer.transform(path))
    assert paper_figures.umap_name("flute", (0, 2)) == "umap_flute_0_2"
    assert paper_figures.umap_name("flute") == "umap_flute_0"
    fig = figures.umap_grid(paper_figures.umap_panels(pairs, "flute", (0,), embeddings_dir),
                            own_layout_note=False)
    assert fig.get_suptitle() == ""  # as published: no note of ours
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.has_data()]
    assert not any(ax.get_xlabel() for ax in panels)
    assert len(panels) == 12
    assert [ax.get_title() for ax in panels[:4]] == ["lowpass_cheby", "gain", "reverb",
                                                     "bitcrush"]
    assert [ax.get_ylabel() for ax in panels[::4]] == ["openl3", "panns", "clap"]
    with pytest.raises(paper_figures.AesensError, match="train files of 'flute'"):
        paper_figures.umap_panels(pairs[:1], "flute", (50,), embeddings_dir)


@pytest.mark.skipif(not os.environ.get("AESENS_SLOW_TESTS"),
                    reason="umap-learn compiles for about a minute; set AESENS_SLOW_TESTS=1")
def test_umap_transformed_equals_umap_learn(paper: Path) -> None:
    """With umap-learn itself: the coordinates are ``reducer.transform`` of each path."""
    import umap

    sweep = analysis.load("clap", "bitcrush", paper / "embeddings")
    rows = np.flatnonzero(sweep.Y_train.astype(str) == "flute")[:2]
    paths, originals = sweep.paths()[rows], sweep.train_A[rows]
    paths_2d, originals_2d = paper_figures.umap_transformed(paths, originals, random_state=3)
    reducer = umap.UMAP(n_neighbors=3, random_state=3).fit(paths.reshape(-1, paths.shape[-1]))
    np.testing.assert_allclose(originals_2d, reducer.transform(originals), atol=1e-5)
    for path, drawn in zip(paths, paths_2d, strict=True):
        np.testing.assert_allclose(drawn, reducer.transform(path), atol=1e-5)


def test_correlation_figure_has_the_published_panels_and_titles(paper: Path,
                                                                tmp_path: Path) -> None:
    embeddings_dir = paper / "embeddings"
    written = figures.render_all(embeddings_dir, paper / "results", tmp_path / "plots",
                                 embeddings=["openl3"], effects=["gain"], umap_files=0,
                                 formats=["png"])
    for instrument in PAPER_INSTRUMENTS:
        assert tmp_path / "plots" / "corr" / f"corr_{instrument}.png" in written
    for folder in ("corr", "umap", "svd_singvals_ccadirs", "rocauc_curves"):
        assert (tmp_path / "plots" / folder).is_dir()  # where the published notebooks save
    assert tmp_path / "plots/svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf" in written
    assert tmp_path / "plots/rocauc_curves/rocauc_two_paper.pdf" in written
    assert tmp_path / "plots/rocauc_curves/rocauc_two_paper_legend.pdf" in written
    analyses = {(e, f): analysis.analyse(e, f, embeddings_dir)
                for e in ("openl3", "panns", "clap") for f in PAPER_EFFECTS}
    fig = figures.global_correlation_grid(analyses, "organ")
    panels = np.array(fig.axes).reshape(len(PAPER_EFFECTS), 3)
    for row, effect in enumerate(PAPER_EFFECTS):
        for col, embedding in enumerate(("openl3", "panns", "clap")):
            r2 = analyses[embedding, effect].instruments["organ"].global_r2
            lines = panels[row, col].get_title().splitlines()
            assert lines[-1] == f"$R^2 \\approx {r2:.4f}$"  # as the published notebook
            assert lines[:-1] == ([embedding] if row == 0 else [])  # column headers
        assert panels[row, 0].get_ylabel().startswith(effect)


def test_svd_figure_has_the_published_panels(paper: Path) -> None:
    embeddings_dir = paper / "embeddings"
    triples = paper_figures.svd_triples(embeddings_dir)
    assert triples == [("clap", "lowpass_cheby", "cello"), ("panns", "reverb", "cello"),
                       ("openl3", "gain", "cello")]
    fig = paper_figures.svd_figure(triples, embeddings_dir)
    for ax, (embedding, effect, instrument) in zip(fig.axes, triples, strict=True):
        assert ax.get_title() == f"{embedding}, {effect}, {instrument}"
        averaged = store.read_arrays(layout.averaged_path(embedding, embeddings_dir=embeddings_dir))
        mask = averaged["Y_train"].astype(str) == instrument
        directions = store.read_arrays(layout.ccadirs_path(embedding, effect, embeddings_dir),
                                       ["cca_dirs"])["cca_dirs"][mask]
        grouped = store.read_arrays(layout.grouped_path(embedding, effect, embeddings_dir))
        originals = grouped["train_A"][mask]
        expected = [np.linalg.svd(directions, compute_uv=False),
                    np.linalg.svd(originals - originals.mean(axis=0), compute_uv=False)]
        for line, sv in zip(ax.get_lines()[:2], expected, strict=True):
            np.testing.assert_allclose(line.get_ydata(), sv / sv[0], rtol=1e-10, atol=1e-14)


def published_curve(table: pd.DataFrame, instrument: str, method: str, threshold: str,
                    effect: str, train_effected: bool) -> tuple[np.ndarray, np.ndarray]:
    """One curve of the published figure of section 4 from the raw results CSV (pandas)."""
    embedding = "openl3" if method == "" else f"openl3-{method}"
    rows = table[(table["instrument"] == instrument) & (table["embedding"] == embedding)
                 & (table["embedding_params"].fillna("") == threshold)]
    grid = get_effect(effect)
    fixed, other = ("test_set", "train_set") if train_effected else ("train_set", "test_set")
    rows = rows[rows[fixed] == "orig"].set_index(other)["roc_auc"]
    x = [float(value) for value in grid.grid] + [float(grid.identity_value)]
    y = [rows[param] for param in grid.param_strings] + [rows["orig"]]
    order = np.argsort(x, kind="stable")
    return np.asarray(x)[order], np.asarray(y)[order]


def test_rocauc_figure_has_the_published_panels(paper: Path) -> None:
    results_dir = paper / "results"
    rows = paper_figures.rocauc_rows(results_dir)
    assert rows == [("openl3", "reverb", "cello"), ("panns", "gain", "organ"),
                    ("clap", "lowpass_cheby", "guitar_acc")]
    fig = paper_figures.rocauc_figure(rows, results_dir)
    axes = np.array(fig.axes).reshape(3, 4)
    labels = [[line.get_label() for line in ax.get_lines()] for ax in axes[0]]
    first = ["none", "avg. direction", "sample-wise CCA SVD (t = 0.4)", "PCA"]
    second = ["none", *(f"sample-wise CCA SVD (t = {t})" for t in (0.3, 0.4, 0.5))]
    assert labels == [first, first, second, second]
    assert [ax.get_title().splitlines()[1] for ax in axes[0]] == [
        "train orig / test eff.", "train eff. / test orig"] * 2
    # x: the parameter values with the original at room size 0; y: the CSV's ROC AUC
    table = pd.read_csv(layout.results_csv_path("openl3", "reverb", results_dir),
                        dtype={"train_set": str, "test_set": str})
    for col, (method, threshold, train_effected) in enumerate([
            ("avgdirproj", "", False), ("avgdirproj", "", True),
            ("cca_samplewise_svd", '{"svd_thr": 0.5}', False),
            ("cca_samplewise_svd", '{"svd_thr": 0.5}', True)]):
        x, y = published_curve(table, "cello", method, threshold, "reverb", train_effected)
        line = axes[0, col].get_lines()[1 if method == "avgdirproj" else 3]
        assert x[0] == 0.0 and len(x) == 35
        np.testing.assert_array_equal(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y, rtol=1e-12)
    gain = axes[1, 0].get_lines()[0].get_xdata()
    assert list(gain[26:29]) == [-1.0, 0.0, 0.5]  # the original at 0 dB
    assert axes[2, 0].get_lines()[0].get_xdata()[-1] == 22500.0
    legend = paper_figures.rocauc_legend()
    assert [text.get_text() for text in legend.legends[0].get_texts()] == [
        "none", "avg. direction", "sample-wise CCA SVD (t = 0.4)", "PCA",
        "sample-wise CCA SVD (t = 0.3)", "sample-wise CCA SVD (t = 0.5)"]


def test_paper_figures_fall_back_to_what_exists(demo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's embeddings: the same figures, on the first embeddings, effects, instruments."""
    embeddings_dir, results_dir = demo / "embeddings", demo / "results"
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    pairs, instrument = paper_figures.umap_selection(embeddings_dir)
    assert instrument == "flute"
    assert pairs == [("mfcc", "gain"), ("mfcc", "bitcrush"), ("toy", "gain"), ("toy", "bitcrush")]
    assert paper_figures.svd_triples(embeddings_dir) == [
        ("mfcc", "bitcrush", "cello"), ("toy", "bitcrush", "cello"), ("mfcc", "gain", "cello")]
    assert paper_figures.rocauc_rows(results_dir) == [
        ("mfcc", "bitcrush", "cello"), ("toy", "bitcrush", "cello"), ("mfcc", "gain", "cello")]
    assert paper_figures.rocauc_rows(results_dir, ["toy"]) == [
        ("toy", "bitcrush", "cello"), ("toy", "gain", "cello")]
    written = figures.paper_figure_files(embeddings_dir, results_dir, demo / "plots")
    assert sorted(path.relative_to(demo / "plots").as_posix() for path in written) == [
        "rocauc_curves/rocauc_two_paper.pdf", "rocauc_curves/rocauc_two_paper_legend.pdf",
        "svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf", "umap/umap_flute_0.pdf"]
    fig = paper_figures.rocauc_figure(paper_figures.rocauc_rows(results_dir), results_dir)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["none", "avg. direction", "PCA"]  # no t = 0.4 in these results

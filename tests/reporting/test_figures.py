"""Figures, correlation tables and the summary report on tiny synthetic pipeline outputs.

:func:`build_outputs` writes, with :mod:`aesens.store`, the files the analysis
stages publish (averaged original, grouped, ccadirs, classification results)
for two embeddings, two effects and three instruments; the notebook tests
reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

matplotlib.use("Agg")

from aesens import (
    layout,
    store,  # noqa: E402
)
from aesens.analysis import sensitivity as analysis  # noqa: E402
from aesens.analysis.cca import samplewise_cca_directions  # noqa: E402
from aesens.analysis.methods import METHODS  # noqa: E402
from aesens.classification import results  # noqa: E402
from aesens.demo import parts_of  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.errors import AesensError, run_cli  # noqa: E402
from aesens.reporting import (
    figures,  # noqa: E402
    paper_figures,  # noqa: E402
    plots,  # noqa: E402
    report,  # noqa: E402
)
from aesens.reporting.roc_figures import roc_auc_figure  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EMBEDDINGS = {"mfcc": 12, "toy": 20}
EFFECTS = ("bitcrush", "gain")
#: Thresholds of the SVD method in the results.
SVD_THRESHOLDS = (0.3, 0.5)
#: Method keys of the results (the SVD method at two thresholds).
METHOD_KEYS = [m for m in METHODS if m != "cca_samplewise_svd"] + [
    f"cca_samplewise_svd:{t:g}" for t in SVD_THRESHOLDS]
INSTRUMENTS = ("cello", "flute", "piano")
N_TRAIN, N_TEST = 6, 3


def build_outputs(root: Path, seed: int = 0) -> Path:
    """Write tiny pipeline outputs in the published layout under ``root``.

    Paths move smoothly along two directions with the parameter, plus
    noise; ``mfcc`` has stored sample-wise CCA directions, ``toy`` none (the
    figures compute them). Classification results hold every method and
    train/test combination.
    """
    rng = np.random.default_rng(seed)
    embeddings_dir = root / "embeddings"
    labels = {part: np.repeat(INSTRUMENTS, count) for part, count in
              (("train", N_TRAIN), ("test", N_TEST))}
    for embedding, dim in EMBEDDINGS.items():
        centres = {name: rng.normal(0, 3, dim) for name in INSTRUMENTS}
        originals = {part: np.array([centres[name] + rng.normal(0, 1, dim) for name in y])
                     for part, y in labels.items()}
        store.write_arrays(layout.averaged_path(embedding, embeddings_dir=embeddings_dir), {
            "X_train": originals["train"], "Y_train": labels["train"],
            "X_test": originals["test"], "Y_test": labels["test"],
            "genre_train": np.full(len(labels["train"]), "classical"),
            "genre_test": np.full(len(labels["test"]), "pop_roc")})
        for name in EFFECTS:
            effect = get_effect(name)
            t = np.linspace(0, 1, len(effect))
            basis = np.linalg.qr(rng.normal(size=(dim, 2)))[0].T
            shift = np.outer(3 * t, basis[0]) + np.outer(np.sin(4 * t), basis[1])
            bs = {part: np.stack([a + s + rng.normal(0, 0.2, a.shape) for s in shift])
                  for part, a in originals.items()}
            store.write_arrays(layout.grouped_path(embedding, name, embeddings_dir), {
                "train_A": originals["train"], "test_A": originals["test"],
                "train_Bs": bs["train"], "test_Bs": bs["test"]})
            if embedding == "mfcc":
                store.write_arrays(layout.ccadirs_path(embedding, name, embeddings_dir), {
                    "cca_dirs": samplewise_cca_directions(np.moveaxis(bs["train"], 0, 1))})
            write_results(root / "results", name, embedding, rng)
    return root


def write_results(results_dir: Path, name: str, embedding: str,
                  rng: np.random.Generator, published: bool = True) -> None:
    """A classification results CSV with the published columns and combinations.

    ``published``: the published labels (``toy`` for no method, empty
    ``embedding_params`` except the SVD threshold); else those of earlier
    versions of this tool (``toy-`` and ``{}``).
    """
    effect = get_effect(name)
    param_strings = effect.param_strings
    strength = np.abs(np.arange(len(effect)) - effect.identity_rank) / len(effect)
    variants = [(method, {}) for method in METHODS if method != "cca_samplewise_svd"]
    variants += [("cca_samplewise_svd", {"svd_thr": threshold}) for threshold in SVD_THRESHOLDS]
    rows = []
    for index, (method, params) in enumerate(variants):
        for instrument in INSTRUMENTS:
            base = 0.9 + rng.normal(0, 0.01)
            sets = [("orig", "orig", base)]
            for param, s in zip(param_strings, strength, strict=True):
                loss = 0.3 * s / (1 + index)
                sets += [("orig", param, base - loss), (param, "orig", base - 0.5 * loss),
                         (param, param, base - 0.2 * loss)]
            sets += [("orig", "randommix", base - 0.1), ("randommix", "orig", base - 0.05),
                     ("randommix", "randommix", base - 0.02)]
            for train_set, test_set, auc in sets:
                rows.append({"instrument": instrument, "train_set": train_set,
                             "test_set": test_set, "precision": 0.5, "recall": 0.5,
                             "f1_score": 0.5, "support": 10, "accuracy": 0.8, "roc_auc": auc,
                             "ap": 0.6, "extra_info": "",
                             "embedding": (METHODS[method].label(embedding) if published
                                           else f"{embedding}-{method}"),
                             "embedding_params": (json.dumps(params) if params or not published
                                                  else ""),
                             "last_updated": "2025-01-01 00:00:00"})
    path = layout.results_csv_path(embedding, name, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny pipeline outputs (see :func:`build_outputs`)."""
    return build_outputs(tmp_path_factory.mktemp("outputs"))


def test_param_scale_units() -> None:
    lowpass = plots.param_scale(get_effect("lowpass_cheby"))
    assert lowpass.factor == 1e-3 and "kHz" in lowpass.label and lowpass.log
    gain = plots.param_scale(get_effect("gain"))
    assert gain.factor == 1 and "dB" in gain.label and not gain.log
    assert "bits" in plots.param_scale(get_effect("bitcrush")).label
    assert plots.param_scale(get_effect("reverb")).label == "room size"


def test_rank_ticks_place_identity_off_grid() -> None:
    ticks, labels = plots.rank_ticks(get_effect("reverb"), identity=True)
    assert ticks[0] == -1 and labels[0] == "0"
    ticks, labels = plots.rank_ticks(get_effect("bitcrush"), identity=True)
    assert ticks[-1] == 12 and labels[-1] == "16"
    ticks, labels = plots.rank_ticks(get_effect("gain"), identity=True)
    assert labels == ["\N{MINUS SIGN}40", "\N{MINUS SIGN}30", "\N{MINUS SIGN}20",
                      "\N{MINUS SIGN}10", "0"]  # round values; 0 dB lies inside the grid
    assert ticks[-1] == pytest.approx(get_effect("gain").identity_rank)
    _, labels = plots.rank_ticks(get_effect("lowpass_cheby"), identity=True)
    assert labels == ["2", "5", "10", "22.5"]  # kHz, log-spaced


def test_discovery(outputs: Path) -> None:
    embeddings_dir = outputs / "embeddings"
    assert analysis.find_embeddings(embeddings_dir) == ["mfcc", "toy"]
    assert analysis.find_effects("toy", embeddings_dir) == list(EFFECTS)
    assert analysis.default_dirs(embeddings_dir) == (embeddings_dir, outputs / "results")


def test_default_dirs_search(outputs: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo").symlink_to(outputs)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert analysis.default_dirs() == (Path("..", "demo", "embeddings"),
                                      Path("..", "demo", "results"))
    assert analysis.default_selection(analysis.default_dirs()[0]) == ("mfcc", "bitcrush")
    assert analysis.result_selection(Path("..", "demo", "results"), "toy") == ("toy", "bitcrush")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").unlink()
    with pytest.raises(AesensError, match="make demo"):
        analysis.default_dirs()
    with pytest.raises(AesensError, match="desensitize_classif"):
        analysis.result_selection(tmp_path)


def test_analysis_finds_the_synthetic_sensitivity(outputs: Path) -> None:
    result = analysis.analyse("toy", "gain", outputs / "embeddings")
    assert list(result.instruments) == list(INSTRUMENTS)
    table = result.table()
    # the paper's global R² (in-sample) and the held-out one
    assert (table["spearman_corr2"] > 0.8).all() and (table["samplewise_r2_median"] > 0.8).all()
    assert (table["global_r2_test"] > 0.2).all()  # held out: offsets between files remain
    assert table["sv_count_0.3"].ge(table["sv_count_0.5"]).all()
    cello = result.instruments["cello"]
    assert cello.projections.shape == (N_TRAIN, len(get_effect("gain")))  # the fitted paths
    # stored directions (mfcc) and computed ones (toy) give the same kind of result
    stored = analysis.analyse("mfcc", "gain", outputs / "embeddings").table()
    assert (stored["samplewise_r2_median"] > 0.8).all()


def test_figure_functions_draw_every_panel(outputs: Path) -> None:
    embeddings_dir = outputs / "embeddings"
    analyses = {(e, f): analysis.analyse(e, f, embeddings_dir) for e in EMBEDDINGS
                for f in EFFECTS}
    rng = np.random.default_rng(0)
    coordinates = {(e, f): (rng.normal(size=(2, len(get_effect(f)), 2)), rng.normal(size=(2, 2)))
                   for e, f in analyses}
    grids = [figures.umap_grid(coordinates), figures.global_correlation_grid(analyses, "flute"),
             figures.r2_histogram_grid({key: result.all_samplewise_r2()
                                        for key, result in analyses.items()}),
             figures.singular_value_grid(analyses),
             figures.singular_value_figure(analyses["toy", "gain"]),
             figures.samplewise_correlation_figure("mfcc", "bitcrush", 4, embeddings_dir),
             roc_auc_figure({f: results.load_results(f, "toy", outputs / "results")
                             for f in EFFECTS}, "toy")]
    for fig in grids:
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and any(ax.get_title() for ax in drawn), fig
    umap = grids[0]
    assert [ax.get_title() for ax in umap.axes[:2]] == list(EFFECTS)
    assert [ax.get_ylabel() for ax in umap.axes[::2][:2]] == list(EMBEDDINGS)
    assert any("bits" in ax.get_xlabel() for ax in umap.axes)  # colour bar label
    paths = figures.save(grids[1], outputs / "plots_unit", "global", ["png", "pdf"],
                         close=False)
    assert all(path.stat().st_size > 0 for path in paths)
    low = figures.save(grids[1], outputs / "plots_unit", "global_100", ["png"], dpi=100)[0]
    for path, dpi in ((paths[0], plots.PNG_DPI), (low, 100)):
        with Image.open(path) as image:
            assert np.allclose(image.info["dpi"], dpi, atol=0.01)


def test_report_tables(outputs: Path) -> None:
    classification = report.classification_table(outputs / "results")
    assert len(classification) == len(EMBEDDINGS) * len(EFFECTS) * len(METHOD_KEYS)
    gain_none = classification[(classification["effect"] == "gain")
                               & (classification["method"] == "none")].iloc[0]
    assert gain_none["strongest"] == "\N{MINUS SIGN}40 dB"
    assert report.setting_label(get_effect("lowpass_cheby"), 0) == "1.6 kHz"
    assert report.setting_label(get_effect("reverb"), 33) == "room size 1"
    assert float(gain_none["drop (orig/eff.)"]) > 0
    assert report.strongest_rank(get_effect("reverb")) == len(get_effect("reverb")) - 1


def test_report_needs_some_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(report.main, ["--results-dir", str(tmp_path)]) == 2
    assert "run python -m aesens.figures" in capsys.readouterr().err


def test_figures_command(outputs: Path, tmp_path: Path) -> None:
    """The whole command, UMAP included (numba JIT off: compiling UMAP takes a minute)."""
    plots_dir, results_dir = tmp_path / "plots", tmp_path / "results"
    results_dir.mkdir()
    for name in EFFECTS:
        (results_dir / name).mkdir()
        for embedding in EMBEDDINGS:
            source = layout.results_csv_path(embedding, name, outputs / "results")
            layout.results_csv_path(embedding, name, results_dir).write_bytes(source.read_bytes())
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "aesens.figures", "--embeddings-dir",
               str(outputs / "embeddings"), "--results-dir", str(results_dir), "--plots-dir",
               str(plots_dir), "--umap-files", "2", "--embeddings", "toy",
               "--timings", str(tmp_path / "parts.csv")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    # the demo's timings.csv row of the statistics beyond the paper, from what the command wrote
    parts = parts_of("figures and report", tmp_path / "parts.csv")
    assert [label for label, _ in parts] == [
        "(part of figures and report) shift curves, held-out R², probe and layer profiles"]
    assert 0 < parts[0][1] and not (tmp_path / "parts.csv").exists()
    expected = ["umap_trajectories", "samplewise_r2_histograms", "singular_values",
                "singular_values_toy_gain", "roc_auc_toy",
                *(f"corr/corr_{name}" for name in INSTRUMENTS)]
    for name in expected:
        for fmt in ("pdf", "png"):
            assert (plots_dir / f"{name}.{fmt}").stat().st_size > 0, name
    # the paper's 2B.1, 3.5 and 4 figures under their published names (falling back to toy)
    for name in ("umap/umap_flute_0", "svd_singvals_ccadirs/svd_singvals_ccadirs_paper",
                 "rocauc_curves/rocauc_two_paper", "rocauc_curves/rocauc_two_paper_legend"):
        assert (plots_dir / f"{name}.pdf").stat().st_size > 0, name
    table = pd.read_csv(results_dir / "correlations.csv")
    assert len(table) == len(EFFECTS) * len(INSTRUMENTS)
    assert list(table.columns[:6]) == ["embedding", "effect", "instrument",
                                       "desensitization_method", "spearman_corr2", "comment"]
    assert {"global_r2_test", "samplewise_r2_median"} <= set(table.columns)
    assert table["global_direction"].eq("computed").all()  # no models/ folder here
    r2 = np.loadtxt(results_dir / "gain" / "cca_r2s_toy.txt")
    assert r2.shape == (N_TRAIN * len(INSTRUMENTS),) and np.all((r2 >= 0) & (r2 <= 1))
    summary = (results_dir / "summary.md").read_text()
    assert "| toy | gain |" in summary and "../plots/umap_trajectories.png" in summary
    assert "- [corr/corr_flute](../plots/corr/corr_flute.png)" in summary
    assert "(../plots/svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf)" in summary
    # every PNG, ours and the paper's corr/ figures, at 200 dpi or more (read back by Pillow)
    pngs = sorted(plots_dir.rglob("*.png"))
    assert len(pngs) > len(expected)
    for path in pngs:
        with Image.open(path) as image:
            assert min(image.info["dpi"]) >= 199.9, path


def test_load_results_reads_published_and_earlier_labels(outputs: Path, tmp_path: Path) -> None:
    published = results.load_results("gain", "toy", outputs / "results")
    raw = pd.read_csv(layout.results_csv_path("toy", "gain", outputs / "results"), dtype=str,
                      keep_default_na=False)
    assert set(raw["embedding"]) >= {"toy", "toy-lda", "toy-cca_samplewise_svd"}
    assert set(raw["embedding_params"]) == {"", '{"svd_thr": 0.3}', '{"svd_thr": 0.5}'}
    write_results(tmp_path, "gain", "toy", np.random.default_rng(1), published=False)
    earlier = results.load_results("gain", "toy", tmp_path)
    assert set(pd.read_csv(layout.results_csv_path("toy", "gain", tmp_path))["embedding"]) >= {
        "toy-", "toy-lda"}
    assert set(published["method"]) == set(earlier["method"]) == set(METHOD_KEYS)
    # same rows, same methods, in both spellings
    assert published["method"].tolist() == earlier["method"].tolist()
    assert published.loc[published["method"] == "", "embedding"].eq("toy").all()


def test_load_results_bad_files_name_the_file(tmp_path: Path) -> None:
    path = layout.results_csv_path("toy", "gain", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    with pytest.raises(AesensError, match=r"result_toy\.csv is not a readable CSV"):
        results.load_results("gain", "toy", tmp_path)
    path.write_text('instrument,train_set,test_set,roc_auc,embedding\ncello,orig,orig,0.9,toy,x,y\n'
                    '"unclosed\n')
    with pytest.raises(AesensError, match="result_toy.csv"):
        results.load_results("gain", "toy", tmp_path)
    path.write_text("instrument,train_set,test_set,roc_auc,embedding,embedding_params\n"
                    "cello,orig,orig,0.9,toy-cca_samplewise_svd,{svd_thr: 0.3}\n")
    with pytest.raises(AesensError, match="not JSON"):
        results.load_results("gain", "toy", tmp_path)
    path.write_text("instrument,train_set,test_set,roc_auc,embedding,embedding_params\n"
                    "cello,orig,orig,0.9,toy,\ncello,orig,orig,0.8,toy-cca_samplewise_svd,"
                    '"{""svd_thr"": 0.3}"\n')
    assert results.load_results("gain", "toy", tmp_path)["method"].tolist() == [
        "", "cca_samplewise_svd:0.3"]


def test_singular_value_triples_match_numpy(outputs: Path) -> None:
    embeddings_dir = outputs / "embeddings"
    triples = [("toy", "gain", "flute"), ("mfcc", "bitcrush", "cello")]
    fig = paper_figures.svd_figure(triples, embeddings_dir)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["toy, gain, flute",
                                                      "mfcc, bitcrush, cello"]
    data = analysis.load("mfcc", "bitcrush", embeddings_dir)
    mask = data.Y_train.astype(str) == "cello"
    directions = store.read_arrays(layout.ccadirs_path("mfcc", "bitcrush", embeddings_dir),
                                   ["cca_dirs"])["cca_dirs"][mask]
    sv = np.linalg.svd(directions, compute_uv=False)
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), sv / sv[0], rtol=1e-10)
    with pytest.raises(AesensError, match="no train file of 'organ'"):
        paper_figures.svd_figure([("toy", "gain", "organ")], embeddings_dir)


def test_umap_grid_uses_the_same_files(outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake(paths, originals, random_state=None):
        seen[len(seen)] = originals
        return paths[..., :2], originals[:, :2]

    monkeypatch.setattr(analysis, "umap_trajectories", fake)
    embeddings_dir = outputs / "embeddings"
    pairs = [(e, f) for e in EMBEDDINGS for f in EFFECTS]
    coordinates = analysis.umap_grid_coordinates(pairs, embeddings_dir, n_files=3, seed=4,
                                                instrument="piano")
    files = analysis.choose_files(np.repeat(INSTRUMENTS, N_TRAIN), 3, 4, "piano")
    assert len(files) == 3 and all(files >= 2 * N_TRAIN)
    for index, (embedding, effect) in enumerate(pairs):
        train_a = analysis.load(embedding, effect, embeddings_dir).train_A
        np.testing.assert_array_equal(seen[index], train_a[files])
        assert coordinates[embedding, effect][0].shape == (3, len(get_effect(effect)), 2)
    fig = figures.umap_grid(coordinates)
    assert sum(1 for ax in fig.axes if ax.get_label() == "<colorbar>") == len(EFFECTS)


@pytest.mark.parametrize(("option", "message"), [
    (["--format", "xyz"], "unknown figure format xyz"),
    (["--umap-files", "-1"], "-1 is negative"),
    (["--seed", "two"], "'two' is not a whole number"),
    (["--effects", "gain,flanger"], "unknown effect flanger"),
    (["--embeddings", ","], "names nothing"),
])
def test_command_rejects_bad_options(option: list[str], message: str,
                                     capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        figures.main(option)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_report_reads_hand_edited_correlations(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """A correlations.csv with a comment column and without the in-sample R² column reads."""
    rows = pd.DataFrame({"embedding": ["toy"] * 3, "effect": ["gain"] * 3,
                         "instrument": list(INSTRUMENTS), "desensitization_method": ["cca"] * 3,
                         "global_r2_test": [0.2, 0.4, ""],
                         "samplewise_r2_median": [0.9, 0.8, 0.7],
                         "comment": ["odd, check", "", "NA"]})
    rows.to_csv(tmp_path / "correlations.csv", index=False)
    table = report.read_correlations(tmp_path / "correlations.csv")
    assert table["comment"].tolist()[0] == "odd, check" and table["comment"].tolist()[2] == "NA"
    sensitivity = report.sensitivity_table(table)
    # pandas reference: median [min–max] over the instruments with a value
    assert sensitivity["global R² (held out)"].tolist() == ["0.30 [0.20–0.40]"]
    assert sensitivity["global R²"].tolist() == ["n/a"]
    assert sensitivity["sample-wise R²"].tolist() == ["0.80 [0.70–0.90]"]
    summary = report.write_summary(tmp_path, tmp_path / "plots").read_text()
    assert "| toy | gain | 3 | n/a | 0.30 [0.20–0.40] | 0.80 [0.70–0.90] |" in summary
    (tmp_path / "correlations.csv").write_text("embedding,effect\ntoy,gain\n")
    assert run_cli(report.main, ["--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "correlations.csv lacks columns instrument" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "correlations.csv").write_bytes(b"\xff\xfe\x00")
    assert run_cli(report.main, ["--results-dir", str(tmp_path)]) == 2
    assert "correlations.csv is not a readable CSV" in capsys.readouterr().err


def test_rank_ticks_of_effects_without_an_exact_identity() -> None:
    """Off-grid identity ticks use the effect's label and never overlap a grid tick."""
    ticks, labels = plots.rank_ticks(get_effect("mp3"), identity=True)
    assert labels[-1] == "wav" and ticks[-1] == pytest.approx(10)
    ticks, labels = plots.rank_ticks(get_effect("noise_white"), identity=True)
    assert labels[0] == "\N{INFINITY}" and ticks[0] == -1
    # Numbers where the uneffected audio is a setting: no coded fraction, a 0-Hz cut-off,
    # 0-dB thresholds, the dataset's 44.1 kHz.
    for name, label in [("gsm", "0"), ("highpass_cheby", "0"), ("compressor", "0"),
                        ("clipping", "0"), ("resample", "44.1")]:
        ticks, labels = plots.rank_ticks(get_effect(name), identity=True)
        assert labels[list(ticks).index(get_effect(name).identity_rank)] == label, name
    for name in ("highpass_cheby", "noise_pink", "mp3", "reverb", "bitcrush"):
        ticks, _ = plots.rank_ticks(get_effect(name), identity=True)
        assert np.all(np.diff(ticks) > 1.5), name
    assert plots.format_value(4000.0) == "4000" and plots.format_value(1000.0) == "1000"
    assert plots.format_value(-40.0) == "\N{MINUS SIGN}40"

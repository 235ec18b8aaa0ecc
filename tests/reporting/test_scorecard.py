"""The sensitivity scorecard on tiny synthetic pipeline outputs (see ``test_figures``).

Values are checked against independent computations: scikit-learn's CCA and
scipy's Spearman correlation for the R², numpy's SVD for the direction
counts and participation ratios, pandas means of the results CSV for the
ROC AUC columns.
"""

from __future__ import annotations

import base64
import re
import shutil
import statistics
from pathlib import Path
from urllib.parse import unquote

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import QuantileTransformer
from test_figures import EFFECTS, EMBEDDINGS, INSTRUMENTS, build_outputs, write_results

from aesens import layout, store
from aesens.analysis import sensitivity as analysis
from aesens.effects import get_effect
from aesens.errors import AesensError, run_cli
from aesens.reporting import scorecard, shift_scorecard
from aesens.reporting.scorecard_render import MISSING, display_sensitivity, heatmap_figure

#: Absolute tolerance of values recomputed independently (float64 arithmetic in another order).
ATOL = 1e-9


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny pipeline outputs: 2 embeddings x 2 effects x 3 instruments, every stage run."""
    return build_outputs(tmp_path_factory.mktemp("scorecard"))


@pytest.fixture(scope="module")
def card(outputs: Path) -> pd.DataFrame:
    """The scorecard of :func:`outputs`."""
    return scorecard.scorecard(outputs / "embeddings", outputs / "results")


def _row(card: pd.DataFrame, embedding: str, effect: str) -> pd.Series:
    rows = card[(card["embedding"] == embedding) & (card["effect"] == effect)]
    assert len(rows) == 1
    return rows.iloc[0]


def _grouped(outputs: Path, embedding: str, effect: str) -> dict[str, np.ndarray]:
    """Grouped arrays and labels read with h5py directly."""
    embeddings_dir = outputs / "embeddings"
    with h5py.File(layout.grouped_path(embedding, effect, embeddings_dir), "r") as handle:
        data = {name: handle[name][()] for name in ("train_Bs", "test_Bs")}
    with h5py.File(layout.averaged_path(embedding, embeddings_dir=embeddings_dir), "r") as handle:
        for name in ("Y_train", "Y_test"):
            data[name] = handle[name][()].astype(str)
    return data


def test_participation_ratio_and_counts() -> None:
    assert scorecard.participation_ratio(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert scorecard.participation_ratio(np.full(5, 0.2)) == pytest.approx(5.0)
    values = np.random.default_rng(0).uniform(0.01, 1, 7)
    expected = np.sum(values ** 2) ** 2 / np.sum(values ** 4)
    assert scorecard.participation_ratio(values) == pytest.approx(expected, rel=1e-12)
    assert scorecard.participation_ratio(values * 3) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(scorecard.participation_ratio(np.array([np.nan])))
    assert analysis.direction_count(np.array([2.0, 0.6, 0.59, 0.1])) == 2
    assert analysis.direction_count(np.array([1.0, 0.5, 0.3]), 0.5) == 2
    assert np.isnan(analysis.direction_count(np.array([np.nan])))


def test_pairs_and_columns(card: pd.DataFrame) -> None:
    assert card.columns.tolist() == [*scorecard.COLUMNS, *shift_scorecard.COLUMNS]
    assert list(zip(card["embedding"], card["effect"], strict=True)) == [
        (embedding, effect) for embedding in sorted(EMBEDDINGS) for effect in EFFECTS]
    assert card["instruments_cca"].eq(len(INSTRUMENTS)).all()
    assert card["instruments_auc"].eq(len(INSTRUMENTS)).all()
    assert _row(card, "toy", "gain")["strongest"] == "-40.0"
    assert _row(card, "toy", "bitcrush")["strongest"] == "4"


def test_sensitivity_matches_sklearn_scipy_and_numpy(outputs: Path, card: pd.DataFrame) -> None:
    """mfcc has stored sample-wise directions: R², counts and ratios recomputed from them."""
    embedding, effect = "mfcc", "gain"
    data = _grouped(outputs, embedding, effect)
    with h5py.File(layout.ccadirs_path(embedding, effect, outputs / "embeddings"), "r") as handle:
        directions = handle["cca_dirs"][()]
    train, test = np.moveaxis(data["train_Bs"], 0, 1), np.moveaxis(data["test_Bs"], 0, 1)
    n_params = train.shape[1]
    target = QuantileTransformer(n_quantiles=n_params).fit_transform(
        np.arange(n_params, dtype=float)[:, None])[:, 0]
    grid = get_effect(effect).grid
    global_r2, global_r2_test, samplewise, counts, ratios = [], [], [], [], []
    for name in INSTRUMENTS:
        paths = train[data["Y_train"] == name]
        cca = CCA(n_components=1, scale=False, max_iter=5000, tol=1e-12).fit(
            paths.reshape(-1, paths.shape[-1]), np.tile(target, len(paths)))
        # the published 3.1 notebook: train rows, setting by setting, against the values
        projection = np.concatenate([data["train_Bs"][i][data["Y_train"] == name]
                                     @ cca.x_weights_[:, 0] for i in range(n_params)])
        values = np.concatenate([np.full(len(paths), value) for value in grid])
        global_r2.append(scipy.stats.spearmanr(projection, values).statistic ** 2)
        held_out = test[data["Y_test"] == name]
        global_r2_test.append(scipy.stats.spearmanr(
            (held_out @ cca.x_weights_[:, 0]).ravel(),
            np.tile(np.arange(n_params), len(held_out))).statistic ** 2)
        own = directions[data["Y_train"] == name]
        samplewise.append(np.median([scipy.stats.spearmanr(path @ d, np.arange(n_params))
                                     .statistic ** 2 for path, d in zip(paths, own, strict=True)]))
        sigma = np.linalg.svd(own, compute_uv=False)
        counts.append(np.sum(sigma / sigma[0] >= 0.3))
        ratios.append(np.sum(sigma ** 2) ** 2 / np.sum(sigma ** 4))
    row = _row(card, embedding, effect)
    assert row["global_r2"] == pytest.approx(np.median(global_r2), abs=1e-6)
    assert row["global_r2_test"] == pytest.approx(np.median(global_r2_test), abs=1e-6)
    assert row["samplewise_r2"] == pytest.approx(np.median(samplewise), abs=ATOL)
    assert row["n_directions"] == np.median(counts)
    assert row["participation_ratio"] == pytest.approx(np.median(ratios), abs=ATOL)
    # and as the figures (and so the summary report) compute them
    table = analysis.analyse(embedding, effect, outputs / "embeddings").table()
    assert row["global_r2"] == pytest.approx(table["spearman_corr2"].median(), abs=ATOL)


@pytest.mark.parametrize(("embedding", "effect"), [("toy", "gain"), ("mfcc", "bitcrush")])
def test_roc_auc_columns_match_pandas(outputs: Path, card: pd.DataFrame, embedding: str,
                                      effect: str) -> None:
    raw = pd.read_csv(layout.results_csv_path(embedding, effect, outputs / "results"),
                      dtype={"train_set": str, "test_set": str}, keep_default_na=False)
    strongest = {"gain": "-40.0", "bitcrush": "4"}[effect]
    raw["method"] = raw["embedding"] + raw["embedding_params"]

    def auc(method: str, train_set: str, test_set: str) -> pd.Series:
        rows = raw[(raw["method"] == method) & (raw["train_set"] == train_set)
                   & (raw["test_set"] == test_set)]
        return rows.groupby("instrument")["roc_auc"].mean()

    def mean_auc(method: str, train_set: str, test_set: str) -> float:
        return auc(method, train_set, test_set).mean()

    base = mean_auc(embedding, "orig", "orig")
    per_instrument = {"orig/eff": auc(embedding, "orig", "orig") - auc(embedding, "orig",
                                                                        strongest),
                      "eff/orig": auc(embedding, "orig", "orig") - auc(embedding, strongest,
                                                                        "orig")}
    drops = {key: values.mean() for key, values in per_instrument.items()}
    row = _row(card, embedding, effect)
    assert row["auc_orig_orig"] == pytest.approx(base, abs=ATOL)
    assert row["drop_orig_eff"] == pytest.approx(drops["orig/eff"], abs=ATOL)
    assert row["drop_eff_orig"] == pytest.approx(drops["eff/orig"], abs=ATOL)
    assert row["se_drop_orig_eff"] == pytest.approx(
        statistics.stdev(per_instrument["orig/eff"]) / np.sqrt(len(INSTRUMENTS)), abs=ATOL)
    assert row["auc_orig_eff"] == pytest.approx(base - drops["orig/eff"], abs=ATOL)
    assert row["mean_drop"] == pytest.approx(np.mean(list(drops.values())), abs=ATOL)
    both = (per_instrument["orig/eff"] + per_instrument["eff/orig"]) / 2
    assert row["se_mean_drop"] == pytest.approx(
        statistics.stdev(both) / np.sqrt(len(INSTRUMENTS)), abs=ATOL)
    assert row["relative_drop"] == pytest.approx(row["mean_drop"] / (base - 0.5), abs=ATOL)
    # the synthetic F1 and accuracy are the same in every row: nothing dropped
    assert row["f1_drop_orig_eff"] == 0 and row["accuracy_drop_eff_orig"] == 0
    condition = max(drops, key=drops.get)
    sets = ("orig", strongest) if condition == "orig/eff" else (strongest, "orig")
    assert row["drop_beyond_noise"]  # a loss of about 0.1-0.2 over 3 close instruments
    others = {method: mean_auc(method, *sets) for method in raw["method"].unique()
              if method != embedding}
    best = max(others, key=others.get)
    assert row["best_condition"] == condition
    assert row["best_auc"] == pytest.approx(others[best], abs=ATOL)
    assert row["auc_recovered"] == pytest.approx(others[best] - mean_auc(embedding, *sets),
                                                 abs=ATOL)
    # the synthetic results: the last method (SVD at 0.5) loses least
    assert best == f'{embedding}-cca_samplewise_svd{{"svd_thr": 0.5}}'
    assert row["best_method"] == "cca_samplewise_svd:0.5"


def test_no_best_method_where_nothing_was_lost(tmp_path: Path) -> None:
    """Within noise (here: no loss at all) the method columns stay empty and say why."""
    results_dir = tmp_path / "results"
    write_results(results_dir, "gain", "flat", np.random.default_rng(5))
    path = layout.results_csv_path("flat", "gain", results_dir)
    table = pd.read_csv(path, dtype={"train_set": str, "test_set": str},
                        keep_default_na=False)
    base = table[(table["train_set"] == "orig") & (table["test_set"] == "orig")]
    orig = dict(zip(zip(base["instrument"], base["embedding"], base["embedding_params"],
                        strict=True), base["roc_auc"], strict=True))
    table["roc_auc"] = [orig[key] for key in zip(table["instrument"], table["embedding"],
                                                 table["embedding_params"], strict=True)]
    table.to_csv(path, index=False)
    card = scorecard.scorecard(tmp_path / "embeddings", results_dir)
    row = _row(card, "flat", "gain")
    assert row["mean_drop"] == 0 and not row["drop_beyond_noise"]
    assert pd.isna(row["best_method"]) and pd.isna(row["auc_recovered"])
    markdown = scorecard.write_scorecard(card, tmp_path / "out", tmp_path / "plots")[1]
    lines = markdown.read_text(encoding="utf-8").splitlines()
    recovery = lines[lines.index("## Desensitisation where ROC AUC was lost") + 4]
    assert recovery.startswith("| flat | gain |") and "nothing lost beyond noise" in recovery


def test_ranking_order() -> None:
    """Ranked by the share of ROC AUC above chance lost; values written out by hand."""
    card = pd.DataFrame({
        "embedding": ["b", "b", "a", "a", "c", "d"],
        "effect": ["gain", "reverb", "gain", "reverb", "gain", "gain"],
        "auc_orig_orig": [0.9, 0.9, 0.6, 0.6, 0.8, 0.7],
        "mean_drop": [0.1, 0.3, 0.05, np.nan, np.nan, 0.01],
        "se_mean_drop": [0.03, 0.04, 0.01, np.nan, np.nan, 0.02],
        "drop_beyond_noise": [True, True, True, np.nan, np.nan, False],
        "relative_drop": [0.25, 0.75, 0.5, np.nan, np.nan, 0.05],
        "se_relative_drop": [0.075, 0.1, 0.1, np.nan, np.nan, 0.1]})
    ranked = scorecard.ranking(card).set_index("embedding")
    # d loses 0.05 of its headroom, b (0.25 + 0.75) / 2 = 0.5, a 0.5: tie by name; c none
    assert ranked.index.tolist() == ["d", "a", "b", "c"]
    assert ranked.loc["b", "relative_drop"] == pytest.approx(0.5)
    assert ranked.loc["b", "mean_drop"] == pytest.approx(0.2)
    assert ranked.loc["b", "se_mean_drop"] == pytest.approx((0.03 ** 2 + 0.04 ** 2) ** 0.5 / 2)
    assert ranked.loc["b", "se_relative_drop"] == pytest.approx((0.075 ** 2 + 0.1 ** 2) ** 0.5
                                                                / 2)
    # 0.2 > max(0.02, 2 x 0.025); d: 0.01 within max(0.02, 0.04)
    assert ranked.loc["b", "beyond_noise"] and not ranked.loc["d", "beyond_noise"]
    assert ranked["effects"].tolist() == [1, 1, 2, 0]
    assert ranked["losses_beyond_noise"].tolist() == [0, 1, 2, 0]
    assert ranked.loc["b", "worst_effect"] == "reverb" and pd.isna(ranked.loc["c",
                                                                              "worst_effect"])


def test_ranking_of_the_scorecard_matches_pandas(card: pd.DataFrame) -> None:
    expected = (card["mean_drop"] / (card["auc_orig_orig"] - 0.5)).groupby(
        card["embedding"]).mean().sort_values()
    ranked = scorecard.ranking(card)
    assert ranked["embedding"].tolist() == expected.index.tolist()
    assert ranked["relative_drop"].to_numpy() == pytest.approx(expected.to_numpy(), abs=ATOL)


def test_partial_results(outputs: Path, tmp_path: Path) -> None:
    """Results without grouped embeddings and the reverse: rows with "—", never an error."""
    root = tmp_path / "partial"
    shutil.copytree(outputs, root)
    layout.results_csv_path("toy", "gain", root / "results").unlink()
    layout.grouped_path("mfcc", "bitcrush", root / "embeddings").unlink()
    layout.ccadirs_path("mfcc", "bitcrush", root / "embeddings").unlink()
    write_results(root / "results", "gain", "solo", np.random.default_rng(3))
    card = scorecard.scorecard(root / "embeddings", root / "results")
    assert len(card) == 5
    grouped_only = _row(card, "toy", "gain")
    assert np.isfinite(grouped_only["global_r2"]) and np.isnan(grouped_only["auc_orig_orig"])
    assert pd.isna(grouped_only["best_method"]) and grouped_only["strongest"] == "-40.0"
    for embedding, effect in (("mfcc", "bitcrush"), ("solo", "gain")):
        results_only = _row(card, embedding, effect)
        assert np.isnan(results_only["global_r2"]) and pd.isna(results_only["instruments_cca"])
        assert np.isfinite(results_only["mean_drop"])
    written = scorecard.write_scorecard(card, root / "out", root / "plots")
    saved = pd.read_csv(written[0])
    assert saved[["global_r2", "auc_orig_orig"]].isna().sum().tolist() == [2, 1]
    markdown = written[1].read_text(encoding="utf-8")
    robustness_part = markdown[markdown.index("## Robustness"):]
    toy_gain = next(line for line in robustness_part.splitlines()
                    if line.startswith("| toy | gain |"))
    assert toy_gain.count(MISSING) >= 10  # every classification cell
    solo = next(line for line in markdown.splitlines() if line.startswith("| solo | gain |"))
    assert solo.split(" | ")[2:6] == [MISSING] * 4  # no CCA columns
    counts = scorecard.ranking(card).set_index("embedding")["effects"]
    assert counts.to_dict() == {"mfcc": 2, "solo": 1, "toy": 1}
    assert "drops for between 1 and 2 effects" in markdown  # means over different effects


def test_any_effect_and_embedding_name(tiny_effect, tmp_path: Path) -> None:
    """A registered 3-value effect and an embedding name with a colon, no special case."""
    rng = np.random.default_rng(4)
    embeddings_dir, embedding = tmp_path / "embeddings", "hf:tiny"
    labels = np.repeat(INSTRUMENTS, 4)
    originals = rng.normal(size=(len(labels), 5))
    store.write_arrays(layout.averaged_path(embedding, embeddings_dir=embeddings_dir), {
        "X_train": originals, "Y_train": labels, "X_test": originals, "Y_test": labels,
        "genre_train": np.full(len(labels), "classical"),
        "genre_test": np.full(len(labels), "classical")})
    paths = np.stack([originals + value * np.eye(5)[0] + rng.normal(0, 0.1, originals.shape)
                      for value in tiny_effect.grid])
    store.write_arrays(layout.grouped_path(embedding, "tiny", embeddings_dir), {
        "train_A": originals, "test_A": originals, "train_Bs": paths, "test_Bs": paths})
    write_results(tmp_path / "results", "tiny", embedding, rng)
    card = scorecard.scorecard(embeddings_dir, tmp_path / "results")
    row = _row(card, embedding, "tiny")
    assert row["strongest"] == "3.0"  # the grid end farthest from the identity value 0
    assert np.isfinite(row[["global_r2", "n_directions", "mean_drop", "best_auc"]]
                       .astype(float)).all()
    written = scorecard.write_scorecard(card, tmp_path / "out", tmp_path / "plots")
    assert "hf:tiny" in written[2].read_text(encoding="utf-8")


def test_html_is_self_contained_and_links_existing_plots(outputs: Path, card: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    plots_dir, out_dir = tmp_path / "plots", tmp_path / "out"
    plots_dir.mkdir()
    (plots_dir / "singular_values_toy_gain.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (plots_dir / "roc_auc_mfcc.pdf").write_bytes(b"%PDF-1.4\n")
    written = scorecard.write_scorecard(card, out_dir, plots_dir)
    assert [path.name for path in written] == list(scorecard.OUTPUT_NAMES)
    page = written[2].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(link|script|iframe|object)\b", page) and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]) == written[3].read_bytes()
    links = re.findall(r'href="([^"]*)"', page)
    assert sorted(unquote(link) for link in links) == sorted(
        ["../plots/singular_values_toy_gain.png", "../plots/roc_auc_mfcc.pdf",
         "../plots/roc_auc_mfcc.pdf"])  # both mfcc rows link their embedding's ROC AUC figure
    assert all((out_dir / unquote(link)).is_file() for link in links)
    markdown = written[1].read_text(encoding="utf-8")
    assert "(../plots/singular_values_toy_gain.png)" in markdown
    assert "(scorecard_heatmap.png)" in markdown
    assert not list(out_dir.glob("*.part"))  # atomic writes leave no temporary file


def test_heatmap_marks_missing_pairs(card: pd.DataFrame) -> None:
    partial = card[~((card["embedding"] == "toy") & (card["effect"] == "gain"))]
    fig = heatmap_figure(partial, ["toy", "mfcc"])
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert len(texts) == 4 and texts[1] == MISSING  # toy (row 0) x gain (col 1)
    assert [label.get_text() for label in fig.axes[0].get_yticklabels()] == ["toy", "mfcc"]


def test_command_and_one_line_errors(outputs: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    assert run_cli(scorecard.main, ["--embeddings-dir", str(outputs / "embeddings"),
                                    "--results-dir", str(outputs / "results"),
                                    "--out", str(tmp_path / "out"), "--embeddings", "toy"]) == 0
    assert pd.read_csv(tmp_path / "out" / "scorecard.csv")["embedding"].eq("toy").all()
    capsys.readouterr()
    assert run_cli(scorecard.main, ["--embeddings-dir", str(tmp_path / "none"),
                                    "--results-dir", str(tmp_path / "none")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "run group_effect_params.py" in error
    with pytest.raises(SystemExit) as exit_info:
        scorecard.main(["--effects", "gain,warble"])
    assert exit_info.value.code == 2
    assert "unknown effect warble; choose from" in capsys.readouterr().err.splitlines()[-1]
    with pytest.raises(SystemExit) as exit_info:
        scorecard.main(["--help"])
    assert exit_info.value.code == 0 and "--out" in capsys.readouterr().out


def test_scorecard_error_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(AesensError, match="desensitize_classif.py"):
        scorecard.scorecard(tmp_path, tmp_path, effects=["gain"])
    assert scorecard.find_pairs(tmp_path, tmp_path) == []


def test_report_and_scorecard_show_the_same_drops(outputs: Path, card: pd.DataFrame,
                                                  tmp_path: Path) -> None:
    """The summary's ROC AUC table (no method) and the scorecard agree, cell by cell."""
    from aesens.reporting import report

    root = tmp_path / "copy"
    shutil.copytree(outputs, root)
    summary = report.write_summary(root / "results", root / "plots",
                                   root / "embeddings").read_text(encoding="utf-8")
    lines = summary.splitlines()
    header = next(line for line in lines if line.startswith("| embedding | effect | strongest "
                                                            "| method | orig/orig |"))
    names = [cell.strip() for cell in header.strip("|").split("|")]
    compared = 0
    for row in card.itertuples(index=False):
        line = next(line for line in lines
                    if line.startswith(f"| {row.embedding} | {row.effect} |")
                    and "| none |" in line)
        cells = dict(zip(names, (cell.strip() for cell in line.strip("|").split("|")),
                         strict=True))
        for column, value, error in (("orig/eff.", row.drop_orig_eff, row.se_drop_orig_eff),
                                     ("eff./orig", row.drop_eff_orig, row.se_drop_eff_orig)):
            shown = cells[f"drop ({column})"]
            digits = len(shown.split(".")[1]) if "." in shown else 3
            assert float(shown) == pytest.approx(value, abs=0.5 * 10 ** -digits)
            assert float(cells[f"SE ({column})"]) == pytest.approx(error, abs=5e-4)
            # the shown values subtract to the shown drop
            assert (float(cells["orig/orig"]) - float(cells[column])
                    == pytest.approx(float(shown), abs=1e-12))
            compared += 1
        assert float(cells["orig/orig"]) == pytest.approx(row.auc_orig_orig, abs=5e-4)
    assert compared == 2 * len(card)


def test_cells_never_show_a_signed_zero_and_no_header_is_an_effect(
        card: pd.DataFrame, tmp_path: Path) -> None:
    small = card.copy()
    small.loc[0, ["drop_orig_eff", "mean_drop", "global_r2_test"]] = [-0.0002, 0.0003, 1e-5]
    written = scorecard.write_scorecard(small, tmp_path / "out", tmp_path / "plots")
    markdown = written[1].read_text(encoding="utf-8")
    page = written[2].read_text(encoding="utf-8")
    for text in (markdown, page):
        assert not re.search(r"[+\-−]0\.0+(?![0-9])", text)
    assert "−0.0002" in markdown and "1e−05" in markdown
    lines = markdown.splitlines()
    headers = [line for line, below in zip(lines[:-1], lines[1:], strict=True)
               if below.startswith(("|---", "| ---"))]
    assert len(headers) == 4  # the ranking and three tables (no shift tables here)
    for header in headers:
        cells = {cell.strip() for cell in header.strip("|").split("|")}
        assert not cells & set(scorecard.EFFECTS), header  # no "gain" column


def test_first_setting_above_the_floor_shows_its_unit() -> None:
    shown = shift_scorecard.display_table(pd.DataFrame({
        "embedding": ["m", "m", "m"], "effect": ["lowpass_cheby", "bitcrush", "gain"],
        "first_moving_displacement": ["12210.155", "14", "-2.5"],
        "first_moving_frechet": [np.nan, "8", "-40.0"]}))
    assert shown.iloc[:, 2].tolist() == ["12.2 kHz", "14 bits", "−2.5 dB"]
    assert shown.iloc[:, 3].tolist() == [MISSING, "8 bits", "−40 dB"]


def test_classification_columns_of_a_hand_made_table() -> None:
    """Values written out from ``test_robustness.hand_table`` (organ has no positives)."""
    from test_robustness import hand_table

    columns = scorecard.classification_columns(hand_table(), "gain")
    # orig/eff.: drops 0.10, 0.05, 0.05 over a, b, c; eff./orig: 0.05, 0.15 over a, b
    assert columns["drop_orig_eff"] == pytest.approx(0.2 / 3)
    assert columns["se_drop_orig_eff"] == pytest.approx(
        statistics.stdev([0.10, 0.05, 0.05]) / np.sqrt(3))
    assert columns["drop_eff_orig"] == pytest.approx(0.10)
    assert columns["auc_orig_orig"] == pytest.approx((0.90 + 0.75 + 0.95) / 3)
    assert columns["instruments_auc"] == 3
    assert columns["f1_drop_orig_eff"] == pytest.approx((0.4 + 0.35 + 0.0) / 3)
    assert columns["accuracy_drop_orig_eff"] == pytest.approx((0.3 + 0.25 + 0.0) / 3)
    # both conditions per instrument: a 0.075, b 0.10; share of (0.825 - 0.5)
    assert columns["mean_drop"] == pytest.approx(0.0875)
    assert columns["relative_drop"] == pytest.approx(0.0875 / 0.325)
    # 0.0875 beyond max(0.02, 2 x SE of (0.075, 0.10) = 0.025)
    assert columns["drop_beyond_noise"]
    assert columns["best_condition"] == "eff/orig"  # 0.10 > 0.0667


def test_best_method_where_roc_auc_was_lost() -> None:
    from test_robustness import hand_table, result_rows

    table = hand_table()
    lost = (table["instrument"] == "a") & (table["train_set"] == "-40.0") & (table["method"] == "")
    table.loc[lost, "roc_auc"] = 0.70
    table = pd.concat([table, pd.DataFrame(
        result_rows("lda", "a", {("-40.0", "orig"): (0.80, 0.6, 0.8)})
        + result_rows("lda", "b", {("-40.0", "orig"): (0.66, 0.6, 0.8)}))])
    columns = scorecard.classification_columns(table, "gain")
    # eff./orig drops: a 0.90 - 0.70, b 0.75 - 0.60: 0.175, SE 0.025, beyond max(0.02, 0.05)
    assert columns["drop_eff_orig"] == pytest.approx(0.175)
    assert columns["best_condition"] == "eff/orig" and columns["best_method"] == "lda"
    # lda minus none: a 0.80 - 0.70, b 0.66 - 0.60
    assert columns["auc_recovered"] == pytest.approx(0.08)
    assert columns["se_auc_recovered"] == pytest.approx(statistics.stdev([0.10, 0.06])
                                                        / np.sqrt(2))
    assert columns["best_auc"] == pytest.approx(0.73)
    assert columns["recovered_beyond_noise"]  # 0.08 > max(0.02, 2 x 0.02)


def test_sensitivity_cells_carry_the_caveats() -> None:
    card = pd.DataFrame({
        "embedding": ["crepe", "crepe", "mfcc"], "effect": ["bitcrush", "gain", "gain"],
        "n_train": [21, 21, 21], "dim": [256, 256, 40], "global_r2": [0.99, 0.9, 0.99],
        "global_r2_test": [0.0, 0.0, 0.92], "samplewise_r2": [1.0, 1.0, 1.0],
        "n_directions": [21, 21, 2], "participation_ratio": [17.0, 18.0, 2.5]})
    shown = display_sensitivity(card)
    # 21 x 12 bit depths = 252 <= 257 rows: exact; 21 x 31 gain values = 651 > 257: not
    assert shown.iloc[:, 2].tolist() == ["0.990 (by construction)", "0.900", "0.990"]
    # 12 and 31 grid values <= 257; 31 <= 41
    assert shown.iloc[:, 4].str.endswith("(by construction)").all()
    assert shown.iloc[:, 5].tolist() == ["21.0 (capped)", "21.0 (capped)", "2.0"]


def test_best_method_is_read_in_the_condition_with_a_loss_beyond_noise() -> None:
    """The larger drop within noise (spread), the smaller beyond: the smaller's condition."""
    from test_robustness import result_rows

    rows = []
    for instrument, test_effected, train_effected in (("a", 0.90, 0.85), ("b", 0.70, 0.84),
                                                      ("c", 0.80, 0.86)):
        rows += result_rows("", instrument, {("orig", "orig"): (0.90, 0.5, 0.8),
                                             ("orig", "-40.0"): (test_effected, 0.5, 0.8),
                                             ("-40.0", "orig"): (train_effected, 0.5, 0.8)})
        rows += result_rows("lda", instrument, {("-40.0", "orig"): (0.89, 0.5, 0.8)})
    columns = scorecard.classification_columns(pd.DataFrame(rows), "gain")
    # orig/eff.: 0, 0.2, 0.1: 0.1 with SE 0.058 (within); eff./orig: 0.05, 0.06, 0.04:
    # 0.05 with SE 0.0058 (beyond max(0.02, 0.012))
    assert columns["drop_orig_eff"] > columns["drop_eff_orig"]
    assert columns["best_condition"] == "eff/orig" and columns["best_method"] == "lda"
    assert columns["auc_recovered"] == pytest.approx(0.89 - (0.85 + 0.84 + 0.86) / 3)

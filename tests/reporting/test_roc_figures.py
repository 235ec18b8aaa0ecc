"""ROC AUC figures and curves on tiny synthetic classification results (see ``test_figures``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from test_figures import EFFECTS, METHOD_KEYS, build_outputs

matplotlib.use("Agg")

from aesens.classification import results  # noqa: E402
from aesens.classification.results import ORIGINAL as ORIGINAL_SET  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.reporting.roc_figures import (  # noqa: E402
    coinciding,
    roc_auc_curves,
    roc_auc_figure,
    roc_auc_standard_errors,
)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny pipeline outputs (see :func:`test_figures.build_outputs`)."""
    return build_outputs(tmp_path_factory.mktemp("outputs"))


def test_roc_auc_curves(outputs: Path) -> None:
    table = results.load_results("gain", "toy", outputs / "results")
    assert set(table["method"]) == set(METHOD_KEYS)
    curves, identity = roc_auc_curves(table, get_effect("gain"), train_effected=False)
    assert list(curves) == METHOD_KEYS
    assert curves[""].shape == (len(get_effect("gain")),) and np.isfinite(curves[""]).all()
    assert curves[""][0] < identity[""]  # -40 dB hurts more than none
    _, one = roc_auc_curves(table, get_effect("gain"), True, instrument="flute")
    assert 0.85 < one["lda"] < 0.95


def test_roc_auc_method_groups_and_ylim(outputs: Path) -> None:
    tables = {f: results.load_results(f, "toy", outputs / "results") for f in EFFECTS}
    group = ["", "-cca", "-cca_samplewise_svd-0.3", "-cca_samplewise_svd-0.5"]
    fig = roc_auc_figure(tables, "toy", methods=group, ylim=(0.5, 1.0), title="CCA")
    full = roc_auc_figure(tables, "toy")
    for ax, reference in zip(fig.axes, full.axes, strict=True):
        assert ax.get_ylim() == (0.5, 1.0)
        labels = [line.get_label() for line in ax.get_lines() if not line.get_label()
                  .startswith("_")]
        assert labels == ["none", "global CCA", "sample-wise CCA SVD (t = 0.3)",
                          "sample-wise CCA SVD (t = 0.5)"]
        colours = {line.get_label(): line.get_color() for line in reference.get_lines()}
        assert all(line.get_color() == colours[line.get_label()] for line in ax.get_lines()
                   if not line.get_label().startswith("_"))  # same colour as in the full figure
    # the curve is the mean over instruments of the orig/p rows (pandas reference)
    table = tables["gain"]
    rows = table[(table["method"] == "cca_samplewise_svd:0.5") & (table["train_set"] == "orig")]
    expected = rows.groupby("test_set")["roc_auc"].mean()[get_effect("gain").param_strings[0]]
    curve = next(line for line in fig.axes[2].get_lines()
                 if line.get_label() == "sample-wise CCA SVD (t = 0.5)")
    first = curve.get_ydata()[0]
    assert first == pytest.approx(expected, abs=1e-12)
    assert "CCA" in fig.get_suptitle()


def _small_table(seed: int = 3) -> pd.DataFrame:
    """ROC AUC of three methods for four instruments at every bitcrush setting and orig/orig.

    ``pcaproj_norm`` repeats ``pcaproj_nonnorm`` exactly (as mfcc's two PCA
    directions do); ``lda`` has one instrument only at the first setting.
    """
    rng = np.random.default_rng(seed)
    settings = [ORIGINAL_SET, *get_effect("bitcrush").param_strings]
    rows = []
    for instrument in ("cello", "flute", "organ", "voice"):
        for setting in settings:
            pairs = ((ORIGINAL_SET, setting), (setting, ORIGINAL_SET))
            for train, test in pairs[:1] if setting == ORIGINAL_SET else pairs:
                pca = rng.uniform(0.6, 0.95)
                for method, auc in (("", rng.uniform(0.6, 0.95)), ("pcaproj_nonnorm", pca),
                                    ("pcaproj_norm", pca), ("lda", rng.uniform(0.6, 0.95))):
                    if method == "lda" and setting == settings[1] and instrument != "cello":
                        continue
                    rows.append({"instrument": instrument, "train_set": train,
                                 "test_set": test, "method": method, "roc_auc": auc})
    return pd.DataFrame(rows)


def test_standard_error_bands_match_numpy() -> None:
    table = _small_table()
    effect = get_effect("bitcrush")
    fig = roc_auc_figure({"bitcrush": table}, "toy")
    ax = fig.axes[0]  # train orig / test effected
    bands = [c for c in ax.collections if c.get_label() == "_se_band"]
    methods = ["", "lda", "pcaproj_nonnorm", "pcaproj_norm"]  # result order
    assert len(bands) == len(methods)
    for band, method in zip(bands, methods, strict=True):
        rows = table[(table["method"] == method) & (table["train_set"] == ORIGINAL_SET)]
        vertices = np.vstack([path.vertices for path in band.get_paths()])
        for rank, setting in enumerate(effect.param_strings):
            values = rows.loc[rows["test_set"] == setting, "roc_auc"].to_numpy()
            if len(values) < 2:  # one instrument: no standard error, no band there
                assert not np.isclose(vertices[:, 0], rank).any()
                continue
            mean = values.mean()
            error = np.std(values, ddof=1) / np.sqrt(len(values))
            for y in (mean - error, mean + error):
                assert np.isclose(vertices, [rank, y], rtol=0, atol=1e-12).all(axis=1).any()
    errors, identity = roc_auc_standard_errors(table, effect, train_effected=True)
    values = table.loc[(table["method"] == "") & (table["train_set"] == ORIGINAL_SET)
                       & (table["test_set"] == ORIGINAL_SET), "roc_auc"].to_numpy()
    assert identity[""] == pytest.approx(np.std(values, ddof=1) / 2, abs=1e-12)
    one, _ = roc_auc_standard_errors(table, effect, False, instrument="flute")
    assert np.isnan(one[""]).all()


def test_one_shared_stated_range_and_every_method_in_the_legend() -> None:
    table = _small_table()
    fig = roc_auc_figure({"bitcrush": table, "gain": _gain_table(table)}, "toy")
    limits = {ax.get_ylim() for ax in fig.axes}
    assert len(limits) == 1
    low, high = limits.pop()
    # the range holds every curve with its band and every star
    for ax in fig.axes:
        drawn = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()
                 if line.get_transform() == ax.transData]  # not the vertical line at orig
        drawn += [path.vertices[:, 1] for band in ax.collections for path in band.get_paths()]
        assert len(drawn) > 8
        for y in drawn:
            assert (y[np.isfinite(y)] >= low).all() and (y[np.isfinite(y)] <= high).all()
    assert f"shared by all panels: {low:.2f}–{high:.2f}" in fig.get_suptitle()
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend[:4] == ["none", "LDA", "PCA", "PCA (normalised): same curves as PCA"]
    assert "± 1 standard error over instruments" in legend


def test_coinciding_curves_get_distinct_styles() -> None:
    fig = roc_auc_figure({"bitcrush": _small_table()}, "toy")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}
    first, second = lines["PCA"], lines["PCA (normalised): same curves as PCA"]
    assert np.array_equal(first.get_ydata(), second.get_ydata())
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_marker() != second.get_marker()
    # their markers sit on different points
    every = len(first.get_xdata())
    marked = [set(np.arange(every)[line.get_markevery()[0]::line.get_markevery()[1]])
              for line in (first, second)]
    assert not marked[0] & marked[1]
    assert coinciding({"a": [np.ones(3)], "b": [np.ones(3)], "c": [np.ones(3) + 1e-6]}) \
        == {"b": "a"}


def _gain_table(table: pd.DataFrame) -> pd.DataFrame:
    """The bitcrush table's values moved onto the gain grid (12 of its settings)."""
    bitcrush, gain = get_effect("bitcrush").param_strings, get_effect("gain").param_strings
    rename = dict(zip(bitcrush, gain, strict=False))
    return table.replace({"train_set": rename, "test_set": rename})

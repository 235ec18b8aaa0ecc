"""ROC AUC figures and curves on tiny synthetic classification results (see ``test_figures``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from test_figures import EFFECTS, METHOD_KEYS, build_outputs

matplotlib.use("Agg")

from aesens.classification import results  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.reporting.roc_figures import (  # noqa: E402
    roc_auc_curves,
    roc_auc_figure,
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

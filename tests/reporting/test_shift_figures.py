"""The figures command writes the shift, held-out R² and probe tables and their figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from test_figures import EFFECTS, EMBEDDINGS, build_outputs  # noqa: E402

from aesens.analysis import (
    heldout,  # noqa: E402
    probe,  # noqa: E402
    shift,  # noqa: E402
)
from aesens.analysis.cca import samplewise_cca_directions, samplewise_r2  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.reporting import figures  # noqa: E402
from aesens.sweep.sweep import Sweep  # noqa: E402


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_outputs(tmp_path_factory.mktemp("shift"))
    figures.render_all(root / "embeddings", root / "results", root / "plots", umap_files=0,
                       formats=("png",))
    return root


def test_tables_per_pair(rendered: Path) -> None:
    for embedding in EMBEDDINGS:
        for name in EFFECTS:
            effect = get_effect(name)
            sweep = Sweep.load(embedding, name, rendered / "embeddings")
            table = shift.read_shift_table(rendered / "results", name, embedding)
            assert list(table["kind"]) == ["setting"] * len(effect.grid) + ["floor",
                                                                           "floor_mean"]
            expected = shift.sweep_shift_table(sweep, effect)
            pd.testing.assert_frame_equal(table, expected, check_dtype=False)
            held = heldout.read_heldout_table(rendered / "results", name, embedding)
            paths = sweep.paths()
            assert np.allclose(held["samplewise_r2"],
                               samplewise_r2(paths, samplewise_cca_directions(paths)))
            assert np.allclose(held["samplewise_r2_heldout"],
                               heldout.heldout_samplewise_r2(paths), equal_nan=True)
            scores = pd.read_csv(probe.probe_path(rendered / "results", name, embedding))
            assert list(scores["features"]) == list(probe.FEATURES)
            # the synthetic paths move 3 units along one direction: the displacement shows it
            assert scores.set_index("features").loc["displacement", "spearman"] > 0.9


def test_figures_written(rendered: Path) -> None:
    for name in ("shift_curves", "samplewise_r2_heldout_histograms"):
        assert (rendered / "plots" / f"{name}.png").stat().st_size > 10_000


def test_scorecard_columns_read_the_tables(rendered: Path) -> None:
    from aesens.reporting import scorecard, shift_scorecard

    card = scorecard.scorecard(rendered / "embeddings", rendered / "results")
    row = card[(card["embedding"] == "toy") & (card["effect"] == "gain")].iloc[0]
    table = shift.read_shift_table(rendered / "results", "gain", "toy")
    strongest = table[(table["kind"] == "setting") & (table["param"] == "-40.0")].iloc[0]
    assert row["displacement_strongest"] == strongest["median_relative_displacement"]
    assert row["identification_strongest"] == strongest["identification_rate"]
    held = heldout.read_heldout_table(rendered / "results", "gain", "toy")
    assert row["samplewise_r2_heldout"] == pytest.approx(
        held.groupby("instrument")["samplewise_r2_heldout"].median().median())
    scores = pd.read_csv(probe.probe_path(rendered / "results", "gain", "toy"))
    assert row["probe_r2_displacement"] == scores.loc[1, "r2"]
    written = scorecard.write_scorecard(card, rendered / "results", rendered / "plots")
    markdown = written[1].read_text()
    assert "sample-wise R² held-out" in markdown and "probe R² (B−A)" in markdown
    assert shift_scorecard.DEFINITIONS[0].split(":")[0] in written[2].read_text()


def test_summary_reads_how_far_each_pair_moves(rendered: Path) -> None:
    from aesens.reporting import report

    summary = report.write_summary(rendered / "results", rendered / "plots",
                                   rendered / "embeddings").read_text(encoding="utf-8")
    section = summary.split("## How far the embeddings move", 1)[1].split("\n## ", 1)[0]
    table = shift.read_shift_table(rendered / "results", "gain", "toy")
    strongest = table[(table["kind"] == "setting") & (table["param"] == "-40.0")].iloc[0]
    item = next(line for line in section.splitlines() if line.startswith("- **toy × gain**"))
    assert f"At −40 dB the median file moves " \
           f"{100 * strongest['median_relative_displacement']:.0f} %" in item
    held = heldout.read_heldout_table(rendered / "results", "gain", "toy")
    assert f"{np.nanmedian(held['samplewise_r2_heldout']):.2f} held-out" in item
    assert section.count("- **") == len(EMBEDDINGS) * len(EFFECTS)

"""The figures command writes the shift, held-out R² and probe tables and their figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

matplotlib.use("Agg")

from test_figures import EFFECTS, EMBEDDINGS, build_outputs  # noqa: E402

from aesens.analysis import (
    heldout,  # noqa: E402
    probe,  # noqa: E402
    shift,  # noqa: E402
)
from aesens.analysis.cca import samplewise_cca_directions, samplewise_r2  # noqa: E402
from aesens.effects import get_effect  # noqa: E402
from aesens.reporting import figures, shift_figures  # noqa: E402
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
    with Image.open(written[3]) as image:  # the heat map, at the figures' resolution
        assert min(image.info["dpi"]) >= 199.9
    markdown = written[1].read_text()
    assert "sample-wise R² held-out" in markdown and "probe R² (B−A)" in markdown
    assert shift_scorecard.DEFINITIONS[0].split(":")[0] in written[2].read_text()


def test_summary_reads_how_far_each_pair_moves(rendered: Path) -> None:
    from aesens.reporting import report

    summary = report.write_summary(rendered / "results", rendered / "plots",
                                   rendered / "embeddings").read_text(encoding="utf-8")
    notice = summary.split("## What to notice", 1)[1].split("\n## ", 1)[0]
    table = shift.read_shift_table(rendered / "results", "gain", "toy")
    strongest = table[(table["kind"] == "setting") & (table["param"] == "-40.0")].iloc[0]
    item = next(line for line in notice.splitlines() if line.startswith("- **toy × gain**"))
    assert f"at −40 dB the median file moves " \
           f"{100 * strongest['median_relative_displacement']:.0f} %" in item
    section = summary.split("## Held-out sample-wise R² and effect-strength probe", 1)[1]
    section = section.split("\n## ", 1)[0]
    item = next(line for line in section.splitlines() if line.startswith("- **toy × gain**"))
    held = heldout.read_heldout_table(rendered / "results", "gain", "toy")
    per_instrument = held.groupby("instrument")["samplewise_r2_heldout"].median()
    assert f"{per_instrument.median():.2f} held-out" in item  # as the scorecard quotes it
    scores = pd.read_csv(probe.probe_path(rendered / "results", "gain", "toy"))
    assert f"R² {scores.loc[0, 'r2']:.2f} from the effected embedding" in item
    assert "median file moves" not in section  # read once, under "What to notice"
    assert section.count("- **") == len(EMBEDDINGS) * len(EFFECTS)


def _demo_like_tables(rendered: Path) -> dict[tuple[str, str], pd.DataFrame]:
    """The rendered tables, with toy's kernel distances at every setting negative (as paired
    files give them) and mfcc's displacements a thousand times smaller than toy's."""
    tables = {(embedding, name): shift.read_shift_table(rendered / "results", name, embedding)
              for embedding in EMBEDDINGS for name in EFFECTS}
    for (embedding, _), table in tables.items():
        if embedding == "toy":
            settings = table["kind"] == "setting"
            table.loc[settings, "kernel_distance"] = -np.abs(
                table.loc[settings, "kernel_distance"]) - 0.1
        else:
            table["median_relative_displacement"] *= 1e-3
    return tables


def test_shift_grid_rows_share_a_scale_that_holds_every_value(rendered: Path) -> None:
    tables = _demo_like_tables(rendered)
    fig = shift_figures.shift_curve_grid(tables)
    axes = np.array(fig.axes).reshape(len(shift.STATISTICS), len(EFFECTS))
    for row, statistic in enumerate(shift.STATISTICS):
        assert len({ax.get_ylim() for ax in axes[row]}) == 1, statistic
        low, high = axes[row, 0].get_ylim()
        for column, name in enumerate(EFFECTS):
            curves = [line for line in axes[row, column].get_lines()
                      if not line.get_label().startswith("_")]
            assert [line.get_label() for line in curves] == list(EMBEDDINGS)
            for line, embedding in zip(curves, EMBEDDINGS, strict=True):
                table = tables[embedding, name]
                values = table.loc[table["kind"] == "setting", statistic].to_numpy(dtype=float)
                if statistic in shift.DISTRIBUTIONAL:  # drawn against the floor
                    values = values / table.loc[table["kind"] == "floor", statistic].iloc[0]
                np.testing.assert_allclose(line.get_ydata(), values, rtol=1e-12)
                assert (values >= low).all() and (values <= high).all()  # negatives included
    scales = [axes[row, 0].get_yscale() for row in range(len(shift.STATISTICS))]
    # displacements spanning more than two decades, and the distributional rows: symmetric log
    assert scales == ["symlog", "linear", "linear", "symlog", "symlog"]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend[:len(EMBEDDINGS)] == list(EMBEDDINGS)
    assert "symmetric-log" in fig.get_suptitle()


def test_row_scale() -> None:
    assert shift_figures.row_scale("mean_cosine_distance", np.array([0.0, 0.5, 0.01])) \
        == {"value": "linear"}
    assert shift_figures.row_scale("median_relative_displacement",
                                   np.array([0.0, 1.23, 2e-5])) == {
        "value": "symlog", "linthresh": pytest.approx(1e-5), "linscale": 0.5}
    assert shift_figures.row_scale("identification_rate", np.array([1e-4, 1.0]))["value"] \
        == "linear"
    assert shift_figures.row_scale("kernel_distance", np.array([-3.0, 100.0]))["linthresh"] == 1


def test_umap_grid_says_each_panel_is_its_own_layout_and_how_far_files_move(
        rendered: Path) -> None:
    pairs = [(embedding, name) for embedding in EMBEDDINGS for name in EFFECTS]
    rng = np.random.default_rng(1)
    coordinates = {(e, f): (rng.normal(size=(2, len(get_effect(f)), 2)), rng.normal(size=(2, 2)))
                   for e, f in pairs}
    notes = figures.displacement_notes([*pairs, ("toy", "reverb")], rendered / "results")
    assert set(notes) == set(pairs)  # no shift table of reverb: no note
    fig = figures.umap_grid(coordinates, notes)
    assert "its own UMAP layout" in fig.get_suptitle()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    # the strongest settings of the synthetic grids: 4 bits and −40 dB, both rank 0
    for ax, (embedding, name) in zip(panels, pairs, strict=True):
        table = pd.read_csv(rendered / "results" / name / f"shift_{embedding}.csv")
        value = table.loc[(table["kind"] == "setting") & (table["rank"] == 0),
                          "median_relative_displacement"].iloc[0]
        floor = table.loc[table["kind"] == "floor", "median_relative_displacement"].iloc[0]
        setting = {"bitcrush": "4 bits", "gain": "\N{MINUS SIGN}40 dB"}[name]
        assert ax.get_xlabel() == f"‖B−A‖/‖A‖ {value:.2g} at {setting}\n(floor {floor:.2g})"


def test_r2_a_rounding_past_one_stays_in_the_histograms() -> None:
    from aesens.reporting import plots

    r2 = np.array([1.0 + 4.4e-16, 1.0 + 4.4e-16, 0.5, -1e-17, np.nan])
    assert plots.unit_interval(r2).tolist() == [1.0, 1.0, 0.5, 0.0]
    assert plots.unit_interval(np.array([1.5])).tolist() == [1.5]  # not a rounding: kept
    table = pd.DataFrame({"samplewise_r2": r2, "samplewise_r2_heldout": r2[::-1]})
    fig = shift_figures.heldout_histogram_grid({("toy", "reverb"): table})
    ax = fig.axes[0]
    filled = [patch.get_height() for patch in ax.patches if patch.get_label() != "held-out"
              and hasattr(patch, "get_height")]
    assert sum(filled) == 4  # every finite value counted, the two 1 + 4e-16 in the last bin
    assert "median 0.75 published, 0.75 held-out" in ax.get_title()

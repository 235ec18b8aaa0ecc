"""Tests of the layer profiles (aesens.reporting.layer_profiles).

End to end: a tiny random-weight wav2vec2 (two transformer layers, hidden
states 0..2) extracted with ``--layer all`` on a small generated dataset,
through the real stages (2A.1, 2A.2, averaging and grouping, 3.2, figures,
HTML report). The profile's values are checked against the tables each
layer's embedding got, read back independently (the shift table at the
strongest setting, the held-out R² medians, the probe, ``correlations.csv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import SAMPLE_RATE, chirp, load_script
from PIL import Image

from aesens import effects
from aesens.errors import run_cli
from aesens.reporting import html_report, layer_profiles

#: Instrument code -> long name of the generated dataset.
INSTRUMENTS = {"cel": "cello", "flu": "flute", "pia": "piano"}
#: Files per instrument (one source recording each).
PER_CLASS = 6
NAME = "hf:aesens-test/tiny-wav2vec2"
STORED = "hf+aesens-test--tiny-wav2vec2"
GRID = np.linspace(0.05, 0.3, 6)


def _tone(audio: np.ndarray, rate: int, value: float) -> np.ndarray:
    """A test effect: a 3-kHz tone of amplitude ``value`` added to the clip."""
    time = np.arange(audio.shape[-1]) / rate
    return (audio + value * np.sin(2 * np.pi * 3000.0 * time)).astype(np.float32)


@pytest.fixture
def tone_effect(monkeypatch):
    effect = effects.Effect(name="tone", grid=GRID, param_format="{:.2f}", apply_fn=_tone,
                            unit="amplitude", identity_value=0.0)
    monkeypatch.setitem(effects.EFFECTS, "tone", effect)
    return effect


def _write_dataset(root: Path) -> pd.DataFrame:
    """1-s chirps in IRMAS layout, and the split (two thirds train, train rows first)."""
    rng = np.random.default_rng(0)
    rows = []
    base = {"cel": 65.0, "flu": 520.0, "pia": 220.0}
    for code, instrument in INSTRUMENTS.items():
        (root / code).mkdir(parents=True)
        for index in range(PER_CLASS):
            stem = f"[{code}][cla]{1000 + len(rows):04d}__1"
            f0 = base[code] * (1 + 0.07 * index)
            audio = chirp(1.0, f0=f0, f1=4 * f0) + 0.01 * rng.standard_normal(
                (2, SAMPLE_RATE)).astype(np.float32)
            sf.write(root / code / f"{stem}.wav", audio.T, SAMPLE_RATE, subtype="PCM_16")
            rows.append((instrument, "classical", stem, "test" if index % 3 == 0 else "train"))
    split = pd.DataFrame(rows, columns=["instrument", "genre", "file_name", "split"])
    return split.sort_values("split", kind="stable", key=lambda s: s != "train")


def test_layer_profile_end_to_end(tone_effect, tmp_path, monkeypatch, capsys):
    from aesens.testing import save_tiny_hf

    weights = save_tiny_hf("wav2vec2", tmp_path / "model")
    dataset = tmp_path / "datasets" / "IRMAS-TrainingData"
    split = _write_dataset(dataset)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AESENS_DATASET_DIR", str(dataset))
    split.to_csv("train_test_split.csv", index=False)
    common = ["--layer", "all", "--weights", str(weights), "--device", "cpu", "--quiet"]
    assert run_cli(load_script("2A.1_featureExtract_original.py").main, [NAME, *common]) == 0
    assert run_cli(load_script("2A.2_featureExtract_audioEffects.py").main,
                   ["tone", NAME, "0", "99", *common]) == 0
    layers = [f"{STORED}+layer{layer}" for layer in range(3)]
    for embedding in layers:
        assert run_cli(load_script("group_effect_params.py").main,
                       ["-e", "tone", "-b", embedding, "-j", "1"]) == 0
        assert run_cli(load_script("3.2_extract_samplewise_cca_dirs.py").main,
                       [embedding, "tone"]) == 0
    from aesens.reporting.figures import main as figures

    assert run_cli(figures, ["--umap-files", "0", "--format", "png"]) == 0
    assert run_cli(html_report.main, []) == 0
    capsys.readouterr()

    png = Path(f"plots/layer_profile_{STORED}.png")
    image = Image.open(png)
    assert image.info["dpi"][0] >= 199.5 and image.size[0] > 2000
    table = pd.read_csv(f"results/layer_profile_{STORED}.csv")
    assert list(table.columns) == layer_profiles.COLUMNS
    assert list(table["layer"]) == [0, 1, 2] and set(table["effect"]) == {"tone"}
    assert list(table["embedding"]) == layers
    correlations = pd.read_csv("results/correlations.csv")
    for row in table.itertuples(index=False):
        shift = pd.read_csv(f"results/tone/shift_{row.embedding}.csv")
        strongest = shift[(shift["kind"] == "setting") & (shift["rank"] == len(GRID) - 1)].iloc[0]
        floor = shift[shift["kind"] == "floor"].iloc[0]
        assert row.median_relative_displacement == strongest["median_relative_displacement"]
        assert row.mean_cosine_distance == strongest["mean_cosine_distance"]
        assert row.identification_rate == strongest["identification_rate"]
        assert row.frechet_over_floor == pytest.approx(
            strongest["frechet_distance"] / floor["frechet_distance"], rel=1e-12)
        assert row.kernel_over_floor == pytest.approx(
            strongest["kernel_distance"] / floor["kernel_distance"], rel=1e-12)
        held = pd.read_csv(f"results/tone/samplewise_r2_heldout_{row.embedding}.csv")
        per_instrument = [np.median(held.loc[held["instrument"] == name,
                                             "samplewise_r2_heldout"])
                          for name in sorted(set(held["instrument"]))]
        assert row.samplewise_r2_heldout == pytest.approx(np.median(per_instrument), rel=1e-12)
        probe = pd.read_csv(f"results/tone/probe_{row.embedding}.csv").set_index("features")
        assert row.probe_r2_effected == probe.loc["effected", "r2"]
        assert row.probe_r2_displacement == probe.loc["displacement", "r2"]
        mine = correlations[(correlations["embedding"] == row.embedding)
                            & (correlations["effect"] == "tone")]
        assert len(mine) == len(INSTRUMENTS)
        assert row.global_r2 == pytest.approx(mine["spearman_corr2"].median(), rel=1e-12)
        assert row.global_r2_test == pytest.approx(mine["global_r2_test"].median(), rel=1e-12)
    assert np.isfinite(table[list(layer_profiles.STATISTICS)].to_numpy()).all()
    assert table["median_relative_displacement"].nunique() == 3  # the layers differ

    page = Path("results/report.html").read_text(encoding="utf-8")
    section = page[page.index('id="layers"'):]
    section = section[:section.index("</section>")]
    assert "data:image/png;base64," in section and f"{STORED}: every statistic" in section
    assert "No layer profiles" not in section


def test_profile_from_hand_made_tables_and_no_profile_without_layers(tmp_path):
    """The figure from tables written by the package's writers; a note where no model has
    several layers."""
    from aesens.analysis import heldout, probe, shift

    effect = effects.get_effect("gain")
    rng = np.random.default_rng(0)
    names = [f"hf+org--m+layer{layer}+frames" for layer in (0, 3)] + ["mfcc", "hf+org--m+mean"]
    assert layer_profiles.layer_variants(names) == {
        "hf+org--m+frames": {0: names[0], 3: names[1]}}
    assert layer_profiles.layer_variants(["hf+org--m+layer1", "mfcc"]) == {}
    results = tmp_path / "results"
    for scale, name in zip((1.0, 2.0), names[:2], strict=True):
        originals = rng.standard_normal((12, 4))
        effected = originals + scale * rng.standard_normal((len(effect.grid), 12, 4))
        shift.write_shift_table(shift.shift_table(originals, effected, effect, splits=3),
                                results, "gain", name)
        labels = np.repeat(["cello", "flute"], 6)
        heldout.write_heldout_table(heldout.heldout_table(np.ones(12), rng.random(12), labels),
                                    results, "gain", name)
        probe.write_probe_table(probe.probe_table(originals, effected), results, "gain", name)
    written = layer_profiles.render_layer_profiles(
        [(name, "gain") for name in names[:2]] + [("mfcc", "gain")], results,
        lambda fig, stem: [tmp_path / f"{stem}.png"] if fig.savefig(
            tmp_path / f"{stem}.png") is None else [])
    assert [path.name for path in written] == ["layer_profile_hf+org--m+frames.csv",
                                               "layer_profile_hf+org--m+frames.png"]
    table = pd.read_csv(written[0])
    assert list(table["layer"]) == [0, 3]
    assert table["global_r2"].isna().all()  # no correlations.csv
    reread = shift.read_shift_table(results, "gain", names[1])
    assert table.loc[1, "identification_rate"] == reread.loc[0, "identification_rate"]
    assert Image.open(written[1]).info["dpi"][0] >= 199.5
    note = html_report.layer_profile_section(tmp_path / "none", tmp_path / "none")
    assert "No layer profiles" in note and "--layer all" in note

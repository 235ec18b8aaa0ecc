"""End to end on a sweep with a planted effect direction: what the paper's method should find.

Every effected embedding is its original plus ``v * rate[instrument] * d``:
one planted direction ``d``, the grid value ``v`` and a rate that differs
between instruments (effects act on timbres differently), so that training
on strongly effected embeddings reverses what ``d`` says about the
instrument. The originals' within-instrument spread is orthogonal to ``d``,
which makes ``d`` the exact global-CCA direction of every instrument.
Checked through ``desensitize_classif.py`` and the files it writes: the
direction stored in ``deformdir_<embedding>.pkl`` is ``d``; with no method,
training on the strongest setting lowers the ROC AUC on the original test
set; with ``cca`` the effected train set projects onto the original one, so
its ROC AUC equals the orig/orig one and is above the no-method one.
"""

from __future__ import annotations

import pickle
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_published_h5, write_split_csv

from aesens import effects, layout

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = {"cello": "cel", "flute": "flu", "violin": "vio"}
N_TRAIN, N_TEST, DIM = 20, 10, 6
GRID = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """The sweep's files in the published layout; returns the planted direction."""
    effect = effects.Effect(name="planted", grid=GRID, param_format="{:.1f}",
                            apply_fn=lambda audio, rate, value: audio, unit="units",
                            identity_value=0.0)
    monkeypatch.setitem(effects.EFFECTS, "planted", effect)
    rng = np.random.default_rng(0)
    split = write_split_csv(tmp_path, INSTRUMENTS, N_TRAIN, N_TEST)
    direction = np.eye(DIM)[0]
    labels = split["instrument"].to_numpy()
    centres = {"cello": 1, "flute": 2, "violin": 3}  # each instrument's own axis
    originals = 0.8 * rng.standard_normal((len(split), DIM))
    originals[np.arange(len(split)), [centres[label] for label in labels]] += 1.0
    originals[:, 0] = np.where(labels == "cello", 2.0, 0.0)  # no spread along d
    rates = np.array([{"cello": 1.0, "flute": 3.0, "violin": 2.0}[label] for label in labels])
    keys = split["file_name"].to_numpy()
    write_published_h5(layout.original_path(tmp_path / "embeddings"), originals, keys)
    for value, param in zip(GRID, effect.param_strings, strict=True):
        effected = originals + (value * rates)[:, None] * direction
        write_published_h5(layout.effected_path("planted", param, tmp_path / "embeddings"),
                           effected, keys)
    monkeypatch.chdir(tmp_path)
    return direction, effect


def test_global_cca_finds_the_planted_direction_and_undoes_the_effect(planted):
    direction, effect = planted
    classify = runpy.run_path(str(ROOT / "desensitize_classif.py"), run_name="under_test")["main"]
    assert classify(["-b", "openl3", "-e", "planted", "-m", ",cca", "-k", "1",
                     "--solver", "fast", "--quiet"]) == 0
    with open("models/planted/deformdir_openl3.pkl", "rb") as handle:
        stored = pickle.load(handle)["-cca"]
    for instrument in INSTRUMENTS:
        assert abs(np.asarray(stored[instrument]).ravel() @ direction) > 1 - 1e-9, instrument
    table = pd.read_csv("results/planted/result_openl3.csv")
    strongest = effect.param_strings[-1]

    def auc(method: str, train_set: str) -> pd.Series:
        rows = table[(table["embedding"] == method) & (table["train_set"] == train_set)
                     & (table["test_set"] == "orig")]
        return rows.set_index("instrument")["roc_auc"].sort_index()

    pd.testing.assert_series_equal(auc("openl3-cca", strongest), auc("openl3-cca", "orig"))
    assert auc("openl3", strongest).mean() < auc("openl3", "orig").mean() - 0.1
    assert auc("openl3-cca", strongest).mean() > auc("openl3", strongest).mean() + 0.05

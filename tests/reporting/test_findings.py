"""The three-line summary of the strongest findings, on hand-made tables.

Expected numbers are written out from the tables, not computed by the functions
under test.
"""

from __future__ import annotations

import pandas as pd
from test_reading import aucs, correlations, shift_table, threshold_case

from aesens.reporting import findings, report


def test_in_short_names_the_largest_loss_and_the_threshold_case() -> None:
    loss = pd.concat([aucs("none", [0.9] * 3, [0.6] * 3),
                      aucs("none", [0.9] * 3, [0.8] * 3).assign(effect="reverb",
                                                                strongest="room size 1")])
    lines = findings.in_short(None, pd.concat([loss, threshold_case().assign(embedding="crepe")]),
                             {}, report.setting_label)
    assert lines == [
        "1. ROC AUC: the largest loss is mfcc under gain at −40 dB, training on original and "
        "testing effected: ROC AUC 0.900 → 0.600 (drop +0.300), beyond noise; 2 of 3 embedding "
        "× effect pairs lose ROC AUC beyond noise in at least one condition.",
        "2. F1 and accuracy: crepe under gain at −40 dB, training on original and testing "
        "effected, keeps its ROC AUC (0.900 → 0.900, drop 0, within noise) while F1 falls "
        "0.500 → 0.133 (drop +0.367), beyond noise: the effect moves the decision threshold, "
        "not the ranking."]
    calm = findings.in_short(None, aucs("none", [0.9], [0.9]), {}, report.setting_label)
    assert calm[0] == ("1. ROC AUC: no embedding loses ROC AUC beyond noise at the strongest "
                       "setting (1 embedding × effect pairs, both conditions).")


def test_in_short_movement_and_fitted_directions() -> None:
    sensitivity = pd.concat([
        correlations([0.99, 0.9], held_out=[0.0, 0.02], embedding="crepe"),
        correlations([0.95], held_out=[0.01], embedding="crepe", effect="reverb"),
        correlations([0.95], held_out=[0.9])])
    shifts = {("mfcc", "gain"): shift_table(),
              ("crepe", "gain"): shift_table().assign(identification_rate=0.99)}
    line = findings.in_short(sensitivity, aucs("none", [0.9], [0.9]).iloc[:0], shifts,
                            report.setting_label)
    # medians: crepe gain (0.99 + 0.9) / 2 = 0.945 -> 0.94 (as shown) in-sample, 0.01 held out
    assert line == [
        "1. Movement: mfcc moves farthest under gain (at −40 dB 46 % of files are still nearest "
        "their own original, median displacement 27 % of the norm); crepe least under gain "
        "(99 %, 27 % at −40 dB); crepe's global R² is 0.94–0.95 in-sample but 0.01 held out "
        "under gain, reverb: its direction is fitted to the train paths, not shared."]

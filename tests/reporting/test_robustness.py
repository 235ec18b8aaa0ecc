"""The one definition of the drops at the strongest setting, on hand-made result tables.

Every expected value is written out as arithmetic on the table's numbers, not
computed by the functions under test.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from aesens.effects import get_effect
from aesens.reporting import robustness

GAIN = get_effect("gain")  # strongest setting: -40 dB, parameter string "-40.0"


def result_rows(method: str, instrument: str, values: dict[tuple[str, str], tuple],
                support: int = 10) -> list[dict]:
    """Rows of a results table (as ``load_results`` returns it): (auc, f1, accuracy) per sets."""
    return [{"instrument": instrument, "train_set": train, "test_set": test, "method": method,
             "roc_auc": auc, "f1_score": f1, "accuracy": accuracy, "support": support}
            for (train, test), (auc, f1, accuracy) in values.items()]


def hand_table() -> pd.DataFrame:
    """Three instruments with positives, one without (``support`` 0), two methods.

    Instrument ``b`` has two rows at orig/orig (averaged per instrument).
    """
    rows = []
    rows += result_rows("", "a", {("orig", "orig"): (0.90, 0.60, 0.80),
                                  ("orig", "-40.0"): (0.80, 0.20, 0.50),
                                  ("-40.0", "orig"): (0.85, 0.50, 0.70)})
    rows += result_rows("", "b", {("orig", "orig"): (0.70, 0.40, 0.60),
                                  ("orig", "-40.0"): (0.70, 0.10, 0.40),
                                  ("-40.0", "orig"): (0.60, 0.30, 0.50)})
    rows += result_rows("", "b", {("orig", "orig"): (0.80, 0.50, 0.70)})
    rows += result_rows("", "c", {("orig", "orig"): (0.95, 0.70, 0.90),
                                  ("orig", "-40.0"): (0.90, 0.70, 0.90)})  # eff./orig not run
    rows += result_rows("", "organ", {("orig", "orig"): (np.nan, 0.0, 0.95),
                                      ("orig", "-40.0"): (np.nan, 0.0, 1.00),
                                      ("-40.0", "orig"): (np.nan, 0.0, 0.30)}, support=0)
    rows += result_rows("lda", "a", {("orig", "orig"): (0.90, 0.6, 0.8),
                                     ("orig", "-40.0"): (0.88, 0.6, 0.8)})
    rows += result_rows("lda", "b", {("orig", "orig"): (0.75, 0.6, 0.8),
                                     ("orig", "-40.0"): (0.72, 0.6, 0.8)})
    return pd.DataFrame(rows)


def test_strongest_numbers_per_instrument_leave_out_instruments_without_positives() -> None:
    numbers = robustness.strongest_numbers(hand_table(), GAIN)
    auc = numbers[(numbers["method"] == "") & (numbers["metric"] == "roc_auc")].set_index(
        "instrument")
    assert auc.loc["b", "orig/orig"] == pytest.approx((0.70 + 0.80) / 2)
    assert math.isnan(auc.loc["c", "eff./orig"])
    accuracy = numbers[(numbers["method"] == "") & (numbers["metric"] == "accuracy")]
    organ = accuracy.set_index("instrument").loc["organ"]
    assert organ[["orig/orig", "orig/eff.", "eff./orig"]].isna().all()  # support 0
    assert set(numbers["metric"]) == {"roc_auc", "f1_score", "accuracy"}


def test_drop_mean_and_se_over_the_instruments_with_both_values() -> None:
    numbers = robustness.strongest_numbers(hand_table(), GAIN)
    none = numbers[(numbers["method"] == "") & (numbers["metric"] == "roc_auc")]
    # orig/eff.: a 0.90 - 0.80, b 0.75 - 0.70, c 0.95 - 0.90 (organ left out)
    drops = [0.10, 0.05, 0.05]
    drop = robustness.condition_drop(none, "orig/eff.")
    assert drop.instruments == 3
    assert drop.difference == pytest.approx(sum(drops) / 3)
    assert drop.first == pytest.approx((0.90 + 0.75 + 0.95) / 3)
    assert drop.second == pytest.approx((0.80 + 0.70 + 0.90) / 3)
    assert drop.se == pytest.approx(statistics.stdev(drops) / math.sqrt(3))
    # eff./orig: c was not run, so a and b only, and orig/orig over those two
    reverse = robustness.condition_drop(none, "eff./orig")
    assert reverse.instruments == 2
    assert reverse.first == pytest.approx((0.90 + 0.75) / 2)
    assert reverse.difference == pytest.approx(((0.90 - 0.85) + (0.75 - 0.60)) / 2)
    # both conditions, per instrument: a (0.10 + 0.05) / 2, b (0.05 + 0.15) / 2
    both = robustness.mean_drop(none)
    assert both.instruments == 2
    assert both.difference == pytest.approx((0.075 + 0.10) / 2)
    assert both.se == pytest.approx(statistics.stdev([0.075, 0.10]) / math.sqrt(2))
    # relative: the mean drop over orig/orig above chance, (0.90 + 0.75) / 2 - 0.5 = 0.325
    share, error = robustness.relative_drop(both)
    assert share == pytest.approx(0.0875 / 0.325)
    assert error == pytest.approx(both.se / 0.325)
    # F1 on the same instruments: a 0.6 - 0.2, b 0.45 - 0.1, c 0.7 - 0.7
    f1 = numbers[(numbers["method"] == "") & (numbers["metric"] == "f1_score")]
    assert robustness.condition_drop(f1, "orig/eff.").difference == pytest.approx(
        (0.4 + 0.35 + 0.0) / 3)


def test_recovery_is_the_method_minus_none_per_instrument() -> None:
    numbers = robustness.strongest_numbers(hand_table(), GAIN)
    auc = numbers[numbers["metric"] == "roc_auc"]
    gained = robustness.recovery(auc[auc["method"] == "lda"], auc[auc["method"] == ""],
                                 "orig/eff.")
    # a 0.88 - 0.80, b 0.72 - 0.70 (lda has no c)
    assert gained.instruments == 2
    assert gained.difference == pytest.approx((0.08 + 0.02) / 2)
    assert gained.first == pytest.approx((0.88 + 0.72) / 2)


def test_noise_rule() -> None:
    # max(0.02, 2 SE): SE of (0, 0.1, 0.2) is 0.0577, so 0.1 is within 0.115
    values = [0.0, 0.1, 0.2, np.nan]
    expected = statistics.stdev([0.0, 0.1, 0.2]) / 3 ** 0.5
    assert robustness.standard_error(values) == pytest.approx(expected)
    assert robustness.noise(values) == pytest.approx(2 * expected)
    assert robustness.noise([0.3]) == 0.02 and math.isnan(robustness.standard_error([0.3]))
    assert robustness.noise([0.1, 0.1, 0.1]) == 0.02
    within = robustness.Paired(0.9, 0.8, 0.1, expected, 3)
    assert not within.beyond_noise
    assert robustness.Paired(0.9, 0.87, 0.03, np.nan, 1).beyond_noise  # 0.03 > 0.02
    assert robustness.Paired(0.9, 0.93, -0.03, 0.001, 5).beyond_noise  # a rise, beyond
    assert not robustness.Paired(np.nan, np.nan, np.nan, np.nan, 0).beyond_noise


def test_shown_values_subtract_to_the_shown_drop_and_never_show_signed_zero() -> None:
    # 0.7324 - 0.7316 = 0.0008: at 3 decimals 0.732 - 0.732 would not give +0.001
    assert robustness.consistent_strings(0.7324, 0.7316, 0.0008) == ("0.7324", "0.7316",
                                                                     "+0.0008")
    # 0.9096 - 0.6814 = 0.2282: at 3 decimals 0.910 - 0.681 = 0.229, not 0.228
    assert robustness.consistent_strings(0.9096, 0.6814, 0.2282) == ("0.9096", "0.6814",
                                                                     "+0.2282")
    assert robustness.consistent_strings(0.910, 0.681, 0.229) == ("0.910", "0.681", "+0.229")
    assert robustness.consistent_strings(0.9, 0.9, 0.0) == ("0.900", "0.900", "0")
    assert robustness.signed(-0.0004) == "-0.0004" and robustness.signed(0.0) == "0"
    assert robustness.signed(0.00042) == "+0.00042"
    assert robustness.unsigned(2.3e-5) == "2.3e-05" and robustness.unsigned(0.5) == "0.500"
    for value in (-1e-4, -4e-4, 1e-4, 4.9e-4):
        assert robustness.signed(value) not in ("+0.000", "-0.000")
        assert robustness.unsigned(value) not in ("0.000", "-0.000")


def test_strongest_rank_is_the_grid_end_farthest_from_the_identity() -> None:
    assert GAIN.param_strings[robustness.strongest_rank(GAIN)] == "-40.0"
    reverb = get_effect("reverb")
    assert robustness.strongest_rank(reverb) == len(reverb.grid) - 1

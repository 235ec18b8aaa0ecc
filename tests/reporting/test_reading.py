"""The "What to notice" sentences: exact claims on hand-made tables, and the report's section."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_figures import INSTRUMENTS, write_results

from aesens import layout, store
from aesens.reporting import reading, report

NAN = float("nan")


def correlations(global_r2: list[float], samplewise: list[float] | None = None,
                 counts: list[float] | None = None, n_train: list[float] | None = None,
                 embedding: str = "mfcc", effect: str = "gain") -> pd.DataFrame:
    """Rows of ``correlations.csv`` for one embedding and effect, one per instrument."""
    rows = {"embedding": embedding, "effect": effect,
            "instrument": [f"i{k}" for k in range(len(global_r2))],
            "desensitization_method": "cca", "spearman_corr2": global_r2,
            "samplewise_r2_median": samplewise or [0.5] * len(global_r2)}
    if counts is not None:
        rows["sv_count_0.3"] = counts
        rows["sv_count_0.5"] = [max(count - 1, 1) for count in counts]
    if n_train is not None:
        rows["n_train"] = n_train
    return pd.DataFrame(rows)


def sentence(table: pd.DataFrame, dim: int | None = None) -> str:
    return reading.sensitivity_sentence("mfcc", "gain", table, dim)


def test_strong_and_few_directions_of_the_possible() -> None:
    table = correlations([0.95, 0.97, 0.99], counts=[2, 2, 3], n_train=[288] * 3)
    assert sentence(table, dim=40) == (
        "mfcc moves strongly under gain (global R² 0.97). It moves along few directions: "
        "2 normalised singular values ≥ 0.3 σ₁ of 40 possible.")


def test_thresholds_compare_the_values_as_shown() -> None:
    """0.799 shows as 0.80 and so reads as strong, like the table cell next to it."""
    assert sentence(correlations([0.799, 0.799])).startswith(
        "mfcc moves strongly under gain (global R² 0.80)")
    assert sentence(correlations([0.304])).startswith(
        "mfcc barely moves under gain (global R² 0.30)")


def test_barely_moves_while_each_file_follows_its_own_direction() -> None:
    table = correlations([0.1, 0.12, 0.2], samplewise=[0.9, 0.95, 0.99])
    assert sentence(table) == (
        "mfcc barely moves under gain (global R² 0.12); each file follows its own direction "
        "closely (sample-wise R² 0.95) while a shared direction explains less.")


def test_samplewise_r2_of_a_grid_no_longer_than_the_dimension_shows_nothing() -> None:
    """31 grid values in 40 dimensions: every file's path is fitted exactly, R² = 1 always."""
    from scipy.stats import spearmanr

    from aesens.analysis.cca import samplewise_cca_directions

    # The claim itself, on random paths: exact at dim >= n - 1, not below.
    rng = np.random.default_rng(0)
    for dim, exact in [(40, True), (30, True), (12, False)]:
        paths = rng.standard_normal((5, 31, dim))
        directions = samplewise_cca_directions(paths)
        r2 = [spearmanr(path @ direction, np.arange(31))[0] ** 2
              for path, direction in zip(paths, directions, strict=True)]
        assert np.allclose(r2, 1.0) == exact, (dim, r2)
    table = correlations([0.1, 0.12, 0.2], samplewise=[1.0, 1.0, 1.0])
    text = reading.sensitivity_sentence("mfcc", "gain", table, 40, n_params=31)
    assert text == (
        "mfcc barely moves under gain (global R² 0.12); its sample-wise R² (1.00) is 1 by "
        "construction (31 grid values in 40 dimensions: each file's path is fitted exactly), "
        "so it shows nothing.")
    # one value more than dimension + 1: the clause is the measured one again
    longer = reading.sensitivity_sentence("mfcc", "gain", table, 29, n_params=31)
    assert "follows its own direction" in longer and "by construction" not in longer


def test_global_r2_of_no_more_train_rows_than_dimensions_is_said_to_be_in_sample() -> None:
    """Like the demo's CREPE: 22 train files x 12 bit depths in 2048 dimensions."""
    from scipy.stats import spearmanr

    from aesens.analysis.cca import global_cca_direction

    # The claim itself: the in-sample global R² of random paths is near 1 at rows <= dim + 1.
    rng = np.random.default_rng(1)
    for dim, exact in [(60, True), (20, False)]:
        paths = rng.standard_normal((5, 12, dim))
        direction = global_cca_direction(paths)
        r2 = spearmanr((paths @ direction).T.ravel(), np.repeat(np.arange(12), 5))[0] ** 2
        assert (r2 > 0.95) == exact, (dim, r2)
    table = correlations([0.99, 0.99, 0.98], n_train=[22, 22, 21])
    table["global_r2_test"] = [0.001, 0.0, 0.002]
    text = reading.sensitivity_sentence("crepe", "bitcrush", table, 2048, n_params=12)
    assert text.startswith(
        "crepe moves strongly under bitcrush (global R² 0.99); that R² is in-sample and near 1 "
        "by construction (no instrument has more train rows, files × grid values, than the "
        "dimension plus one: its direction fits them exactly); held out it is 0.00")
    # more rows than dimensions: the fit is not exact; the held-out value is read instead
    text = reading.sensitivity_sentence("crepe", "bitcrush", table, 256, n_params=12)
    assert "in-sample" not in text
    assert text.startswith(
        "crepe moves strongly under bitcrush (global R² 0.99); held out it is 0.00: the "
        "direction fits the train paths it was fitted on but does not carry over to the test "
        "files")
    table["global_r2_test"] = [0.31, 0.35, 0.5]  # above "barely moves": nothing said
    assert "held out" not in reading.sensitivity_sentence("crepe", "bitcrush", table, 256,
                                                          n_params=12)


def test_moderate_with_disagreeing_instruments() -> None:
    table = correlations([0.2, 0.5, 0.9], samplewise=[0.5, 0.5, 0.5])
    assert sentence(table) == ("mfcc moves moderately under gain (global R² 0.50, but "
                               "instruments disagree: 0.20–0.90).")


def test_many_and_unbounded_counts() -> None:
    table = correlations([0.9, 0.9], counts=[30, 32], n_train=[288, 288])
    assert sentence(table, dim=40).endswith(
        "It moves along many directions: 31 normalised singular values ≥ 0.3 σ₁ of 40 possible.")
    assert sentence(table, dim=100).endswith(
        "It moves along 31 directions (normalised singular values ≥ 0.3 σ₁ of 100 possible).")
    # neither the number of train files nor the dimension known: no cap, no "of"
    assert sentence(correlations([0.9, 0.9], counts=[30, 32])).endswith(
        "It moves along 31 directions (normalised singular values ≥ 0.3 σ₁).")


def test_counts_capped_by_train_files_or_dimension() -> None:
    capped = correlations([0.9] * 3, counts=[6, 6, 6], n_train=[6, 6, 6])
    assert sentence(capped).endswith(
        "Its count of normalised singular values ≥ 0.3 σ₁ (6) equals the number of train "
        "files (6) in every instrument: the count is capped by it and cannot show how many "
        "directions the effect uses.")
    by_dim = correlations([0.9] * 2, counts=[12, 12], n_train=[288, 288])
    assert "equals the embedding dimension (12) in every instrument" in sentence(by_dim, dim=12)
    some = correlations([0.9] * 3, counts=[5, 6, 6], n_train=[6, 6, 6])
    assert sentence(some).endswith(
        "It moves along 6 directions (median count of normalised singular values ≥ 0.3 σ₁), "
        "but in some instruments the count reaches the number of train files (counts 5–6), "
        "where it is capped and cannot show how many directions the effect uses.")


def test_missing_values_skip_their_claims() -> None:
    table = correlations([NAN, NAN], counts=[NAN, NAN], n_train=[6, 6])
    assert sentence(table) == "mfcc under gain: no global R² (no instrument has a value)."
    one = correlations([0.95], samplewise=[NAN], counts=[2], n_train=[NAN])
    assert sentence(one) == ("mfcc moves strongly under gain (global R² 0.95). It moves "
                             "along few directions: 2 normalised singular values ≥ 0.3 σ₁.")


def aucs(method: str, base: list[float], test_effected: list[float],
         train_effected: list[float] | None = None) -> pd.DataFrame:
    """:func:`aesens.reporting.report.classification_numbers` rows of one method.

    One per instrument.
    """
    return pd.DataFrame({"embedding": "mfcc", "effect": "gain", "strongest": "−40 dB",
                         "method": method, "instrument": [f"i{k}" for k in range(len(base))],
                         "orig/orig": base, "orig/eff.": test_effected,
                         "eff./orig": train_effected or base})


def test_standard_error_and_noise_against_statistics() -> None:
    values = [0.0, 0.1, 0.2, np.nan]
    expected = statistics.stdev([0.0, 0.1, 0.2]) / 3 ** 0.5
    assert reading.standard_error(values) == pytest.approx(expected)
    assert reading.noise(values) == pytest.approx(2 * expected)
    assert np.isnan(reading.standard_error([0.3]))
    assert reading.noise([0.3]) == reading.AUC_NOISE_FLOOR
    assert reading.noise([0.1, 0.1, 0.1]) == reading.AUC_NOISE_FLOOR


def test_drop_and_best_recovery_beyond_noise() -> None:
    table = pd.concat([aucs("none", [0.9, 0.91, 0.89], [0.6, 0.61, 0.59]),
                       aucs("LDA", [0.9, 0.9, 0.9], [0.8, 0.81, 0.79]),
                       aucs("PCA", [0.9, 0.9, 0.9], [0.7, 0.7, 0.7])])
    first, second = reading.classification_sentences(table).split(". Training on ")
    assert first == (
        "Training on original and testing on −40 dB audio costs 0.300 ROC AUC without "
        "desensitisation (0.900 → 0.600, SE 0.000 over 3 instruments), beyond noise; "
        "LDA recovers the most: +0.200 (to 0.800), beyond noise")
    assert second == (
        "−40 dB and testing on original audio changes ROC AUC without desensitisation by "
        "+0.000 (0.900 → 0.900, SE 0.000 over 3 instruments), within noise; no method "
        "recovers beyond noise (best: LDA, +0.000, within noise).")


def test_drop_within_the_spread_across_instruments() -> None:
    # mean drop 0.1 > 0.02, but 2 × SE of (0, 0.1, 0.2) = 0.115 exceeds it
    table = aucs("none", [0.9, 0.9, 0.9], [0.9, 0.8, 0.7])
    assert reading.classification_sentences(table).startswith(
        "Training on original and testing on −40 dB audio changes ROC AUC without "
        "desensitisation by -0.100 (0.900 → 0.800, SE 0.058 over 3 instruments), "
        "within noise; no desensitisation method has results there.")


def test_one_instrument_uses_the_noise_floor() -> None:
    beyond = aucs("none", [0.9], [0.87]), aucs("LDA", [0.9], [0.885])
    text = reading.classification_sentences(pd.concat(beyond))
    assert text.startswith("Training on original and testing on −40 dB audio costs 0.030 ROC "
                           "AUC without desensitisation (0.900 → 0.870, a single instrument, "
                           "no SE), beyond noise; no method recovers beyond noise (best: LDA, "
                           "+0.015, within noise).")


def test_methods_worse_than_none_and_missing_rows() -> None:
    worse = pd.concat([aucs("none", [0.9] * 2, [0.8] * 2), aucs("LDA", [0.9] * 2, [0.7] * 2),
                       aucs("PCA", [0.9] * 2, [0.75] * 2)])
    assert ("every method scores lower than none (best: PCA, -0.050, beyond noise)."
            in reading.classification_sentences(worse))
    no_none = aucs("LDA", [0.9], [0.8])
    assert reading.classification_sentences(no_none) == (
        "Training on original and testing on −40 dB audio: no results without "
        "desensitisation, so no drop or recovery to read. Training on −40 dB and testing on "
        "original audio: no results without desensitisation, so no drop or recovery to read.")
    not_run = aucs("none", [0.9, 0.9], [0.8, 0.8], [NAN, NAN])
    assert reading.classification_sentences(not_run).endswith(
        "Training on −40 dB and testing on original audio: not run.")


def test_section_lists_every_pair_once() -> None:
    sensitivity = pd.concat([correlations([0.9]), correlations([0.1], effect="reverb")])
    classification = pd.concat([aucs("none", [0.9], [0.8]),
                                aucs("none", [0.9], [0.8]).assign(embedding="crepe")])
    lines = reading.what_to_notice(sensitivity, classification, {"mfcc": 40})
    items = [line for line in lines if line.startswith("- ")]
    assert [item.split(":")[0] for item in items] == [
        "- **mfcc × gain**", "- **mfcc × reverb**", "- **crepe × gain**"]
    assert "barely moves" in items[1] and "costs 0.100" in items[0] and "costs" in items[2]
    assert lines[0] == "## What to notice" and lines[2] == reading.rules()
    assert reading.what_to_notice(None, classification.iloc[:0])[4] == "Nothing to read yet."


NUMBER = re.compile(r"[+\-−]?\d+(?:\.\d+)?")


def numbers(text: str) -> list[float]:
    return [abs(float(found.replace("−", "-"))) for found in NUMBER.findall(text)]


def test_summary_section_quotes_only_numbers_of_its_tables(tmp_path: Path) -> None:
    """Each number of an item is a cell of its embedding × effect rows, or a difference of two."""
    rng = np.random.default_rng(1)
    for effect in ("bitcrush", "gain"):
        write_results(tmp_path, effect, "mfcc", rng)
    rows = [{"embedding": "mfcc", "effect": effect, "instrument": instrument,
             "desensitization_method": "cca", "spearman_corr2": r2, "comment": "",
             "n_train": 6, "n_test": 3, "samplewise_r2_median": 0.97,
             "sv_count_0.3": count, "sv_count_0.5": 1}
            for effect, r2s, counts in (("bitcrush", (0.85, 0.9, 0.95), (6, 6, 6)),
                                        ("gain", (0.1, 0.2, 0.25), (2, 3, 2)))
            for instrument, r2, count in zip(INSTRUMENTS, r2s, counts, strict=True)]
    pd.DataFrame(rows).to_csv(tmp_path / "correlations.csv", index=False)
    store.write_arrays(layout.averaged_path("mfcc", embeddings_dir=tmp_path / "embeddings"),
                       {"X_train": np.zeros((18, 12))})
    summary = report.write_summary(tmp_path, tmp_path / "plots",
                                   tmp_path / "embeddings").read_text(encoding="utf-8")
    assert summary.index("## What to notice") < summary.index("## Sensitivity (CCA)")
    items = [line for line in summary.splitlines() if line.startswith("- **")]
    assert len(items) == 2
    assert "mfcc moves strongly under bitcrush (global R² 0.90)" in items[0]
    assert "equals the number of train files (6) in every instrument" in items[0]
    assert "barely moves under gain (global R² 0.20)" in items[1]
    assert "few directions: 2 normalised singular values ≥ 0.3 σ₁ of 6 possible" in items[1]
    assert "recovers the most" in items[1]
    headers = [line for line in summary.splitlines() if line.startswith("| embedding |")]
    for item in items:
        pair = re.match(r"- \*\*(\S+) × (\S+)\*\*: ", item)
        cells = [line for line in summary.splitlines()
                 if line.startswith(f"| {pair.group(1)} | {pair.group(2)} |")]
        assert len(cells) > 2
        shown = sorted(set(numbers(" ".join(cells + headers))))
        for quoted in numbers(item[pair.end():]):
            assert (any(abs(quoted - value) < 1e-9 for value in shown)
                    or any(abs(quoted - abs(a - b)) <= 0.0015 for a in shown for b in shown)), (
                quoted, item)

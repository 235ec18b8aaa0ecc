"""The "What to notice" sentences: exact claims on hand-made tables, and the report's section.

Expected numbers are written out from the hand-made tables, not computed by the
functions under test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from test_figures import INSTRUMENTS, write_results

from aesens import layout, store
from aesens.effects import get_effect
from aesens.reporting import reading, report

NAN = float("nan")


def correlations(global_r2: list[float], samplewise: list[float] | None = None,
                 counts: list[float] | None = None, n_train: list[float] | None = None,
                 embedding: str = "mfcc", effect: str = "gain",
                 held_out: list[float] | None = None) -> pd.DataFrame:
    """Rows of ``correlations.csv`` for one embedding and effect, one per instrument."""
    rows = {"embedding": embedding, "effect": effect,
            "instrument": [f"i{k}" for k in range(len(global_r2))],
            "desensitization_method": "cca", "spearman_corr2": global_r2,
            "global_r2_test": held_out or [NAN] * len(global_r2),
            "samplewise_r2_median": samplewise or [0.5] * len(global_r2)}
    if counts is not None:
        rows["sv_count_0.3"] = counts
        rows["sv_count_0.5"] = [max(count - 1, 1) for count in counts]
    if n_train is not None:
        rows["n_train"] = n_train
    return pd.DataFrame(rows)


def sentence(table: pd.DataFrame, dim: int | None = None) -> str:
    return reading.sensitivity_sentence("mfcc", "gain", table, dim)


def test_shared_direction_from_the_held_out_r2_and_few_directions() -> None:
    table = correlations([0.95, 0.97, 0.99], counts=[2, 2, 3], n_train=[288] * 3,
                         held_out=[0.85, 0.9, 0.95])
    assert sentence(table, dim=40) == (
        "Direction: the files move along one shared monotone direction (global R² 0.97 "
        "in-sample, as published; 0.90 held out). It moves along few directions: 2 normalised "
        "singular values ≥ 0.3 σ₁ of 40 possible.")


def test_thresholds_compare_the_values_as_shown() -> None:
    """0.799 shows as 0.80 and so reads as shared, like the table cell next to it."""
    assert sentence(correlations([0.9, 0.9], held_out=[0.799, 0.799])).startswith(
        "Direction: the files move along one shared monotone direction (global R² 0.90 "
        "in-sample, as published; 0.80 held out)")
    assert sentence(correlations([0.304], held_out=[0.304])).startswith(
        "Direction: no shared monotone direction (global R² 0.30 in-sample, as published; "
        "0.30 held out)")


def test_high_in_sample_and_low_held_out_is_fitted_not_shared() -> None:
    table = correlations([0.99, 0.99, 0.98], n_train=[22, 22, 21], held_out=[0.001, 0.0, 0.002])
    text = reading.sensitivity_sentence("crepe", "bitcrush", table, 256, n_params=12)
    assert text.startswith(
        "Direction: fitted, not shared (global R² 0.99 in-sample, as published; 0.00 held "
        "out): the direction fitted on the train paths does not carry over to the test files")
    assert "by construction (no instrument" not in text  # 22 x 12 rows > 257


def test_partly_shared_with_a_gap_and_disagreeing_instruments() -> None:
    table = correlations([0.9, 0.9, 0.9], held_out=[0.2, 0.5, 0.9], samplewise=[0.5] * 3)
    assert sentence(table) == (
        "Direction: partly shared (global R² 0.90 in-sample, as published; 0.50 held out, "
        "instruments disagree: 0.20–0.90); the gap says part of the in-sample fit is to the "
        "train paths themselves.")


def test_no_shared_direction_while_each_file_follows_its_own() -> None:
    table = correlations([0.1, 0.12, 0.2], samplewise=[0.9, 0.95, 0.99],
                         held_out=[0.05, 0.1, 0.1])
    assert sentence(table) == (
        "Direction: no shared monotone direction (global R² 0.12 in-sample, as published; "
        "0.10 held out); each file follows its own direction closely (sample-wise R² 0.95) "
        "while a shared direction explains less.")


def test_without_a_held_out_value_the_in_sample_one_is_not_called_shared() -> None:
    assert sentence(correlations([0.95])) == (
        "Direction: a direction fitted on the train paths follows the setting; whether it is "
        "shared by other files is not measured (global R² 0.95 in-sample, as published; no "
        "held-out value).")


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
    table = correlations([0.1, 0.12, 0.2], samplewise=[1.0, 1.0, 1.0], held_out=[0.1] * 3)
    text = reading.sensitivity_sentence("mfcc", "gain", table, 40, n_params=31)
    assert text == (
        "Direction: no shared monotone direction (global R² 0.12 in-sample, as published; "
        "0.10 held out); the sample-wise R² (1.00) is 1 by construction (31 grid values in 40 "
        "dimensions: each file's path is fitted exactly) and shows nothing.")
    # one value more than dimension + 1: the clause is the measured one again
    longer = reading.sensitivity_sentence("mfcc", "gain", table, 29, n_params=31)
    assert "follows its own direction" in longer and "by construction" not in longer


def test_global_r2_of_no_more_train_rows_than_dimensions_is_said_to_be_in_sample() -> None:
    """Like the demo's CREPE: 21 train files x 12 bit depths in 256 dimensions."""
    from scipy.stats import spearmanr

    from aesens.analysis.cca import global_cca_direction

    # The claim itself: the in-sample global R² of random paths is near 1 at rows <= dim + 1.
    rng = np.random.default_rng(1)
    for dim, exact in [(60, True), (20, False)]:
        paths = rng.standard_normal((5, 12, dim))
        direction = global_cca_direction(paths)
        r2 = spearmanr((paths @ direction).T.ravel(), np.repeat(np.arange(12), 5))[0] ** 2
        assert (r2 > 0.95) == exact, (dim, r2)
    table = correlations([0.99, 0.99, 0.98], n_train=[21, 21, 20], held_out=[0.001, 0.0, 0.002])
    text = reading.sensitivity_sentence("crepe", "bitcrush", table, 256, n_params=12)
    assert text.startswith(
        "Direction: fitted, not shared (global R² 0.99 in-sample, as published; 0.00 held "
        "out): the direction fitted on the train paths does not carry over to the test files; "
        "the in-sample value is near 1 by construction (no instrument has more train rows, "
        "files × grid values, than the dimension plus one) and shows nothing")


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
    assert sentence(table) == "Direction: no global R² (no instrument has a value)."
    one = correlations([0.95], samplewise=[NAN], counts=[2], n_train=[NAN], held_out=[0.9])
    assert sentence(one) == (
        "Direction: the files move along one shared monotone direction (global R² 0.95 "
        "in-sample, as published; 0.90 held out). It moves along few directions: 2 normalised "
        "singular values ≥ 0.3 σ₁.")


def shift_table(frechet_near: float = 2.0, frechet_far: float = 2.0) -> pd.DataFrame:
    """A gain shift table: rank r (27 - r grid steps below 0.5 dB) moves 0.01 (27 - r).

    Identification 1 - 0.02 (27 - r); floor row at 0.5 dB (rank 27): displacement
    0.01, identification 1, Fréchet 1, kernel 0.1. Ranks 0-10 have Fréchet
    ``frechet_far``, the others ``frechet_near``; kernel 0 everywhere.
    """
    rows = [{"kind": "setting", "rank": rank, "param": param,
             "median_relative_displacement": 0.01 * abs(27 - rank),
             "mean_cosine_distance": 0.0, "identification_rate": 1 - 0.02 * abs(27 - rank),
             "frechet_distance": frechet_far if rank <= 10 else frechet_near,
             "kernel_distance": 0.0}
            for rank, param in enumerate(get_effect("gain").param_strings)]
    rows.append({"kind": "floor", "rank": 27, "param": "0.5",
                 "median_relative_displacement": 0.01, "mean_cosine_distance": 0.0,
                 "identification_rate": 1.0, "frechet_distance": 1.0, "kernel_distance": 0.1})
    return pd.DataFrame(rows)


def test_how_far_from_the_displacement_and_identification_against_the_floor() -> None:
    text = reading.movement_sentence(get_effect("gain"), shift_table(), report.setting_label)
    # strongest -40 dB (rank 0): 0.27 and 1 - 0.54 = 0.46 < 0.5; first above 3 x 0.01:
    # 0.04 at rank 23 (-5.5 dB); Fréchet 2 and kernel 0 never above 3 x their floor
    assert text == (
        "How far: moves far: at −40 dB the median file moves 27 % of its norm (1 % at 0.5 dB, "
        "the gentlest setting: the floor) and 46 % of effected files are still nearest their "
        "own original (100 % at 0.5 dB); the displacement exceeds 3× the floor from −5.5 dB; "
        "as a set they stay within the noise floor (Fréchet and kernel distances).")
    # Fréchet 5 > 3 x 1 from rank 10 outward (-25 dB)
    text = reading.movement_sentence(get_effect("gain"), shift_table(frechet_far=5.0),
                                     report.setting_label)
    assert text.endswith("; as a set the effected files leave the noise floor from −25 dB "
                         "(Fréchet or kernel distance).")
    still = shift_table()
    still["median_relative_displacement"] = 0.01
    still["identification_rate"] = 1.0
    assert reading.movement_sentence(get_effect("gain"), still, report.setting_label).startswith(
        "How far: stays within its floor: at −40 dB the median file moves 1 % of its norm")


def aucs(method: str, base: list[float], test_effected: list[float],
         train_effected: list[float] | None = None, metric: str = "roc_auc") -> pd.DataFrame:
    """:func:`aesens.reporting.report.classification_numbers` rows of one method and metric.

    One per instrument.
    """
    return pd.DataFrame({"embedding": "mfcc", "effect": "gain", "strongest": "−40 dB",
                         "method": method, "metric": metric,
                         "instrument": [f"i{k}" for k in range(len(base))],
                         "orig/orig": base, "orig/eff.": test_effected,
                         "eff./orig": train_effected or base})


def test_drop_and_best_recovery_beyond_noise() -> None:
    table = pd.concat([aucs("none", [0.9] * 3, [0.6] * 3),
                       aucs("LDA", [0.9, 0.9, 0.9], [0.8, 0.81, 0.79]),
                       aucs("PCA", [0.9, 0.9, 0.9], [0.7, 0.7, 0.7])])
    first, second = reading.classification_sentences(table).split(". Train ")
    # none: 0.9 - 0.6 = 0.3 in each instrument; LDA: 0.8 - 0.6 on average
    assert first == (
        "Train original, test −40 dB: ROC AUC drop +0.300 (0.900 → 0.600, SE 0 over 3 "
        "instruments), beyond noise; LDA recovers the most: +0.200 ROC AUC (to 0.800), beyond "
        "noise")
    assert second == (
        "−40 dB, test original: ROC AUC drop 0 (0.900 → 0.900, SE 0 over 3 instruments), "
        "within noise; no ROC AUC loss beyond noise, so nothing to recover.")


def test_drop_within_the_spread_across_instruments() -> None:
    # mean drop 0.1 > 0.02, but 2 × SE of (0, 0.1, 0.2) = 0.115 exceeds it
    table = aucs("none", [0.9, 0.9, 0.9], [0.9, 0.8, 0.7])
    assert reading.classification_sentences(table).startswith(
        "Train original, test −40 dB: ROC AUC drop +0.100 (0.900 → 0.800, SE 0.058 over 3 "
        "instruments), within noise; no ROC AUC loss beyond noise, so nothing to recover.")


def test_one_instrument_uses_the_noise_floor() -> None:
    beyond = aucs("none", [0.9], [0.87]), aucs("LDA", [0.9], [0.885])
    text = reading.classification_sentences(pd.concat(beyond))
    assert text.startswith("Train original, test −40 dB: ROC AUC drop +0.030 (0.900 → 0.870, a "
                           "single instrument, no SE), beyond noise; no method recovers beyond "
                           "noise (best: LDA, +0.015, within noise).")


def test_a_rise_is_a_negative_drop_in_prose_and_table() -> None:
    text = reading.classification_sentences(aucs("none", [0.7] * 2, [0.75] * 2))
    assert text.startswith("Train original, test −40 dB: ROC AUC drop -0.050 (0.700 → 0.750, "
                           "SE 0 over 2 instruments), beyond noise; no ROC AUC loss beyond "
                           "noise, so nothing to recover.")


def test_methods_worse_than_none_and_missing_rows() -> None:
    worse = pd.concat([aucs("none", [0.9] * 2, [0.8] * 2), aucs("LDA", [0.9] * 2, [0.7] * 2),
                       aucs("PCA", [0.9] * 2, [0.75] * 2)])
    assert ("every method scores lower than none (best: PCA, -0.050, beyond noise)."
            in reading.classification_sentences(worse))
    no_none = aucs("LDA", [0.9], [0.8])
    assert reading.classification_sentences(no_none) == (
        "Train original, test −40 dB: no results without desensitisation, so no drop or "
        "recovery to read. Train −40 dB, test original: no results without desensitisation, "
        "so no drop or recovery to read.")
    not_run = aucs("none", [0.9, 0.9], [0.8, 0.8], [NAN, NAN])
    assert reading.classification_sentences(not_run).endswith(
        "Train −40 dB, test original: not run.")


def threshold_case() -> pd.DataFrame:
    """ROC AUC kept, F1 lost beyond noise, accuracy kept (a uniform shift past the threshold)."""
    return pd.concat([aucs("none", [0.9, 0.92, 0.88], [0.9, 0.92, 0.88]),
                      aucs("none", [0.5, 0.6, 0.4], [0.1, 0.2, 0.1], metric="f1_score"),
                      aucs("none", [0.8] * 3, [0.8] * 3, metric="accuracy")])


def test_threshold_metrics_beside_roc_auc() -> None:
    text = reading.classification_sentences(threshold_case())
    # F1 drops 0.4, 0.4, 0.3: mean 0.367, SE 0.033, beyond max(0.02, 0.067)
    assert text.startswith(
        "Train original, test −40 dB: ROC AUC drop 0 (0.900 → 0.900, SE 0 over 3 "
        "instruments), within noise; F1 drop +0.367 (0.500 → 0.133), beyond noise; accuracy "
        "drop 0 (0.800 → 0.800), within noise: the effect moves the decision threshold, not "
        "the ranking; no ROC AUC loss beyond noise, so nothing to recover.")


def test_section_lists_every_pair_once() -> None:
    sensitivity = pd.concat([correlations([0.9]), correlations([0.1], effect="reverb")])
    classification = pd.concat([aucs("none", [0.9], [0.8]),
                                aucs("none", [0.9], [0.8]).assign(embedding="crepe")])
    lines = reading.what_to_notice(sensitivity, classification, {"mfcc": 40})
    items = [line for line in lines if line.startswith("- ")]
    assert [item.split(":")[0] for item in items] == [
        "- **crepe × gain**", "- **mfcc × gain**", "- **mfcc × reverb**"]
    assert "no shared monotone direction" in items[2] and "drop +0.100" in items[1]
    assert lines[0] == "## What to notice" and lines[2] == reading.rules()
    assert reading.what_to_notice(None, classification.iloc[:0])[4] == "Nothing to read yet."


NUMBER = re.compile(r"[+\-−]?\d+(?:\.\d+)?(?:e[+\-−]?\d+)?")


def numbers(text: str) -> list[float]:
    return [abs(float(found.replace("−", "-"))) for found in NUMBER.findall(text)]


def test_summary_section_quotes_only_numbers_of_its_tables(tmp_path: Path) -> None:
    """Each number of an item is a cell of its embedding × effect rows, or a difference of two;
    the signed drops of the prose are the table's drop cells, sign included."""
    rng = np.random.default_rng(1)
    for effect in ("bitcrush", "gain"):
        write_results(tmp_path, effect, "mfcc", rng)
    rows = [{"embedding": "mfcc", "effect": effect, "instrument": instrument,
             "desensitization_method": "cca", "spearman_corr2": r2, "comment": "",
             "global_r2_test": held, "n_train": 6, "n_test": 3, "samplewise_r2_median": 0.97,
             "sv_count_0.3": count, "sv_count_0.5": 1}
            for effect, r2s, held, counts in (("bitcrush", (0.85, 0.9, 0.95), 0.1, (6, 6, 6)),
                                              ("gain", (0.1, 0.2, 0.25), 0.05, (2, 3, 2)))
            for instrument, r2, count in zip(INSTRUMENTS, r2s, counts, strict=True)]
    pd.DataFrame(rows).to_csv(tmp_path / "correlations.csv", index=False)
    store.write_arrays(layout.averaged_path("mfcc", embeddings_dir=tmp_path / "embeddings"),
                       {"X_train": np.zeros((18, 12))})
    summary = report.write_summary(tmp_path, tmp_path / "plots",
                                   tmp_path / "embeddings").read_text(encoding="utf-8")
    assert summary.index("## What to notice") < summary.index("## Sensitivity (CCA)")
    assert summary.index("**In short**") < summary.index("Read off the tables")
    items = [line for line in summary.splitlines() if line.startswith("- **")]
    assert len(items) == 2
    assert "Direction: fitted, not shared (global R² 0.90 in-sample, as published; 0.10 held " \
           "out)" in items[0]
    assert "equals the number of train files (6) in every instrument" in items[0]
    assert "no shared monotone direction (global R² 0.20 in-sample" in items[1]
    assert "few directions: 2 normalised singular values ≥ 0.3 σ₁ of 6 possible" in items[1]
    assert "recovers the most" in items[1]
    lines = summary.splitlines()
    headers = [line for line in lines if line.startswith("| embedding |")]
    auc_header = [cell.strip() for cell in headers[1].strip("|").split("|")]
    for item in items:
        pair = re.match(r"- \*\*(\S+) × (\S+)\*\*: ", item)
        cells = [line for line in lines
                 if line.startswith(f"| {pair.group(1)} | {pair.group(2)} |")]
        assert len(cells) > 2
        shown = sorted(set(numbers(" ".join(cells + headers))))
        for quoted in numbers(item[pair.end():]):
            assert (any(abs(quoted - value) < 1e-9 for value in shown)
                    # a recovery: the difference of two rows' rounded cells
                    or any(abs(quoted - abs(a - b)) <= 0.0015 for a in shown for b in shown)), (
                quoted, item)
        none = next(line for line in cells if "| none |" in line)
        table = dict(zip(auc_header, (cell.strip() for cell in none.strip("|").split("|")),
                         strict=True))
        prose = re.findall(r"ROC AUC drop (\S+) \(", item)
        assert prose == [table["drop (orig/eff.)"], table["drop (eff./orig)"]]

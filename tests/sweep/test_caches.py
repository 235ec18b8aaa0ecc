"""Per-file averaging and grouping, on files written as the published scripts did."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from aesens import layout, store
from aesens.analysis import directions as cca_files
from aesens.errors import AesensError
from aesens.sweep import averaged as averaged_files
from aesens.sweep import grouped as grouped_files
from aesens.sweep import records
from aesens.sweep.split import COLUMNS, read_split
from aesens.sweep.sweep import Sweep, ensure_grouped

DIM = 5
FRAMES = 4  # OpenL3-like: several rows per file


def write_published_h5(path: Path, embedding: str, features: np.ndarray,
                       keys: np.ndarray) -> None:
    """An embeddings file as the published scripts wrote it: keys as fixed-length bytes."""
    with h5py.File(path, "a") as h5:
        group = h5.create_group(f"irmas/{embedding}")
        group.create_dataset("features", data=features.astype(np.float32))
        group.create_dataset("keys", data=np.asarray(keys, dtype="S"))


def tiny_split(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    rows = [("cello", "classical", "[cel][cla]0001__1", "train"),
            ("flute", "jazz_blue", "012__[flu][dru][jaz_blu]0102__1", "train"),
            ("cello", "pop_roc", "[cel][pop_roc]0002__1", "train"),
            ("flute", "classical", "[flu][cla]0103__1", "test"),
            ("cello", "classical", "008__[cel][nod][cla]0058__1", "test")]
    split = pd.DataFrame(rows, columns=list(COLUMNS))
    path = tmp_path / "train_test_split.csv"
    split.to_csv(path, index=False)
    return path, split


def frame_rows(stems, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Interleaved multi-frame rows of some stems, plus each stem's true mean."""
    rng = np.random.default_rng(seed)
    keys = np.array([stem for _ in range(FRAMES) for stem in stems])
    features = rng.standard_normal((len(keys), DIM)).astype(np.float32)
    means = {stem: features[keys == stem].astype(np.float64).mean(axis=0) for stem in stems}
    return features, keys, means


def published_means(features: np.ndarray, keys: np.ndarray, order) -> np.ndarray:
    """The published ``load_feature``: per file ``np.mean(np.vstack(rows), axis=0)`` of its
    rows in file order, stored into a float64 array."""
    means = np.zeros((len(order), features.shape[1]))
    for index, stem in enumerate(order):
        rows = [features[row] for row in range(len(keys)) if keys[row] == stem]
        means[index] = np.mean(np.vstack(rows), axis=0)
    return means


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal bit for bit (also the sign of zeros), not only equal as numbers."""
    assert actual.dtype == expected.dtype == np.float64 and actual.shape == expected.shape
    np.testing.assert_array_equal(actual.view(np.uint64), expected.view(np.uint64))


def test_average_by_key_matches_a_loop_in_requested_order():
    stems = ["b", "a", "c", "d"]
    features, keys, means = frame_rows(stems)
    order = ["c", "a", "d"]
    averaged = averaged_files.average_by_key(features, keys, order)
    # float64, as the published averaging stored the means (was: the features' float32).
    assert averaged.dtype == np.float64 and averaged.shape == (3, DIM)
    np.testing.assert_allclose(averaged, [means[stem] for stem in order], rtol=1e-6)
    assert_same_bits(averaged, published_means(features, keys, order))


#: Rows per file: odd and even, OpenL3's 26, and past numpy's blocks of 8 and 128 additions.
ROW_COUNTS = [1, 2, 3, 7, 8, 9, 16, 25, 26, 27, 128, 129, 131, 200, 256, 300]


@pytest.mark.parametrize("dim", [1, 2, 3, 8, 33, 512])
def test_average_by_key_is_the_published_float32_mean_bit_for_bit(dim):
    """Files of every row count, shuffled together, with dead units (+0 and -0), large
    offsets and small spreads (where float32 sums round most) equal the published means."""
    rng = np.random.default_rng(dim)
    stems = [f"[cel][cla]{index:04d}__1" for index in range(len(ROW_COUNTS))]
    keys = np.repeat(stems, ROW_COUNTS)[rng.permutation(sum(ROW_COUNTS))]
    offsets = rng.choice([0.0, 1e-3, 7.5, -3e4, 1e6], size=dim)
    spreads = rng.choice([1e-6, 1e-2, 1.0, 300.0], size=dim)
    features = (offsets + spreads * rng.standard_normal((len(keys), dim))).astype(np.float32)
    if dim > 1:
        features[:, 0] = 0.0  # a dead unit
    if dim > 2:
        features[:, 1] = -0.0  # a dead unit of negative zeros
        features[::3, 2] = np.float32(1e30)  # huge values among small ones
    order = [stems[index] for index in rng.permutation(len(stems))][:-2] + [stems[0]]
    averaged = averaged_files.average_by_key(features, keys, order)
    assert_same_bits(averaged, published_means(features, keys, order))
    # In float32, not float64: the rounding differs from a float64 mean somewhere.
    float64_means = published_means(features.astype(np.float64), keys, order)
    assert not np.array_equal(averaged, float64_means)


def test_average_by_key_averages_other_dtypes_as_np_mean_does():
    """A float64 or integer file is averaged as ``np.mean`` averages it (in float64)."""
    rng = np.random.default_rng(3)
    keys = np.repeat(["a", "b", "c"], [26, 9, 130])
    for features in (rng.standard_normal((len(keys), 4)) * 1e3 + 1e8,
                     rng.integers(-2**40, 2**40, size=(len(keys), 4))):
        averaged = averaged_files.average_by_key(features, keys, ["c", "a", "b"])
        assert_same_bits(averaged, published_means(features, keys, ["c", "a", "b"]))


def test_average_by_key_names_missing_keys():
    features, keys, _ = frame_rows(["a", "b"])
    with pytest.raises(AesensError, match=r"^4 of 5 files have no embedding rows "
                                          r"\(w, x, y, \.\.\.\)$"):
        averaged_files.average_by_key(features, keys, ["a", "w", "x", "y", "z"])
    with pytest.raises(AesensError, match="1 of 1 files"):
        averaged_files.average_by_key(np.zeros((0, DIM)), np.array([], dtype=str), ["a"])


def test_average_file_reads_published_layout(tmp_path):
    split_csv, split = tiny_split(tmp_path)
    stems = list(split["file_name"]) + ["[flu][lat_sou]0104__1"]  # one file left out by the split
    features, keys, means = frame_rows(stems)
    write_published_h5(tmp_path / "embeddings.h5", "openl3", features, keys)
    write_published_h5(tmp_path / "embeddings.h5", "panns", features[:, :3], keys)
    output = tmp_path / "averaged" / "openl3" / "embeddings.h5"
    averaged_files.average_file(split_csv, tmp_path / "embeddings.h5", "openl3", output)
    arrays = store.read_arrays(output)
    # The published datasets, plus the file of every row (additive).
    assert sorted(arrays) == sorted(averaged_files.AVERAGED_NAMES + averaged_files.FILE_NAMES)
    with h5py.File(output, "r") as h5:
        assert h5["X_train"].dtype == np.float64 and h5["X_test"].dtype == np.float64
    train, test = split[split["split"] == "train"], split[split["split"] == "test"]
    np.testing.assert_allclose(arrays["X_train"], [means[s] for s in train["file_name"]],
                               rtol=1e-5, atol=1e-6)
    for part in (train, test):
        name = f"X_{part['split'].iloc[0]}"
        assert_same_bits(arrays[name], published_means(features, keys, part["file_name"]))
    assert list(arrays["Y_train"]) == list(train["instrument"])
    assert list(arrays["genre_test"]) == list(test["genre"])
    assert list(arrays["file_name_train"]) == list(train["file_name"])
    assert list(arrays["file_name_test"]) == list(test["file_name"])


def test_split_naming_absent_files_is_one_line_error(tmp_path):
    split_csv, split = tiny_split(tmp_path)
    features, keys, _ = frame_rows(split["file_name"][1:])   # first train file never extracted
    write_published_h5(tmp_path / "embeddings.h5", "openl3", features, keys)
    with pytest.raises(AesensError) as error:
        averaged_files.average_file(split_csv, tmp_path / "embeddings.h5", "openl3",
                               tmp_path / "out.h5")
    message = str(error.value)
    assert "\n" not in message
    assert "1 of 3 files have no embedding rows ([cel][cla]0001__1)" in message
    assert "train_test_split.csv (train)" in message
    assert not (tmp_path / "out.h5").exists()


def test_effected_file_with_other_keys_is_refused(tmp_path):
    split_csv, split = tiny_split(tmp_path)
    features, keys, _ = frame_rows(split["file_name"])
    write_published_h5(tmp_path / "embeddings.h5", "openl3", features, keys)
    extra_features, extra_keys, _ = frame_rows(list(split["file_name"]) + ["[cel][cla]0999__1"])
    write_published_h5(tmp_path / "effected.h5", "openl3", extra_features, extra_keys)
    with pytest.raises(AesensError, match=r"hold different files: 0 missing \(\), 1 extra "
                                          r"\(\[cel\]\[cla\]0999__1\)"):
        averaged_files.average_file(split_csv, tmp_path / "effected.h5", "openl3",
                               tmp_path / "out.h5", original_h5=tmp_path / "embeddings.h5")


def test_non_finite_rows_are_refused(tmp_path):
    split_csv, split = tiny_split(tmp_path)
    features, keys, _ = frame_rows(split["file_name"])
    features[3, 2] = np.nan
    features[7, 0] = np.inf
    write_published_h5(tmp_path / "embeddings.h5", "openl3", features, keys)
    with pytest.raises(AesensError, match="2 rows of 2 files hold NaN or inf"):
        averaged_files.average_file(split_csv, tmp_path / "embeddings.h5", "openl3",
                               tmp_path / "out.h5")


def test_split_without_its_columns_is_refused(tmp_path):
    path = tmp_path / "split.csv"
    path.write_text("file_name,split\na,train\n")
    with pytest.raises(AesensError, match="lacks columns instrument, genre"):
        read_split(path)


def write_averaged(embeddings_dir: Path, embedding: str, effect: str | None, param: str | None,
                   value: float, labels=("cello", "flute", "cello"), n_test: int = 2) -> None:
    store.write_arrays(layout.averaged_path(embedding, effect, param, embeddings_dir), {
        "X_train": np.full((len(labels), DIM), value, dtype=np.float32),
        "Y_train": np.array(labels), "genre_train": np.array(["classical"] * len(labels)),
        "X_test": np.full((n_test, DIM), -value, dtype=np.float32),
        "Y_test": np.array(["flute"] * n_test), "genre_test": np.array(["pop_roc"] * n_test)})


def test_group_effect_stacks_grid_in_order_and_loads_with_labels(tmp_path, tiny_effect):
    write_averaged(tmp_path, "openl3", None, None, 0.0)
    for rank, param in enumerate(tiny_effect.param_strings):
        write_averaged(tmp_path, "openl3", "tiny", param, rank + 1.0)
    output = grouped_files.group_effect("openl3", "tiny", tmp_path, n_jobs=2)
    assert output == tmp_path / "grouped" / "openl3" / "tiny.h5"
    data = Sweep.load("openl3", "tiny", tmp_path)
    assert data.train_Bs.shape == (3, 3, DIM) and data.test_Bs.shape == (3, 2, DIM)
    np.testing.assert_array_equal(data.train_Bs[:, 0, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(data.test_A, np.zeros((2, DIM)))
    assert list(data.Y_train) == ["cello", "flute", "cello"]
    assert list(data.genre_test) == ["pop_roc", "pop_roc"]
    np.testing.assert_array_equal(data.params, tiny_effect.grid)
    assert list(data.param_strings) == ["1.0", "2.0", "3.0"]


def test_group_effect_names_missing_averaged_files(tmp_path, tiny_effect):
    write_averaged(tmp_path, "openl3", None, None, 0.0)
    write_averaged(tmp_path, "openl3", "tiny", "1.0", 1.0)
    with pytest.raises(AesensError, match="2 averaged files of openl3/tiny are missing .*"
                                          "embeddings_tiny_2.0.h5.*average_all_embeddings.sh"):
        grouped_files.group_effect("openl3", "tiny", tmp_path)


def test_group_effect_refuses_files_of_another_split(tmp_path, tiny_effect):
    write_averaged(tmp_path, "openl3", None, None, 0.0)
    for param in tiny_effect.param_strings:
        write_averaged(tmp_path, "openl3", "tiny", param, 1.0,
                       labels=("flute", "cello", "cello") if param == "3.0" else
                       ("cello", "flute", "cello"))
    with pytest.raises(AesensError, match="different Y_train"):
        grouped_files.group_effect("openl3", "tiny", tmp_path)


def write_raw_sweep(tmp_path: Path, effect, offset: float = 0.0) -> tuple[Path, pd.DataFrame]:
    """Only what extraction leaves: the split and the raw embeddings files of one sweep."""
    split_csv, split = tiny_split(tmp_path)
    stems = list(split["file_name"])
    features, keys, _ = frame_rows(stems)
    write_published_h5(layout.original_path(tmp_path), "openl3", features, keys)
    for rank, param in enumerate(effect.param_strings):
        write_published_h5(layout.effected_path("tiny", param, tmp_path), "openl3",
                           features * (rank + 2) + offset, keys)
    return split_csv, split


def modification_times(folder: Path) -> dict[str, int]:
    return {str(path): path.stat().st_mtime_ns for path in sorted(folder.rglob("*.h5"))}


def test_grouping_right_after_extraction_builds_float64_caches(tmp_path, tiny_effect):
    split_csv, split = write_raw_sweep(tmp_path, tiny_effect)
    data = ensure_grouped("openl3", "tiny", split_csv, tmp_path, n_jobs=2)
    features, keys = store.read_embeddings(layout.original_path(tmp_path), "openl3")
    train = split[split["split"] == "train"]["file_name"]
    expected = averaged_files.average_by_key(features, keys, train.to_numpy())
    np.testing.assert_array_equal(data.train_A, expected)
    np.testing.assert_allclose(data.train_Bs[2], 4 * expected, rtol=1e-6)
    with h5py.File(layout.grouped_path("openl3", "tiny", tmp_path), "r") as h5:
        assert all(h5[name].dtype == np.float64 for name in grouped_files.GROUPED_NAMES)


def test_caches_are_reused_while_their_inputs_are_unchanged(tmp_path, tiny_effect):
    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
    before = modification_times(tmp_path / "averaged")
    before.update(modification_times(tmp_path / "grouped"))
    ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
    after = modification_times(tmp_path / "averaged")
    after.update(modification_times(tmp_path / "grouped"))
    assert after == before


def test_stale_caches_are_rebuilt(tmp_path, tiny_effect):
    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    first = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    directions = cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
    # Re-extraction of one setting: the raw file changes, its averaged file and the
    # grouped file are rebuilt from it.
    changed = layout.effected_path("tiny", "2.0", tmp_path)
    features, keys = store.read_embeddings(changed, "openl3")
    changed.unlink()
    write_published_h5(changed, "openl3", features + 1, keys)
    second = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    np.testing.assert_allclose(second.train_Bs[1], first.train_Bs[1] + 1, rtol=1e-6)
    np.testing.assert_array_equal(second.train_Bs[0], first.train_Bs[0])
    rebuilt = cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
    assert not np.allclose(rebuilt, directions)
    # A grouped file without the record (published scripts, earlier versions) is rebuilt.
    grouped = layout.grouped_path("openl3", "tiny", tmp_path)
    store.write_arrays(grouped, {name: np.zeros(1) for name in grouped_files.GROUPED_NAMES})
    third = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    np.testing.assert_array_equal(third.train_Bs, second.train_Bs)


def test_averaged_files_without_raw_inputs_are_used_as_they_are(tmp_path, tiny_effect):
    write_averaged(tmp_path, "openl3", None, None, 0.0)
    for rank, param in enumerate(tiny_effect.param_strings):
        write_averaged(tmp_path, "openl3", "tiny", param, rank + 1.0)
    data = ensure_grouped("openl3", "tiny", tmp_path / "absent.csv", tmp_path)
    np.testing.assert_array_equal(data.train_Bs[:, 0, 0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("missing, shown", [(["z"], "z"), (["x", "y", "z"], "x, y, z")])
def test_average_by_key_names_up_to_three_missing_keys_in_full(missing, shown):
    features, keys, _ = frame_rows(["a"])
    with pytest.raises(AesensError, match=rf"^{len(missing)} of {len(missing) + 1} files have "
                                          rf"no embedding rows \({shown}\)$"):
        averaged_files.average_by_key(features, keys, ["a", *missing])


@pytest.mark.parametrize("extra", [-1, 1])
def test_average_by_key_refuses_other_numbers_of_rows_and_keys(extra):
    features, keys, _ = frame_rows(["a", "b"])
    with pytest.raises(ValueError, match="feature rows but"):
        averaged_files.average_by_key(features, keys[:len(keys) + extra] if extra < 0
                                 else np.r_[keys, keys[:1]], ["a"])


@pytest.mark.parametrize("part", ["train", "test"])
def test_a_split_without_train_or_test_rows_is_refused(tmp_path, part):
    path, split = tiny_split(tmp_path)
    split[split["split"] != part].to_csv(path, index=False)
    with pytest.raises(AesensError, match=f"holds no {part} rows; remake it"):
        averaged_files.average_file(path, tmp_path / "embeddings.h5", "openl3", tmp_path / "out.h5")


def test_ccadirs_are_the_samplewise_directions_of_every_grid_value(tmp_path, tiny_effect):
    """Computed and then read from the cache: the directions of the grouped train paths
    (all three grid values), as the CCA module computes them."""
    from aesens.analysis.cca import samplewise_cca_directions

    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    grouped = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    expected = samplewise_cca_directions(grouped.paths("train"))
    for _ in range(2):  # computed, then reused
        directions = cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
        assert directions.shape == grouped.train_A.shape
        np.testing.assert_allclose(directions, expected, rtol=1e-10, atol=1e-12)
    with h5py.File(layout.ccadirs_path("openl3", "tiny", tmp_path), "r") as h5:
        assert set(h5) == {"cca_dirs", "file_name_train"}  # directions of the train files
        np.testing.assert_array_equal(h5["file_name_train"][()].astype(str),
                                      grouped.file_name_train.astype(str))


@pytest.mark.parametrize("features, keys", [
    (np.zeros((4, 2, 3), np.float32), np.array([b"a"] * 4)),
    (np.zeros(4, np.float32), np.array([b"a"] * 4)),
    (np.array([[b"x"]] * 4), np.array([b"a"] * 4)),
    (np.zeros((4, 3), np.float32), np.array([[b"a"]] * 4)),
    (np.zeros((4, 3), np.float32), np.array(b"a")),
], ids=["3-d features", "1-d features", "string features", "2-d keys", "scalar key"])
def test_raw_files_not_of_rows_with_one_key_each_are_refused(tmp_path, features, keys):
    path = tmp_path / "embeddings.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("irmas/openl3/features", data=features)
        h5.create_dataset("irmas/openl3/keys", data=keys)
    message = (f"{path}: irmas/openl3 holds features of shape {features.shape} "
               f"({features.dtype}) and keys of shape "
               f"{keys.shape}, not rows x dim and one key per row; re-extract it")
    with pytest.raises(AesensError, match=f"^{re.escape(message)}"):
        averaged_files.read_raw_embeddings(path, "openl3")


def test_a_damaged_averaged_file_is_rebuilt_from_its_raw_input(tmp_path, tiny_effect):
    split_csv, split = write_raw_sweep(tmp_path, tiny_effect)
    raw = layout.original_path(tmp_path)
    output = layout.averaged_path("openl3", embeddings_dir=tmp_path)
    output.parent.mkdir(parents=True)
    output.write_bytes(b"junk, not HDF5")
    assert records.recorded_sources(output) is None
    assert records.recorded_sources(tmp_path / "absent.h5") is None
    assert averaged_files.ensure_averaged(split_csv, raw, "openl3", output)
    features, keys = store.read_embeddings(raw, "openl3")
    train = split[split["split"] == "train"]["file_name"].to_numpy()
    np.testing.assert_array_equal(averaged_files.read_averaged(output)["X_train"],
                                  averaged_files.average_by_key(features, keys, train))


@pytest.mark.parametrize("shift_ns", [-10**12, 10**12], ids=["older", "newer"])
def test_an_averaged_file_is_rebuilt_when_its_input_is_touched(tmp_path, tiny_effect,
                                                                shift_ns):
    """Any other modification time of the input rebuilds, an older one as much as a newer."""
    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    raw = layout.original_path(tmp_path)
    output = layout.averaged_path("openl3", embeddings_dir=tmp_path)
    assert averaged_files.ensure_averaged(split_csv, raw, "openl3", output)
    first = output.stat().st_ino
    assert not averaged_files.ensure_averaged(split_csv, raw, "openl3", output)
    assert output.stat().st_ino == first
    status = raw.stat()
    os.utime(raw, ns=(status.st_atime_ns, status.st_mtime_ns + shift_ns))
    assert averaged_files.ensure_averaged(split_csv, raw, "openl3", output)
    assert output.stat().st_ino != first


def test_a_grouped_file_without_its_inputs_is_used_as_it_is(tmp_path, tiny_effect):
    """No raw file and no averaged file of a setting: only the labels (the averaged
    original) are left beside the grouped file."""
    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    first = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    for path in tmp_path.glob("embeddings*.h5"):
        path.unlink()
    for param in tiny_effect.param_strings:
        layout.averaged_path("openl3", "tiny", param, tmp_path).unlink()
    second = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    np.testing.assert_array_equal(second.train_Bs, first.train_Bs)
    np.testing.assert_array_equal(second.test_A, first.test_A)


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped file", "no grouped file"])
def test_missing_raw_and_averaged_input_is_a_one_line_error(
        tmp_path, tiny_effect, grouped):
    """The raw files left could be newer than the grouped file: it is not used blindly."""
    split_csv, _ = write_raw_sweep(tmp_path, tiny_effect)
    if grouped:
        ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    layout.effected_path("tiny", "3.0", tmp_path).unlink()
    layout.averaged_path("openl3", "tiny", "3.0", tmp_path).unlink(missing_ok=True)
    with pytest.raises(AesensError, match=r"embeddings_tiny_3.0.h5 does not exist \(nor "):
        ensure_grouped("openl3", "tiny", split_csv, tmp_path)


def test_nothing_to_group_from_is_an_error(tmp_path, tiny_effect):
    split_csv, _ = tiny_split(tmp_path)
    with pytest.raises(AesensError, match=r"embeddings.h5 does not exist \(nor "):
        ensure_grouped("openl3", "tiny", split_csv, tmp_path)


def test_a_failing_item_cancels_the_queued_ones():
    """A damaged file stops the run at once, not after every other file was averaged."""
    calls = []

    def work(item: int) -> int:
        calls.append(item)
        if item == 0:
            raise AesensError("item 0 is damaged")
        time.sleep(0.2)
        return item

    with pytest.raises(AesensError, match="item 0 is damaged"):
        records.in_threads(work, list(range(20)), 1, "working", False)
    # Normally 2 calls (the one running when the failure is seen); without cancelling,
    # all 20. The margin allows a machine under load to start a few more.
    assert calls[0] == 0 and len(calls) < 10
    assert records.in_threads(lambda item: item * 2, [3, 1, 2], 3, "working", False) == [6, 2, 4]


def test_a_constant_path_gets_a_zero_row_the_published_svd_reads(tmp_path, tiny_effect):
    """A silent train file: the published 3.2 wrote a finite row and the published 3.5 took
    ``np.linalg.svd`` of every row; ours writes zeros, names the file in an attribute and a
    warning, and leaves the row out of its own R² and SVD statistics."""
    from aesens.analysis.cca import ConstantPathWarning, samplewise_r2, singular_value_profiles
    from aesens.analysis.desensitize import samplewise_svd_directions

    split_csv, split = tiny_split(tmp_path)
    silent = "[cel][pop_roc]0002__1"
    stems = list(split["file_name"])
    features, keys, _ = frame_rows(stems)
    features[keys == silent] = 0.0
    write_published_h5(layout.original_path(tmp_path), "openl3", features, keys)
    for rank, param in enumerate(tiny_effect.param_strings):
        write_published_h5(layout.effected_path("tiny", param, tmp_path), "openl3",
                           features * (rank + 2), keys)
    with pytest.warns(ConstantPathWarning, match=re.escape(f"1 of 3 train files do not vary "
                                                          f"with tiny ({silent})")):
        directions = cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path)
    path = layout.ccadirs_path("openl3", "tiny", tmp_path)
    with h5py.File(path, "r") as h5:
        stored = h5["cca_dirs"][()]
        names = [name.decode() if isinstance(name, bytes) else name
                 for name in h5.attrs[cca_files.CONSTANT_PATHS_ATTR]]
        row_names = h5["file_name_train"][()].astype(str).tolist()
    assert names == [silent]
    row = row_names.index(silent)
    # What the published 3.5 notebook does with the file: the SVD runs and is finite.
    singular_values = np.linalg.svd(stored, compute_uv=False)
    assert np.isfinite(stored).all() and np.isfinite(singular_values).all()
    np.testing.assert_array_equal(stored[row], 0.0)
    assert np.isnan(directions[row]).all() and np.isfinite(np.delete(directions, row, 0)).all()
    np.testing.assert_array_equal(np.delete(stored, row, 0), np.delete(directions, row, 0))
    # Read back (cached file, and the sweep's reader): the row is no direction again.
    for again in (cca_files.ensure_ccadirs("openl3", "tiny", split_csv, tmp_path),
                  cca_files.stored_directions(ensure_grouped("openl3", "tiny", split_csv,
                                                             tmp_path), tmp_path)):
        np.testing.assert_array_equal(np.isnan(again).any(axis=1), np.arange(3) == row)
    # Our statistics leave the row out: R² NaN, singular values those of the other rows...
    grouped = ensure_grouped("openl3", "tiny", split_csv, tmp_path)
    r2 = samplewise_r2(grouped.paths(), directions)
    assert np.isnan(r2[row]) and np.isfinite(np.delete(r2, row)).all()
    cello = grouped.Y_train == "cello"
    ours, _ = singular_value_profiles(directions[cello], grouped.train_A[cello])
    published = np.linalg.svd(stored[cello], compute_uv=False)
    np.testing.assert_allclose(ours, (published / published[0])[:len(ours)], rtol=1e-12)
    np.testing.assert_array_equal(published[len(ours):], 0.0)  # the zero row adds nothing
    # ... and the SVD method projects out what the published SVD of all rows would.
    with pytest.warns(UserWarning, match="left out"):
        kept = samplewise_svd_directions(grouped.train_A[cello], grouped.train_Bs[:, cello],
                                         samplewise_dirs=directions[cello], threshold=0.3)
    _, values, vectors = np.linalg.svd(stored[cello], full_matrices=False)
    expected = vectors[values / values[0] >= 0.3]
    np.testing.assert_allclose(kept.T @ kept, expected.T @ expected, atol=1e-12)

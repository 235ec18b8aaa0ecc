"""The Sweep type: loading a grouped file, the paths layout, the finite check, stored directions."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import numpy as np
import pytest

from aesens import effects, layout, store
from aesens.analysis.directions import stored_directions
from aesens.errors import AesensError
from aesens.sweep.averaged import check_file_names, check_same_rows, nonfinite_rows
from aesens.sweep.sweep import Sweep, as_paths

DIM, N_TRAIN, N_TEST = 4, 5, 3


def write_grouped(root: Path, names_in_original: bool = True) -> dict[str, np.ndarray]:
    """A grouped file of the tiny effect and its averaged original (file names in both)."""
    rng = np.random.default_rng(0)
    names = {"file_name_train": np.array([f"train{i}" for i in range(N_TRAIN)]),
             "file_name_test": np.array([f"test{i}" for i in range(N_TEST)])}
    arrays = {"train_A": rng.standard_normal((N_TRAIN, DIM)),
              "test_A": rng.standard_normal((N_TEST, DIM)),
              "train_Bs": rng.standard_normal((3, N_TRAIN, DIM)),
              "test_Bs": rng.standard_normal((3, N_TEST, DIM))}
    store.write_arrays(layout.grouped_path("openl3", "tiny", root), {**arrays, **names})
    labels = {"Y_train": np.array(["cello", "flute"] * 2 + ["cello"]),
              "Y_test": np.array(["flute"] * N_TEST),
              "genre_train": np.array(["pop_roc"] * N_TRAIN),
              "genre_test": np.array(["jazz_blue"] * N_TEST)}
    store.write_arrays(layout.averaged_path("openl3", embeddings_dir=root), {
        "X_train": arrays["train_A"], "X_test": arrays["test_A"], **labels,
        **(names if names_in_original else {})})
    return {**arrays, **labels, **names}


def test_load_returns_the_arrays_labels_file_names_and_grid(tmp_path, tiny_effect):
    written = write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    assert (sweep.embedding, sweep.effect) == ("openl3", "tiny")
    for name, value in written.items():
        np.testing.assert_array_equal(getattr(sweep, name), value)
    np.testing.assert_array_equal(sweep.params, tiny_effect.grid)
    assert sweep.param_strings == ("1.0", "2.0", "3.0")


def test_file_names_come_from_the_grouped_file_when_the_original_lacks_them(tmp_path,
                                                                             tiny_effect):
    written = write_grouped(tmp_path, names_in_original=False)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    np.testing.assert_array_equal(sweep.file_name_test, written["file_name_test"])


def test_load_refuses_another_grid(tmp_path, tiny_effect, monkeypatch):
    write_grouped(tmp_path)
    monkeypatch.setitem(effects.EFFECTS, "tiny", replace(tiny_effect, grid=np.array([1.0, 2.0])))
    with pytest.raises(AesensError, match="holds 3 parameter values, the tiny grid 2; rerun "
                                          "group_effect_params.py -e tiny -b openl3"):
        Sweep.load("openl3", "tiny", tmp_path)


def test_paths_are_files_by_values_by_dim(tmp_path, tiny_effect):
    written = write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    for part in ("train", "test"):
        paths = sweep.paths(part)
        bs = written[f"{part}_Bs"]
        assert paths.shape == (bs.shape[1], bs.shape[0], DIM)
        np.testing.assert_array_equal(paths[1, 2], bs[2, 1])
    np.testing.assert_array_equal(as_paths(written["train_Bs"]), sweep.paths())


def test_check_finite_names_the_first_array_with_nan_or_inf(tmp_path, tiny_effect):
    write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    sweep.check_finite("grouped.h5")
    test_Bs = sweep.test_Bs.copy()
    test_Bs[2, 1, 3] = np.inf
    broken = replace(sweep, test_Bs=test_Bs)
    with pytest.raises(AesensError, match="grouped.h5: test_Bs holds NaN or inf; re-extract "
                                          "and re-average the affected files"):
        broken.check_finite("grouped.h5")
    np.testing.assert_array_equal(nonfinite_rows(test_Bs)[2], [False, True, False])


def test_stored_directions_are_checked_against_the_train_set(tmp_path, tiny_effect):
    written = write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    ccadirs = layout.ccadirs_path("openl3", "tiny", tmp_path)
    directions = np.random.default_rng(1).standard_normal((N_TRAIN, DIM))
    store.write_arrays(ccadirs, {"cca_dirs": directions})
    np.testing.assert_array_equal(stored_directions(sweep, tmp_path), directions)
    store.write_arrays(ccadirs, {"cca_dirs": directions,
                                 "file_name_train": written["file_name_train"][::-1]})
    with pytest.raises(AesensError, match="ccadirs_tiny.h5: train row 0 is 'train4' but "
                                          "'train0' in .*tiny.h5"):
        stored_directions(sweep, tmp_path)
    store.write_arrays(ccadirs, {"cca_dirs": directions[:-1]})
    with pytest.raises(AesensError, match=r"holds \(4, 4\) directions for \(5, 4\) train "
                                          "files; rerun 3.2_extract_samplewise_cca_dirs.py "
                                          "openl3 tiny"):
        stored_directions(sweep, tmp_path)


def test_check_file_names_names_the_first_differing_row_whatever_the_order():
    expected = np.array(["b0", "b1", "b2", "b3"])
    found = np.array(["b0", "a1", "c2", "b3"])  # row 1 sorts before, row 2 after
    with pytest.raises(AesensError, match="new.h5: test row 1 is 'a1' but 'b1' in old.h5"):
        check_file_names("old.h5", expected, "new.h5", found, "test")
    with pytest.raises(AesensError, match="new.h5: train row 4 is 'b4' but no row in old.h5"):
        check_file_names("old.h5", expected, "new.h5", np.array([*expected, "b4"]), "train")
    with pytest.raises(AesensError, match="new.h5: train row 3 is no row but 'b3' in old.h5"):
        check_file_names("old.h5", expected, "new.h5", expected[:3], "train")
    check_file_names("old.h5", expected, "new.h5", expected.copy(), "train")


def averaged_arrays(n_train: int = 4, dim: int = 3, names: bool = True) -> dict[str, np.ndarray]:
    """The arrays of an averaged file: features, labels and (optionally) file names."""
    arrays = {"X_train": np.zeros((n_train, dim)), "X_test": np.zeros((2, dim)),
              "Y_train": np.array(["cello", "flute"] * (n_train // 2)),
              "Y_test": np.array(["flute", "cello"])}
    if names:
        arrays["file_name_train"] = np.array([f"f{i}" for i in range(n_train)])
        arrays["file_name_test"] = np.array(["t0", "t1"])
    return arrays


def test_check_same_rows_compares_names_only_where_both_files_record_them():
    reference = averaged_arrays()
    check_same_rows("ref.h5", reference, "new.h5", averaged_arrays(names=False))
    check_same_rows("ref.h5", averaged_arrays(names=False), "new.h5", reference)
    renamed = {**reference, "file_name_test": np.array(["t0", "t9"])}
    with pytest.raises(AesensError, match="new.h5: test row 1 is 't9' but 't1' in ref.h5"):
        check_same_rows("ref.h5", reference, "new.h5", renamed)


@pytest.mark.parametrize("dim", [5, 2])
def test_check_same_rows_refuses_features_of_another_shape(dim):
    reference = averaged_arrays(names=False)
    with pytest.raises(AesensError, match=rf"new.h5: X_train has shape \(4, {dim}\), ref.h5 "
                                          r"\(4, 3\)"):
        check_same_rows("ref.h5", reference, "new.h5", averaged_arrays(dim=dim, names=False))


def test_load_refuses_a_grid_longer_than_the_file(tmp_path, tiny_effect, monkeypatch):
    write_grouped(tmp_path)
    longer = replace(tiny_effect, grid=np.array([1.0, 2.0, 3.0, 4.0]))
    monkeypatch.setitem(effects.EFFECTS, "tiny", longer)
    with pytest.raises(AesensError, match="holds 3 parameter values, the tiny grid 4"):
        Sweep.load("openl3", "tiny", tmp_path)


@pytest.mark.parametrize("name", ["train_A", "train_Bs"])
def test_load_refuses_a_grouped_file_of_more_files_than_the_original(tmp_path, tiny_effect,
                                                                     name):
    written = write_grouped(tmp_path)
    more = written[name]
    more = np.concatenate([more, more[..., :1, :]], axis=-2)
    arrays = {key: written[key] for key in ("train_A", "test_A", "train_Bs", "test_Bs")}
    store.write_arrays(layout.grouped_path("openl3", "tiny", tmp_path), {**arrays, name: more})
    with pytest.raises(AesensError, match=r"tiny.h5 and .*openl3/embeddings.h5 hold different "
                                          r"numbers of "
                                          rf"train files \({N_TRAIN}, {N_TRAIN + 1}\); rerun "
                                          "group_effect_params.py -e tiny -b openl3"):
        Sweep.load("openl3", "tiny", tmp_path)


@pytest.mark.parametrize("shape", [(N_TRAIN + 1, DIM), (N_TRAIN, DIM + 1)])
def test_stored_directions_of_more_files_or_dimensions_are_refused(tmp_path, tiny_effect, shape):
    write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    store.write_arrays(layout.ccadirs_path("openl3", "tiny", tmp_path),
                       {"cca_dirs": np.zeros(shape)})
    with pytest.raises(AesensError, match=rf"holds \{shape}".replace(")", r"\)")):
        stored_directions(sweep, tmp_path)


def test_a_sweep_cannot_be_changed_in_place(tmp_path, tiny_effect):
    """Workers share one Sweep (memory-mapped): its fields cannot be rebound."""
    write_grouped(tmp_path)
    sweep = Sweep.load("openl3", "tiny", tmp_path)
    with pytest.raises(FrozenInstanceError):
        sweep.train_A = np.zeros((N_TRAIN, DIM))

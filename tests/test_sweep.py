"""The Sweep type: loading a grouped file, the paths layout, the finite check, stored directions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aesens import effects, store
from aesens.errors import AesensError
from aesens.sweep import Sweep, as_paths, nonfinite_rows

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
    store.write_arrays(store.grouped_path("openl3", "tiny", root), {**arrays, **names})
    labels = {"Y_train": np.array(["cello", "flute"] * 2 + ["cello"]),
              "Y_test": np.array(["flute"] * N_TEST),
              "genre_train": np.array(["pop_roc"] * N_TRAIN),
              "genre_test": np.array(["jazz_blue"] * N_TEST)}
    store.write_arrays(store.averaged_path("openl3", embeddings_dir=root), {
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
    ccadirs = store.ccadirs_path("openl3", "tiny", tmp_path)
    directions = np.random.default_rng(1).standard_normal((N_TRAIN, DIM))
    store.write_arrays(ccadirs, {"cca_dirs": directions})
    np.testing.assert_array_equal(sweep.stored_directions(tmp_path), directions)
    store.write_arrays(ccadirs, {"cca_dirs": directions,
                                 "file_name_train": written["file_name_train"][::-1]})
    with pytest.raises(AesensError, match="ccadirs_tiny.h5: train row 0 is 'train4' but "
                                          "'train0' in .*tiny.h5"):
        sweep.stored_directions(tmp_path)
    store.write_arrays(ccadirs, {"cca_dirs": directions[:-1]})
    with pytest.raises(AesensError, match=r"holds \(4, 4\) directions for \(5, 4\) train "
                                          "files; rerun 3.2_extract_samplewise_cca_dirs.py "
                                          "openl3 tiny"):
        sweep.stored_directions(tmp_path)

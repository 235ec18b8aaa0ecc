"""End-to-end runs of the analysis scripts on a tiny sweep in the published file layout."""

from __future__ import annotations

import json
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_published_h5, write_split_csv

from aesens import layout, store
from aesens.analysis.cca import samplewise_cca_directions
from aesens.errors import run_cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["average_embeddings.py", "group_effect_params.py",
           "3.2_extract_samplewise_cca_dirs.py", "desensitize_classif.py"]
INSTRUMENTS = {"clarinet": "cla", "organ": "org"}
N_TRAIN, N_TEST, DIM, FRAMES = 30, 4, 6, 2


def script(name: str):
    """The ``main`` of a root script (loaded without running it)."""
    return runpy.run_path(str(ROOT / name), run_name="script_under_test")["main"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder with a split CSV and original embeddings (2 instruments)."""
    rng = np.random.default_rng(0)
    split = write_split_csv(tmp_path, INSTRUMENTS, N_TRAIN, N_TEST)
    centres = {instrument: 2 * rng.standard_normal(DIM) for instrument in INSTRUMENTS}
    originals = np.array([centres[name] for name in split["instrument"]])
    originals += rng.standard_normal(originals.shape)
    monkeypatch.chdir(tmp_path)
    return tmp_path, split, originals


def write_sweep(workdir, params) -> None:
    """Original and effected embeddings, every file with FRAMES rows."""
    root, split, originals = workdir
    rng = np.random.default_rng(1)
    keys = np.repeat(split["file_name"].to_numpy(), FRAMES)

    def frames(values):
        return np.repeat(values, FRAMES, axis=0) + 0.01 * rng.standard_normal((len(keys), DIM))

    write_published_h5(layout.original_path(root / "embeddings"), frames(originals), keys)
    shift = rng.standard_normal(DIM)
    for rank, param in enumerate(params):
        effected = originals + (1 + rank) * shift + 0.1 * rng.standard_normal(originals.shape)
        write_published_h5(layout.effected_path("tiny", param, root / "embeddings"),
                           frames(effected), keys)


def run_pipeline(params: list[str]) -> None:
    average = script("average_embeddings.py")
    assert average(["train_test_split.csv", "embeddings/embeddings.h5", "openl3",
                    "embeddings/averaged/openl3/embeddings.h5"]) == 0
    for param in params:
        assert average(["train_test_split.csv", f"embeddings/embeddings_tiny_{param}.h5",
                        "openl3", f"embeddings/averaged/openl3/embeddings_tiny_{param}.h5",
                        "--original", "embeddings/embeddings.h5"]) == 0
    assert script("group_effect_params.py")(["-e", "tiny", "-b", "openl3", "-j", "2"]) == 0
    assert script("3.2_extract_samplewise_cca_dirs.py")(["openl3", "tiny"]) == 0


def test_pipeline_writes_published_outputs(workdir, tiny_effect):
    params = tiny_effect.param_strings
    write_sweep(workdir, params)
    run_pipeline(params)
    grouped = store.read_arrays("embeddings/grouped/openl3/tiny.h5")
    assert grouped["train_Bs"].shape == (3, 2 * N_TRAIN, DIM)
    directions = store.read_arrays("embeddings/averaged/openl3/ccadirs_tiny.h5")["cca_dirs"]
    np.testing.assert_allclose(directions, samplewise_cca_directions(
        grouped["train_Bs"].transpose(1, 0, 2)))

    classify_main = script("desensitize_classif.py")
    # The published default methods: no method first, then every method.
    assert classify_main(["-b", "openl3", "-e", "tiny", "-k", "1",
                          "--solver", "fast", "--seed", "5", "--quiet"]) == 0
    results = pd.read_csv("results/tiny/result_openl3.csv")
    per_method = 2 * (1 + 3 * len(params) + 3)
    assert len(results) == 7 * per_method
    assert list(results.columns) == [
        "instrument", "train_set", "test_set", "precision", "recall", "f1_score", "support",
        "accuracy", "roc_auc", "ap", "extra_info", "embedding", "embedding_params",
        "last_updated"]
    assert list(dict.fromkeys(results["embedding"])) == [
        "openl3", "openl3-lda", "openl3-avgdirproj", "openl3-pcaproj_nonnorm",
        "openl3-pcaproj_norm", "openl3-cca", "openl3-cca_samplewise_svd"]
    svd_rows = results["embedding"] == "openl3-cca_samplewise_svd"
    assert set(results["embedding_params"][svd_rows]) == {'{"svd_thr": 0.3}'}
    assert results["embedding_params"][~svd_rows].isna().all()
    assert results["extra_info"].isna().all()
    assert results["last_updated"].str.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}").all()
    assert results["roc_auc"].between(0, 1).all()
    keys = ["", "-lda", "-avgdirproj", "-pcaproj_nonnorm", "-pcaproj_norm", "-cca",
            "-cca_samplewise_svd-0.3"]
    with open("models/tiny/deformdir_openl3.pkl", "rb") as handle:
        directions = pickle.load(handle)
    with open("models/tiny/models_openl3.pkl", "rb") as handle:
        models = pickle.load(handle)
    assert list(directions) == keys and list(models) == keys
    assert directions["-cca"]["organ"].shape == (DIM,)
    assert directions[""]["organ"] is None
    assert directions["-cca_samplewise_svd-0.3"]["organ"].shape[1] == DIM
    assert set(models["-cca"]["organ"]) == {"orig", *params, "randommix"}
    assert models["-cca"]["organ"]["orig"].get_params()["solver"] == "liblinear"
    extra = json.loads(Path("models/tiny/extra_info_openl3.json").read_text())
    assert extra["-cca"]["organ"]["randommix"]["randommix_seed"] == 5
    assert not list(Path("models/tiny").glob("*/"))  # no per-method folders

    # Rerunning one method with two workers replaces its rows with identical values.
    assert classify_main(["-b", "openl3", "-e", "tiny", "-m", "cca", "-k", "2",
                          "--solver", "fast", "--seed", "5", "--quiet"]) == 0
    rerun = pd.read_csv("results/tiny/result_openl3.csv")
    assert len(rerun) == len(results)
    key = ["instrument", "train_set", "test_set", "embedding"]  # embedding_params: empty
    before = results[results["embedding"] == "openl3-cca"].set_index(key)["roc_auc"]
    after = rerun[rerun["embedding"] == "openl3-cca"].set_index(key)["roc_auc"]
    pd.testing.assert_series_equal(before.sort_index(), after.sort_index())


def test_stages_run_in_the_published_order_from_the_raw_embeddings(workdir, tiny_effect):
    # Right after extraction only the raw embeddings and the split exist.
    write_sweep(workdir, tiny_effect.param_strings)
    assert script("group_effect_params.py")(["-e", "tiny", "-b", "openl3"]) == 0
    grouped = store.read_arrays("embeddings/grouped/openl3/tiny.h5")
    assert grouped["train_Bs"].shape == (3, 2 * N_TRAIN, DIM)
    assert grouped["train_Bs"].dtype == np.float64
    shutil.rmtree("embeddings/averaged")
    shutil.rmtree("embeddings/grouped")
    assert script("desensitize_classif.py")(["-b", "openl3", "-e", "tiny", "-m", "cca",
                                             "-k", "1", "--solver", "fast", "--quiet"]) == 0
    results = pd.read_csv("results/tiny/result_openl3.csv")
    assert set(results["embedding"]) == {"openl3-cca"}
    shutil.rmtree("embeddings/averaged")
    assert script("3.2_extract_samplewise_cca_dirs.py")(["openl3", "tiny"]) == 0
    averaged = np.stack([store.read_arrays(
        f"embeddings/averaged/openl3/embeddings_tiny_{param}.h5")["X_train"]
        for param in tiny_effect.param_strings], axis=1)
    np.testing.assert_allclose(
        store.read_arrays("embeddings/averaged/openl3/ccadirs_tiny.h5")["cca_dirs"],
        samplewise_cca_directions(averaged))


#: ``-t`` as typed, the published method key (``"-cca_samplewise_svd-" + str(float)``) and
#: ``embedding_params`` (``json.dumps``), written out.
THRESHOLDS = [("1", "-cca_samplewise_svd-1.0", '{"svd_thr": 1.0}'),
              ("0.25", "-cca_samplewise_svd-0.25", '{"svd_thr": 0.25}'),
              ("1e-7", "-cca_samplewise_svd-1e-07", '{"svd_thr": 1e-07}'),
              ("2", "-cca_samplewise_svd-2.0", '{"svd_thr": 2.0}'),
              ("-1", "-cca_samplewise_svd--1.0", '{"svd_thr": -1.0}')]


@pytest.mark.parametrize(("value", "key", "params"), THRESHOLDS)
def test_any_svd_threshold_runs_as_published(workdir, tiny_effect, value, key, params):
    """``-t`` takes any float: the published key and row labels, the singular vectors
    ``vh[s / s[0] >= t]`` of each instrument's sample-wise CCA directions (every one for
    t <= 0, none for t > 1, with a warning), and all rows written also when a method
    finds no direction."""
    write_sweep(workdir, tiny_effect.param_strings)
    arguments = ["-b", "openl3", "-e", "tiny", "-m", "cca_samplewise_svd", "-t", value,
                 "-k", "1", "--solver", "fast", "--quiet"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert script("desensitize_classif.py")(arguments) == 0
    warned = [str(w.message) for w in caught if "SVD threshold" in str(w.message)]
    assert len(warned) == (not 0 < float(value) <= 1)
    table = pd.read_csv("results/tiny/result_openl3.csv", keep_default_na=False)
    assert set(table["embedding"]) == {"openl3-cca_samplewise_svd"}
    assert set(table["embedding_params"]) == {params}
    assert len(table) == len(INSTRUMENTS) * (1 + 3 * len(tiny_effect.param_strings) + 3)
    with open("models/tiny/deformdir_openl3.pkl", "rb") as handle:
        directions = pickle.load(handle)
    with open("models/tiny/models_openl3.pkl", "rb") as handle:
        assert list(pickle.load(handle)) == [key]
    assert list(directions) == [key]
    cca_dirs = store.read_arrays("embeddings/averaged/openl3/ccadirs_tiny.h5")["cca_dirs"]
    labels = store.read_arrays("embeddings/averaged/openl3/embeddings.h5")["Y_train"]
    extra = json.loads(Path("models/tiny/extra_info_openl3.json").read_text())
    for instrument in INSTRUMENTS:
        _, singular, right = np.linalg.svd(cca_dirs[labels == instrument],
                                           full_matrices=False)
        expected = right[singular / singular[0] >= float(value)]
        saved = directions[key][instrument]
        assert saved.shape == expected.shape == ({"2": 0, "-1": DIM}.get(value, len(expected)),
                                                 DIM)
        np.testing.assert_allclose(np.abs(saved @ expected.T), np.eye(len(expected)),
                                   atol=1e-9)
        assert extra[key][instrument]["randommix"]["n_directions"] == len(expected)


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("desensitize_classif.py", ["-m", "pca"], "unknown desensitisation method 'pca'"),
    ("desensitize_classif.py", ["--svd-thr", "x"], "'x' is not a number"),
    ("desensitize_classif.py", ["-k", "0"], "0 is not a positive count"),
    ("desensitize_classif.py", ["--num-threads-classif", "-2"], "-2 is not a positive count"),
    ("desensitize_classif.py", ["--seed", "-1"], "-1 is negative"),
    ("group_effect_params.py", ["-j", "0"], "0 is not a positive count"),
    ("group_effect_params.py", ["--num-threads", "two"], "'two' is not an integer"),
])
def test_bad_option_values_are_usage_errors(workdir, tiny_effect, capsys, name, arguments,
                                            message):
    with pytest.raises(SystemExit) as exit_info:
        script(name)(["-b", "openl3", "-e", "tiny", *arguments])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error.splitlines()[-1]


def test_published_and_own_option_names_are_equivalent(workdir, tiny_effect, monkeypatch):
    seen = []
    module = runpy.run_path(str(ROOT / "desensitize_classif.py"), run_name="script_under_test")
    monkeypatch.setitem(module["main"].__globals__, "run_classification",
                        lambda *args, **kwargs: seen.append((args, kwargs)) or Path("x"))
    published = ["-b", "openl3", "-e", "tiny", "--desensitize-methods", ",lda", "--svd-thr",
                 "0.5", "--num-threads-classif", "3"]
    ours = ["--embedding", "openl3", "--effect", "tiny", "--method", "none,lda", "--threshold",
            "0.5", "--n-jobs", "3"]
    assert module["main"](published) == 0 and module["main"](ours) == 0
    assert seen[0] == seen[1]
    assert seen[0][0] == ("openl3", "tiny", ["", "lda"], 0.5) and seen[0][1]["n_jobs"] == 3
    module["main"](["-b", "openl3", "-e", "tiny"])
    assert seen[2][0][2:] == (["", "lda", "avgdirproj", "pcaproj_nonnorm", "pcaproj_norm",
                               "cca", "cca_samplewise_svd"], 0.3)
    assert seen[2][1]["n_jobs"] == len(os.sched_getaffinity(0))
    assert module["main"](["-b", "openl3", "-e", "tiny", "-m", "all"]) == 0
    assert seen[3][0][2] == seen[2][0][2]


def test_missing_input_is_a_one_line_error(workdir, capsys):
    code = run_cli(script("average_embeddings.py"),
                   ["train_test_split.csv", "embeddings/none.h5", "openl3", "out.h5"])
    assert code == 2 and "embeddings/none.h5 does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_have_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script(name)(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_average_all_embeddings_skips_settings_not_extracted(workdir):
    root, split, originals = workdir
    keys = np.repeat(split["file_name"].to_numpy(), FRAMES)
    features = np.repeat(originals, FRAMES, axis=0)
    write_published_h5(root / "embeddings" / "embeddings.h5", features, keys)
    write_published_h5(root / "embeddings" / "embeddings_bitcrush_4.h5", features + 1, keys)
    environment = {**os.environ, "PYTHON": sys.executable,
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", str(ROOT / "average_all_embeddings.sh")], cwd=root,
                          env=environment, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    averaged = sorted(path.name for path in (root / "embeddings/averaged/openl3").iterdir()
                      if not path.name.startswith("."))
    assert averaged == ["embeddings.h5", "embeddings_bitcrush_4.h5"]
    assert "skipping 11 of 12 bitcrush settings of openl3" in done.stderr
    assert "skipping 31 of 31 gain settings" in done.stderr
    np.testing.assert_allclose(
        store.read_arrays(root / "embeddings/averaged/openl3/embeddings_bitcrush_4.h5")["X_train"],
        originals[:2 * N_TRAIN] + 1, rtol=1e-6)


def test_classification_refuses_non_finite_embeddings(workdir, tiny_effect, capsys):
    root, split, originals = workdir
    train = split["split"] == "train"
    labels = {"Y_train": split["instrument"][train].to_numpy(),
              "Y_test": split["instrument"][~train].to_numpy(),
              "genre_train": split["genre"][train].to_numpy(),
              "genre_test": split["genre"][~train].to_numpy()}
    store.write_arrays(layout.averaged_path("openl3", embeddings_dir=root / "embeddings"),
                       {"X_train": originals[train], "X_test": originals[~train], **labels})
    train_Bs = np.repeat(originals[train][None], 3, axis=0)
    train_Bs[1, 4, 2] = np.nan
    store.write_arrays(layout.grouped_path("openl3", "tiny", root / "embeddings"), {
        "train_A": originals[train], "test_A": originals[~train], "train_Bs": train_Bs,
        "test_Bs": np.repeat(originals[~train][None], 3, axis=0)})
    code = run_cli(script("desensitize_classif.py"), ["-b", "openl3", "-e", "tiny"])
    error = capsys.readouterr().err
    assert code == 2 and "train_Bs holds NaN or inf" in error

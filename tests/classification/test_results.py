"""Result files as the published scripts wrote them: labels, results CSV and pickles."""

from __future__ import annotations

import pickle
import re
import threading

import numpy as np
import pandas as pd
import pytest

from aesens import layout
from aesens.analysis.methods import METHODS
from aesens.classification import results
from aesens.errors import AesensError

PUBLISHED_HEADER = ("instrument,train_set,test_set,precision,recall,f1_score,support,accuracy,"
                    "roc_auc,ap,extra_info,embedding,embedding_params,last_updated")


def new_rows(instrument: str, method: str, auc: float, threshold: float = 0.3) -> pd.DataFrame:
    """Rows of one method as the classification stage makes them."""
    rows = pd.DataFrame([{"instrument": instrument, "train_set": train, "test_set": test,
                          "precision": 1.0, "recall": 0.5, "f1_score": 0.6, "support": 3.0,
                          "accuracy": 0.9, "roc_auc": auc, "ap": 0.8, "extra_info": ""}
                         for train, test in (("orig", "orig"), ("orig", "-40.0"))])
    rows["embedding"] = METHODS[method].label("openl3")
    rows["embedding_params"] = METHODS[method].params(threshold)
    rows["last_updated"] = results.timestamp()
    return rows


def published_lines(index: bool) -> list[str]:
    """A results CSV as the published script's DataFrame.to_csv wrote it (by hand)."""
    body = ['cello,orig,orig,1.0,1.0,1.0,3.0,1.0,0.11,1.0,,openl3,,2024-01-02 03:04:05.678',
            'cello,orig,-40.0,1.0,1.0,1.0,3.0,1.0,0.12,1.0,,openl3,,2024-01-02 03:04:05.678',
            'cello,orig,orig,1.0,1.0,1.0,3.0,1.0,0.13,1.0,,openl3-cca_samplewise_svd,'
            '"{""svd_thr"": 0.3}",2024-01-02 03:04:05.678',
            'organ,orig,orig,1.0,1.0,1.0,3.0,1.0,0.14,1.0,,openl3-lda,,2024-01-02 03:04:05.678']
    if not index:
        return [PUBLISHED_HEADER, *body]
    return ["," + PUBLISHED_HEADER, *[f"{number},{line}" for number, line in enumerate(body)]]


def test_timestamp():
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", results.timestamp())


@pytest.mark.parametrize("index", [False, True])
def test_rerun_over_a_published_csv_replaces_its_rows(tmp_path, index):
    path = tmp_path / "result_openl3.csv"
    path.write_text("\n".join(published_lines(index)) + "\n")
    results.update_results_csv(path, new_rows("cello", "", 0.9), "openl3")
    results.update_results_csv(path, new_rows("cello", "cca_samplewise_svd", 0.8), "openl3")
    table = pd.read_csv(path)
    assert list(table.columns) == PUBLISHED_HEADER.split(",")
    assert len(table) == 5
    assert list(table["embedding"]) == ["openl3-lda", "openl3", "openl3",
                                        "openl3-cca_samplewise_svd", "openl3-cca_samplewise_svd"]
    assert list(table["roc_auc"]) == [0.14, 0.9, 0.9, 0.8, 0.8]
    assert list(table["embedding_params"].fillna("")) == ["", "", "", '{"svd_thr": 0.3}',
                                                          '{"svd_thr": 0.3}']
    assert table["extra_info"].isna().all()


def test_rows_of_earlier_versions_are_matched(tmp_path):
    path = tmp_path / "result_openl3.csv"
    old = new_rows("cello", "", 0.5)
    old["embedding"], old["embedding_params"], old["extra_info"] = "openl3-", "{}", '{"C": 1.0}'
    svd = new_rows("cello", "cca_samplewise_svd", 0.6)
    svd["embedding_params"] = '{"svd_thr":0.3}'
    other = new_rows("cello", "lda", 0.4)
    other["embedding"] = "clap-lda"  # another model's rows stay as they are
    pd.concat([old, svd, other]).to_csv(path, index=False)
    results.update_results_csv(path, new_rows("cello", "", 0.9), "openl3")
    results.update_results_csv(path, new_rows("cello", "cca_samplewise_svd", 0.7), "openl3")
    table = pd.read_csv(path, keep_default_na=False)
    assert len(table) == 6
    assert list(table["embedding"]) == (["clap-lda"] * 2 + ["openl3"] * 2
                                        + ["openl3-cca_samplewise_svd"] * 2)
    assert list(table["roc_auc"]) == [0.4, 0.4, 0.9, 0.9, 0.7, 0.7]


def test_other_thresholds_and_models_are_kept(tmp_path):
    path = tmp_path / "result_openl3.csv"
    results.update_results_csv(path, new_rows("cello", "cca_samplewise_svd", 0.6, 0.5), "openl3")
    results.update_results_csv(path, new_rows("cello", "cca_samplewise_svd", 0.7), "openl3")
    table = pd.read_csv(path)
    assert list(table["roc_auc"]) == [0.6, 0.6, 0.7, 0.7]
    assert list(table["embedding_params"]) == ['{"svd_thr": 0.5}'] * 2 + ['{"svd_thr": 0.3}'] * 2
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage\n\x00\x81",
                                     b'instrument,train_set\n"cello,orig\n',
                                     b"a,b\n1,2\n"])
def test_unreadable_csv_is_a_one_line_error_and_kept(tmp_path, content):
    path = tmp_path / "result_openl3.csv"
    path.write_bytes(content)
    with pytest.raises(AesensError, match="result_openl3.csv") as error:
        results.update_results_csv(path, new_rows("cello", "", 0.9), "openl3")
    assert "\n" not in str(error.value)
    assert path.read_bytes() == content


def test_pickles_are_merged_and_read_back_with_plain_pickle(tmp_path):
    deformdir = layout.deformdir_path("openl3", "gain", tmp_path)
    models = layout.models_path("openl3", "gain", tmp_path)
    assert deformdir.name == "deformdir_openl3.pkl" and models.name == "models_openl3.pkl"
    results.update_pickle(deformdir, {"-lda": {"cello": np.ones(3), "organ": np.zeros(3)}})
    results.update_pickle(deformdir, {"-lda": {"cello": np.full(3, 2.0)}, "": {"cello": None}})
    results.update_pickle(models, {"-lda": {"cello": {"orig": "a", "4": "b"}}}, depth=3)
    results.update_pickle(models, {"-lda": {"cello": {"4": "c"}}}, depth=3)
    with open(deformdir, "rb") as handle:
        directions = pickle.load(handle)
    with open(models, "rb") as handle:
        classifiers = pickle.load(handle)
    assert list(directions) == ["-lda", ""]
    np.testing.assert_array_equal(directions["-lda"]["cello"], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(directions["-lda"]["organ"], [0.0, 0.0, 0.0])
    assert classifiers == {"-lda": {"cello": {"orig": "a", "4": "c"}}}


def test_unreadable_pickle_is_a_one_line_error_and_kept(tmp_path):
    path = tmp_path / "models_openl3.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(AesensError, match="models_openl3.pkl is not a readable pickle"):
        results.update_pickle(path, {"": {"cello": {}}})
    assert path.read_bytes() == b"not a pickle"


def test_concurrent_updates_keep_every_row(tmp_path):
    path = tmp_path / "result_openl3.csv"
    instruments = [f"instrument{number}" for number in range(8)]
    threads = [threading.Thread(target=results.update_results_csv,
                                args=(path, new_rows(name, "lda", 0.5), "openl3"))
               for name in instruments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(pd.read_csv(path)["instrument"])) == instruments


def test_result_files_honour_the_umask(tmp_path):
    """Results written through safe_files.atomic_file get 0o666 & ~umask, like a plain open()."""
    import os
    import stat
    from pathlib import Path

    from aesens.classification import results

    old = os.umask(0o022)
    try:
        path = tmp_path / "res" / "result_x.csv"
        results._write_atomic(path, lambda name: Path(name).write_text("a\n"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["result_x.csv"]


def test_a_published_csv_with_model_dash_labels_and_empty_dict_params_is_read(tmp_path):
    """Stage 4 as published labels a row with the model name plus ``-<method>`` (``openl3-``
    for no method) and may write an empty parameter dict as ``{}``; written by pandas'
    ``to_csv`` with its index column."""
    body = ['0,cello,orig,orig,0.5,1.0,0.6,8.0,0.7,0.91,0.8,,openl3-,{},2024-01-02 03:04:05.678',
            '1,cello,orig,-40.0,0.5,1.0,0.6,8.0,0.7,0.81,0.8,,openl3-,{},2024-01-02 03:04:05.678',
            '2,cello,orig,orig,0.5,1.0,0.6,8.0,0.7,0.92,0.8,,openl3-lda,{},2024-01-02 03:04:05.678',
            '3,organ,-40.0,orig,0.5,1.0,0.6,8.0,0.7,0.93,0.8,,openl3-cca_samplewise_svd,'
            '"{""svd_thr"": 0.3}",2024-01-02 03:04:05.678']
    path = layout.results_csv_path("openl3", "gain", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(["," + PUBLISHED_HEADER, *body]) + "\n")
    table = results.load_results("gain", "openl3", tmp_path)
    assert table["method"].tolist() == ["", "", "lda", "cca_samplewise_svd:0.3"]
    assert table["test_set"].tolist() == ["orig", "-40.0", "orig", "orig"]
    assert table["train_set"].tolist() == ["orig", "orig", "orig", "-40.0"]
    np.testing.assert_array_equal(table["roc_auc"], [0.91, 0.81, 0.92, 0.93])
    # A rerun's rows (``openl3``, empty parameters) replace the published rows of the same key.
    written = results.update_results_csv(path, new_rows("cello", "", 0.5), "openl3")
    assert written["roc_auc"].astype(float).tolist() == [0.92, 0.93, 0.5, 0.5]
    assert written["embedding"].tolist() == ["openl3-lda", "openl3-cca_samplewise_svd",
                                             "openl3", "openl3"]
    assert results.load_results("gain", "openl3", tmp_path)["method"].tolist() == [
        "lda", "cca_samplewise_svd:0.3", "", ""]

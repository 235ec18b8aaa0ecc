"""Bad inputs of the analysis scripts: nothing lost, one-line errors, rows aligned.

Each category has several instances. The data-loss cases also check that
the inputs are byte for byte unchanged (sha256) afterwards.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import write_published_h5, write_split_csv

from aesens import layout, store
from aesens.analysis import directions as cca_files
from aesens.analysis.methods import METHODS
from aesens.classification import classify, results
from aesens.errors import AesensError, run_cli
from aesens.layout import refuse_overwriting_inputs, same_file
from aesens.sweep.sweep import Sweep, ensure_grouped

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = {"clarinet": "cla", "organ": "org"}
N_TRAIN, N_TEST, DIM, FRAMES = 30, 3, 4, 2


def script(name: str):
    """The ``main`` of a root script (loaded without running it)."""
    return runpy.run_path(str(ROOT / name), run_name="script_under_test")["main"]


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def workdir(tmp_path, monkeypatch, tiny_effect):
    """A working folder with a split CSV and the raw embeddings of the 3-value tiny effect."""
    split = write_split_csv(tmp_path, INSTRUMENTS, N_TRAIN, N_TEST)
    rng = np.random.default_rng(0)
    originals = rng.standard_normal((len(split), DIM)) + np.where(
        split["instrument"].to_numpy() == "organ", 2.0, 0.0)[:, None]
    keys = np.repeat(split["file_name"].to_numpy(), FRAMES)
    write_published_h5(layout.original_path(tmp_path / "embeddings"),
                       np.repeat(originals, FRAMES, axis=0), keys)
    shift = rng.standard_normal(DIM)
    for rank, param in enumerate(tiny_effect.param_strings):
        effected = originals + (1 + rank) * shift + 0.1 * rng.standard_normal(originals.shape)
        write_published_h5(layout.effected_path("tiny", param, tmp_path / "embeddings"),
                           np.repeat(effected, FRAMES, axis=0), keys)
    monkeypatch.chdir(tmp_path)
    return tmp_path, split


def one_line_error(capsys) -> str:
    """The message of a failed run: one ``error:`` line on stderr, no traceback."""
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if line.strip()]
    assert "Traceback" not in error
    assert lines and lines[-1].startswith("error: "), error
    return lines[-1]


def hashes(paths) -> dict[str, str]:
    return {str(path): sha256(path) for path in paths}


# ----------------------------------------------------------------- output onto an input

def test_same_file_sees_spellings_and_links(tmp_path):
    target = tmp_path / "data" / "embeddings.h5"
    target.parent.mkdir()
    target.write_bytes(b"x")
    (tmp_path / "link.h5").symlink_to(target)
    os.link(target, tmp_path / "hard.h5")
    (tmp_path / "folder").symlink_to(target.parent)
    for spelling in (target, tmp_path / "data" / "." / "embeddings.h5",
                     tmp_path / "data" / ".." / "data" / "embeddings.h5", tmp_path / "link.h5",
                     tmp_path / "hard.h5", tmp_path / "folder" / "embeddings.h5"):
        assert same_file(spelling, target)
    assert not same_file(tmp_path / "data" / "other.h5", target)
    assert same_file(tmp_path / "folder" / "new.h5", tmp_path / "data" / "new.h5")  # neither exists
    with pytest.raises(AesensError, match=r"link.h5 is the input .*embeddings.h5 \(resolves"):
        refuse_overwriting_inputs([tmp_path / "link.h5"], [None, target])
    refuse_overwriting_inputs([tmp_path / "out.h5", None], [target])


@pytest.mark.parametrize("output", [
    "embeddings/embeddings.h5", "./embeddings/embeddings.h5",
    "embeddings/../embeddings/embeddings.h5", "link.h5", "hard.h5", "train_test_split.csv",
    "./train_test_split.csv", "original.h5"])
def test_average_embeddings_refuses_to_write_over_its_inputs(workdir, capsys, output):
    root, _ = workdir
    os.symlink("embeddings/embeddings.h5", root / "link.h5")
    os.link(root / "embeddings/embeddings.h5", root / "hard.h5")
    os.symlink("embeddings/embeddings_tiny_1.0.h5", root / "original.h5")
    inputs = [root / "train_test_split.csv", root / "embeddings/embeddings.h5",
              root / "embeddings/embeddings_tiny_1.0.h5"]
    before = hashes(inputs)
    arguments = ["train_test_split.csv", "embeddings/embeddings.h5", "openl3", output]
    if output == "original.h5":  # --original is an input too
        arguments = ["train_test_split.csv", "embeddings/embeddings_tiny_2.0.h5", "openl3",
                     "embeddings/embeddings_tiny_1.0.h5", "--original", "original.h5"]
    assert run_cli(script("average_embeddings.py"), arguments) == 2
    assert "would destroy the input" in one_line_error(capsys)
    assert hashes(inputs) == before
    assert not (root / "embeddings/averaged").exists()


@pytest.mark.parametrize("output", ["embeddings/embeddings.h5", "./embeddings/embeddings.h5",
                                    "link.h5"])
def test_split_refuses_to_write_over_the_embeddings(workdir, capsys, output):
    root, _ = workdir
    os.symlink(root / "embeddings/embeddings.h5", root / "link.h5")
    before = sha256(root / "embeddings/embeddings.h5")
    assert run_cli(script("2A.3_train_test_split.py"), ["--output", output]) == 2
    assert "would destroy the input" in one_line_error(capsys)
    assert sha256(root / "embeddings/embeddings.h5") == before


@pytest.mark.parametrize(("name", "arguments", "split_csv"), [
    ("group_effect_params.py", ["-e", "tiny", "-b", "openl3"],
     "embeddings/grouped/openl3/tiny.h5"),
    ("3.2_extract_samplewise_cca_dirs.py", ["openl3", "tiny"],
     "embeddings/averaged/openl3/ccadirs_tiny.h5"),
    ("desensitize_classif.py", ["-b", "openl3", "-e", "tiny", "-k", "1"],
     "results/tiny/result_openl3.csv"),
    ("desensitize_classif.py", ["-b", "openl3", "-e", "tiny", "-k", "1"],
     "./models/tiny/models_openl3.pkl"),
])
def test_stages_refuse_a_split_csv_among_their_outputs(workdir, capsys, name, arguments,
                                                       split_csv):
    root, _ = workdir
    copy = root / split_csv
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "train_test_split.csv", copy)
    before = sha256(copy)
    assert run_cli(script(name), [*arguments, "--split-csv", split_csv]) == 2
    assert "would destroy the input" in one_line_error(capsys)
    assert sha256(copy) == before


# ----------------------------------------------------------------- damaged or foreign inputs

def damage_h5(path: Path, how: str) -> None:
    if how == "no features":
        with h5py.File(path, "a") as h5:
            del h5["irmas/openl3/features"]
    elif how == "no keys":
        with h5py.File(path, "a") as h5:
            del h5["irmas/openl3/keys"]
    elif how == "1-d features":
        with h5py.File(path, "a") as h5:
            del h5["irmas/openl3/features"]
            h5["irmas/openl3/features"] = np.zeros(5, dtype=np.float32)
    elif how == "irmas is a dataset":
        with h5py.File(path, "w") as h5:
            h5["irmas"] = np.zeros(3)
    elif how == "not hdf5":
        path.write_bytes(b"CSV,not,HDF5\n" * 10)
    elif how == "empty":
        path.write_bytes(b"")


H5_DAMAGE = ["no features", "no keys", "1-d features", "irmas is a dataset", "not hdf5",
             "empty"]


@pytest.mark.parametrize("how", H5_DAMAGE)
def test_averaging_a_damaged_embeddings_file_is_a_one_line_error(workdir, capsys, how):
    root, _ = workdir
    damage_h5(root / "embeddings/embeddings.h5", how)
    code = run_cli(script("average_embeddings.py"), [
        "train_test_split.csv", "embeddings/embeddings.h5", "openl3", "out.h5"])
    assert code == 2
    assert "embeddings/embeddings.h5" in one_line_error(capsys)
    assert not (root / "out.h5").exists()


@pytest.mark.parametrize("how", ["no keys", "irmas is a dataset", "not hdf5"])
def test_split_of_a_damaged_embeddings_file_is_a_one_line_error(workdir, capsys, how):
    root, _ = workdir
    damage_h5(root / "embeddings/embeddings.h5", how)
    assert run_cli(script("2A.3_train_test_split.py"), ["--output", "new_split.csv"]) == 2
    assert "embeddings/embeddings.h5" in one_line_error(capsys)
    assert not (root / "new_split.csv").exists()


SPLIT_DAMAGE = {
    "empty": (b"", "is empty"),
    "header only": (b"instrument,genre,file_name,split\n", "holds a header but no rows"),
    "binary": (bytes(range(256)) * 4, "train_test_split.csv"),
    "other split value": (None, "1 split values other than train/test ('validation')"),
    "capitalised": (None, "split values other than train/test ('Train')"),
    "duplicate rows": (None, "2 files appear more than once ('[cla][cla]1000__1', "),
    "no file name": (None, "1 rows without file_name"),
    "no test rows": (None, "holds no test rows"),
}


def damage_split(path: Path, how: str) -> None:
    content, _ = SPLIT_DAMAGE[how]
    if content is not None:
        path.write_bytes(content)
        return
    split = pd.read_csv(path, dtype=str)
    if how == "other split value":
        split.loc[3, "split"] = "validation"
    elif how == "capitalised":
        split.loc[0, "split"] = "Train"
    elif how == "duplicate rows":
        split = pd.concat([split, split.iloc[[0, 1, 0]]])
    elif how == "no file name":
        split.loc[2, "file_name"] = ""
    elif how == "no test rows":
        split = split[split["split"] == "train"]
    split.to_csv(path, index=False)


@pytest.mark.parametrize("how", sorted(SPLIT_DAMAGE))
@pytest.mark.parametrize("stage", ["average", "group"])
def test_a_damaged_split_csv_is_a_one_line_error(workdir, capsys, how, stage):
    root, _ = workdir
    damage_split(root / "train_test_split.csv", how)
    before = sha256(root / "train_test_split.csv")
    if stage == "average":
        code = run_cli(script("average_embeddings.py"), [
            "train_test_split.csv", "embeddings/embeddings.h5", "openl3", "out.h5"])
    else:
        code = run_cli(script("group_effect_params.py"), ["-e", "tiny", "-b", "openl3"])
    assert code == 2
    message = one_line_error(capsys)
    assert "train_test_split.csv" in message and SPLIT_DAMAGE[how][1] in message
    # Was, for a header-only split: an empty averaged file and exit 0.
    assert not (root / "out.h5").exists() and not (root / "embeddings/averaged").exists()
    assert sha256(root / "train_test_split.csv") == before


def test_a_split_csv_with_a_byte_order_mark_is_read(workdir):
    root, split = workdir
    path = root / "train_test_split.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert run_cli(script("average_embeddings.py"), [
        "train_test_split.csv", "embeddings/embeddings.h5", "openl3", "out.h5"]) == 0
    assert store.read_arrays(root / "out.h5")["file_name_train"].tolist() == \
        split[split["split"] == "train"]["file_name"].tolist()


@pytest.mark.parametrize("option", ["--results-dir", "--models-dir"])
def test_an_output_folder_that_is_a_file_stops_the_run_before_any_work(workdir, capsys, option):
    root, _ = workdir
    (root / "taken").write_text("a file")
    code = run_cli(script("desensitize_classif.py"),
                   ["-b", "openl3", "-e", "tiny", "-m", "", "-k", "1", "--quiet", option, "taken"])
    assert code == 2 and "cannot create taken/tiny" in one_line_error(capsys)
    assert (root / "taken").read_text() == "a file"
    assert not (root / "embeddings/averaged").exists()


def test_split_of_a_missing_embeddings_file_is_a_one_line_error(workdir, capsys):
    assert run_cli(script("2A.3_train_test_split.py"), ["--embeddings-file", "none.h5"]) == 2
    assert "none.h5 does not exist; run 2A.1_featureExtract_original.py" in one_line_error(capsys)


def test_a_split_csv_that_is_a_folder_is_a_one_line_error(workdir, capsys):
    root, _ = workdir
    (root / "folder.csv").mkdir()
    code = run_cli(script("group_effect_params.py"),
                   ["-e", "tiny", "-b", "openl3", "--split-csv", "folder.csv"])
    assert code == 2 and "folder.csv" in one_line_error(capsys)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("results/tiny/result_openl3.csv", bytes(range(256)) * 8, "result_openl3.csv"),
    ("results/tiny/result_openl3.csv", b"a,b\n1,2\n", "lacks columns instrument"),
    ("results/tiny/result_openl3.csv", b"", "result_openl3.csv"),
    ("models/tiny/deformdir_openl3.pkl", b"garbage", "is not a readable pickle"),
    ("models/tiny/models_openl3.pkl", pickle.dumps([1, 2]), "holds a list"),
    ("models/tiny/extra_info_openl3.json", b"{not json", "is not readable JSON"),
])
def test_damaged_result_files_stop_the_run_before_any_work(workdir, capsys, name, content,
                                                          message):
    root, _ = workdir
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(content)
    code = run_cli(script("desensitize_classif.py"),
                   ["-b", "openl3", "-e", "tiny", "-m", ",lda", "-k", "1", "--quiet"])
    assert code == 2
    assert message in one_line_error(capsys)
    assert (root / name).read_bytes() == content
    # Refused before the work: nothing averaged, no result file written beside it.
    assert not (root / "embeddings/averaged").exists()
    written = {str(path.relative_to(root)) for folder in ("results", "models")
               if (root / folder).exists() for path in (root / folder).rglob("*")
               if path.is_file() and not path.name.startswith(".")}
    assert written == {name}


# ----------------------------------------------------------------- row alignment

def write_averaged(path: Path, split: pd.DataFrame, value: float,
                   file_names: bool = True, order: np.ndarray | None = None) -> None:
    """An averaged file; ``file_names=False``: the published layout (no file names)."""
    arrays = {}
    for part in ("train", "test"):
        rows = split[split["split"] == part]
        names = rows["file_name"].to_numpy()
        if order is not None and part == "train":
            names = names[order]
        arrays.update({f"X_{part}": np.full((len(rows), DIM), value)
                       + np.arange(len(rows))[:, None],
                       f"Y_{part}": rows["instrument"].to_numpy(),
                       f"genre_{part}": rows["genre"].to_numpy()})
        if file_names:
            arrays[f"file_name_{part}"] = names
    if file_names:
        store.write_arrays(path, arrays)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:  # as the published averaging wrote it: bytes labels
        for name, value in arrays.items():
            h5[name] = np.asarray(value, dtype="S") if value.dtype.kind in "OU" else value


def write_averaged_sweep(root: Path, split: pd.DataFrame, params, file_names=True,
                         swapped: str | None = None) -> None:
    """Averaged files only (no raw inputs); ``swapped``: a setting whose rows 0 and 2 (same
    instrument) name each other's files."""
    for path in (root / "embeddings").glob("embeddings*.h5"):
        path.unlink()
    write_averaged(layout.averaged_path("openl3", embeddings_dir=root / "embeddings"), split, 0.0,
                   file_names)
    n_train = int((split["split"] == "train").sum())
    for rank, param in enumerate(params):
        order = np.r_[2, 1, 0, 3:n_train] if param == swapped else None
        write_averaged(layout.averaged_path("openl3", "tiny", param, root / "embeddings"), split,
                       rank + 1.0, file_names, order)


def test_published_averaged_files_without_file_names_still_group(workdir, tiny_effect):
    root, split = workdir
    write_averaged_sweep(root, split, tiny_effect.param_strings, file_names=False)
    data = ensure_grouped("openl3", "tiny", "train_test_split.csv", root / "embeddings")
    assert data.train_Bs.shape == (3, 2 * N_TRAIN, DIM)
    assert data.file_name_train is None
    directions = cca_files.ensure_ccadirs("openl3", "tiny", "train_test_split.csv",
                                          root / "embeddings")
    assert directions.shape == (2 * N_TRAIN, DIM)


def test_grouped_files_record_and_return_the_file_of_every_row(workdir, tiny_effect):
    root, split = workdir
    data = ensure_grouped("openl3", "tiny", "train_test_split.csv", root / "embeddings")
    for part in ("train", "test"):
        expected = split[split["split"] == part]["file_name"].tolist()
        assert getattr(data, f"file_name_{part}").tolist() == expected
        grouped = store.read_arrays(layout.grouped_path("openl3", "tiny", root / "embeddings"))
        assert grouped[f"file_name_{part}"].tolist() == expected


@pytest.mark.parametrize("stage", ["group", "ccadirs", "classify"])
def test_settings_with_the_same_labels_but_other_files_are_refused(workdir, capsys, tiny_effect,
                                                                   stage):
    root, split = workdir
    write_averaged_sweep(root, split, tiny_effect.param_strings, swapped="2.0")
    if stage == "group":
        code = run_cli(script("group_effect_params.py"), ["-e", "tiny", "-b", "openl3"])
    elif stage == "ccadirs":
        code = run_cli(script("3.2_extract_samplewise_cca_dirs.py"), ["openl3", "tiny"])
    else:
        code = run_cli(script("desensitize_classif.py"),
                       ["-b", "openl3", "-e", "tiny", "-m", "", "-k", "1", "--quiet"])
    assert code == 2
    message = one_line_error(capsys)
    first = split["file_name"][0]
    assert "embeddings_tiny_2.0.h5: train row 0 is '[cla][cla]1002__1' but " \
           f"'{first}' in" in message


def test_a_grouped_file_of_other_files_is_refused(workdir, tiny_effect):
    root, split = workdir
    ensure_grouped("openl3", "tiny", "train_test_split.csv", root / "embeddings")
    grouped = layout.grouped_path("openl3", "tiny", root / "embeddings")
    names = store.read_arrays(grouped, ["file_name_test"])["file_name_test"]
    store.write_arrays(grouped, {"file_name_test": names[::-1]}, keep_existing=True)
    with pytest.raises(AesensError, match=r"tiny.h5: test row 0 is .* but .* in .*averaged"):
        Sweep.load("openl3", "tiny", root / "embeddings")
    store.write_arrays(grouped, {"file_name_test": names[:-1]}, keep_existing=True)
    with pytest.raises(AesensError, match="test row 5 is no row"):
        Sweep.load("openl3", "tiny", root / "embeddings")


# ----------------------------------------------------------------- concurrent writers

def _write_method_rows(path: str, method: str, rounds: int) -> None:
    for number in range(rounds):
        rows = pd.DataFrame([{"instrument": f"instrument{number}", "train_set": "orig",
                              "test_set": "orig", "roc_auc": 0.5, "extra_info": ""}])
        rows["embedding"] = METHODS[method].label("openl3")
        rows["embedding_params"] = ""
        rows["last_updated"] = results.timestamp()
        results.update_results_csv(path, rows, "openl3")
        results.update_pickle(Path(path).with_suffix(".pkl"),
                              {METHODS[method].key(0.3): {f"instrument{number}": number}})


def test_two_processes_updating_one_results_csv_keep_every_row(tmp_path):
    path = tmp_path / "results" / "tiny" / "result_openl3.csv"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_method_rows, args=(str(path), method, 15))
               for method in ("lda", "cca", "")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    table = pd.read_csv(path, keep_default_na=False)
    assert len(table) == 45
    assert table.groupby("embedding").size().to_dict() == {
        "openl3": 15, "openl3-cca": 15, "openl3-lda": 15}
    with open(path.with_suffix(".pkl"), "rb") as handle:
        merged = pickle.load(handle)
    assert {key: len(value) for key, value in merged.items()} == {"-lda": 15, "-cca": 15, "": 15}


def test_models_are_saved_before_their_rows(workdir, monkeypatch):
    root, _ = workdir

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results, "update_results_csv", fail)
    with pytest.raises(OSError):
        classify.run_classification("openl3", "tiny", ["lda"], n_jobs=1, solver="fast",
                                    progress=False)
    with open(layout.models_path("openl3", "tiny", "models"), "rb") as handle:
        models = pickle.load(handle)
    assert set(models["-lda"]) == set(INSTRUMENTS)
    assert not layout.results_csv_path("openl3", "tiny", "results").exists()


# ----------------------------------------------------------------- option values

@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("desensitize_classif.py", ["-b", "../openl3", "-e", "tiny"], "is not an embedding name"),
    ("desensitize_classif.py", ["-b", "openl3", "-e", "tiny", "--seed", "-5"], "-5 is negative"),
    ("desensitize_classif.py", ["-b", "openl3", "-e", "tiny", "-t", "0.3x"],
     "'0.3x' is not a number"),
    ("group_effect_params.py", ["-b", "a/b", "-e", "tiny"], "is not an embedding name"),
    ("group_effect_params.py", ["-b", "openl3", "-e", "tiny", "-j", "-3"],
     "-3 is not a positive count"),
    ("3.2_extract_samplewise_cca_dirs.py", ["", "tiny"], "is not an embedding name"),
    ("average_embeddings.py", ["s.csv", "in.h5", "open l3", "out.h5"],
     "is not an embedding name"),
    ("2A.3_train_test_split.py", ["--embedding", "../x"], "is not an embedding name"),
])
def test_invalid_option_values_are_usage_errors(workdir, capsys, name, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        script(name)(arguments)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error.splitlines()[-1]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--seed", "-5"], "-5 is negative"), (["--per-class", "0"], "0 is not a positive count"),
    (["--embeddings", "crepe,../x"], "is not an embedding name")])
def test_invalid_demo_options_are_usage_errors(tmp_path, capsys, arguments, message):
    from aesens import demo

    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--workdir", str(tmp_path / "demo"), *arguments])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


# ----------------------------------------------------------------- the averaging script's Python

def run_average_all(folder: Path, cwd: Path, *arguments: str,
                    **environment: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "average_all_embeddings.sh", folder / "average_all_embeddings.sh")
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    env.update(environment)
    return subprocess.run(["bash", str(folder / "average_all_embeddings.sh"), *arguments],
                          cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_average_all_embeddings_finds_the_python_or_says_how_to_set_it(workdir, tmp_path):
    root, _ = workdir
    folder = tmp_path / "project"
    (folder / "bin").mkdir(parents=True)
    fake = folder / "bin" / "python3"  # a python3 on PATH without aesens
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    path = f"{folder / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    done = run_average_all(folder, root, PATH=path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no Python with the aesens package found (tried {fake}); set "
        "PYTHON=/path/to/python of the environment where aesens is installed"]
    done = run_average_all(folder, root, PATH=path, PYTHON=str(folder / "missing"))
    assert done.returncode == 2 and "tried " + str(folder / "missing") in done.stderr
    # The .venv beside the script, without PYTHON.
    venv_python = folder / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    venv_python.chmod(0o755)
    pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    # (It gets past the check of the Python to the check of its split CSV.)
    done = run_average_all(folder, root, "absent.csv", PATH=path, PYTHONPATH=pythonpath)
    assert done.stderr.strip().splitlines() == [
        "error: absent.csv does not exist; run 2A.3_train_test_split.py first"]


def test_samplewise_directions_of_other_files_are_refused(workdir, capsys):
    root, split = workdir
    directions = cca_files.ensure_ccadirs("openl3", "tiny", "train_test_split.csv",
                                          root / "embeddings")
    ccadirs = layout.ccadirs_path("openl3", "tiny", root / "embeddings")
    names = store.read_arrays(ccadirs, ["file_name_train"])["file_name_train"]
    assert names.tolist() == split[split["split"] == "train"]["file_name"].tolist()
    assert directions.shape == (len(names), DIM)
    store.write_arrays(ccadirs, {"file_name_train": np.roll(names, 1)}, keep_existing=True)
    code = run_cli(script("desensitize_classif.py"), ["-b", "openl3", "-e", "tiny", "-m",
                                                      "cca_samplewise_svd", "-k", "1", "--quiet"])
    assert code == 2
    assert f"ccadirs_tiny.h5: train row 0 is '{names[-1]}' but '{names[0]}' in" \
        in one_line_error(capsys)
    assert not layout.results_csv_path("openl3", "tiny", "results").exists()


def test_a_damaged_averaged_file_leaves_no_thread_behind(workdir, tiny_effect):
    root, _ = workdir
    ensure_grouped("openl3", "tiny", "train_test_split.csv", root / "embeddings")
    layout.effected_path("tiny", "2.0", root / "embeddings").unlink()  # the cache is all there is
    damaged = layout.averaged_path("openl3", "tiny", "2.0", root / "embeddings")
    damaged.write_bytes(b"junk")
    layout.grouped_path("openl3", "tiny", root / "embeddings").unlink()
    before = threading.active_count()
    with pytest.raises(AesensError, match="embeddings_tiny_2.0.h5 is not a readable HDF5 file"):
        ensure_grouped("openl3", "tiny", "train_test_split.csv", root / "embeddings",
                                 n_jobs=3)
    # Was: joblib's threads kept waiting, and the command hung at exit after its message.
    assert threading.active_count() == before
    assert damaged.read_bytes() == b"junk"


def test_a_cache_is_rebuilt_when_an_input_goes_back_in_time(workdir, tiny_effect):
    """Any change of the recorded inputs rebuilds the cache, an older modification time too."""
    root, split = workdir
    write_averaged_sweep(root, split, tiny_effect.param_strings)
    embeddings_dir = root / "embeddings"
    cca_files.ensure_ccadirs("openl3", "tiny", "train_test_split.csv", embeddings_dir)
    output = layout.ccadirs_path("openl3", "tiny", embeddings_dir)
    first = output.stat().st_ino
    cca_files.ensure_ccadirs("openl3", "tiny", "train_test_split.csv", embeddings_dir)
    assert output.stat().st_ino == first  # reused while nothing changed
    source = layout.averaged_path("openl3", "tiny", tiny_effect.param_strings[0], embeddings_dir)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**12))
    cca_files.ensure_ccadirs("openl3", "tiny", "train_test_split.csv", embeddings_dir)
    assert output.stat().st_ino != first

"""Faults around the executors: schedulers that are not one, worker counts, Ctrl-C.

Each category has several instances: services of other kinds on the
scheduler's port, scheduler files missing, truncated or foreign, worker
counts above the cores or the tasks, and Ctrl-C at two moments of a run on a
local cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from conftest import foreground_ctrl_c, write_tiny_dataset

from aesens import layout
from aesens.errors import AesensError
from aesens.extraction import cluster as cluster_module
from aesens.extraction.cluster import capped_workers, dask_client, usable_cores
from aesens.sweep.split import check_classifiable

ROOT = Path(__file__).resolve().parents[2]


def _server(answer: bytes | None, wait_for_request: bool = False, close: bool = False) -> int:
    """A local TCP service that sends ``answer`` on each connection (None: stays silent),
    then closes it if ``close``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            if wait_for_request:
                connection.recv(4096)
            if answer is not None:
                connection.sendall(answer)
            if close:
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


HTTP = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("answer, wait, close, message", [
    (None, False, False, "did not answer within 1 s"),
    (HTTP, True, False, "did not answer within 1 s"),  # a dashboard: speaks when spoken to
    (HTTP, False, False, "answers, but not as a Dask scheduler"),
    (b"\xff" * 64, False, False, "answers, but not as a Dask scheduler"),  # was a 3-EiB
    (b"\x05" + bytes(7) + b"hello", False, False, "answers, but not as a Dask scheduler"),
    (b"\x40" + bytes(7), False, True, "answers, but not as a Dask scheduler"),
    (None, False, True, "answers, but not as a Dask scheduler"),
], ids=["silent", "dashboard", "http", "garbage", "short", "cut", "hangs-up"])
def test_a_port_where_something_else_answers_is_a_one_line_error(monkeypatch, answer, wait,
                                                                  close, message):
    """Before: no return at all, or a MemoryError of 3 EiB."""
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1.0)
    port = _server(answer, wait, close)
    started = time.monotonic()
    with pytest.raises(AesensError) as caught, dask_client(f"tcp://127.0.0.1:{port}"):
        pass
    assert time.monotonic() - started < 10
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_closed_port_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AesensError, match=f"cannot reach the Dask scheduler tcp://127.0.0.1:"
                                          f"{port} .*start it"), dask_client(f"127.0.0.1:{port}"):
        pass


@pytest.mark.parametrize("content, message", [
    (None, "the scheduler file {path} does not exist"),  # was "missing port number"
    ('{"type": "Scheduler", "id": "Scheduler-1", "address": "tcp://127.0.0.1:87',
     "is not a complete Dask scheduler file"),  # was an AssertionError
    ("", "is not a complete Dask scheduler file"),
    ('["tcp://127.0.0.1:8786"]', "is not a Dask scheduler file (no scheduler address"),
    ('{"address": 8786}', "is not a Dask scheduler file (no scheduler address"),
], ids=["missing", "truncated", "empty", "a list", "no address"])
def test_scheduler_files_missing_incomplete_or_foreign(tmp_path, content, message):
    path = tmp_path / "scheduler.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AesensError) as caught, dask_client(str(path)):
        pass
    assert message.format(path=path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_scheduler_file_of_a_running_scheduler_connects(tmp_path):
    import distributed

    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://",
                                  dashboard_address=None) as cluster:
        path = tmp_path / "scheduler.json"
        path.write_text(json.dumps({"type": "Scheduler", "address": cluster.scheduler_address}))
        for given in (str(path), cluster.scheduler_address,
                      cluster.scheduler_address.removeprefix("tcp://")):
            with dask_client(given) as client:
                assert client.scheduler.address == cluster.scheduler_address


# --- worker counts ---------------------------------------------------------------------------

@pytest.mark.parametrize("requested, tasks, expected", [
    (1, None, 1), ("cores", None, "cores"), (16, None, "cores"), (1000, None, "cores"),
    (1000, 1, 1), ("cores", 1, 1), (1, 50, 1),
])
def test_worker_counts_are_capped_at_the_cores_and_the_tasks(capsys, requested, tasks,
                                                              expected):
    """Before: -k 16 started 16 processes of ~93 MiB on 2 cores; -k 1000 would ask ~90 GB."""
    cores = usable_cores()
    requested = cores if requested == "cores" else requested
    expected = cores if expected == "cores" else expected
    assert capped_workers(requested, "-k", tasks) == expected
    err = capsys.readouterr().err
    if expected < requested:
        assert err == f"-k {requested}: starting {expected} worker(s), as " + (
            f"this machine runs {cores} at once\n" if expected == cores and (
                tasks is None or tasks >= cores) else f"there are {tasks} tasks\n")
    else:
        assert err == ""


def test_usable_cores_are_those_of_the_affinity_mask():
    assert usable_cores() == len(os.sched_getaffinity(0)) <= (os.cpu_count() or 1)


# --- splits classification cannot use --------------------------------------------------------

@pytest.mark.parametrize("train, test, part", [
    (["cello"] * 5, ["cello", "flute"], "train"),
    (["flute"], ["cello", "flute"], "train"),
    (["cello", "flute"], ["flute"] * 3, "test"),
    ([], ["cello", "flute"], "train"),
])
def test_a_split_with_one_instrument_in_a_part_is_refused(train, test, part):
    """Before: liblinear's ValueError (both solvers)."""
    with pytest.raises(AesensError) as caught:
        check_classifiable(np.array(train), np.array(test), "split.csv")
    message = str(caught.value)
    assert message.startswith(f"split.csv: its {part} rows hold a single instrument (")
    assert "2A.3_train_test_split.py" in message
    check_classifiable(np.array(["cello", "flute"]), np.array(["flute", "cello"]), "split.csv")


# --- Ctrl-C on a local cluster ---------------------------------------------------------------

def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("moment", ["starting", "working"])
def test_ctrl_c_with_local_workers_is_one_line(tmp_path, moment):
    """Before: four worker tracebacks before the one-line message."""
    dataset = write_tiny_dataset(tmp_path / "IRMAS", seconds=1.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    run = subprocess.Popen(
        [sys.executable, str(ROOT / "2A.2_featureExtract_audioEffects.py"), "gain", "mfcc", "0",
         "30", "--workers", "2", "--quiet", "--dataset-dir", str(dataset), "--shard-size", "4",
         "--batch-size", "4"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=foreground_ctrl_c)
    try:
        if moment == "starting":
            assert _wait_for(lambda: len(psutil.Process(run.pid).children(recursive=True)) >= 1,
                             60)
        else:
            assert _wait_for(lambda: list((tmp_path / "embeddings").glob("*.h5")), 120)
        started = psutil.Process(run.pid).children(recursive=True)
        os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        _, err = run.communicate(timeout=120)
        _, alive = psutil.wait_procs(started, timeout=20)
        assert not alive  # every worker stopped with the run
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    lines = [line for line in err.splitlines() if line.strip()]
    assert run.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert lines[-1] == "interrupted: finished results are kept; rerun the same command to resume"
    assert not [path for path in (tmp_path / "embeddings").glob(".*")] if (
        tmp_path / "embeddings").exists() else True


def test_the_split_reader_accepts_one_instrument(tmp_path):
    """The split reader itself accepts one instrument (averaging works with it)."""
    from aesens.sweep.split import read_split

    path = tmp_path / "split.csv"
    pd.DataFrame({"instrument": ["cello", "cello"], "genre": ["classical"] * 2,
                  "file_name": ["[cel][cla]0001__1", "[cel][cla]0002__1"],
                  "split": ["train", "test"]}).to_csv(path, index=False)
    assert len(read_split(path)) == 2


# --- the classification command: one-instrument splits, -k beyond the cores ----------------

@pytest.fixture
def classification_workdir(tmp_path, monkeypatch, tiny_effect):
    """Raw embeddings of the tiny effect for two instruments (as tests/test_analysis_faults)."""
    from conftest import write_published_h5, write_split_csv


    split = write_split_csv(tmp_path, {"clarinet": "cla", "organ": "org"}, 30, 3)
    rng = np.random.default_rng(0)
    originals = rng.standard_normal((len(split), 4)) + np.where(
        split["instrument"].to_numpy() == "organ", 2.0, 0.0)[:, None]
    keys = split["file_name"].to_numpy()
    write_published_h5(layout.original_path(tmp_path / "embeddings"), originals, keys)
    for rank, param in enumerate(tiny_effect.param_strings):
        write_published_h5(layout.effected_path("tiny", param, tmp_path / "embeddings"),
                           originals + rank + 0.1 * rng.standard_normal(originals.shape), keys)
    monkeypatch.chdir(tmp_path)
    return tmp_path, split


@pytest.mark.parametrize("part", ["train", "test"])
def test_the_classification_refuses_a_split_with_one_instrument(classification_workdir, capsys,
                                                                part):
    from conftest import load_script

    from aesens.errors import run_cli

    root, split = classification_workdir
    keep = (split["split"] != part) | (split["instrument"] == "organ")
    split[keep].to_csv(root / "train_test_split.csv", index=False)
    script = load_script("desensitize_classif.py")
    assert run_cli(script.main, ["-b", "openl3", "-e", "tiny", "-m", ",lda", "-k", "1",
                                 "--solver", "fast", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: train_test_split.csv: its {part} rows hold a single "
                          "instrument ('organ')")
    assert not (root / "results").exists() or not list((root / "results").rglob("*.csv"))


def test_k_beyond_the_cores_runs_on_the_cores_and_says_so(classification_workdir, capsys):
    from conftest import load_script

    from aesens.errors import run_cli

    script = load_script("desensitize_classif.py")
    assert run_cli(script.main, ["-b", "openl3", "-e", "tiny", "-m", "", "-k", "1000",
                                 "--solver", "fast", "--quiet"]) == 0
    cores = usable_cores()
    assert f"-k 1000: starting {min(cores, 10)} worker(s), as " in capsys.readouterr().err


def _session() -> tuple[int, int]:
    return os.getpid(), os.getsid(0)


def test_local_workers_run_in_sessions_of_their_own():
    """So that a terminal's Ctrl-C (sent to its foreground group) never reaches them."""
    from aesens.extraction.executor import open_executor

    with open_executor(workers=2) as running:
        sessions = set(running.map_unordered(lambda _: _session(), range(6)))
    assert sessions and all(pid != os.getpid() and session == pid for pid, session in sessions)
    assert os.getsid(0) not in {session for _, session in sessions}

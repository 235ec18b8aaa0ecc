"""Tests of aesens.extraction.executor.

The same output, bit for bit, in process and on a Dask cluster.

One local cluster of two single-threaded worker processes is shared by the
module's tests. Its workers import this module (it is on their ``sys.path``)
to build the failing models below from :class:`ModelSpec` loaders.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import h5py
import joblib
import numpy as np
import pytest
from conftest import load_script, published_effected_audio, write_tiny_dataset
from threadpoolctl import threadpool_limits

from aesens import store
from aesens.dataset import discover
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli
from aesens.extraction.cluster import joblib_on_dask
from aesens.extraction.executor import (
    DaskExecutor,
    InProcessExecutor,
    iterated_ahead,
    open_executor,
)
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import ModelSpec, get_model

distributed = pytest.importorskip("distributed")

stage2 = load_script("2A.2_featureExtract_audioEffects.py")

SETTINGS = [Setting(), Setting(EFFECTS["lowpass_cheby"], 3), Setting(EFFECTS["reverb"], 20)]


class FailingOnce:
    """Wraps a model; the first call anywhere (marker file absent) fails, later calls embed."""

    def __init__(self, model, marker: Path, die: bool) -> None:
        self.model, self.marker, self.die = model, marker, die
        self.name, self.frame_level, self.dim = model.name, model.frame_level, model.dim
        self.sample_rate = model.sample_rate

    def embed(self, batch, sample_rate):
        if not self.marker.exists():
            self.marker.touch()
            if self.die:
                os._exit(1)  # the worker process dies mid-unit
            raise RuntimeError("transient failure")
        return self.model.embed(batch, sample_rate)

    def metadata(self):
        return self.model.metadata()


def load_dying_mfcc(device: str, batch_size: int, weights: str) -> FailingOnce:
    """MFCC whose first call kills its process (``weights`` is the marker file)."""
    return FailingOnce(get_model("mfcc"), Path(weights), die=True)


def load_flaky_mfcc(device: str, batch_size: int, weights: str) -> FailingOnce:
    """MFCC whose first call raises (``weights`` is the marker file)."""
    return FailingOnce(get_model("mfcc"), Path(weights), die=False)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return discover(write_tiny_dataset(tmp_path_factory.mktemp("data") / "IRMAS-TrainingData"))


def h5_contents(folder: Path) -> dict:
    """Every dataset and attribute of every HDF5 file in a folder, by path."""
    contents = {}
    for path in sorted(folder.glob("*.h5")):
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, obj, path=path: contents.update({
                (path.name, name): obj[()] if isinstance(obj, h5py.Dataset) else None,
                (path.name, name, "attrs"): dict(obj.attrs)}))
    return contents


def assert_same_files(first: Path, second: Path) -> None:
    left, right = h5_contents(first), h5_contents(second)
    assert left.keys() == right.keys() and left
    for key, value in left.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, right[key], err_msg=str(key))
            assert value.dtype == right[key].dtype
        else:
            assert value == right[key], key


def test_local_cluster_output_equals_in_process_bit_for_bit(tmp_path, files, client):
    """In this process one setting at a time (one lane) or several at once, and on the
    cluster: the same files."""
    specs = [ModelSpec.for_name("mfcc", device="cpu"), ModelSpec.for_name("crepe", device="cpu")]
    settings = SETTINGS[1:]
    extract(files, specs, settings, tmp_path / "local", batch_size=2, progress=False,
            executor=InProcessExecutor(lanes=1))
    extract(files, specs, settings, tmp_path / "lanes", batch_size=2, shard_size=3,
            progress=False, executor=InProcessExecutor(prepare_threads=3, lanes=2))
    written = extract(files, specs, settings, tmp_path / "dask", batch_size=2, shard_size=3,
                      progress=False, executor=DaskExecutor(client))
    assert [path.parent.name for path in written] == ["dask"] * 2
    assert_same_files(tmp_path / "local", tmp_path / "dask")
    assert_same_files(tmp_path / "local", tmp_path / "lanes")


@pytest.mark.parametrize("executor", ["lanes", "dask"])
def test_several_chained_reverbs_at_once_equal_one_setting_at_a_time(tmp_path, files, client,
                                                                     executor):
    """Each reverb setting continues its own chain while others run beside it (their
    effect-only passes too, on a cluster)."""
    settings = [Setting(EFFECTS["reverb"], rank) for rank in (0, 20, 33)] + SETTINGS[1:2]
    specs = [ModelSpec.for_name("mfcc", device="cpu")]
    extract(files, specs, settings, tmp_path / "serial", batch_size=2, shard_size=4,
            progress=False, executor=InProcessExecutor(lanes=1))
    at_once = (InProcessExecutor(prepare_threads=2, lanes=3) if executor == "lanes"
               else DaskExecutor(client))
    extract(files, specs, settings, tmp_path / executor, batch_size=2, shard_size=4,
            progress=False, executor=at_once)
    assert_same_files(tmp_path / "serial", tmp_path / executor)


def test_lanes_run_at_once_and_each_in_order():
    """Two lanes meet at a barrier (so they ran at the same time); items of one lane never
    overlap and keep their order."""
    barrier = threading.Barrier(2, timeout=60)
    running: dict[str, int] = {"a": 0, "b": 0, "c": 0}
    order: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(item: tuple[str, int]) -> tuple[str, int]:
        lane, index = item
        with lock:
            running[lane] += 1
            assert running[lane] == 1, "two items of one lane at once"
        if index == 0 and lane != "c":
            barrier.wait()
        time.sleep(0.01)
        with lock:
            order.append(item)
            running[lane] -= 1
        return item

    items = [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("c", 0)]
    results = list(InProcessExecutor(lanes=2).map_unordered(work, items,
                                                            lane=lambda item: item[0]))
    assert sorted(results) == sorted(items)
    for lane in "abc":
        assert [index for name, index in order if name == lane] == sorted(
            index for name, index in items if name == lane)


def test_one_lane_or_no_lanes_run_in_the_calling_thread():
    def where(item: int) -> str:
        return threading.current_thread().name

    caller = threading.current_thread().name
    for executor, lane in ((InProcessExecutor(lanes=1), lambda item: item % 2),
                           (InProcessExecutor(lanes=2), None)):
        assert list(executor.map_unordered(where, range(4), lane=lane)) == [caller] * 4


def test_iterators_run_ahead_at_once_and_come_out_in_order():
    barrier = threading.Barrier(2, timeout=60)

    def numbers(start: int, meet: bool):
        if meet:
            barrier.wait()  # the first two iterators advance at the same time
        yield from range(start, start + 3)

    iterators = [numbers(0, True), numbers(10, True), numbers(20, False)]
    assert list(iterated_ahead(iterators, 2)) == [0, 1, 2, 10, 11, 12, 20, 21, 22]
    assert list(iterated_ahead([iter("ab"), iter("c")], 1)) == ["a", "b", "c"]

    def failing():
        yield 1
        raise ValueError("iterator failed")

    with pytest.raises(ValueError, match="iterator failed"):
        list(iterated_ahead([iter([0]), failing(), iter([2])], 2))


def test_a_failing_item_stops_the_other_lanes():
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            raise ValueError("item 0 failed")
        time.sleep(0.05)
        return item

    with pytest.raises(ValueError, match="item 0 failed"):
        list(InProcessExecutor(lanes=2).map_unordered(work, range(40), lane=lambda item: item % 2))
    assert len(started) < 40  # the odd lane stopped after its current item
    count = len(started)
    time.sleep(0.2)
    assert len(started) == count  # and nothing runs on after the error reached the caller


@pytest.mark.parametrize("shard_size, batch_size", [(1, 1), (5, 2)])
def test_chained_reverb_on_the_cluster_equals_one_pedalboard_board(tmp_path, files, client,
                                                                   shard_size, batch_size):
    """Units start from the reverb state at their first file: the audio is the published one."""
    setting = SETTINGS[2]
    reference = published_effected_audio(files, setting.effect, setting.value, tmp_path)
    with threadpool_limits(limits=1, user_api="blas"):
        expected = get_model("mfcc").embed([audio for audio, _ in reference], 44100)
    extract(files, [ModelSpec.for_name("mfcc", device="cpu")], [setting], tmp_path / "dask",
            batch_size=batch_size, shard_size=shard_size, progress=False,
            executor=DaskExecutor(client))
    features, keys = store.read_embeddings(setting.output_path(tmp_path / "dask"), "mfcc")
    np.testing.assert_array_equal(features, np.concatenate(expected))
    assert list(keys) == [path.stem for path in files]


def test_finished_settings_are_skipped_on_the_cluster(tmp_path, files, client):
    specs = [ModelSpec.for_name("mfcc")]
    extract(files, specs, SETTINGS[:2], tmp_path, batch_size=4, progress=False)
    written = extract(files, specs, SETTINGS, tmp_path, batch_size=4, progress=False,
                      executor=DaskExecutor(client))
    assert [path.name for path in written] == ["embeddings_reverb_0.61.h5"]


@pytest.mark.parametrize("loader, retries", [("test_executor:load_flaky_mfcc", 1),
                                             ("test_executor:load_dying_mfcc", 0)])
def test_a_failed_unit_or_dead_worker_is_retried(tmp_path, files, client, loader, retries):
    reference = extract(files, [get_model("mfcc")], SETTINGS[1:2], tmp_path / "local",
                        progress=False)
    spec = ModelSpec("mfcc", loader, weights=str(tmp_path / "failed-once"))
    written = extract(files, [spec], SETTINGS[1:2], tmp_path / "dask", batch_size=4,
                      shard_size=4, progress=False,
                      executor=DaskExecutor(client, retries=retries, max_in_flight=3))
    assert (tmp_path / "failed-once").exists() and len(written) == len(reference) == 1
    assert_same_files(tmp_path / "local", tmp_path / "dask")


def test_unit_error_without_retries_reaches_the_caller(tmp_path, files, client):
    spec = ModelSpec("mfcc", "test_executor:load_flaky_mfcc", weights=str(tmp_path / "marker"))
    with pytest.raises(RuntimeError, match="transient failure"):
        extract(files, [spec], SETTINGS[:1], tmp_path, progress=False,
                executor=DaskExecutor(client, retries=0))
    assert not list(tmp_path.glob("*.h5"))


def test_cli_scheduler_option_equals_in_process(tmp_path, files, cluster, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = ["--dataset-dir", str(files[0].parents[1]), "--quiet"]
    assert run_cli(stage2.main, ["gain", "mfcc", "3", "3", *dataset,
                                 "--embeddings-dir", "local"]) == 0
    assert run_cli(stage2.main, ["gain", "mfcc", "3", "3", *dataset, "--embeddings-dir", "dask",
                                 "--scheduler", cluster.scheduler_address,
                                 "--shard-size", "5", "--batch-size", "2"]) == 0
    assert_same_files(tmp_path / "local", tmp_path / "dask")


def test_window_follows_the_workers(client):
    client.wait_for_workers(2, timeout=60)
    assert DaskExecutor(client).window() == 4  # twice the worker threads, asked each time
    assert DaskExecutor(client, max_in_flight=7).window() == 7


def test_model_objects_cannot_go_to_a_cluster(tmp_path, files, client):
    with pytest.raises(AesensError, match="give ModelSpec"):
        extract(files, [get_model("mfcc")], SETTINGS[:1], tmp_path,
                executor=DaskExecutor(client))


@pytest.mark.parametrize("kwargs, message", [
    ({"scheduler": "tcp://127.0.0.1:1", "workers": 2}, "not both"),
    ({"workers": 0}, "at least 1"),
    ({"retries": -1}, "must not be negative"),
])
def test_executor_option_errors(kwargs, message):
    with pytest.raises(AesensError, match=message), open_executor(**kwargs):
        pass


def test_default_executor_runs_in_process():
    with open_executor() as executor:
        assert isinstance(executor, InProcessExecutor) and executor.prepare_threads >= 1
        assert list(executor.map_unordered(str, [1, 2])) == ["1", "2"]


def test_joblib_loops_run_on_the_cluster(cluster, client):
    client.wait_for_workers(2, timeout=60)  # a worker killed above may still be restarting
    with joblib_on_dask(cluster.scheduler_address):
        pids = joblib.Parallel(n_jobs=-1)(joblib.delayed(os.getpid)() for _ in range(4))
    assert os.getpid() not in pids
    with joblib_on_dask(None):
        assert joblib.Parallel(n_jobs=1)(joblib.delayed(os.getpid)() for _ in range(2)) == [
            os.getpid()] * 2


def test_unreachable_scheduler_is_one_line_error():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(AesensError, match="cannot reach the Dask scheduler"), \
            joblib_on_dask("tcp://127.0.0.1:9"):
        pass

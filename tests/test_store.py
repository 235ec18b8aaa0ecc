"""Tests of aesens.store: published layout, bytes keys, atomic writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import read_attrs

from aesens import layout, store
from aesens.errors import AesensError


def test_paths_follow_published_layout():
    assert str(layout.original_path()) == "embeddings/embeddings.h5"
    assert str(layout.effected_path("gain", "-1.0")) == "embeddings/embeddings_gain_-1.0.h5"
    assert str(layout.averaged_path("panns")) == "embeddings/averaged/panns/embeddings.h5"
    assert (str(layout.averaged_path("panns", "reverb", "0.10"))
            == "embeddings/averaged/panns/embeddings_reverb_0.10.h5")
    assert str(layout.grouped_path("clap", "gain")) == "embeddings/grouped/clap/gain.h5"
    assert str(layout.ccadirs_path("clap", "gain")) == "embeddings/averaged/clap/ccadirs_gain.h5"


def test_roundtrip_keeps_other_embeddings(tmp_path):
    path = tmp_path / "embeddings.h5"
    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    store.write_embeddings(path, "mfcc", a, ["x", "y", "z"], {"model": "m"})
    store.write_embeddings(path, "crepe", np.ones((4, 3)), ["x", "x", "y", "z"])
    features, keys = store.read_embeddings(path, "mfcc")
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, a)
    assert list(keys) == ["x", "y", "z"]
    assert store.list_embeddings(path) == ["crepe", "mfcc"]
    assert read_attrs(path, "mfcc")["model"] == "m"
    assert store.incomplete_reason(path, "crepe", {"x", "y", "z"}) is None
    assert store.incomplete_reason(path, "crepe", {"x", "y"}) is not None
    # Replacing one embedding keeps the other.
    store.write_embeddings(path, "mfcc", a[:1], ["x"])
    assert store.read_embeddings(path, "crepe")[0].shape == (4, 3)


def test_reads_files_written_by_the_published_scripts(tmp_path):
    """Keys stored as fixed-length bytes, several frames per key, no attributes."""
    path = tmp_path / "embeddings.h5"
    with h5py.File(path, "w") as h5:
        h5["irmas/openl3/features"] = np.random.default_rng(0).random((6, 512), dtype=np.float32)
        h5["irmas/openl3/keys"] = np.array([b"[cel][cla]0001__1"] * 3 + [b"[cel][cla]0001__2"] * 3)
    features, keys = store.read_embeddings(path, "openl3")
    assert features.shape == (6, 512)
    assert list(keys) == ["[cel][cla]0001__1"] * 3 + ["[cel][cla]0001__2"] * 3
    stems = {"[cel][cla]0001__1", "[cel][cla]0001__2"}
    assert store.incomplete_reason(path, "openl3", stems) is None


def test_missing_file_embedding_and_damage(tmp_path):
    with pytest.raises(AesensError, match="does not exist"):
        store.read_embeddings(tmp_path / "none.h5", "mfcc")
    path = tmp_path / "e.h5"
    store.write_embeddings(path, "mfcc", np.ones((2, 2)), ["a", "b"])
    with pytest.raises(AesensError, match="has no embedding 'crepe' \\(it has: mfcc\\)"):
        store.read_embeddings(path, "crepe")
    with h5py.File(path, "a") as h5:
        del h5["irmas/mfcc/keys"]
        h5["irmas/mfcc/keys"] = np.array([b"a"])
    with pytest.raises(AesensError, match="2 feature rows but 1 keys"):
        store.read_embeddings(path, "mfcc")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(AesensError, match="not a readable HDF5 file"):
        store.read_embeddings(garbage, "mfcc")


def test_interrupted_write_keeps_existing_data(tmp_path):
    path = tmp_path / "embeddings.h5"
    store.write_embeddings(path, "mfcc", np.ones((2, 2)), ["a", "b"])
    before = path.read_bytes()
    with pytest.raises(RuntimeError), store.atomic_h5(path) as h5:
        del h5["irmas/mfcc"]
        h5["irmas/mfcc/features"] = np.zeros((1, 1))
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.part"))


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AesensError, match="cannot write in"):
        store.write_embeddings(blocker / "sub" / "e.h5", "mfcc", np.ones((1, 1)), ["a"])


def test_arrays_roundtrip_with_strings(tmp_path):
    path = tmp_path / "a.h5"
    store.write_arrays(path, {"X": np.eye(2), "Y": np.array(["cello", "flute"])})
    out = store.read_arrays(path)
    np.testing.assert_array_equal(out["X"], np.eye(2))
    assert list(out["Y"]) == ["cello", "flute"]
    with pytest.raises(AesensError, match="no dataset 'Z'"):
        store.read_arrays(path, ["Z"])


def test_complete_only_with_the_expected_settings_attributes(tmp_path):
    path = tmp_path / "embeddings_gain_0.5.h5"
    assert store.incomplete_reason(path, "mfcc") == "is missing"
    store.write_embeddings(path, "mfcc", np.zeros((2, 3)), ["a", "b"],
                           {"effect_semantics": "float", "center": True, "hop_seconds": 0.1})
    assert store.incomplete_reason(path, "crepe") == "is missing"
    assert store.incomplete_reason(path, "mfcc", {"a", "b"}, {"effect_semantics": "float",
                                                              "center": True,
                                                              "hop_seconds": 0.1}) is None
    assert store.incomplete_reason(path, "mfcc", {"a"}) == "covers other files than the dataset's"
    assert store.incomplete_reason(path, "mfcc", None, {"effect_semantics": "published"}) == (
        "was computed with effect_semantics=float (expected effect_semantics=published)")
    assert store.incomplete_reason(path, "mfcc", None, {"hop_seconds": 0.5}).startswith(
        store.MISMATCH_PREFIX)
    assert store.incomplete_reason(path, "mfcc", None, {"frames": 3}) == (
        "was computed with no frames attribute (written by an older version; expected frames=3)")
    assert store.incomplete_reason(path, "mfcc", {"a", "b"}, {"center": False}) is not None
    assert store.incomplete_reason(path, "mfcc", {"a", "b"}, {"center": True}) is None

"""Partial files of killed writers, and full disks, across the stages' writers.

Each writer of the package writes through :func:`aesens.safe_files.atomic_file`.
Here each real writer (figures, classification pickles and CSV,
correlations, the split of 2A.3, the scorecard's files) is killed with
SIGKILL while its temporary file is on disk; the next run of the same
writer removes what the killed one left. Full disks: a figure and the
effected WAVs of ``2A.2 <effect> none`` on a real 2-MiB tmpfs (where this
machine lets the tests mount one) give one line and leave nothing partial.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import load_script

from aesens.errors import run_cli

ROOT = Path(__file__).resolve().parents[2]

WRITERS = {
    "figure": """
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from aesens.reporting import figures
        fig = plt.figure()
        fig.gca().plot([0, 1, 0])
        figures.save(fig, "plots", "umap_openl3_gain", formats=("png", "pdf"))
        """,
    "models pickle": """
        from aesens.classification import results
        results.update_pickle("models/gain/models_openl3.pkl", {"-lda": {"cello": [1, 2]}})
        """,
    "results csv": """
        import pandas as pd
        from aesens.classification import results
        rows = pd.DataFrame([{"instrument": "cello", "train_set": "orig", "test_set": "orig",
                              "roc_auc": 0.5, "extra_info": "", "embedding": "openl3",
                              "embedding_params": "", "last_updated": results.timestamp()}])
        results.update_results_csv("results/gain/result_openl3.csv", rows, "openl3")
        """,
    "correlations": """
        import pandas as pd
        from aesens.analysis import files as analysis_files
        table = pd.DataFrame([{"embedding": "openl3", "effect": "gain", "instrument": "cello",
                               "desensitization_method": "cca", "spearman_corr2": 0.5}])
        analysis_files.merge_correlations(table, "results")
        """,
    "2A.3 split": """
        import pandas as pd
        from aesens.sweep import split
        split.write_split(pd.DataFrame({"instrument": ["cello"], "genre": ["classical"],
                                        "file_name": ["[cel][cla]0001__1"],
                                        "split": ["train"]}), "train_test_split.csv")
        """,
    "scorecard text": """
        from aesens.safe_files import atomic_write_text
        atomic_write_text("results/scorecard.md", "| embedding |\\n")
        """,
}

#: The writer runs until its temporary file is complete, then waits to be killed.
KILLED_BEFORE_RENAME = textwrap.dedent("""
    import os, sys, time
    def stop(*args):
        print("written", flush=True)
        time.sleep(600)
    os.replace = stop
""")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}


def _visible(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")}


def _hidden(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob(".*"))


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_rerun_removes_what_a_killed_writer_of_the_same_file_left(tmp_path, writer):
    """Before: .models_*.part.pkl, .correlations.*.part.csv, ... stayed through full reruns."""
    code = textwrap.dedent(WRITERS[writer])
    killed = subprocess.Popen([sys.executable, "-c", KILLED_BEFORE_RENAME + code],
                              cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout.readline().strip() == "written"
        left = _hidden(tmp_path)
        assert any(".part" in name for name in left) and any(".lock" in name for name in left)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert _hidden(tmp_path) == left  # what SIGKILL leaves: a partial file and a lock file
    rerun = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, check=False, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert _hidden(tmp_path) == []  # the partial file of the killed writer is gone too
    assert _visible(tmp_path)


# --- full disks ------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A real 2-MiB tmpfs (skipped where mounting is not permitted)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
            capture_output=True, check=False).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave: int) -> None:
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / "filler").write_bytes(bytes(max(0, free - leave)))


@pytest.mark.parametrize("leave", [0, 20_000, 60_000])
def test_a_figure_on_a_full_disk_is_one_line_and_leaves_nothing(small_disk, capsys, leave):
    """Before: matplotlib's AttributeError traceback, and a partial file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from aesens.reporting import figures

    _fill(small_disk, leave)

    def draw(_):
        fig = plt.figure(figsize=(12, 12), dpi=200)
        fig.gca().imshow(np.random.default_rng(0).random((400, 400)))
        figures.save(fig, small_disk / "plots", "umap_openl3_gain", formats=("png", "pdf"))

    assert run_cli(draw, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {small_disk}/plots/umap_openl3_gain.png: No space left on "
                          "device; free some disk space")
    assert _hidden(small_disk) == [] and _visible(small_disk) == {"filler"}


stage2 = load_script("2A.2_featureExtract_audioEffects.py")


@pytest.mark.parametrize("effect, ranks, leave", [
    ("gain", "0", 100_000), ("reverb", "4", 300_000), ("bitcrush", "2", 0),
])
def test_effect_only_wavs_on_a_full_disk_are_one_line_and_leave_nothing(small_disk, tiny_dataset,
                                                                        monkeypatch, capsys,
                                                                        effect, ranks, leave):
    """Before: pedalboard's RuntimeError traceback."""
    monkeypatch.chdir(small_disk)
    _fill(small_disk, leave)
    code = run_cli(stage2.main, [effect, "none", ranks, ranks, "--quiet", "--dataset-dir",
                                 str(tiny_dataset)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "No space left on device; free some disk space" in err and ".wav" in err
    assert _hidden(small_disk) == []  # no partial WAV, no lock file
    written = [small_disk / name for name in _visible(small_disk) if name.endswith(".wav")]
    import soundfile as sf

    for path in written:  # what was written is complete
        assert sf.info(path).frames == 132300

"""Every notebook runs headless on tiny pipeline outputs and saves its figure.

Parameters are injected by papermill (after the cell tagged ``parameters``),
cells run with nbclient. The notebooks share one kernel, reset (``%reset
-f``) before each, so the package imports are paid once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from reporting.test_figures import build_outputs

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupyter_client = pytest.importorskip("jupyter_client")
papermill = pytest.importorskip("papermill")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "aesens-test"
#: Parameters beyond the data folders, per notebook (keep UMAP tiny: it runs without JIT).
EXTRA = {"2B.1_umap_trajectories": {"n_files": 2, "instrument": "flute",
                                    "panels": [["mfcc", "bitcrush"], ["toy", "bitcrush"]]},
         "3.1_global_cca_correlation": {"instrument": "piano"},
         "3.3_samplewise_cca_correlation": {"sample": 3},
         "3.5_samplewise_cca_dirs_svd": {"triples": [["toy", "gain", "flute"],
                                                     ["mfcc", "bitcrush", "cello"]]},
         "4_classification_performance": {"effect": "bitcrush",
                                          "method_groups": {"svd": ["", "-cca_samplewise_svd-0.3",
                                                                    "-cca_samplewise_svd-0.5"]}}}
#: Paper figures each notebook saves under its ``plots_dir``.
PAPER_FIGURES = {"2B.1_umap_trajectories": ["umap/umap_flute_0.pdf"],
                 "3.1_global_cca_correlation": ["corr/corr_piano.png"],
                 "3.5_samplewise_cca_dirs_svd": [
                     "svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf"],
                 "4_classification_performance": ["roc_auc_mfcc_svd.pdf",
                                                  "rocauc_curves/rocauc_two_paper.pdf",
                                                  "rocauc_curves/rocauc_two_paper_legend.pdf"]}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jupyter_client.KernelManager]:
    """A kernel of this interpreter, from a spec found first through ``JUPYTER_PATH``.

    Numba's JIT is off in the kernel: compiling UMAP takes about a minute,
    and the tiny UMAP of the test runs as fast in plain Python.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "aesens tests", "language": "python",
        "env": {"NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(REPO)},
    }))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        manager = jupyter_client.KernelManager(kernel_name=KERNEL)
        manager.start_kernel(cwd=str(root))
        try:
            yield manager
        finally:
            manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny pipeline outputs (embeddings/ and results/)."""
    return build_outputs(tmp_path_factory.mktemp("notebook_outputs"))


def test_notebooks_are_saved_clean() -> None:
    assert len(NOTEBOOKS) == 6
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), path
        assert "parameters" in code[0].metadata.get("tags", []), path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_headless(path: Path, kernel: jupyter_client.KernelManager, workdir: Path,
                                tmp_path: Path) -> None:
    parameters = {"embeddings_dir": str(workdir / "embeddings"),
                  "results_dir": str(workdir / "results"), "output_dir": str(tmp_path),
                  "plots_dir": str(tmp_path / "plots"), **EXTRA.get(path.stem, {})}
    nb = papermill.parameterize.parameterize_notebook(
        papermill.iorw.load_notebook_node(str(path)), parameters)
    nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    nbclient.NotebookClient(nb, km=kernel, timeout=300).execute()
    output = tmp_path / path.name
    nbformat.write(nb, output)
    assert output.stat().st_size > 0
    assert (tmp_path / f"{path.stem}.png").stat().st_size > 0
    images = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if "image/png" in out.get("data", {})]
    assert images, "the default selection is shown as a static figure"
    for name in PAPER_FIGURES.get(path.stem, []):
        assert (tmp_path / "plots" / name).stat().st_size > 0, name
    if path.stem == "3.1_global_cca_correlation":  # merged as the published notebook did
        table = pd.read_csv(workdir / "results" / "correlations.csv")
        assert list(table.columns[:6]) == ["embedding", "effect", "instrument",
                                           "desensitization_method", "spearman_corr2", "comment"]
        assert len(table) == 2 * 2 * 3  # embeddings x effects x instruments


def test_samplewise_notebooks_write_and_read_cca_r2s(kernel: jupyter_client.KernelManager,
                                                     workdir: Path, tmp_path: Path) -> None:
    """3.3's last cell writes cca_r2s_<embedding>.txt; 3.4 shows the values read from it."""
    results_dir = tmp_path / "results"
    parameters = {"embeddings_dir": str(workdir / "embeddings"), "results_dir": str(results_dir),
                  "embedding": "toy", "effect": "gain"}
    for stem in ("3.3_samplewise_cca_correlation", "3.4_samplewise_cca_r2_distrib"):
        nb = papermill.parameterize.parameterize_notebook(
            papermill.iorw.load_notebook_node(str(REPO / "notebooks" / f"{stem}.ipynb")),
            parameters)
        nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
        nbclient.NotebookClient(nb, km=kernel, timeout=300).execute()
        if stem.startswith("3.3"):
            written = results_dir / "gain" / "cca_r2s_toy.txt"
            values = [float(line) for line in written.read_text().splitlines()]
            assert len(values) == 18 and all(0 <= value <= 1 for value in values)
            written.write_text("1.0\n" * len(values))  # 3.4 must show these, not recompute
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for out in cell.outputs)
    assert f"toy, gain: median 1.00 over 18 files, from {written}" in printed
    assert "toy, bitcrush: median" in printed and "computed (no cca_r2s file)" in printed

"""Every file name of the published layout, and checks on the paths a command is given.

One argument order throughout: embedding, effect, parameter, then the folder
(each left out where a file does not depend on it).

- ``embeddings/embeddings.h5`` (original audio) and
  ``embeddings/embeddings_<effect>_<paramstr>.h5`` (effected audio): the raw
  embeddings (:mod:`aesens.store`);
- ``embeddings/averaged/<embedding>/embeddings[_<effect>_<param>].h5``,
  ``embeddings/grouped/<embedding>/<effect>.h5`` and
  ``embeddings/averaged/<embedding>/ccadirs_<effect>.h5``: the caches of a
  sweep (:mod:`aesens.sweep.averaged`, :mod:`aesens.sweep.grouped`,
  :mod:`aesens.analysis.directions`);
- ``results/<effect>/result_<embedding>.csv``, ``results/<effect>/cca_r2s_<embedding>.txt``,
  ``models/<effect>/{deformdir,models}_<embedding>.pkl`` and
  ``models/<effect>/extra_info_<embedding>.json``: stages 3 and 4.

:func:`refuse_overwriting_inputs` stops a command whose output path is, or
resolves to, one of its inputs (the same name spelled another way, a symbolic
link, a hard link), which would otherwise replace the input by the output.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from aesens.errors import AesensError

PathLike = str | os.PathLike


def original_path(embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the original-audio embeddings file."""
    return Path(embeddings_dir) / "embeddings.h5"


def effected_path(effect: str, param: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the embeddings file of one effect setting."""
    return Path(embeddings_dir) / f"embeddings_{effect}_{param}.h5"


def averaged_path(embedding: str, effect: str | None = None, param: str | None = None,
                  embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of a per-file averaged embeddings file (original if ``effect`` is None)."""
    suffix = "" if effect is None else f"_{effect}_{param}"
    return Path(embeddings_dir) / "averaged" / embedding / f"embeddings{suffix}.h5"


def grouped_path(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the grouped (all parameters stacked) file of one embedding and effect."""
    return Path(embeddings_dir) / "grouped" / embedding / f"{effect}.h5"


def ccadirs_path(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the sample-wise CCA directions file."""
    return Path(embeddings_dir) / "averaged" / embedding / f"ccadirs_{effect}.h5"

def results_csv_path(embedding: str, effect: str, results_dir: PathLike = "results") -> Path:
    """``results/<effect>/result_<embedding>.csv``: the classification results of stage 4."""
    return Path(results_dir) / effect / f"result_{embedding}.csv"


def cca_r2s_path(embedding: str, effect: str, results_dir: PathLike = "results") -> Path:
    """``results/<effect>/cca_r2s_<embedding>.txt``: the R² of every sample-wise direction."""
    return Path(results_dir) / effect / f"cca_r2s_{embedding}.txt"


def deformdir_path(embedding: str, effect: str, models_dir: PathLike = "models") -> Path:
    """``models/<effect>/deformdir_<embedding>.pkl``: {method key: {instrument: direction(s)}}."""
    return Path(models_dir) / effect / f"deformdir_{embedding}.pkl"


def models_path(embedding: str, effect: str, models_dir: PathLike = "models") -> Path:
    """``models/<effect>/models_<embedding>.pkl``.

    Content: {method key: {instrument: {train_set: fitted LogisticRegression}}}.
    """
    return Path(models_dir) / effect / f"models_{embedding}.pkl"


def extra_info_path(embedding: str, effect: str, models_dir: PathLike = "models") -> Path:
    """``models/<effect>/extra_info_<embedding>.json``: what this tool records beyond the
    published files ({method key: {instrument: {train_set: {"C", "n_directions", "seed"}}}})."""
    return Path(models_dir) / effect / f"extra_info_{embedding}.json"


def find_results(results_dir: PathLike = "results") -> dict[str, list[str]]:
    """Embeddings with classification results, each with its effects (in EFFECTS order)."""
    from aesens.effects import EFFECTS

    found: dict[str, list[str]] = {}
    for effect in EFFECTS:
        for path in sorted((Path(results_dir) / effect).glob("result_*.csv")):
            found.setdefault(path.stem[len("result_"):], []).append(effect)
    return dict(sorted(found.items()))


def same_file(first: PathLike, second: PathLike) -> bool:
    """Whether two paths name the same file.

    Parameters
    ----------
    first, second : path
        Paths, existing or not.

    Returns
    -------
    bool
        For two existing paths, :func:`os.path.samefile` (same device and
        inode: symbolic and hard links included); otherwise whether they
        resolve to the same absolute path (``./`` spellings, ``..`` and
        linked folders included).
    """
    first, second = Path(first), Path(second)
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:  # unreadable: compare the names
        pass
    return Path(os.path.realpath(first)) == Path(os.path.realpath(second))


def refuse_overwriting_inputs(outputs: Iterable[PathLike | None],
                              inputs: Iterable[PathLike | None]) -> None:
    """Raise a one-line :class:`AesensError` if an output path is one of the inputs.

    Parameters
    ----------
    outputs : iterable of path or None
        Files the command will write (``None`` entries are ignored).
    inputs : iterable of path or None
        Files the command reads (``None`` entries are ignored).

    Raises
    ------
    AesensError
        Naming the output, the input it resolves to, and the fix.
    """
    sources = [Path(path) for path in inputs if path is not None]
    for output in (Path(path) for path in outputs if path is not None):
        for source in sources:
            if same_file(output, source):
                spelled = "" if str(output) == str(source) else f" (resolves to {source})"
                raise AesensError(f"output {output} is the input {source}{spelled}; writing it "
                                  "would destroy the input: choose another output path")

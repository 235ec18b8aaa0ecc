"""Run the whole pipeline on the generated dataset, stage by stage, and time it.

``python -m aesens.demo`` (what ``make demo`` runs) generates the offline
IRMAS-format dataset into ``<workdir>/datasets/IRMAS-TrainingData`` and runs
every numbered stage script in ``<workdir>`` exactly as a user would, for
the offline default embeddings. Each stage's wall time is printed and saved
to ``<workdir>/timings.csv``. Stages whose outputs are complete are skipped
by the scripts themselves, so an interrupted demo resumes.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from aesens.cli.commands import plain
from aesens.cli.types import effect_names, embedding_names, non_negative_int, positive_int
from aesens.effects import EFFECTS, PAPER_EFFECTS, get_effect
from aesens.errors import AesensError, run_cli
from aesens.safe_files import atomic_file

#: The repository root, where the numbered stage scripts live.
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EMBEDDINGS = ("crepe", "mfcc")
#: The stage that renders the figures, and where it writes the time of its parts.
FIGURES_STAGE, PARTS_FILE = "figures and report", ".figures_timings.csv"

#: Start of the ``timings.csv`` label of a part of a stage (its time is within the stage's).
PART_PREFIX = "(part of "

#: Files per class of the demo's dataset: 352 files and one 2-file lat_sou recording; the
#: 2A.3 split drops the lat_sou files and keeps all others, 24 train and 8 test files per
#: class, so that the counts of directions and the classifiers' differences can mean something.
DEFAULT_PER_CLASS = 32


def pipeline(embeddings: tuple[str, ...], per_class: int, seed: int,
             effects: tuple[str, ...] = PAPER_EFFECTS) -> list[tuple[str, list[str]]]:
    """The demo's stages as (label, command) pairs, run from the demo folder."""
    python = sys.executable
    joined = ",".join(embeddings)
    stages: list[tuple[str, list[str]]] = [
        ("generate dataset", [python, "-m", "aesens.dataset", "generate", "--out",
                              "datasets/IRMAS-TrainingData", "--per-class", str(per_class),
                              "--seed", str(seed)]),
        ("2A.1 original", [python, str(REPO_ROOT / "2A.1_featureExtract_original.py"), joined]),
    ]
    for name in effects:
        effect = get_effect(name)
        script = str(REPO_ROOT / "2A.2_featureExtract_audioEffects.py")
        stages.append((f"2A.2 {name}", [python, script, name, joined, "0",
                                        str(len(effect.grid) - 1)]))
    stages.append(("2A.3 split", [python, str(REPO_ROOT / "2A.3_train_test_split.py")]))
    stages.append(("average embeddings", ["bash", str(REPO_ROOT / "average_all_embeddings.sh")]))
    analysis = [
        ("group", lambda emb, eff: ["group_effect_params.py", "-e", eff, "-b", emb]),
        ("3.2 cca dirs", lambda emb, eff: ["3.2_extract_samplewise_cca_dirs.py", emb, eff]),
        ("4 classify", lambda emb, eff: ["desensitize_classif.py", "-b", emb, "-e", eff,
                                         "-m", "all", "-k", "2", "--solver", "fast"]),
    ]
    for label, arguments in analysis:
        for embedding in embeddings:
            for name in effects:
                script, *rest = arguments(embedding, name)
                stages.append((f"{label} {embedding} {name}",
                               [python, str(REPO_ROOT / script), *rest]))
    stages.append((FIGURES_STAGE, [python, "-m", "aesens.figures", "--embeddings", joined,
                                   "--effects", ",".join(effects), "--timings", PARTS_FILE]))
    stages.append(("scorecard", [python, "-m", "aesens.scorecard", "--embeddings", joined,
                                 "--effects", ",".join(effects)]))
    stages.append(("html report", [python, "-m", "aesens.html_report"]))
    return stages


def parts_of(stage: str, path: Path) -> list[tuple[str, float]]:
    """The timed parts a stage wrote to ``path`` (then removed), as ``timings.csv`` rows.

    Their labels start with :data:`PART_PREFIX`: they are within the stage's
    own row, not added to it.
    """
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = [(f"{PART_PREFIX}{stage}) {row['part']}", float(row["seconds"]))
                for row in csv.DictReader(handle)]
    path.unlink()
    return rows


def parser() -> argparse.ArgumentParser:
    """The demo's command line."""
    parser = argparse.ArgumentParser(prog="python -m aesens.demo", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="demo", help="folder to run in (default: demo)")
    parser.add_argument("--per-class", type=positive_int, default=DEFAULT_PER_CLASS,
                        help="generated files per instrument (default: "
                        f"{DEFAULT_PER_CLASS}: 24 train and 8 test files per class after the "
                        "2A.3 split)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="dataset seed (default: 0)")
    parser.add_argument("--embeddings", type=embedding_names,
                        default=list(DEFAULT_EMBEDDINGS),
                        help="comma-separated embeddings (default: crepe,mfcc)")
    parser.add_argument("--effects", type=effect_names, default=list(PAPER_EFFECTS),
                        help="comma-separated effects (default: the paper's "
                        f"{','.join(PAPER_EFFECTS)}; others: "
                        f"{','.join(name for name in EFFECTS if name not in PAPER_EFFECTS)})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    timings = []
    for label, command in pipeline(tuple(args.embeddings), args.per_class, args.seed,
                                   tuple(args.effects)):
        print(f"\n=== {label} ===", flush=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=workdir, env={**os.environ, "PYTHON": sys.executable})
        elapsed = time.perf_counter() - start
        timings.append((label, elapsed))
        timings += parts_of(label, workdir / PARTS_FILE)
        if result.returncode != 0:
            raise AesensError(f"demo stage '{label}' failed (exit {result.returncode}); see the "
                              "message above, fix it and rerun make demo (finished stages are "
                              "kept)")
    with atomic_file(workdir / "timings.csv") as tmp, open(tmp, "w", newline="") as handle:
        csv.writer(handle).writerows([("stage", "seconds"), *timings])
    print("\nstage timings (wall clock):")
    for label, elapsed in timings:
        print(f"  {label:<40s} {elapsed:8.1f} s")
    stages = sum(seconds for label, seconds in timings if not label.startswith(PART_PREFIX))
    print(f"  {'total':<40s} {stages:8.1f} s")
    print(f"outputs are in {workdir}/ (timings in {workdir}/timings.csv)")
    print(f"report: {workdir / 'results' / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

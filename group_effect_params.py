#!/usr/bin/env python
"""Stack the averaged embeddings of every grid value of one effect.

Reads the raw embeddings (``embeddings/embeddings.h5`` and
``embeddings/embeddings_<effect>_<param>.h5``) and ``train_test_split.csv``,
as published, averages each file per audio file into
``embeddings/averaged/<embedding>/`` (kept as a cache while up to date with
its inputs) and writes ``embeddings/grouped/<embedding>/<effect>.h5`` with
``train_A`` and ``test_A`` (original, files x dim) and ``train_Bs`` and
``test_Bs`` (grid values x files x dim), in float64.

Example: ``python group_effect_params.py -e gain -b openl3 -j 4``
"""

from __future__ import annotations

import argparse
import sys

from aesens import layout
from aesens.cli.commands import plain
from aesens.cli.types import embedding_name, positive_int
from aesens.effects import EFFECTS
from aesens.errors import run_cli
from aesens.layout import refuse_overwriting_inputs
from aesens.sweep.sweep import ensure_grouped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-e", "--effect", required=True, choices=sorted(EFFECTS),
                        help="effect name")
    parser.add_argument("-b", "--embedding", required=True, type=embedding_name,
                        help="embedding name, e.g. openl3")
    parser.add_argument("-j", "--num-threads", "--n-jobs", dest="n_jobs", type=positive_int,
                        default=2, help="files averaged and read in parallel (default: 2)")
    parser.add_argument("--split-csv", default="train_test_split.csv",
                        help="train/test split (default: train_test_split.csv)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder of the embeddings files (default: embeddings)")
    args = parser.parse_args(argv)
    output = layout.grouped_path(args.embedding, args.effect, args.embeddings_dir)
    refuse_overwriting_inputs([output], [args.split_csv])
    ensure_grouped(args.embedding, args.effect, args.split_csv, args.embeddings_dir,
                   args.n_jobs, progress=True)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

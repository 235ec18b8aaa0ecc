#!/usr/bin/env python
"""Sample-wise CCA directions of every train file for one embedding and effect.

For each train file, the x-weights of ``CCA(n_components=1, scale=False)``
fitted on its averaged effected embeddings (grid values x dim) against the
parameter ranks mapped onto [0, 1], all files in one batched computation.
Reads the averaged files ``embeddings/averaged/<embedding>/embeddings_<effect>_<param>.h5``
as published (building or rebuilding them from the raw embeddings and
``train_test_split.csv`` when missing or older than those) and writes
``embeddings/averaged/<embedding>/ccadirs_<effect>.h5`` with ``cca_dirs``
(train files x dim). A file whose embeddings do not vary with the effect (a silent
file) has no direction: its row is zeros (the published 3.2 wrote a finite row there, which
the published 3.5 notebook reads) and it is named in the attribute ``constant_paths``.

Example: ``python 3.2_extract_samplewise_cca_dirs.py openl3 gain``
"""

from __future__ import annotations

import argparse
import sys

from aesens import layout
from aesens.analysis.directions import ensure_ccadirs
from aesens.cli.commands import plain
from aesens.cli.types import embedding_name
from aesens.effects import EFFECTS
from aesens.errors import run_cli
from aesens.layout import refuse_overwriting_inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embedding", type=embedding_name, help="embedding name, e.g. openl3")
    parser.add_argument("effect", choices=sorted(EFFECTS), help="effect name")
    parser.add_argument("--split-csv", default="train_test_split.csv",
                        help="train/test split (default: train_test_split.csv)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder of the embeddings files (default: embeddings)")
    args = parser.parse_args(argv)
    output = layout.ccadirs_path(args.embedding, args.effect, args.embeddings_dir)
    refuse_overwriting_inputs([output], [args.split_csv])
    directions = ensure_ccadirs(args.embedding, args.effect, args.split_csv,
                                args.embeddings_dir, progress=True)
    print(f"wrote {output} ({directions.shape[0]} files x {directions.shape[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

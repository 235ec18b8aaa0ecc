#!/usr/bin/env python
"""Stage 2A.3: the group-aware, balanced train/test split of the paper.

Reads the file stems of ``embeddings/embeddings.h5``, drops genre lat_sou,
splits with StratifiedGroupKFold (4 folds, seed 20220419; first fold = test),
balances the train set (seed 42) and writes ``train_test_split.csv`` with
columns ``instrument,genre,file_name,split``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aesens import layout
from aesens.cli.commands import plain
from aesens.cli.types import embedding_name
from aesens.errors import AesensError, run_cli
from aesens.layout import refuse_overwriting_inputs
from aesens.sweep.averaged import list_raw_embeddings, read_raw_embeddings
from aesens.sweep.split import make_split, write_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings-file", default=str(layout.original_path()),
                        help="original-audio embeddings (default: embeddings/embeddings.h5)")
    parser.add_argument("--embedding", type=embedding_name,
                        help="embedding whose keys to use (default: the first in the file; all "
                        "must hold the same files)")
    parser.add_argument("--output", default="train_test_split.csv",
                        help="CSV to write (default: train_test_split.csv)")
    args = parser.parse_args(argv)
    refuse_overwriting_inputs([args.output], [args.embeddings_file])
    if not Path(args.embeddings_file).exists():
        raise AesensError(f"{args.embeddings_file} does not exist; run "
                          "2A.1_featureExtract_original.py first (or give --embeddings-file)")
    present = list_raw_embeddings(args.embeddings_file)
    if not present:
        raise AesensError(f"{args.embeddings_file} holds no embeddings; run "
                          "2A.1_featureExtract_original.py first")
    names = [args.embedding] if args.embedding else present
    stems = [set(read_raw_embeddings(args.embeddings_file, name)[1]) for name in names]
    for name, keys in zip(names[1:], stems[1:], strict=True):
        if keys != stems[0]:
            raise AesensError(f"{args.embeddings_file}: embeddings {names[0]} and {name} hold "
                              "different files; re-extract one or pass --embedding")
    split = make_split(stems[0])
    write_split(split, args.output)
    counts = split["split"].value_counts()
    print(f"wrote {args.output}: {counts.get('train', 0)} train, {counts.get('test', 0)} test")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

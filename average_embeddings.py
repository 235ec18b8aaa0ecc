#!/usr/bin/env python
"""Average one embeddings file per audio file, in the order of the split CSV.

Reads ``irmas/<embedding>/features`` and ``keys`` of INPUT_H5, takes the mean
of all rows (frames) of each file stem and writes OUTPUT_H5 with ``X_train,
Y_train, X_test, Y_test, genre_train, genre_test`` (rows in split-CSV order).

Example::

    python average_embeddings.py train_test_split.csv embeddings/embeddings_gain_-40.0.h5 \\
        openl3 embeddings/averaged/openl3/embeddings_gain_-40.0.h5 \\
        --original embeddings/embeddings.h5
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from aesens.cli.commands import plain
from aesens.cli.types import embedding_name
from aesens.errors import run_cli
from aesens.layout import refuse_overwriting_inputs
from aesens.sweep.averaged import average_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split_csv", help="train/test split (instrument,genre,file_name,split)")
    parser.add_argument("input_h5", help="embeddings file (irmas/<embedding>/features, keys)")
    parser.add_argument("embedding", type=embedding_name, help="embedding name, e.g. openl3")
    parser.add_argument("output_h5", help="averaged file to write")
    parser.add_argument("--original", help="original-audio embeddings file: INPUT_H5 must hold "
                        "exactly its file stems (check for effected files)")
    args = parser.parse_args(argv)
    refuse_overwriting_inputs([args.output_h5], [args.split_csv, args.input_h5, args.original])
    with tqdm(total=1, desc=f"averaging {args.embedding}", leave=False) as bar:
        average_file(args.split_csv, args.input_h5, args.embedding, args.output_h5,
                     original_h5=args.original)
        bar.update()
    print(f"wrote {args.output_h5}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

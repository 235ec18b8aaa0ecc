#!/usr/bin/env python
"""Stage 2A.1: embeddings of the original (uneffected) audio.

Writes ``embeddings/embeddings.h5`` with ``irmas/<embedding>/features`` and
``irmas/<embedding>/keys``; other embeddings in the file are kept. The work
runs in this process, or on a Dask cluster with ``--workers N`` or
``--scheduler ADDRESS``.

Example: ``python 2A.1_featureExtract_original.py crepe --dataset-dir datasets/IRMAS-TrainingData``
"""

from __future__ import annotations

import argparse
import sys

from aesens.cli.commands import plain
from aesens.cli.options import (
    add_dataset_options,
    add_executor_options,
    add_model_options,
    dataset_location,
    executor_from_args,
    model_names,
    model_specs,
    stored_names,
)
from aesens.dataset import SKIP_OPTION, discover, read_skip_list
from aesens.errors import run_cli
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embedding", help="model name (crepe, mfcc, openl3, panns, clap, "
                        "hf:<model id>, hear:<module>); "
                        "several comma-separated share the audio loading")
    add_dataset_options(parser)
    add_model_options(parser)
    add_executor_options(parser)
    parser.add_argument(SKIP_OPTION, metavar="LIST.txt",
                        help="text file naming dataset files to leave out, one per line "
                        "(stem, name or path; e.g. files with NaN samples); they are "
                        "listed in the embeddings' skipped_files attribute")
    args = parser.parse_args(argv)
    names = model_names(args.embedding)
    files, skipped = discover(dataset_location(args).dataset_dir), []
    if args.skip_files:
        files, skipped = read_skip_list(args.skip_files, files)
    models = model_specs(names, args)
    with executor_from_args(args) as executor:
        written = extract(files, models, [Setting()], embeddings_dir=args.embeddings_dir,
                          batch_size=args.batch_size, force=args.force, progress=not args.quiet,
                          executor=executor, shard_size=args.shard_size, skipped=skipped)
    target = Setting().output_path(args.embeddings_dir)
    left_out = f", {len(skipped)} skipped" if skipped else ""
    print(f"{'wrote' if written else 'already complete (use --force to redo)'}: {target} "
          f"[{stored_names(models)}, {len(files)} files{left_out}]")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

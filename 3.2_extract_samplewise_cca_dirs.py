#!/usr/bin/env python
"""Sample-wise CCA directions of every train file for one embedding and effect.

For each train file, the x-weights of ``CCA(n_components=1, scale=False)``
fitted on its averaged effected embeddings (grid values x dim) against the
parameter ranks mapped onto [0, 1], all files in one batched computation.
Reads ``embeddings/grouped/<embedding>/<effect>.h5`` and writes
``embeddings/averaged/<embedding>/ccadirs_<effect>.h5`` with ``cca_dirs``
(train files x dim; NaN rows for files whose embeddings do not vary).

Example: ``python 3.2_extract_samplewise_cca_dirs.py openl3 gain``
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from aesens import store
from aesens.aggregate import load_grouped
from aesens.cca import samplewise_cca_directions
from aesens.effects import EFFECTS
from aesens.errors import run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embedding", help="embedding name, e.g. openl3")
    parser.add_argument("effect", choices=sorted(EFFECTS), help="effect name")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder holding grouped/ and averaged/ (default: embeddings)")
    args = parser.parse_args(argv)
    with tqdm(total=3, desc=f"CCA directions {args.embedding}/{args.effect}",
              leave=False) as bar:
        grouped = load_grouped(args.embedding, args.effect, args.embeddings_dir)
        bar.update()
        directions = samplewise_cca_directions(grouped["train_Bs"].transpose(1, 0, 2))
        bar.update()
        output = store.ccadirs_path(args.embedding, args.effect, args.embeddings_dir)
        store.write_arrays(output, {"cca_dirs": directions})
        bar.update()
    print(f"wrote {output} ({directions.shape[0]} files x {directions.shape[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

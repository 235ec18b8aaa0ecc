#!/usr/bin/env python
"""Stack the averaged embeddings of every grid value of one effect.

Reads ``embeddings/averaged/<embedding>/embeddings.h5`` and
``embeddings_<effect>_<param>.h5`` for every grid value of the effect, and
writes ``embeddings/grouped/<embedding>/<effect>.h5`` with ``train_A`` and
``test_A`` (original, files x dim) and ``train_Bs`` and ``test_Bs``
(grid values x files x dim).

Example: ``python group_effect_params.py -e gain -b openl3 -j 4``
"""

from __future__ import annotations

import argparse
import sys

from aesens.aggregate import group_effect
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-e", "--effect", required=True, choices=sorted(EFFECTS),
                        help="effect name")
    parser.add_argument("-b", "--embedding", required=True, help="embedding name, e.g. openl3")
    parser.add_argument("-j", "--n-jobs", type=int, default=1,
                        help="averaged files read in parallel (default: 1)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder holding averaged/ (default: embeddings)")
    args = parser.parse_args(argv)
    if args.n_jobs == 0:
        raise AesensError("-j/--n-jobs must be a positive number or negative (all cores but "
                          "-j-1), not 0")
    output = group_effect(args.embedding, args.effect, args.embeddings_dir, args.n_jobs,
                          progress=True)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

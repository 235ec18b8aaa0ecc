#!/usr/bin/env python
"""Stage 2A.2: embeddings of effected audio over a range of the effect's grid.

For each parameter rank ``from..to`` (inclusive) writes
``embeddings/embeddings_<effect>_<paramstr>.h5``. The ranks are the
published slice ``params[from:to + 1]``: ``0 99`` runs to the end of the
grid, ``from > to`` runs nothing, negative ranks count from the end.
Settings already complete are skipped (``--force`` redoes them), so disjoint
rank ranges can run on different machines and an interrupted run resumes.
``from`` = -1 prints the number of settings and the grid. By default the
effected audio is what the published scripts computed (``--effect-semantics
published``: one reverb board streams every file in dataset order, and every
effected file goes through a 16-bit WAV, in memory); ``--effect-semantics
float`` gives clean float effects, each file fresh. An embedding computed
under the other choice is redone. The embedding ``none`` only applies the
effect and keeps the 16-bit WAVs under
``<basedir>/datasets/audio-embeddings/irmas-wav-<effect>_<param>/``. The
work runs in this process, or on a Dask cluster with ``--workers N`` (a
local one) or ``--scheduler ADDRESS`` (an existing one, e.g. on SLURM); the
output is the same either way.

Example: ``python 2A.2_featureExtract_audioEffects.py gain crepe 0 30``
"""

from __future__ import annotations

import argparse
import sys

from aesens.cli.commands import plain
from aesens.cli.options import (
    add_dataset_options,
    add_executor_options,
    add_model_options,
    add_semantics_option,
    dataset_location,
    executor_from_args,
    model_names,
    model_specs,
    stored_names,
)
from aesens.dataset import SKIP_OPTION, discover, read_skip_list
from aesens.effects import EFFECTS, get_effect
from aesens.errors import run_cli
from aesens.extraction.output import write_effected_wavs
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting, describe_selection, list_grid, select_ranks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("effect", help=f"effect name ({', '.join(EFFECTS)})")
    parser.add_argument("embedding", help="model name (crepe, mfcc, openl3, panns, clap, "
                        "hf:<model id>, hear:<module>); "
                        "several comma-separated share the effected audio; none: keep the "
                        "effected WAVs only")
    parser.add_argument("from_rank", metavar="from", type=int, help="first parameter rank; -1: "
                        "print the number of settings and the grid")
    parser.add_argument("to_rank", metavar="to", type=int, help="last parameter rank (inclusive; "
                        "past the end of the grid stops at its end, as the published slice "
                        "params[from:to + 1])")
    add_dataset_options(parser)
    add_model_options(parser)
    add_semantics_option(parser)
    add_executor_options(parser)
    parser.add_argument(SKIP_OPTION, metavar="LIST.txt",
                        help="text file naming dataset files to leave out, one per line "
                        "(stem, name or path; e.g. files with NaN samples); they are "
                        "listed in the embeddings' skipped_files attribute")
    args = parser.parse_args(argv)
    effect = get_effect(args.effect)
    if args.from_rank == -1:  # before the embedding name is read, as published
        print(f"There are {len(effect.grid)} parameters in the grid")
        print(list_grid(effect))
        return 0
    names = [] if args.embedding == "none" else model_names(args.embedding)
    ranks = select_ranks(effect, args.from_rank, args.to_rank)
    note = describe_selection(effect, args.from_rank, args.to_rank, ranks)
    if not ranks:
        print(f"{note}: nothing to do")
        return 0
    if note:
        print(f"note: {note}", file=sys.stderr)
    location = dataset_location(args)
    files, skipped = discover(location.dataset_dir), []
    if args.skip_files:
        files, skipped = read_skip_list(args.skip_files, files)
    left_out = f", {len(skipped)} skipped" if skipped else ""
    settings = [Setting(effect, rank, args.effect_semantics) for rank in ranks]
    if not names:
        for setting in settings:
            written = write_effected_wavs(files, setting, location.basedir, progress=not args.quiet)
            print(f"{setting.label}: wrote {written} WAV file(s), {len(files) - written} "
                  f"already there{left_out}")
        return 0
    models = model_specs(names, args)
    with executor_from_args(args) as executor:
        written = extract(files, models, settings, embeddings_dir=args.embeddings_dir,
                          batch_size=args.batch_size, force=args.force, progress=not args.quiet,
                          executor=executor, shard_size=args.shard_size, skipped=skipped)
    stored = stored_names(models)
    print(f"{effect.name} ranks {ranks.start}..{ranks.stop - 1}: wrote {len(written)} file(s), "
          f"{len(settings) - len(written)} already complete [{stored}, "
          f"{len(files)} files{left_out}]")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

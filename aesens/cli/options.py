"""Command-line options shared by the stage scripts."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from aesens.dataset import DATASET_ENV, DatasetLocation, locate_dataset
from aesens.effects import PUBLISHED, SEMANTICS
from aesens.errors import AesensError
from aesens.extraction.executor import DEFAULT_RETRIES, Executor, open_executor
from aesens.extraction.run import DEFAULT_SHARD_SIZE
from aesens.models import (
    ModelSpec,
    canonical_name,
    hear_names,
    is_model,
    known_names,
    output_names,
)
from aesens.models.hf_names import ALL_LAYERS, OUTPUTS, is_hf_name, parse_name


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--dataset-dir`` and ``--basedir``."""
    parser.add_argument("--dataset-dir", help="IRMAS-TrainingData folder (default: $"
                        f"{DATASET_ENV}, else <basedir>/datasets/IRMAS-TrainingData)")
    parser.add_argument("--basedir", help="folder holding datasets/ (default: ., or .. when "
                        "only ../datasets/IRMAS-TrainingData exists, the published layout)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--device``, ``--batch-size``, ``--weights``, ``--embeddings-dir``, ``--force``."""
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="on a GPU, let cuDNN compute convolutions in TF32 (faster on "
                        "Ampere and newer GPUs, rows differ by about 5e-4 relative); by "
                        "default they run in full float32, as on the paper's T4")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="files per model call (default: 32)")
    parser.add_argument("--weights", help="weights file of the model (openl3, panns, clap); for "
                        "an hf:<model id> embedding, a folder saved with save_pretrained; for "
                        "a hear:<module> embedding, the model_file_path of its load_model")
    parser.add_argument("--layer", help="hf embeddings: hidden state N (0 = input of the first "
                        "transformer layer), mean (over all), last (default), or all: every "
                        "hidden state from one forward pass per batch, each stored as the "
                        "embedding --layer N writes (<name>+layer0, +layer1, ...)")
    parser.add_argument("--hf-output", choices=OUTPUTS, help="hf embeddings: clip (one row per "
                        "file, the mean over its frames; default) or frames (one row per frame)")
    parser.add_argument("--hear-output", choices=hear_names.OUTPUTS, help="hear embeddings: "
                        "scene (get_scene_embeddings, one row per file; default) or timestamp "
                        "(get_timestamp_embeddings, one row per timestamp)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="output folder (default: embeddings)")
    parser.add_argument("--force", action="store_true",
                        help="recompute settings whose embeddings are already complete")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_semantics_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--effect-semantics`` (stage 2A.2)."""
    parser.add_argument("--effect-semantics", choices=SEMANTICS, default=PUBLISHED,
                        help="published (default): as the published scripts, one reverb board "
                        "streams every file in dataset order (each file starts with the tail "
                        "of the previous ones) and every effected file goes through a 16-bit "
                        "WAV (clamped to +-1); float: clean float effects, each file fresh")


def dataset_location(args: argparse.Namespace) -> DatasetLocation:
    """The dataset folder and base folder of the parsed dataset options.

    When the published layout is found one folder up
    (:func:`aesens.dataset.locate_dataset`), says so in one line on stderr.
    """
    location = locate_dataset(args.dataset_dir, args.basedir)
    if location.note:
        print(f"note: {location.note}", file=sys.stderr)
    return location


def model_names(value: str) -> list[str]:
    """Split a comma-separated list of models to extract, check each and give its stored form.

    Every name must be a model of :data:`aesens.models.MODELS`; the later stages,
    which read embeddings already stored, take any stored name
    (:func:`aesens.cli.types.embedding_names`).

    ``hf`` and ``hear`` names come back canonical (``hf:facebook/wav2vec2-base`` ->
    ``hf+facebook--wav2vec2-base``, see :mod:`aesens.models.hf_names`;
    ``hear:hearbaseline.torchcrepe`` -> ``hear+hearbaseline.torchcrepe``).
    """
    names = [canonical_name(name.strip()) for name in value.split(",") if name.strip()]
    for name in names:
        if not is_model(name):
            raise AesensError(f"unknown embedding {name!r}; choose one of {known_names()}")
    if not names:
        raise AesensError("no embedding given; choose one of " + known_names())
    return names


def apply_hf_options(names: list[str], args: argparse.Namespace) -> list[str]:
    """The names with ``--layer`` and ``--hf-output`` applied to the ``hf`` ones.

    Raises
    ------
    AesensError
        If an option is given but no ``hf`` embedding, or it contradicts a name.
    """
    layer, output = getattr(args, "layer", None), getattr(args, "hf_output", None)
    if layer is None and output is None:
        return names
    if not any(is_hf_name(name) for name in names):
        if layer == ALL_LAYERS:
            raise AesensError(f"--layer all extracts the hidden layers of hf:<model id> "
                              f"embeddings only, and {', '.join(names)} has none; give an hf "
                              "encoder (e.g. hf:facebook/wav2vec2-base) or drop --layer")
        raise AesensError("--layer and --hf-output apply to hf:<model id> embeddings only")
    return [parse_name(name).with_options(layer, output).name if is_hf_name(name) else name
            for name in names]


def apply_hear_output(names: list[str], output: str | None) -> list[str]:
    """The names with ``--hear-output`` applied to the ``hear`` ones.

    Raises
    ------
    AesensError
        If the option is given but no ``hear`` embedding, or it contradicts a name.
    """
    if output is None:
        return names
    if not any(hear_names.is_hear_name(name) for name in names):
        raise AesensError("--hear-output applies to hear:<module> embeddings only")
    return [hear_names.parse_name(name).with_output(output).name
            if hear_names.is_hear_name(name) else name for name in names]


def model_specs(names: list[str], args: argparse.Namespace) -> list[ModelSpec]:
    """The models named on the command line, as specs built where the work runs.

    ``hf`` and ``hear`` names are made canonical and get ``--layer`` /
    ``--hf-output`` (:func:`apply_hf_options`) and ``--hear-output``
    (:func:`apply_hear_output`); the specs' names are the stored names.
    """
    if args.batch_size < 1:
        raise AesensError(f"--batch-size must be at least 1, not {args.batch_size}")
    if args.weights and len(names) > 1:
        raise AesensError("--weights applies to one model: extract one embedding at a time")
    names = apply_hf_options([canonical_name(name) for name in names], args)
    names = apply_hear_output(names, getattr(args, "hear_output", None))
    return [ModelSpec.for_name(name, device=args.device, batch_size=args.batch_size,
                               weights=args.weights, tf32=args.allow_tf32)
            for name in names]


def stored_names(specs: list[ModelSpec]) -> str:
    """The embeddings the specs store, for a script's last line (``--layer all``: every layer)."""
    return ", ".join(name for spec in specs for name in output_names(spec))


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler``, ``--workers``, ``--retries`` and ``--shard-size``."""
    group = parser.add_argument_group("running on a Dask cluster (default: in this process)")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="address (tcp://host:8786) or scheduler file of a running Dask "
                       "scheduler whose workers see the dataset and model weights")
    group.add_argument("--workers", type=int, metavar="N",
                       help="start a local Dask cluster of N single-threaded worker processes")
    group.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                       help=f"retries of a failed work unit (default: {DEFAULT_RETRIES})")
    group.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE,
                       help=f"files per work unit (default: {DEFAULT_SHARD_SIZE})")


@contextlib.contextmanager
def executor_from_args(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor chosen by the parsed executor options (closed on exit)."""
    if args.shard_size < 1:
        raise AesensError(f"--shard-size must be at least 1, not {args.shard_size}")
    with open_executor(args.scheduler, args.workers, args.retries) as executor:
        yield executor

"""Argument types of the analysis scripts (averaging, split, grouping, 3.2, classification, demo).

Each type turns a bad value into argparse's one-line usage error.
"""

from __future__ import annotations

import argparse
import re

from aesens.analysis.methods import METHODS, get_method, validate_threshold
from aesens.errors import AesensError
from aesens.extraction.cluster import usable_cores

#: Published default of ``desensitize_classif.py -m``: no method first, then all methods.
DEFAULT_METHODS = ",".join(METHODS)


def positive_int(value: str) -> int:
    """A thread or worker count: an integer of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a positive count")
    return number


def non_negative_int(value: str) -> int:
    """A seed or a count that may be 0: a whole number of at least 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{number} is negative; give 0 or more")
    return number


def name_list(value: str) -> list[str]:
    """Comma-separated names, at least one."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{value!r} names nothing; give comma-separated names")
    return names


def effect_names(value: str) -> list[str]:
    """Comma-separated effects of :data:`aesens.effects.EFFECTS`."""
    from aesens.effects import EFFECTS

    names = name_list(value)
    unknown = [name for name in names if name not in EFFECTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown effect {', '.join(unknown)}; choose from "
                                         f"{', '.join(EFFECTS)}")
    return names


#: What an embedding name may be: the name of a group in the HDF5 files and of folders.
EMBEDDING_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def embedding_name(value: str) -> str:
    """An embedding name (``openl3``): letters, digits and ``_ . + -``, no path separators.

    ``hf:<model id>`` and ``hear:<module>`` names are turned into the name they
    are stored under (:func:`aesens.models.canonical_name`, e.g.
    ``hf+facebook--wav2vec2-base``, ``hear+hearbaseline.torchcrepe``).
    """
    if value.startswith(("hf:", "hear:")):
        from aesens.models import canonical_name

        try:
            value = canonical_name(value)
        except AesensError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if not EMBEDDING_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an embedding name (letters, digits, "
                                         "'_', '.', '+', '-'; e.g. openl3)")
    return value


def embedding_names(value: str) -> list[str]:
    """Comma-separated embedding names (``crepe,mfcc``), at least one, each as it is stored."""
    return [embedding_name(name) for name in name_list(value)]


def svd_threshold(value: str) -> float:
    """The threshold of ``cca_samplewise_svd``: any number, as the published ``type=float``
    (0 or less keeps every direction, more than 1 none; the run warns)."""
    try:
        return validate_threshold(float(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def method_list(value: str) -> list[str]:
    """Comma-separated method names (an empty name or ``none``: no method; ``all``: every one)."""
    if value == "all":
        return list(METHODS)
    try:
        return list(dict.fromkeys(get_method(name.strip()).name for name in value.split(",")))
    except AesensError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def all_cores() -> int:
    """Cores this process may run on (the published default of the classification threads)."""
    return usable_cores()

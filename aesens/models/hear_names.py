"""The names of the ``hear`` embeddings: ``hear:<module>[+timestamp]`` and its canonical form.

``hear:<module>`` (e.g. ``hear:hearbaseline.torchcrepe``) names a Python
module implementing the HEAR 2021 API; ``+scene`` (the module's
``get_scene_embeddings``, one row per clip, the default) or ``+timestamp``
(``get_timestamp_embeddings``, one row per timestamp, keys repeated, as
OpenL3) chooses the output. The command-line option ``--hear-output`` fills
it in.

A name is stored and written everywhere in its canonical form
(:func:`canonical_name`), a valid HDF5 group and file name that passes the
analysis stages' name check: prefix ``hear+``, the module's dotted name as
it is, the default output left out: ``hear:hearbaseline.torchcrepe`` is
``hear+hearbaseline.torchcrepe``, with ``--hear-output timestamp`` it is
``hear+hearbaseline.torchcrepe+timestamp``. The output is part of the name,
so each choice is an embedding of its own.

The model behind a name is :mod:`aesens.models.hear`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from aesens.errors import AesensError

#: Prefix of the canonical names (``hear+module``), and the one accepted on input beside it.
PREFIX = "hear+"
INPUT_PREFIXES = ("hear:", PREFIX)
#: Separator of the name's options.
OPTION_SEPARATOR = "+"
#: Output choices: one row per clip (the HEAR scene embedding) or one per timestamp.
OUTPUTS = ("scene", "timestamp")
#: A dotted Python module name (ASCII identifiers).
MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class HearName:
    """A parsed ``hear`` embedding name.

    Attributes
    ----------
    module : str
        Dotted name of the module implementing the HEAR API.
    output : str
        ``"scene"`` or ``"timestamp"``.
    """

    module: str
    output: str = "scene"

    @property
    def name(self) -> str:
        """The canonical embedding name (group and file names)."""
        suffix = "" if self.output == "scene" else OPTION_SEPARATOR + self.output
        return PREFIX + self.module + suffix

    def with_output(self, output: str | None) -> HearName:
        """This name with the command line's ``--hear-output``, which must agree with it.

        Raises
        ------
        AesensError
            If the option is not an output or contradicts one spelled in the name.
        """
        if output is None:
            return self
        if output not in OUTPUTS:
            raise AesensError(f"--hear-output {output!r}: choose {' or '.join(OUTPUTS)}")
        if self.output not in ("scene", output):
            raise AesensError(f"{self.name} names {self.output} output but --hear-output "
                              f"{output} was given; give it once")
        return replace(self, output=output)


def is_hear_name(name: str) -> bool:
    """Whether ``name`` is spelled as a ``hear`` embedding (valid or not)."""
    return isinstance(name, str) and name.startswith(INPUT_PREFIXES)


def parse_name(name: str) -> HearName:
    """Parse ``hear:<module>[+scene|+timestamp]`` (or its canonical ``hear+`` form).

    Raises
    ------
    AesensError
        If the name is not a valid ``hear`` name.
    """
    if not is_hear_name(name):
        raise AesensError(f"{name!r} is not a hear embedding; write hear:<module>, e.g. "
                          "hear:hearbaseline.torchcrepe")
    module, *options = name[len(PREFIX):].split(OPTION_SEPARATOR)
    if not MODULE.fullmatch(module):
        raise AesensError(f"{name!r}: {module!r} is not a Python module name (dotted "
                          "identifiers); e.g. hear:hearbaseline.torchcrepe")
    if len(options) > 1 or any(option not in OUTPUTS for option in options):
        raise AesensError(f"{name!r}: give at most one output, +scene or +timestamp")
    return HearName(module, *options)


def canonical_name(name: str) -> str:
    """The canonical form of a ``hear`` name (see the module docstring)."""
    return parse_name(name).name


#: The module whose loaders build the ``hear`` models (see :func:`loader_path`).
MODEL_MODULE = "aesens.models.hear"
#: Prefix of the loader attribute of a name (``load+hearbaseline.torchcrepe``); ``+`` keeps
#: it clear of every Python name of the model module.
LOADER_PREFIX = "load+"


def loader_path(name: str) -> str:
    """The ``"module:loader"`` of a canonical name, for :data:`aesens.models.MODELS`.

    The loader is an attribute of :mod:`aesens.models.hear` resolved by its
    module ``__getattr__``, so a model spec holding this string builds the
    model in any process.
    """
    return f"{MODEL_MODULE}:{LOADER_PREFIX}{canonical_name(name)[len(PREFIX):]}"

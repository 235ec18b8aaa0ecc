"""The names of the ``hf`` embeddings: ``hf:<model id>[+option...]`` and its canonical form.

``hf:<model id>`` (e.g. ``hf:facebook/wav2vec2-base``), optionally followed
by ``+<option>``s: ``+layer<N>`` (hidden state ``N`` of ``output_hidden_states``;
0 is the input of the first transformer layer), ``+mean`` (mean over all
hidden states, 0 to the last), ``+all`` (every hidden state from one forward
pass, each stored as the embedding ``+layer<N>`` would be: :func:`output_names`),
``+last`` (the model's output
``last_hidden_state``, the default: the last hidden state, for AST after its
final layer norm) and ``+frames`` (one
row per encoder frame, keys repeated, as OpenL3) or ``+clip`` (the mean over
the clip's frames, one row per file, the default). The command-line options
``--layer`` and ``--hf-output`` fill these in.

A name is stored and written everywhere in its canonical form
(:func:`canonical_name`), which is a valid HDF5 group and file name and
passes the analysis stages' name check: prefix ``hf+``, the ``/`` of the
model id written ``--`` (as the Hugging Face cache does; model ids cannot
contain ``--`` or ``+``), default options left out and the others in the
order layer, output: ``hf:facebook/wav2vec2-base`` is
``hf+facebook--wav2vec2-base``, with ``--layer 6 --hf-output frames`` it is
``hf+facebook--wav2vec2-base+layer6+frames``. Layer and output are part of
the name, so each choice is an embedding of its own.

The model behind a name is :mod:`aesens.models.hf`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace

from aesens.errors import AesensError

#: Prefix of the canonical names (``hf+org--name``), and the one accepted on input beside it.
PREFIX = "hf+"
INPUT_PREFIXES = ("hf:", PREFIX)
#: Separator of the name's options.
OPTION_SEPARATOR = "+"
#: Layer choices besides an integer.
LAYERS = ("last", "mean", "all")
#: The layer choice of every hidden state at once (stored as one embedding per layer).
ALL_LAYERS = "all"
#: Output choices: one row per frame or one per clip.
OUTPUTS = ("clip", "frames")
#: One part of a model id (organisation or model name), as the Hugging Face hub allows it.
ID_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")


@dataclass(frozen=True)
class HfName:
    """A parsed ``hf`` embedding name.

    Attributes
    ----------
    model_id : str
        Hugging Face model id, ``org/name`` or ``name``.
    layer : str or int
        ``"last"``, ``"mean"``, ``"all"`` (every hidden state) or a hidden-state index.
    output : str
        ``"clip"`` or ``"frames"``.
    """

    model_id: str
    layer: str | int = "last"
    output: str = "clip"

    @property
    def name(self) -> str:
        """The canonical embedding name (group and file names)."""
        parts = [PREFIX + self.model_id.replace("/", "--")]
        if self.layer != "last":
            parts.append(self.layer if isinstance(self.layer, str) else f"layer{self.layer}")
        if self.output != "clip":
            parts.append(self.output)
        return OPTION_SEPARATOR.join(parts)

    def with_layer(self, layer: int) -> HfName:
        """This name at hidden state ``layer`` (one of the embeddings of ``+all``)."""
        return replace(self, layer=layer)

    def with_options(self, layer: str | None = None, output: str | None = None) -> HfName:
        """This name with the command line's ``--layer`` / ``--hf-output``, which must agree.

        Raises
        ------
        AesensError
            If an option contradicts one spelled in the name.
        """
        new = self
        if layer is not None:
            value = parse_layer(layer)
            if self.layer not in ("last", value):
                raise AesensError(f"{self.name} names layer {self.layer} but --layer {layer} was "
                                  "given; give the layer once")
            new = replace(new, layer=value)
        if output is not None:
            if output not in OUTPUTS:
                raise AesensError(f"--hf-output {output!r}: choose {' or '.join(OUTPUTS)}")
            if self.output not in ("clip", output):
                raise AesensError(f"{self.name} names {self.output} output but --hf-output "
                                  f"{output} was given; give it once")
            new = replace(new, output=output)
        return new


def is_hf_name(name: str) -> bool:
    """Whether ``name`` is spelled as an ``hf`` embedding (valid or not)."""
    return isinstance(name, str) and name.startswith(INPUT_PREFIXES)


def parse_layer(value: str) -> str | int:
    """``last``, ``mean``, ``all`` or a non-negative integer (``6`` or ``layer6``).

    Raises
    ------
    AesensError
        For anything else.
    """
    text = value[len("layer"):] if value.startswith("layer") else value
    if value in LAYERS:
        return value
    if text.isdigit():
        return int(text)
    raise AesensError(f"layer {value!r}: use last, mean, all or a hidden-state number (0 = input "
                      "of the first transformer layer)")


def parse_name(name: str) -> HfName:
    """Parse ``hf:<model id>[+option...]`` (or its canonical ``hf+`` form).

    Raises
    ------
    AesensError
        If the name is not a valid ``hf`` name.
    """
    if not is_hf_name(name):
        raise AesensError(f"{name!r} is not an hf embedding; write hf:<model id>, e.g. "
                          "hf:facebook/wav2vec2-base")
    model, *options = name[3:].split(OPTION_SEPARATOR)
    parts = model.split("/") if "/" in model else model.split("--")
    if not 1 <= len(parts) <= 2 or not all(ID_PART.fullmatch(p) and "--" not in p
                                            and ".." not in p for p in parts):
        raise AesensError(f"{name!r}: {model!r} is not a Hugging Face model id (org/name or "
                          "name: letters, digits, '-', '_', '.'); e.g. hf:facebook/wav2vec2-base")
    parsed = HfName("/".join(parts))
    layers = [option for option in options if option not in OUTPUTS]
    outputs = [option for option in options if option in OUTPUTS]
    if len(layers) > 1 or len(outputs) > 1:
        raise AesensError(f"{name!r}: give at most one layer (+last, +mean, +all, +layerN) and one "
                          "output (+clip, +frames)")
    if layers:
        try:
            layer = parse_layer(layers[0])
        except AesensError:
            raise AesensError(f"{name!r}: unknown option +{layers[0]}; use +last, +mean, +all, "
                              "+layerN, +clip or +frames") from None
        parsed = replace(parsed, layer=layer)
    if outputs:
        parsed = replace(parsed, output=outputs[0])
    return parsed


def canonical_name(name: str) -> str:
    """The canonical form of an ``hf`` name (see the module docstring)."""
    return parse_name(name).name


def layer_names(name: str, n_layers: int) -> tuple[str, ...]:
    """The embeddings of hidden states ``0..n_layers`` of an ``hf`` name (``+layer0`` ...)."""
    parsed = parse_name(name)
    return tuple(parsed.with_layer(layer).name for layer in range(n_layers + 1))


def output_names(name: str, weights: str | None = None) -> tuple[str, ...]:
    """The embeddings a canonical ``hf`` name stores: itself, or one per layer for ``+all``.

    For ``+all`` the number of hidden states is read from the model's
    configuration (``--weights`` folder or the local cache), without loading
    its weights.

    Raises
    ------
    AesensError
        If the configuration cannot be found, or the model has no layers to choose (CLAP).
    """
    if parse_name(name).layer != ALL_LAYERS:
        return (name,)
    # The model module (transformers) is imported by name, as the loaders are.
    count = importlib.import_module(MODEL_MODULE).hidden_state_count(name, weights)
    return layer_names(name, count)


#: The module whose loaders build the ``hf`` models (see :func:`loader_path`).
MODEL_MODULE = "aesens.models.hf"
#: Prefix of the loader attribute of a name (``load+facebook--wav2vec2-base``, see
#: :func:`loader_path`); ``+`` keeps it clear of every Python name of the model module.
LOADER_PREFIX = "load+"


def loader_path(name: str) -> str:
    """The ``"module:loader"`` of a canonical name, for :data:`aesens.models.MODELS`.

    The loader is an attribute of :mod:`aesens.models.hf` resolved by its
    module ``__getattr__``, so a model spec holding this string builds the
    model in any process.
    """
    return f"{MODEL_MODULE}:{LOADER_PREFIX}{canonical_name(name)[len(PREFIX):]}"

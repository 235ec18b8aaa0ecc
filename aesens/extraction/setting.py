"""What one extraction writes to one file: an effect at a grid rank, or the original audio.

A :class:`Setting` says how its audio is read and effected (the published
scripts' semantics or float, :data:`~aesens.effects.SEMANTICS`), which
settings attributes its embeddings carry (:func:`expected_attributes`) and
which file they go to; :func:`select_ranks`, :func:`describe_selection` and
:func:`list_grid` read the effect's grid for the 2A.2 command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aesens import layout
from aesens.effects import PUBLISHED, SEMANTICS, Effect
from aesens.effects.paper import ReverbChain
from aesens.errors import AesensError
from aesens.models import EmbeddingModel, ModelSpec, settings_attributes


@dataclass(frozen=True)
class Setting:
    """One effect setting to extract: an effect at a grid rank, or the original audio.

    Attributes
    ----------
    effect : Effect or None
        The effect, ``None`` for the original audio (read as it is).
    rank : int or None
        Index of the parameter value in the effect's grid.
    semantics : str
        :data:`~aesens.effects.PUBLISHED` (one chain over all files in
        dataset order, then the 16-bit WAV round trip) or
        :data:`~aesens.effects.FLOAT` (each file fresh, float audio).
    """

    effect: Effect | None = None
    rank: int | None = None
    semantics: str = PUBLISHED

    def __post_init__(self) -> None:
        if self.semantics not in SEMANTICS:
            raise AesensError(f"unknown effect semantics {self.semantics!r}; choose one of "
                              f"{', '.join(SEMANTICS)}")

    @property
    def published(self) -> bool:
        """Whether effected audio follows the published scripts (chain and 16-bit round trip)."""
        return self.effect is not None and self.semantics == PUBLISHED

    def new_chain(self) -> ReverbChain | None:
        """A fresh chain of a stateful effect under the published semantics, else ``None``."""
        if not self.published or self.effect.chain_fn is None:
            return None
        return self.effect.chain_fn(self.value)

    @property
    def reader(self) -> str:
        """Whose float conversion of the dataset's 16-bit files the setting reads with.

        The published 2A.2 streamed each file through the board with
        pedalboard's ``AudioFile`` (16-bit samples / 32767); the original
        audio and the float semantics read as the models do (/ 32768).
        """
        return "pedalboard" if self.published else "soundfile"

    @property
    def attributes(self) -> dict[str, str]:
        """Settings attributes of the setting's embeddings (none for the original audio)."""
        if self.effect is None:
            return {}
        return {"effect_semantics": self.semantics, "effect_reader": self.reader}

    @property
    def value(self) -> float | None:
        """The parameter value, or ``None`` for the original audio."""
        return None if self.effect is None else float(self.effect.grid[self.rank])

    @property
    def param(self) -> str:
        """The parameter string, or ``"none"`` for the original audio."""
        return "none" if self.effect is None else self.effect.param_strings[self.rank]

    @property
    def label(self) -> str:
        """Short description for progress bars and messages."""
        return "original" if self.effect is None else f"{self.effect.name} {self.param}"

    def output_path(self, embeddings_dir: str | os.PathLike) -> Path:
        """The HDF5 file this setting is written to."""
        if self.effect is None:
            return layout.original_path(embeddings_dir)
        return layout.effected_path(self.effect.name, self.param, embeddings_dir)


def expected_attributes(setting: Setting, model: ModelSpec | EmbeddingModel) -> dict:
    """The settings attributes an embedding must carry to count as complete.

    The setting's (effect semantics) and the model's
    (:func:`aesens.models.settings_attributes`, e.g. OpenL3's framing).
    """
    return {**setting.attributes, **settings_attributes(model)}


def select_ranks(effect: Effect, first: int, last: int) -> range:
    """The parameter ranks that ``first last`` select, as the published ``params[first:last + 1]``.

    A Python slice of the grid, as the published 2A.2 took it: a ``last``
    past the end stops at the end (``0 99`` runs the whole grid), ``first >
    last`` selects nothing, and negative ranks count from the end of the grid
    (``-3 99``: the last three settings; ``0 -1`` selects nothing, since
    ``params[0:0]`` is empty). ``first = -1`` is the grid listing, handled
    before this is called.
    """
    return range(len(effect.grid))[first:last + 1]


def describe_selection(effect: Effect, first: int, last: int, ranks: range) -> str | None:
    """A line saying what a rank range outside ``0..len(grid) - 1`` selected, else ``None``.

    ``None`` when ``first..last`` are plain ranks of the grid; otherwise the
    ranks the published slice picks (:func:`select_ranks`), or that it picks
    none.
    """
    n_values = len(effect.grid)
    if ranks and 0 <= first <= last < n_values:
        return None
    chosen = f"ranks {ranks.start}..{ranks.stop - 1}" if ranks else "no setting"
    return (f"ranks {first}..{last} select {chosen} of the {effect.name} grid (ranks "
            f"0..{n_values - 1}), as the published params[{first}:{last + 1}]")


def list_grid(effect: Effect) -> str:
    """A printable table of an effect's grid: rank, value and parameter string."""
    lines = [f"{effect.name}: {len(effect.grid)} settings (ranks 0..{len(effect.grid) - 1})"]
    lines += [f"{rank:4d}  {param}" for rank, param in enumerate(effect.param_strings)]
    return "\n".join(lines)

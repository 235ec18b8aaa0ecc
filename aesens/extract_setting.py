"""What one extraction writes to one file: an effect at a grid rank, or the original audio.

A :class:`Setting` says how its audio is read and effected (the published
scripts' semantics or float, :data:`~aesens.effects.SEMANTICS`), which
settings attributes its embeddings carry (:func:`expected_attributes`) and
which file they go to; :func:`check_ranks` and :func:`list_grid` read the
effect's grid for the 2A.2 command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aesens import store
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
            return store.original_path(embeddings_dir)
        return store.effected_path(self.effect.name, self.param, embeddings_dir)


def expected_attributes(setting: Setting, model: ModelSpec | EmbeddingModel) -> dict:
    """The settings attributes an embedding must carry to count as complete.

    The setting's (effect semantics) and the model's
    (:func:`aesens.models.settings_attributes`, e.g. OpenL3's framing).
    """
    return {**setting.attributes, **settings_attributes(model)}


def check_ranks(effect: Effect, first: int, last: int) -> range:
    """Validate inclusive parameter ranks ``first..last`` of an effect's grid.

    Raises
    ------
    AesensError
        If ``first > last`` or a rank lies outside ``0..len(grid) - 1``.
    """
    n_values = len(effect.grid)
    if first > last:
        raise AesensError(f"rank range {first}..{last} is empty: 'from' must not exceed 'to'")
    if first < 0 or last >= n_values:
        raise AesensError(f"ranks {first}..{last} are outside the {effect.name} grid; use ranks "
                          f"0..{n_values - 1} (pass -1 -1 to print the grid)")
    return range(first, last + 1)


def list_grid(effect: Effect) -> str:
    """A printable table of an effect's grid: rank, value and parameter string."""
    lines = [f"{effect.name}: {len(effect.grid)} settings (ranks 0..{len(effect.grid) - 1})"]
    lines += [f"{rank:4d}  {param}" for rank, param in enumerate(effect.param_strings)]
    return "\n".join(lines)

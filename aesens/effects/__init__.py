"""Audio effects as data: name, parameter grid, parameter strings and a function.

Each :class:`Effect` carries the exact grid of the published experiment and
formats its values into the strings used in file names
(``embeddings/embeddings_<effect>_<paramstr>.h5``). Effects act in memory on
float32 ``(channels, samples)`` audio at its native rate; no temporary WAV
file is written. This module holds the registry, :data:`EFFECTS`; the
effect functions live in one module per kind:

- :mod:`aesens.effects.paper`: the paper's pedalboard effects (bitcrush,
  gain, reverb, and the reverb's file-to-file :class:`~aesens.effects.paper.ReverbChain`);
- :mod:`aesens.effects.filters`: the paper's Chebyshev type II low-pass and
  the high-pass mirroring it;
- :mod:`aesens.effects.plugins`: effects beyond the paper that are one
  pedalboard plug-in (MP3, GSM, pitch shift, compressor, clipping, resampling);
- :mod:`aesens.effects.noise`: white and pink noise at a signal-to-noise
  ratio, seeded by each clip.

Adding an effect is one function ``fn(audio, sample_rate, value) -> audio``
in one of those modules plus one :class:`Effect` entry in :data:`EFFECTS`.
The effects beyond the paper process every clip on its own with a fresh
plug-in; under the published semantics their output goes through the same
16-bit round trip as the paper's effects.

The published scripts streamed each file through a pedalboard board in
1-second chunks with ``reset=False``; the tests check that :meth:`Effect.apply`
equals that streaming reference.

Effects may also have a batch function, applied to several clips stacked as
``(clips, channels, samples)`` in one call (:meth:`Effect.apply_batch`).
Every batch function equals the clip-by-clip function bit for bit (tested),
so results never depend on how clips are grouped.

The published scripts also built ONE board per setting and streamed every
file of the dataset through it in order, so a stateful effect (the reverb)
carried the tail of each file into the next; and every effected file went
through a 16-bit WAV (:mod:`aesens.effects.roundtrip`). :data:`PUBLISHED` names
these semantics, :data:`FLOAT` the clean float effects with every file
processed fresh. An effect with a ``chain_fn`` is stateful: its
:class:`~aesens.effects.paper.ReverbChain`-like object carries the state
from file to file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pedalboard

from aesens.effects import filters, noise, paper, plugins
from aesens.errors import AesensError

#: Effect semantics of the published scripts: one board per setting streaming every file in
#: dataset order (state carried from file to file), then a 16-bit WAV round trip.
PUBLISHED = "published"
#: Clean float effects: every file processed fresh, no 16-bit round trip.
FLOAT = "float"
#: The effect semantics, default first.
SEMANTICS = (PUBLISHED, FLOAT)


@dataclass(frozen=True)
class Effect:
    """An audio effect swept over a grid of strengths.

    Attributes
    ----------
    name : str
        Name used on the command line and in file names.
    grid : numpy.ndarray
        Parameter values in order; the index of a value is its "rank".
    param_format : str
        Format string turning a value into its parameter string.
    apply_fn : callable
        ``apply_fn(audio, sample_rate, value) -> audio``, float32
        ``(channels, samples)`` in and out.
    unit : str
        Label of the parameter axis for plots, with its unit.
    identity_value : float
        The parameter value at which the effect leaves audio unchanged; for
        effects without one, a value just beyond the gentle end of the grid
        that places the uneffected audio there (``-1`` for MP3, better than
        the best VBR quality 0; an infinite SNR for the noises; the
        dataset's 44.1 kHz for the resampling).
    board_fn : callable or None
        ``board_fn(value) -> pedalboard.Pedalboard`` for pedalboard effects
        (used by the streaming reference), else ``None``.
    batch_fn : callable or None
        ``batch_fn(clips, sample_rate, value, out) -> out`` on float32
        ``(clips, channels, samples)``, writing into ``out`` (which may be
        ``clips`` itself) what ``apply_fn`` gives on each clip; ``None``
        applies ``apply_fn`` clip by clip.
    identity_label : str or None
        Axis label of the uneffected audio where ``identity_value`` is no
        real setting (``"wav"`` for MP3, ``"∞"`` for the noises); ``None``
        labels it with its value.
    chain_fn : callable or None
        ``chain_fn(value) -> chain`` for effects with state across files
        under the published semantics: ``chain.process(audio, sample_rate)``
        effects the next file as the one published board did and
        ``chain.copy()`` snapshots the state (see
        :class:`~aesens.effects.paper.ReverbChain`);
        ``None`` for stateless effects.
    """

    name: str
    grid: np.ndarray
    param_format: str
    apply_fn: Callable[[np.ndarray, int, float], np.ndarray]
    unit: str
    identity_value: float
    board_fn: Callable[[float], pedalboard.Pedalboard] | None = field(default=None)
    batch_fn: Callable[[np.ndarray, int, float, np.ndarray], np.ndarray] | None = field(
        default=None)
    chain_fn: Callable[[float], paper.ReverbChain] | None = field(default=None)
    identity_label: str | None = field(default=None)

    def __len__(self) -> int:
        return len(self.grid)

    @property
    def param_strings(self) -> list[str]:
        """The parameter strings of the grid, in rank order."""
        return [self.format_param(value) for value in self.grid]

    def format_param(self, value: float) -> str:
        """Format one parameter value as in the published file names."""
        return self.param_format.format(value)

    def apply(self, audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
        """Apply the effect at ``value`` to float32 ``(channels, samples)`` audio."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        return np.ascontiguousarray(self.apply_fn(audio, sample_rate, float(value)),
                                    dtype=np.float32)

    def apply_batch(self, clips: np.ndarray, sample_rate: int, value: float,
                    out: np.ndarray | None = None) -> np.ndarray:
        """Apply the effect at ``value`` to float32 ``(clips, channels, samples)`` audio.

        Equals :meth:`apply` on every clip, bit for bit, in fewer calls.

        Parameters
        ----------
        clips : numpy.ndarray
            float32 ``(clips, channels, samples)``.
        sample_rate : int
            Sampling rate of the clips.
        value : float
            Effect parameter.
        out : numpy.ndarray, optional
            C-contiguous float32 array of the shape of ``clips`` to write
            into; ``clips`` itself applies the effect in place (no new
            memory). By default a new array.

        Returns
        -------
        numpy.ndarray
            The effected clips (``out`` when given).
        """
        clips = np.ascontiguousarray(clips, dtype=np.float32)
        if out is None:
            out = np.empty_like(clips)
        elif out.shape != clips.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {clips.shape}")
        if self.batch_fn is None:
            for clip, target in zip(clips, out, strict=True):
                target[...] = self.apply(clip, sample_rate, value)
            return out
        return self.batch_fn(clips, sample_rate, float(value), out)

    @property
    def identity_rank(self) -> float:
        """Fractional rank at which the uneffected audio sits on the grid axis.

        ``len(grid)`` means after the last value, ``-1`` before the first,
        and e.g. ``26.67`` between ranks 26 and 27 (interpolated linearly).
        """
        grid = np.asarray(self.grid, dtype=float)
        ascending = grid[-1] > grid[0]
        values = grid if ascending else grid[::-1]
        position = float(np.interp(self.identity_value, values, np.arange(len(values)),
                                   left=-1.0, right=float(len(values))))
        return position if ascending else len(values) - 1 - position


#: The effects of the published experiment, in the paper's order.
PAPER_EFFECTS = ("bitcrush", "gain", "lowpass_cheby", "reverb")


#: The effects by name: the published experiment's four (:data:`PAPER_EFFECTS`), then
#: effects beyond the paper.
EFFECTS: dict[str, Effect] = {
    effect.name: effect
    for effect in (
        Effect(
            name="bitcrush",
            grid=np.arange(4, 16),
            param_format="{:d}",
            apply_fn=paper.bitcrush,
            unit="bit depth (bits)",
            identity_value=16,
            board_fn=paper.bitcrush_board,
            batch_fn=paper.bitcrush,
        ),
        Effect(
            name="gain",
            grid=np.arange(-40.0, 5.01, 1.5),
            param_format="{:.1f}",
            apply_fn=paper.gain,
            unit="gain (dB)",
            identity_value=0.0,
            board_fn=paper.gain_board,
            batch_fn=paper.gain,
        ),
        Effect(
            name="lowpass_cheby",
            grid=np.round(np.geomspace(1600, 22000 / 1.2, num=31), 3),
            param_format="{:.3f}",
            apply_fn=filters.cheby_lowpass,
            unit="cutoff frequency (Hz)",
            identity_value=22500.0,
            batch_fn=filters.cheby_lowpass_batch,
        ),
        Effect(
            name="reverb",
            grid=np.linspace(0.01, 1, num=100)[::3],
            param_format="{:.2f}",
            apply_fn=paper.reverb,
            unit="room size",
            identity_value=0.0,
            board_fn=paper.reverb_board,
            batch_fn=paper.reverb_batch,
            chain_fn=paper.ReverbChain,
        ),
        Effect(
            name="mp3",
            grid=np.arange(9, -1, -1),
            param_format="{:d}",
            apply_fn=plugins.mp3,
            unit="MP3 VBR quality",
            identity_value=-1,
            identity_label="wav",
        ),
        Effect(
            name="gsm",
            grid=np.round(np.linspace(0.05, 1.0, num=20), 2),
            param_format="{:.2f}",
            apply_fn=plugins.gsm,
            unit="GSM-coded fraction",
            identity_value=0.0,
        ),
        Effect(
            name="noise_white",
            grid=np.arange(40.0, -0.1, -2.5),
            param_format="{:.1f}",
            apply_fn=noise.noise_white,
            unit="white-noise SNR (dB)",
            identity_value=np.inf,
            identity_label="\N{INFINITY}",
        ),
        Effect(
            name="noise_pink",
            grid=np.arange(40.0, -0.1, -2.5),
            param_format="{:.1f}",
            apply_fn=noise.noise_pink,
            unit="pink-noise SNR (dB)",
            identity_value=np.inf,
            identity_label="\N{INFINITY}",
        ),
        Effect(
            name="pitch_shift",
            grid=np.concatenate([np.arange(-12, 0), np.arange(1, 13)]),
            param_format="{:d}",
            apply_fn=plugins.pitch_shift,
            unit="pitch shift (semitones)",
            identity_value=0,
        ),
        Effect(
            name="compressor",
            grid=np.arange(-2.0, -60.1, -2.0),
            param_format="{:.1f}",
            apply_fn=plugins.compressor,
            unit="compressor threshold (dB)",
            identity_value=0.0,
        ),
        Effect(
            name="highpass_cheby",
            grid=np.round(np.geomspace(20, 4000, num=31), 3),
            param_format="{:.3f}",
            apply_fn=filters.cheby_highpass,
            unit="cutoff frequency (Hz)",
            identity_value=0.0,
            batch_fn=filters.cheby_highpass_batch,
        ),
        Effect(
            name="clipping",
            grid=np.arange(-1.0, -30.1, -1.0),
            param_format="{:.1f}",
            apply_fn=plugins.clipping,
            unit="clipping threshold (dB)",
            identity_value=0.0,
        ),
        Effect(
            name="resample",
            grid=np.round(np.geomspace(4000, 32000, num=25)).astype(int),
            param_format="{:d}",
            apply_fn=plugins.resample,
            unit="resampled rate (Hz)",
            identity_value=44100,
        ),
    )
}


def get_effect(name: str) -> Effect:
    """Look up an effect by name, with a one-line error listing the known ones."""
    try:
        return EFFECTS[name]
    except KeyError:
        raise AesensError(f"unknown effect {name!r}; choose one of {', '.join(EFFECTS)}") from None

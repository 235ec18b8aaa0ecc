"""The paper's pedalboard effects: bitcrush, gain and reverb (with its file-to-file chain).

The published scripts built each effect as a one-plug-in pedalboard board
(:func:`bitcrush_board`, :func:`gain_board`, :func:`reverb_board`; the tests'
streaming reference uses them). The
batch functions give the same output as the plug-ins on several clips at
once: gain and bitcrush are the exact float32 arithmetic of pedalboard's
plug-ins in numpy, the reverb runs :func:`aesens.effects.dsp.juce_reverb`.
Under the published semantics the reverb carries its tail from file to file
(:class:`ReverbChain`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pedalboard

from aesens.errors import AesensError

if TYPE_CHECKING:
    from aesens.effects.dsp import ReverbState


def bitcrush_board(value: float) -> pedalboard.Pedalboard:
    """The published board of the ``bitcrush`` effect at bit depth ``value``."""
    return pedalboard.Pedalboard([pedalboard.Bitcrush(bit_depth=value)])


def gain_board(value: float) -> pedalboard.Pedalboard:
    """The published board of the ``gain`` effect at ``value`` dB."""
    return pedalboard.Pedalboard([pedalboard.Gain(gain_db=value)])


def reverb_board(value: float) -> pedalboard.Pedalboard:
    """The published board of the ``reverb`` effect at room size ``value``."""
    return pedalboard.Pedalboard([pedalboard.Reverb(room_size=value)])


def bitcrush(audio: np.ndarray, sample_rate: int, value: float,
             out: np.ndarray | None = None) -> np.ndarray:
    """pedalboard's ``Bitcrush(bit_depth=value)`` on audio of any shape, in float32.

    Scale by ``2 ** value``, round half to even, scale back; also the batch
    function (the arithmetic is element-wise).
    """
    scale = np.float32(2.0 ** value)
    out = np.multiply(audio, scale, out=out)
    np.round(out, out=out)
    out *= np.float32(1.0) / scale
    return out


@lru_cache(maxsize=256)
def gain_factor(gain_db: float) -> np.float32:
    """The float32 linear factor of pedalboard's ``Gain(gain_db)``, read off pedalboard itself.

    JUCE computes it in single precision (``powf``), which can differ from
    ``10 ** (gain_db / 20)`` rounded to float32 in the last bit.
    """
    unit = np.ones((1, 1), dtype=np.float32)
    return np.float32(pedalboard.Gain(gain_db=gain_db)(unit, 44100)[0, 0])


def gain(audio: np.ndarray, sample_rate: int, value: float,
         out: np.ndarray | None = None) -> np.ndarray:
    """pedalboard's ``Gain(gain_db=value)`` on audio of any shape (also the batch function)."""
    return np.multiply(audio, gain_factor(value), out=out)


def reverb(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """A fresh pedalboard ``Reverb(room_size=value)`` over one clip."""
    return reverb_board(value)(audio, sample_rate)


def reverb_batch(clips: np.ndarray, sample_rate: int, value: float,
                 out: np.ndarray) -> np.ndarray:
    """:func:`reverb` on every clip: by the compiled kernel for mono and stereo clips.

    The kernel (:func:`aesens.effects.dsp.juce_reverb`, each clip from silence) is
    faster than pedalboard's plug-in from one clip on; other channel counts
    go through pedalboard.
    """
    if clips.shape[1] not in (1, 2):
        for clip, target in zip(clips, out, strict=True):
            target[...] = reverb(clip, sample_rate, value)
        return out
    from aesens.effects import dsp

    return dsp.juce_reverb(clips, sample_rate, value, out=out)


class ReverbChain:
    """One pedalboard ``Reverb`` board streaming file after file (``reset=False``), in memory.

    The published scripts streamed every file of a setting through one board
    in 1-second chunks, so each file starts with the tail of the previous
    ones. pedalboard re-prepares (clears) the reverb when a call brings
    another sample rate or channel count, or a longer block than the call
    that last prepared it (a call's block is its length, at most
    pedalboard's buffer of 8192 samples); the first chunk of a file,
    ``min(samples, rate)`` samples, is its longest, so that rule is applied
    once per file here.

    Parameters
    ----------
    room_size : float
        pedalboard's ``room_size``.
    """

    #: Chunk length of the published streaming, in seconds.
    CHUNK_SECONDS = 1.0
    #: pedalboard's default ``buffer_size``: the longest block a call prepares for.
    BUFFER_SIZE = 8192

    def __init__(self, room_size: float) -> None:
        self.room_size = float(room_size)
        self.state: ReverbState | None = None
        self.max_block = 0

    def process(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Effect the next file, float32 ``(channels, samples)``, in place when possible.

        Raises
        ------
        AesensError
            For audio with more than two channels (JUCE's reverb takes one or two).
        """
        from aesens.effects import dsp

        channels, samples = audio.shape
        if channels not in (1, 2):
            raise AesensError(f"the reverb of the published scripts takes mono or stereo audio, "
                              f"not {channels} channels; use --effect-semantics float")
        block = min(samples, int(self.CHUNK_SECONDS * sample_rate), self.BUFFER_SIZE)
        if block == 0:
            return audio
        state = self.state
        if (state is None or state.sample_rate != int(sample_rate) or state.channels != channels
                or block > self.max_block):
            self.state = dsp.ReverbState.fresh(sample_rate, channels)
            self.max_block = block
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        return dsp.juce_reverb(audio[None], sample_rate, self.room_size, state=self.state,
                               out=audio[None])[0]

    def copy(self) -> ReverbChain:
        """An independent snapshot of the chain and its state."""
        chain = ReverbChain(self.room_size)
        chain.state = None if self.state is None else self.state.copy()
        chain.max_block = self.max_block
        return chain

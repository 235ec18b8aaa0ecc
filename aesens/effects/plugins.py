"""Effects beyond the paper that are one pedalboard plug-in: codecs, dynamics, pitch, rate.

MP3 (pedalboard's ``MP3Compressor``, LAME VBR quality), the GSM full-rate
phone codec mixed with the dry signal, ``PitchShift``, ``Compressor``
(threshold grid at a fixed ratio, :data:`COMPRESSOR_RATIO`), ``Clipping``
and ``Resample`` (down to a rate and back). Each file is processed on its
own by a fresh plug-in over the whole clip (no published reason to chain
files), so these effects have neither a published board nor a chain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pedalboard

from aesens.errors import AesensError

#: Sampling rates pedalboard's ``MP3Compressor`` (LAME) encodes, in Hz.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: Ratio of the ``compressor`` effect (its grid is the threshold).
COMPRESSOR_RATIO = 4.0


def _plugin(name: str, make: Callable[[], pedalboard.Plugin], audio: np.ndarray,
            sample_rate: int, fix: str = "use mono or stereo audio") -> np.ndarray:
    """A fresh pedalboard plug-in over the whole clip, its errors as one-line AesensErrors."""
    try:
        return make()(audio, sample_rate)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise AesensError(f"the {name} effect cannot process {audio.shape[0]}-channel audio at "
                          f"{sample_rate} Hz (pedalboard: {reason}); {fix}") from None


def mp3(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """pedalboard's ``MP3Compressor(vbr_quality=value)`` (rates of :data:`MP3_RATES` only)."""
    rates = ", ".join(f"{rate / 1000:g}" for rate in MP3_RATES)
    return _plugin("mp3", lambda: pedalboard.MP3Compressor(vbr_quality=value), audio,
                   sample_rate, fix=f"convert the dataset to mono or stereo at {rates} kHz")


def gsm(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """``(1 - value) * dry + value * GSM-coded`` in float32 (``value``: the wet fraction)."""
    coded = _plugin("gsm", pedalboard.GSMFullRateCompressor, audio, sample_rate)
    wet = np.float32(value)
    return (np.float32(1.0) - wet) * audio + wet * coded


def pitch_shift(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """pedalboard's ``PitchShift(semitones=value)``."""
    return _plugin("pitch_shift", lambda: pedalboard.PitchShift(semitones=value), audio,
                   sample_rate)


def compressor(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """pedalboard's ``Compressor(threshold_db=value, ratio=COMPRESSOR_RATIO)``."""
    return _plugin("compressor",
                   lambda: pedalboard.Compressor(threshold_db=value, ratio=COMPRESSOR_RATIO),
                   audio, sample_rate)


def clipping(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """pedalboard's ``Clipping(threshold_db=value)``."""
    return _plugin("clipping", lambda: pedalboard.Clipping(threshold_db=value), audio,
                   sample_rate)


def resample(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    """pedalboard's ``Resample(target_sample_rate=value)``: down to ``value`` Hz and back."""
    return _plugin("resample", lambda: pedalboard.Resample(target_sample_rate=value), audio,
                   sample_rate)

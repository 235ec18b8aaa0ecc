"""Audio effects as data: name, parameter grid, parameter strings and a function.

Each :class:`Effect` carries the exact grid of the published experiment and
formats its values into the strings used in file names
(``embeddings/embeddings_<effect>_<paramstr>.h5``). Effects act in memory on
float32 ``(channels, samples)`` audio at its native rate; no temporary WAV
file is written. Adding an effect is one new entry in :data:`EFFECTS`.

:data:`EFFECTS` holds the four effects of the paper (:data:`PAPER_EFFECTS`)
and effects beyond it: MP3 (pedalboard's ``MP3Compressor``, LAME VBR
quality), the GSM full-rate phone codec mixed with the dry signal, white and
pink noise at a signal-to-noise ratio (seeded by a hash of each clip,
:func:`noise_seed`), pedalboard's ``PitchShift``, ``Compressor`` (threshold
grid at a fixed ratio), ``Clipping`` and ``Resample`` (down to a rate and
back), and a Chebyshev type II high-pass mirroring the paper's low-pass.
Each processes every clip on its own with a fresh plug-in; under the
published semantics their output goes through the same 16-bit round trip
as the paper's effects.

The published scripts streamed each file through a pedalboard board in
1-second chunks with ``reset=False``; :func:`apply_streaming` reproduces that
reference and the tests check that :meth:`Effect.apply` equals it.

Effects may also have a batch function, applied to several clips stacked as
``(clips, channels, samples)`` in one call (:meth:`Effect.apply_batch`):
gain and bitcrush are the exact float32 arithmetic of pedalboard's plugins
in numpy, the low-pass and the reverb run :mod:`aesens.dsp`'s kernels, which
vectorise scipy's and pedalboard's recursions across clips. Every batch
function equals the clip-by-clip function bit for bit (tested), so results
never depend on how clips are grouped.

The published scripts also built ONE board per setting and streamed every
file of the dataset through it in order, so a stateful effect (the reverb)
carried the tail of each file into the next; and every effected file went
through a 16-bit WAV (:mod:`aesens.roundtrip`). :data:`PUBLISHED` names
these semantics, :data:`FLOAT` the clean float effects with every file
processed fresh. An effect with a ``chain_fn`` is stateful: its
:class:`ReverbChain`-like object carries the state from file to file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pedalboard
import scipy.signal

from aesens.errors import AesensError

if TYPE_CHECKING:
    from aesens.dsp import ReverbState

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
        ``chain.copy()`` snapshots the state (see :class:`ReverbChain`);
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
    chain_fn: Callable[[float], ReverbChain] | None = field(default=None)
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


#: Smallest batch for which the vectorised kernels beat the clip-by-clip libraries.
MIN_KERNEL_CLIPS = 4


def _bitcrush_board(value: float) -> pedalboard.Pedalboard:
    return pedalboard.Pedalboard([pedalboard.Bitcrush(bit_depth=value)])


def _gain_board(value: float) -> pedalboard.Pedalboard:
    return pedalboard.Pedalboard([pedalboard.Gain(gain_db=value)])


def _reverb_board(value: float) -> pedalboard.Pedalboard:
    return pedalboard.Pedalboard([pedalboard.Reverb(room_size=value)])


def _bitcrush(audio: np.ndarray, sample_rate: int, value: float,
              out: np.ndarray | None = None) -> np.ndarray:
    # pedalboard's Bitcrush: scale by 2**depth, round half to even, scale back (float32).
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


def _gain(audio: np.ndarray, sample_rate: int, value: float,
          out: np.ndarray | None = None) -> np.ndarray:
    return np.multiply(audio, gain_factor(value), out=out)


def _reverb(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return _reverb_board(value)(audio, sample_rate)


def _reverb_batch(clips: np.ndarray, sample_rate: int, value: float,
                  out: np.ndarray) -> np.ndarray:
    if clips.shape[1] != 2 or len(clips) < MIN_KERNEL_CLIPS:
        for clip, target in zip(clips, out, strict=True):
            target[...] = _reverb(clip, sample_rate, value)
        return out
    from aesens import dsp

    return dsp.juce_reverb_stereo(clips, sample_rate, value, out=out)


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
        from aesens import dsp

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


@lru_cache(maxsize=256)
def cheby_lowpass_sos(cutoff: float, sample_rate: int = 44100) -> np.ndarray | None:
    """Design the Chebyshev type II low-pass of the published experiment.

    Passband edge ``cutoff / 1.1``, stopband edge ``cutoff * 1.1``, at most
    3 dB passband ripple and at least 80 dB stopband attenuation. For audio
    at a lower rate than 44.1 kHz, a stopband edge beyond the Nyquist
    frequency is moved just below it, and a passband edge beyond it means
    there is nothing to remove.

    Parameters
    ----------
    cutoff : float
        Effect parameter in Hz.
    sample_rate : int
        Sampling rate of the audio.

    Returns
    -------
    numpy.ndarray or None
        Second-order sections, shape ``(n_sections, 6)``, or ``None`` when
        the filter would pass every frequency the audio can hold.
    """
    nyquist = sample_rate / 2
    passband, stopband = cutoff / 1.1, cutoff * 1.1
    if passband >= nyquist:
        return None
    stopband = min(stopband, 0.999 * nyquist)
    order, wn = scipy.signal.cheb2ord(passband, stopband, 3, 80, fs=sample_rate)
    return scipy.signal.cheby2(order, 80, wn, "lowpass", output="sos", fs=sample_rate)


def _cheby_lowpass(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    sos = cheby_lowpass_sos(value, sample_rate)
    return audio if sos is None else scipy.signal.sosfilt(sos, audio, axis=-1)


def _cheby_lowpass_batch(clips: np.ndarray, sample_rate: int, value: float,
                         out: np.ndarray) -> np.ndarray:
    sos = cheby_lowpass_sos(value, sample_rate)
    if sos is None or len(clips) < MIN_KERNEL_CLIPS:
        out[...] = _cheby_lowpass(clips, sample_rate, value)
        return out
    from aesens import dsp

    return dsp.sosfilt_float32(sos, clips, out=out)


# Effects beyond the paper. Each file is processed on its own by a fresh plug-in (no
# published reason to chain files), so these effects have neither ``board_fn`` (the
# published one-board streaming) nor ``chain_fn``.

#: The effects of the published experiment, in the paper's order.
PAPER_EFFECTS = ("bitcrush", "gain", "lowpass_cheby", "reverb")


def _plugin(name: str, make: Callable[[], pedalboard.Plugin], audio: np.ndarray,
            sample_rate: int, fix: str = "use mono or stereo audio") -> np.ndarray:
    """A fresh pedalboard plug-in over the whole clip, its errors as one-line AesensErrors."""
    try:
        return make()(audio, sample_rate)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise AesensError(f"the {name} effect cannot process {audio.shape[0]}-channel audio at "
                          f"{sample_rate} Hz (pedalboard: {reason}); {fix}") from None


#: Sampling rates pedalboard's ``MP3Compressor`` (LAME) encodes, in Hz.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _mp3(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    rates = ", ".join(f"{rate / 1000:g}" for rate in MP3_RATES)
    return _plugin("mp3", lambda: pedalboard.MP3Compressor(vbr_quality=value), audio,
                   sample_rate, fix=f"convert the dataset to mono or stereo at {rates} kHz")


def _gsm(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    # value = wet fraction: (1 - w) * dry + w * GSM-coded, in float32.
    coded = _plugin("gsm", pedalboard.GSMFullRateCompressor, audio, sample_rate)
    wet = np.float32(value)
    return (np.float32(1.0) - wet) * audio + wet * coded


def _pitch_shift(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return _plugin("pitch_shift", lambda: pedalboard.PitchShift(semitones=value), audio,
                   sample_rate)


#: Ratio of the ``compressor`` effect (its grid is the threshold).
COMPRESSOR_RATIO = 4.0


def _compressor(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return _plugin("compressor",
                   lambda: pedalboard.Compressor(threshold_db=value, ratio=COMPRESSOR_RATIO),
                   audio, sample_rate)


def _clipping(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return _plugin("clipping", lambda: pedalboard.Clipping(threshold_db=value), audio,
                   sample_rate)


def _resample(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return _plugin("resample", lambda: pedalboard.Resample(target_sample_rate=value), audio,
                   sample_rate)


@lru_cache(maxsize=256)
def cheby_highpass_sos(cutoff: float, sample_rate: int = 44100) -> np.ndarray:
    """Design the Chebyshev type II high-pass mirroring the published low-pass.

    Passband edge ``cutoff * 1.1``, stopband edge ``cutoff / 1.1``, at most
    3 dB passband ripple and at least 80 dB stopband attenuation, as
    :func:`cheby_lowpass_sos` with the bands swapped.

    Parameters
    ----------
    cutoff : float
        Effect parameter in Hz.
    sample_rate : int
        Sampling rate of the audio.

    Returns
    -------
    numpy.ndarray
        Second-order sections, shape ``(n_sections, 6)``.

    Raises
    ------
    AesensError
        When the passband edge is not below the Nyquist frequency.
    """
    passband, stopband = cutoff * 1.1, cutoff / 1.1
    if passband >= sample_rate / 2:
        raise AesensError(f"a {cutoff:g} Hz high-pass removes everything from audio at "
                          f"{sample_rate} Hz; use audio sampled above {2 * passband:.0f} Hz")
    order, wn = scipy.signal.cheb2ord(passband, stopband, 3, 80, fs=sample_rate)
    return scipy.signal.cheby2(order, 80, wn, "highpass", output="sos", fs=sample_rate)


def _cheby_highpass(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return scipy.signal.sosfilt(cheby_highpass_sos(value, sample_rate), audio, axis=-1)


def _cheby_highpass_batch(clips: np.ndarray, sample_rate: int, value: float,
                          out: np.ndarray) -> np.ndarray:
    if len(clips) < MIN_KERNEL_CLIPS:
        out[...] = _cheby_highpass(clips, sample_rate, value)
        return out
    from aesens import dsp

    return dsp.sosfilt_float32(cheby_highpass_sos(value, sample_rate), clips, out=out)


def noise_seed(audio: np.ndarray) -> int:
    """The seed of a clip's noise: a stable hash of its samples.

    The first 8 bytes (little-endian) of the BLAKE2b hash of the clip's
    shape (two int64) followed by its float32 C-order samples. The same clip
    gets the same noise in every run, batch and process, at every SNR of the
    grid; another clip (or the same file read with another float conversion)
    gets other noise.

    Parameters
    ----------
    audio : numpy.ndarray
        float32 ``(channels, samples)``.

    Returns
    -------
    int
        A seed for :func:`numpy.random.default_rng`.
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    digest = hashlib.blake2b(np.asarray(audio.shape, dtype="<i8").tobytes(), digest_size=8)
    digest.update(audio.astype("<f4", copy=False).tobytes())
    return int.from_bytes(digest.digest(), "little")


def white_noise(shape: tuple[int, int], seed: int, sample_rate: int) -> np.ndarray:
    """Gaussian white noise, float64, independent per channel (numpy's PCG64 generator).

    ``sample_rate`` is unused (white noise is flat at every rate); it is there
    so that both noises are called alike.
    """
    return np.random.default_rng(seed).standard_normal(shape)


#: Lowest frequency of the pink noise, in Hz: below it the noise has no power.
PINK_LOW_HZ = 20.0


def pink_noise(shape: tuple[int, int], seed: int, sample_rate: int) -> np.ndarray:
    """Pink (1/f power, −3 dB per octave) noise by filtering :func:`white_noise` in frequency.

    The white noise's spectrum (real FFT over the whole clip) is multiplied
    by ``1 / sqrt(f)`` from :data:`PINK_LOW_HZ` up to the Nyquist frequency
    and set to zero below it (so that no power, and no part of the SNR, goes
    to inaudible frequencies), then transformed back: the power spectral
    density falls by 10·log10(2) ≈ 3.01 dB per octave.
    """
    white = white_noise(shape, seed, sample_rate)
    samples = shape[-1]
    spectrum = np.fft.rfft(white, axis=-1)
    freqs = np.fft.rfftfreq(samples, 1.0 / sample_rate)
    weights = np.zeros_like(freqs)
    audible = freqs >= PINK_LOW_HZ
    weights[audible] = 1.0 / np.sqrt(freqs[audible])
    return np.fft.irfft(spectrum * weights, n=samples, axis=-1)


def add_noise(audio: np.ndarray, sample_rate: int, snr_db: float,
              noise: Callable[[tuple[int, int], int, int], np.ndarray]) -> np.ndarray:
    """Add a clip's own seeded noise at a signal-to-noise ratio.

    Parameters
    ----------
    audio : numpy.ndarray
        float32 ``(channels, samples)``.
    sample_rate : int
        Sampling rate of the clip.
    snr_db : float
        Ratio of the clip's mean power (over all channels and samples) to the
        added noise's, in dB.
    noise : callable
        ``noise(shape, seed, sample_rate)``, e.g. :func:`white_noise` or
        :func:`pink_noise`; the seed is :func:`noise_seed` of the clip, so the
        noise is the same at every SNR, only scaled.

    Returns
    -------
    numpy.ndarray
        float32 ``audio + noise``, computed in float64; silent clips stay silent.
    """
    signal = audio.astype(np.float64)
    signal_power = float(np.mean(signal ** 2)) if signal.size else 0.0
    samples = noise(audio.shape, noise_seed(audio), sample_rate)
    noise_power = float(np.mean(samples ** 2)) if samples.size else 0.0
    if signal_power == 0.0 or noise_power == 0.0:
        return audio.copy()
    scale = np.sqrt(signal_power / noise_power / 10.0 ** (snr_db / 10.0))
    return (signal + scale * samples).astype(np.float32)


def _noise_white(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return add_noise(audio, sample_rate, value, white_noise)


def _noise_pink(audio: np.ndarray, sample_rate: int, value: float) -> np.ndarray:
    return add_noise(audio, sample_rate, value, pink_noise)


#: The effects by name: the published experiment's four (:data:`PAPER_EFFECTS`), then
#: effects beyond the paper.
EFFECTS: dict[str, Effect] = {
    effect.name: effect
    for effect in (
        Effect(
            name="bitcrush",
            grid=np.arange(4, 16),
            param_format="{:d}",
            apply_fn=_bitcrush,
            unit="bit depth (bits)",
            identity_value=16,
            board_fn=_bitcrush_board,
            batch_fn=_bitcrush,
        ),
        Effect(
            name="gain",
            grid=np.arange(-40.0, 5.01, 1.5),
            param_format="{:.1f}",
            apply_fn=_gain,
            unit="gain (dB)",
            identity_value=0.0,
            board_fn=_gain_board,
            batch_fn=_gain,
        ),
        Effect(
            name="lowpass_cheby",
            grid=np.round(np.geomspace(1600, 22000 / 1.2, num=31), 3),
            param_format="{:.3f}",
            apply_fn=_cheby_lowpass,
            unit="cutoff frequency (Hz)",
            identity_value=22500.0,
            batch_fn=_cheby_lowpass_batch,
        ),
        Effect(
            name="reverb",
            grid=np.linspace(0.01, 1, num=100)[::3],
            param_format="{:.2f}",
            apply_fn=_reverb,
            unit="room size",
            identity_value=0.0,
            board_fn=_reverb_board,
            batch_fn=_reverb_batch,
            chain_fn=ReverbChain,
        ),
        Effect(
            name="mp3",
            grid=np.arange(9, -1, -1),
            param_format="{:d}",
            apply_fn=_mp3,
            unit="MP3 VBR quality",
            identity_value=-1,
            identity_label="wav",
        ),
        Effect(
            name="gsm",
            grid=np.round(np.linspace(0.05, 1.0, num=20), 2),
            param_format="{:.2f}",
            apply_fn=_gsm,
            unit="GSM-coded fraction",
            identity_value=0.0,
        ),
        Effect(
            name="noise_white",
            grid=np.arange(40.0, -0.1, -2.5),
            param_format="{:.1f}",
            apply_fn=_noise_white,
            unit="white-noise SNR (dB)",
            identity_value=np.inf,
            identity_label="\N{INFINITY}",
        ),
        Effect(
            name="noise_pink",
            grid=np.arange(40.0, -0.1, -2.5),
            param_format="{:.1f}",
            apply_fn=_noise_pink,
            unit="pink-noise SNR (dB)",
            identity_value=np.inf,
            identity_label="\N{INFINITY}",
        ),
        Effect(
            name="pitch_shift",
            grid=np.concatenate([np.arange(-12, 0), np.arange(1, 13)]),
            param_format="{:d}",
            apply_fn=_pitch_shift,
            unit="pitch shift (semitones)",
            identity_value=0,
        ),
        Effect(
            name="compressor",
            grid=np.arange(-2.0, -60.1, -2.0),
            param_format="{:.1f}",
            apply_fn=_compressor,
            unit="compressor threshold (dB)",
            identity_value=0.0,
        ),
        Effect(
            name="highpass_cheby",
            grid=np.round(np.geomspace(20, 4000, num=31), 3),
            param_format="{:.3f}",
            apply_fn=_cheby_highpass,
            unit="cutoff frequency (Hz)",
            identity_value=0.0,
            batch_fn=_cheby_highpass_batch,
        ),
        Effect(
            name="clipping",
            grid=np.arange(-1.0, -30.1, -1.0),
            param_format="{:.1f}",
            apply_fn=_clipping,
            unit="clipping threshold (dB)",
            identity_value=0.0,
        ),
        Effect(
            name="resample",
            grid=np.round(np.geomspace(4000, 32000, num=25)).astype(int),
            param_format="{:d}",
            apply_fn=_resample,
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


def apply_streaming(effect: Effect, audio: np.ndarray, sample_rate: int, value: float,
                    chunk_seconds: float = 1.0) -> np.ndarray:
    """Apply an effect the way the published scripts did (reference implementation).

    Pedalboard effects stream the file through the board in chunks of
    ``chunk_seconds`` with ``reset=False``; the low-pass filters the whole
    excerpt at once with ``sosfilt``.
    """
    if effect.board_fn is None:
        return effect.apply(audio, sample_rate, value)
    board = effect.board_fn(value)
    chunk = int(chunk_seconds * sample_rate)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    pieces = [board(audio[:, start:start + chunk], sample_rate, reset=False)
              for start in range(0, audio.shape[1], chunk)]
    return np.concatenate(pieces, axis=1)

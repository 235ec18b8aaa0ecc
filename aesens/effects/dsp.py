"""Exact compiled kernels of the effects: pedalboard's reverb and scipy's ``sosfilt``.

The published effects process one clip at a time: pedalboard's ``Reverb``
(JUCE's Freeverb-style ``juce::Reverb``) and scipy's ``sosfilt`` run a
scalar recursion per channel. The kernels here run the *same* recursions,
with the same float32 / float64 operations in the same order, arranged so
that the compiler vectorises them. Their output equals pedalboard's and
scipy's bit for bit (tested against the installed libraries); they are only
faster.

- ``sosfilt`` runs over a batch of clips at once, vectorised across clips:
  the time axis goes in short blocks transposed to ``(samples, signals)``,
  so that every step of the recursion reads and writes contiguous vectors
  of all the batch's signals (faster than scipy from a few clips on).
- The reverb runs clip by clip (a chain: one clip after another through one
  state, as pedalboard with ``reset=False``), filter by filter over blocks
  of samples instead of sample by sample: its 16 comb and 8 all-pass
  filters only feed forward into one another, so each can run over a block
  on its own, in JUCE's order (faster than pedalboard for every clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

#: Samples per transposed block of ``sosfilt`` (fits the L1/L2 caches for a few dozen signals).
BLOCK = 64
#: Samples per block of the one-chain reverb kernel (at most the shortest comb filter).
CHAIN_BLOCK = 256

#: ``juce::Reverb`` delay lengths in samples at 44.1 kHz; the right channel adds the spread.
COMB_TUNINGS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
ALLPASS_TUNINGS = (556, 441, 341, 225)
STEREO_SPREAD = 23


@numba.njit(nogil=True, cache=True)
def _sosfilt_kernel(sos: np.ndarray, signals: np.ndarray, out: np.ndarray) -> None:
    # ``out`` may be ``signals``: each block is copied in before it is written.
    n_signals, n_samples = signals.shape
    n_sections = sos.shape[0]
    state = np.zeros((n_sections, 2, n_signals))
    block = np.empty((BLOCK, n_signals))
    for start in range(0, n_samples, BLOCK):
        stop = min(start + BLOCK, n_samples)
        for i in range(n_signals):
            for t in range(start, stop):
                block[t - start, i] = signals[i, t]
        for t in range(stop - start):
            row = block[t]
            for s in range(n_sections):
                b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
                a1, a2 = sos[s, 4], sos[s, 5]
                z0 = state[s, 0]
                z1 = state[s, 1]
                for i in range(n_signals):
                    x_cur = row[i]
                    x_new = b0 * x_cur + z0[i]
                    z0[i] = b1 * x_cur - a1 * x_new + z1[i]
                    z1[i] = b2 * x_cur - a2 * x_new
                    row[i] = x_new
        for i in range(n_signals):
            for t in range(start, stop):
                out[i, t] = block[t - start, i]


def sosfilt_float32(sos: np.ndarray, signals: np.ndarray,
                    out: np.ndarray | None = None) -> np.ndarray:
    """``scipy.signal.sosfilt(sos, signals, axis=-1).astype(float32)`` for many signals at once.

    Parameters
    ----------
    sos : numpy.ndarray
        ``(n_sections, 6)`` second-order sections with ``a0 = 1`` (as scipy's
        filter design returns them).
    signals : numpy.ndarray
        float32 ``(..., samples)``; every row is filtered independently from
        a zero state.
    out : numpy.ndarray, optional
        C-contiguous float32 array of the shape of ``signals`` to write into
        (``signals`` itself filters in place).

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``signals`` (``out`` when given). The
        recursion runs in float64 as scipy's does (float32 input, float64
        coefficients), in the same order of operations, so the result is
        identical.
    """
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    signals = np.ascontiguousarray(signals, dtype=np.float32)
    out = _output_array(signals, out)
    length = signals.shape[-1]
    _sosfilt_kernel(sos, signals.reshape(-1, length), out.reshape(-1, length))
    return out


def _output_array(inputs: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``out`` checked against ``inputs`` (C-contiguous float32, same shape), or a new array."""
    if out is None:
        return np.empty_like(inputs)
    if out.shape != inputs.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {inputs.shape}")
    return out


@numba.njit(nogil=True, cache=True)
def _comb_lowpass_8(rows: np.ndarray, first: int, lasts: np.ndarray, length: int,
                    damping: np.float32) -> None:
    # The low-pass recursion inside combs ``first..first + 7`` over ``length`` samples, the
    # eight side by side: ``rows[k, t]`` holds comb k's output at t times ``1 - damping``
    # and is replaced by the low-pass's value (juce::Reverb's CombFilter::process,
    # ``last = output * (1 - damp) + last * damp``). The ``(x + 0.1) - 0.1`` are
    # JUCE_UNDENORMALISE, which rounds the states: they must stay.
    tenth = np.float32(0.1)
    r0, r1, r2, r3 = (rows[first, :length], rows[first + 1, :length], rows[first + 2, :length],
                      rows[first + 3, :length])
    r4, r5, r6, r7 = (rows[first + 4, :length], rows[first + 5, :length],
                      rows[first + 6, :length], rows[first + 7, :length])
    l0, l1, l2, l3 = lasts[first], lasts[first + 1], lasts[first + 2], lasts[first + 3]
    l4, l5, l6, l7 = lasts[first + 4], lasts[first + 5], lasts[first + 6], lasts[first + 7]
    for t in range(length):
        l0 = ((r0[t] + l0 * damping) + tenth) - tenth
        l1 = ((r1[t] + l1 * damping) + tenth) - tenth
        l2 = ((r2[t] + l2 * damping) + tenth) - tenth
        l3 = ((r3[t] + l3 * damping) + tenth) - tenth
        l4 = ((r4[t] + l4 * damping) + tenth) - tenth
        l5 = ((r5[t] + l5 * damping) + tenth) - tenth
        l6 = ((r6[t] + l6 * damping) + tenth) - tenth
        l7 = ((r7[t] + l7 * damping) + tenth) - tenth
        r0[t] = l0
        r1[t] = l1
        r2[t] = l2
        r3[t] = l3
        r4[t] = l4
        r5[t] = l5
        r6[t] = l6
        r7[t] = l7
    lasts[first], lasts[first + 1], lasts[first + 2], lasts[first + 3] = l0, l1, l2, l3
    lasts[first + 4], lasts[first + 5], lasts[first + 6], lasts[first + 7] = l4, l5, l6, l7


@numba.njit(nogil=True, cache=True)
def _reverb_chain_kernel(clip: np.ndarray, comb_sizes: np.ndarray, allpass_sizes: np.ndarray,
                         parameters: np.ndarray, comb_buffers: np.ndarray,
                         comb_last: np.ndarray, comb_index: np.ndarray,
                         allpass_buffers: np.ndarray, allpass_index: np.ndarray,
                         out: np.ndarray) -> None:
    # juce::Reverb on one clip (one chain), filter by filter over blocks of CHAIN_BLOCK
    # samples instead of sample by sample: every filter runs the same recursion in the same
    # order, only the loops are exchanged. A block is no longer than the shortest comb, so
    # it reads only comb outputs written before it: they are copied out (and summed, comb
    # by comb as JUCE does) first, then the combs' low-pass recursions run over the block,
    # eight combs side by side (JUCE has eight per channel), their feedback is added, and
    # the block is written back. The all-passes follow one another in series, each over
    # the whole block. The buffers are the state's for one chain: (filters, longest) and
    # (filters,). Slices keep the inner loops free of index wrapping, so that they
    # vectorise. ``out`` may be ``clip``: each block is read before it is written.
    gain, damping, feedback, dry, wet1, wet2 = (parameters[0], parameters[1], parameters[2],
                                                parameters[3], parameters[4], parameters[5])
    n_channels, n_samples = clip.shape
    n_combs = comb_sizes.shape[1]
    n_allpasses = allpass_sizes.shape[1]
    n_lanes = n_channels * n_combs
    undamped = np.float32(1.0) - damping
    tenth = np.float32(0.1)
    half = np.float32(0.5)
    block = CHAIN_BLOCK
    for c in range(n_channels):
        for j in range(n_combs):
            block = min(block, comb_sizes[c, j])
    block = max(block, 1)
    mono = np.empty(block, np.float32)
    delayed = np.empty((n_lanes, block), np.float32)
    lasts = np.empty(n_lanes, np.float32)
    sums = np.zeros((n_channels, block), np.float32)
    for lane in range(n_lanes):
        lasts[lane] = comb_last[lane]
    for start in range(0, n_samples, block):
        length = min(block, n_samples - start)
        left = clip[0, start:start + length]
        right = clip[n_channels - 1, start:start + length]
        if n_channels == 2:
            for t in range(length):
                mono[t] = (left[t] + right[t]) * gain
        else:
            for t in range(length):
                mono[t] = left[t] * gain
        for c in range(n_channels):
            total = sums[c, :length]
            for t in range(length):
                total[t] = 0
            for j in range(n_combs):
                lane = c * n_combs + j
                size = comb_sizes[c, j]
                position = comb_index[lane]
                first = min(length, size - position)
                buffer = comb_buffers[lane]
                target = delayed[lane]
                source = buffer[position:position + first]
                head = total[:first]
                column = target[:first]
                for t in range(first):
                    head[t] += source[t]
                for t in range(first):
                    column[t] = source[t]
                source = buffer[:length - first]
                head = total[first:length]
                column = target[first:length]
                for t in range(length - first):
                    head[t] += source[t]
                for t in range(length - first):
                    column[t] = source[t]
        for lane in range(n_lanes):  # off the recursion's path: vectorised over time
            row = delayed[lane, :length]
            for t in range(length):
                row[t] *= undamped
        for group in range(0, n_lanes, 8):
            _comb_lowpass_8(delayed, group, lasts, length, damping)
        feed = mono[:length]
        for lane in range(n_lanes):  # what each comb stores: input + feedback, undenormalised
            row = delayed[lane, :length]
            for t in range(length):
                row[t] = ((feed[t] + row[t] * feedback) + tenth) - tenth
        for c in range(n_channels):
            for j in range(n_combs):
                lane = c * n_combs + j
                size = comb_sizes[c, j]
                position = comb_index[lane]
                first = min(length, size - position)
                buffer = comb_buffers[lane]
                target = buffer[position:position + first]
                column = delayed[lane, :first]
                for t in range(first):
                    target[t] = column[t]
                target = buffer[:length - first]
                column = delayed[lane, first:length]
                for t in range(length - first):
                    target[t] = column[t]
                position += length
                comb_index[lane] = position - size if position >= size else position
        for j in range(n_allpasses):
            for c in range(n_channels):
                k = c * n_allpasses + j
                size = allpass_sizes[c, j]
                position = allpass_index[k]
                buffer = allpass_buffers[k]
                done = 0
                while done < length:
                    count = min(length - done, size - position)
                    total = sums[c, done:done + count]
                    segment = buffer[position:position + count]
                    for t in range(count):
                        buffered = segment[t]
                        stored = total[t] + buffered * half
                        stored += tenth
                        stored -= tenth
                        segment[t] = stored
                        total[t] = buffered - total[t]
                    position += count
                    if position == size:
                        position = 0
                    done += count
                allpass_index[k] = position
        left_sum = sums[0, :length]
        right_sum = sums[n_channels - 1, :length]
        left_out = out[0, start:start + length]
        if n_channels == 2:
            right_out = out[1, start:start + length]
            for t in range(length):
                dry_left, dry_right = left[t], right[t]
                left_out[t] = left_sum[t] * wet1 + right_sum[t] * wet2 + dry_left * dry
                right_out[t] = right_sum[t] * wet1 + left_sum[t] * wet2 + dry_right * dry
        else:
            for t in range(length):
                left_out[t] = left_sum[t] * wet1 + left[t] * dry
    for lane in range(n_lanes):
        comb_last[lane] = lasts[lane]


def _delay_sizes(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """JUCE's comb and all-pass lengths at a rate: row 0 left (and mono), row 1 right."""
    combs = np.array(COMB_TUNINGS, dtype=np.int64)
    allpasses = np.array(ALLPASS_TUNINGS, dtype=np.int64)
    rate = int(sample_rate)
    comb_sizes = np.stack([rate * combs // 44100, rate * (combs + STEREO_SPREAD) // 44100])
    allpass_sizes = np.stack([rate * allpasses // 44100,
                              rate * (allpasses + STEREO_SPREAD) // 44100])
    return comb_sizes, allpass_sizes


@dataclass
class ReverbState:
    """The filter state of ``juce::Reverb`` for one or more independent signal chains.

    pedalboard keeps this state between calls with ``reset=False``; carrying
    it from one call of :func:`juce_reverb` to the next continues the same
    reverb. Clip ``i`` of a call continues chain ``i``.

    Attributes
    ----------
    sample_rate : int
        Rate the delay lengths were sized for.
    channels : int
        1 (mono) or 2 (stereo).
    comb_buffers, comb_last, comb_index : numpy.ndarray
        The comb filters' delay lines ``(chains, 2 * 8, longest)``, low-pass
        stores ``(chains, 2 * 8)`` and positions ``(chains, 2 * 8)`` (left,
        then right).
    allpass_buffers, allpass_index : numpy.ndarray
        The all-pass filters' delay lines ``(chains, 2 * 4, longest)`` and
        positions ``(chains, 2 * 4)``.
    """

    sample_rate: int
    channels: int
    comb_buffers: np.ndarray
    comb_last: np.ndarray
    comb_index: np.ndarray
    allpass_buffers: np.ndarray
    allpass_index: np.ndarray

    @classmethod
    def fresh(cls, sample_rate: int, channels: int, chains: int = 1) -> ReverbState:
        """The cleared state of a newly prepared reverb (all delay lines silent)."""
        if channels not in (1, 2):
            raise ValueError(f"juce::Reverb processes 1 or 2 channels, not {channels}")
        comb_sizes, allpass_sizes = _delay_sizes(sample_rate)
        n_combs, n_allpasses = 2 * comb_sizes.shape[1], 2 * allpass_sizes.shape[1]
        return cls(int(sample_rate), int(channels),
                   np.zeros((chains, n_combs, int(comb_sizes.max())), np.float32),
                   np.zeros((chains, n_combs), np.float32),
                   np.zeros((chains, n_combs), np.int64),
                   np.zeros((chains, n_allpasses, int(allpass_sizes.max())), np.float32),
                   np.zeros((chains, n_allpasses), np.int64))

    @property
    def chains(self) -> int:
        """Independent chains held."""
        return self.comb_last.shape[0]

    def copy(self) -> ReverbState:
        """An independent copy (the kernel updates the arrays in place)."""
        return ReverbState(self.sample_rate, self.channels, self.comb_buffers.copy(),
                           self.comb_last.copy(), self.comb_index.copy(),
                           self.allpass_buffers.copy(), self.allpass_index.copy())


def reverb_parameters(room_size: float, damping: float = 0.5, wet_level: float = 0.33,
                      dry_level: float = 0.4, width: float = 1.0) -> np.ndarray:
    """``juce::Reverb::setParameters`` and ``updateDamping`` in float32 (freeze off).

    Returns
    -------
    numpy.ndarray
        float32 input gain, damping, feedback, dry gain, wet gains 1 and 2.
    """
    f32 = np.float32
    wet = f32(wet_level) * f32(3.0)
    return np.array([
        f32(0.015),                                   # input gain
        f32(damping) * f32(0.4),                      # damping
        f32(room_size) * f32(0.28) + f32(0.7),        # feedback
        f32(dry_level) * f32(2.0),                    # dry gain
        f32(0.5) * wet * (f32(1.0) + f32(width)),     # wet gain 1
        f32(0.5) * wet * (f32(1.0) - f32(width)),     # wet gain 2
    ], dtype=np.float32)


def juce_reverb(clips: np.ndarray, sample_rate: int, room_size: float,
                state: ReverbState | None = None, out: np.ndarray | None = None,
                **parameters: float) -> np.ndarray:
    """pedalboard's ``Reverb`` on mono or stereo clips, each its own chain, bit for bit.

    Parameters
    ----------
    clips : numpy.ndarray
        float32 ``(clips, channels, samples)`` with 1 or 2 channels.
    sample_rate : int
        Sampling rate (the delay lengths scale with it, as in JUCE).
    room_size : float
        pedalboard's ``room_size``.
    state : ReverbState, optional
        The state each clip's chain starts from, updated in place to the
        state after the clips (as pedalboard's with ``reset=False``); by
        default every clip starts from silence, as a fresh ``Reverb``.
    out : numpy.ndarray, optional
        C-contiguous float32 array of the shape of ``clips`` to write into
        (``clips`` itself processes in place).
    **parameters : float
        ``damping``, ``wet_level``, ``dry_level``, ``width`` if not
        pedalboard's defaults.

    Returns
    -------
    numpy.ndarray
        float32 ``(clips, channels, samples)`` (``out`` when given).
    """
    if clips.ndim != 3 or clips.shape[1] not in (1, 2):
        raise ValueError(f"expected (clips, 1 or 2, samples) audio, got shape {clips.shape}")
    if state is None:
        state = ReverbState.fresh(sample_rate, clips.shape[1], len(clips))
    elif (state.sample_rate, state.channels, state.chains) != (int(sample_rate), clips.shape[1],
                                                               len(clips)):
        raise ValueError(f"state for {state.chains} chain(s) of {state.channels} channel(s) at "
                         f"{state.sample_rate} Hz does not fit clips {clips.shape} at "
                         f"{sample_rate} Hz")
    comb_sizes, allpass_sizes = _delay_sizes(sample_rate)
    clips = np.ascontiguousarray(clips, dtype=np.float32)
    out = _output_array(clips, out)
    coefficients = reverb_parameters(room_size, **parameters)
    for chain, clip in enumerate(clips):  # each chain's state, updated in place
        _reverb_chain_kernel(clip, comb_sizes, allpass_sizes, coefficients,
                             state.comb_buffers[chain], state.comb_last[chain],
                             state.comb_index[chain], state.allpass_buffers[chain],
                             state.allpass_index[chain], out[chain])
    return out

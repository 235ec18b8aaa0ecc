"""The ``out`` argument of :func:`aesens.effects.roundtrip.pcm16_roundtrip`: filled, or refused.

A non-contiguous ``out`` would be reshaped into a copy and silently stay
unwritten, so it must be refused, as must another dtype or shape.
"""

from __future__ import annotations

import numpy as np
import pytest

from aesens.effects.roundtrip import pcm16_roundtrip


@pytest.fixture
def audio() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1.2, 1.2, (2, 3, 50)).astype(np.float32)


def test_out_is_filled_with_the_round_trip(audio):
    out = np.full(audio.shape, np.nan, dtype=np.float32)
    assert pcm16_roundtrip(audio, out=out) is out
    # Independent of the kernel: int16 codes are multiples of 1/32768 within 1/32768 of the
    # clamped input.
    np.testing.assert_array_equal(out * 32768, np.round(out * 32768))
    np.testing.assert_allclose(out, np.clip(audio, -1, 32767 / 32768), rtol=0, atol=1 / 32768)


@pytest.mark.parametrize("make_out", [
    lambda shape: np.empty(shape, dtype=np.float32, order="F"),  # right dtype, not contiguous
    lambda shape: np.empty(shape[::-1], dtype=np.float32).T,  # transposed view
    lambda shape: np.empty(shape, dtype=np.float64),  # contiguous, other dtypes
    lambda shape: np.empty(shape, dtype=np.float16),
    lambda shape: np.empty(shape, dtype=np.int16),
    lambda shape: np.empty(shape[:-1] + (shape[-1] + 1,), dtype=np.float32),  # longer
    lambda shape: np.empty(shape[:-1] + (shape[-1] - 1,), dtype=np.float32),  # shorter
    lambda shape: np.empty(shape[-1:], dtype=np.float32),  # fewer axes
])
def test_an_out_that_cannot_be_written_in_place_is_refused(audio, make_out):
    out = make_out(audio.shape)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        pcm16_roundtrip(audio, out=out)

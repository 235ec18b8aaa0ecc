"""aesens: sensitivity of pre-trained audio embeddings to common audio effects.

A reproduction of the pipeline of Deng, Wang, Richard and McFee,
"Investigating the Sensitivity of Pre-trained Audio Embeddings to Common
Effects" (ICASSP 2025): extract embeddings of original and effected audio,
measure how they move with the effect strength, and test whether projecting
the effect directions out makes a downstream instrument classifier robust.
"""

__version__ = "0.1.0"

from aesens.jit_cache import use_writable_cache as _use_writable_cache

_use_writable_cache()

"""Conventions of the result files, as the published scripts wrote them.

``results/<effect>/result_<embedding>.csv`` names a desensitisation method
in its ``embedding`` column: the model name alone for no method
(``openl3``), else ``<model>-<method>`` (``openl3-lda``). The pickles under
``models/<effect>/`` key their entries by method key: ``""`` for no method,
``"-<method>"`` otherwise, with the SVD threshold appended for the SVD
method (``"-cca_samplewise_svd-0.3"``).
"""

from __future__ import annotations

#: Methods whose pickle key and ``embedding_params`` carry the SVD threshold.
THRESHOLD_METHODS = frozenset({"cca_samplewise_svd"})


def embedding_label(embedding: str, method: str) -> str:
    """The ``embedding`` column of a results row: ``openl3`` or ``openl3-lda``."""
    return f"{embedding}-{method}" if method else embedding


def method_of_label(embedding: str, label: str) -> str:
    """The method of an ``embedding`` column value (inverse of :func:`embedding_label`).

    Also reads the ``<model>-`` spelling of no method written by earlier
    versions of this tool; a label of another model is returned unchanged.
    """
    prefix = f"{embedding}-"
    if label == embedding:
        return ""
    return label[len(prefix):] if label.startswith(prefix) else label


def method_key(method: str, threshold: float) -> str:
    """The pickle key of a method: ``""``, ``"-lda"``, ``"-cca_samplewise_svd-0.3"``."""
    if not method:
        return ""
    if method in THRESHOLD_METHODS:
        return f"-{method}-{threshold:g}"
    return f"-{method}"

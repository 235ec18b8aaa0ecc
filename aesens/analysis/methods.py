"""The desensitisation methods: one record per method, every spelling of its name in one place.

A method goes from the command line (``desensitize_classif.py -m lda``)
through the pickles (key ``"-lda"``), the results CSV (``embedding`` column
``openl3-lda``) and :func:`aesens.classification.results.load_results`
(``method`` column ``lda``, ``cca_samplewise_svd:0.3`` with its threshold)
to the legends (``LDA``); :class:`Method` derives every one of these from
the published name. The directions themselves are computed by
:mod:`aesens.analysis.desensitize`, whose functions register under these names.

Adding a method: one line in :data:`METHODS` here, and its direction function in
:mod:`aesens.analysis.desensitize` decorated with ``@directions_of("<name>")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aesens.errors import AesensError

#: Normalised singular values at least this fraction of the largest count as a direction: the
#: default threshold of ``cca_samplewise_svd`` and of the direction counts of the reports.
SV_THRESHOLD = 0.3
#: Thresholds marked on singular-value plots and tabled in the summary.
SV_THRESHOLDS = (SV_THRESHOLD, 0.5)


@dataclass(frozen=True)
class Method:
    """One desensitisation method.

    Attributes
    ----------
    name : str
        The published name (``''`` for none): ``-m`` of ``desensitize_classif.py``.
    display : str
        Its name in legends and tables.
    uses_threshold : bool
        Whether its directions depend on the SVD threshold (which then enters its
        pickle key, ``embedding_params`` and :meth:`result_name`).
    """

    name: str
    display: str
    uses_threshold: bool = False

    def key(self, threshold: float | None = None) -> str:
        """The pickle key: ``""``, ``"-lda"``, ``"-cca_samplewise_svd-0.3"``.

        The threshold is written with ``str`` of the float, as published
        (``-cca_samplewise_svd-1.0``, ``-cca_samplewise_svd-1e-07``).
        """
        if not self.name:
            return ""
        if self.uses_threshold:
            return f"-{self.name}-{float(threshold)}"
        return f"-{self.name}"

    def label(self, embedding: str) -> str:
        """The ``embedding`` column of a results row: ``openl3`` or ``openl3-lda``."""
        return f"{embedding}-{self.name}" if self.name else embedding

    def params(self, threshold: float) -> str:
        """The ``embedding_params`` column: ``{"svd_thr": 0.3}`` or empty."""
        return json.dumps({"svd_thr": float(threshold)}) if self.uses_threshold else ""

    def result_name(self, threshold: float | None = None) -> str:
        """The ``method`` column of a loaded results table: ``lda``, ``cca_samplewise_svd:0.3``."""
        return self.name if threshold is None else f"{self.name}:{threshold:g}"


#: The methods by their published names, in the published order of ``-m`` (none first).
METHODS: dict[str, Method] = {method.name: method for method in (
    Method("", "none"),
    Method("lda", "LDA"),
    Method("avgdirproj", "avg. direction"),
    Method("pcaproj_nonnorm", "PCA"),
    Method("pcaproj_norm", "PCA (normalised)"),
    Method("cca", "global CCA"),
    Method("cca_samplewise_svd", "sample-wise CCA SVD", uses_threshold=True),
)}
#: The global CCA method, whose directions ``correlations.csv`` and the 3.1 figures use.
GLOBAL_CCA = METHODS["cca"]


def get_method(name: str) -> Method:
    """The method of a published name (``'none'`` is accepted for ``''``), else a one-line error."""
    name = "" if name == "none" else name
    if name not in METHODS:
        raise AesensError(f"unknown desensitisation method {name!r}; choose one of "
                          f"'' (none), {', '.join(known for known in METHODS if known)}")
    return METHODS[name]


def validate_threshold(threshold: float) -> float:
    """The SVD threshold as a float; any number, as the published ``-t`` took it.

    ``cca_samplewise_svd`` keeps the singular vectors whose singular value over the
    largest is at least the threshold: 0 or less keeps every one, more than 1 (or NaN)
    none (:func:`threshold_warning` says so).

    Raises
    ------
    AesensError
        If ``threshold`` is not a number.
    """
    try:
        return float(threshold)
    except (TypeError, ValueError):
        raise AesensError(f"threshold {threshold!r} is not a number") from None


def method_of_label(embedding: str, label: str) -> str:
    """The method name of an ``embedding`` column value (inverse of :meth:`Method.label`);
    a label of another model is returned unchanged."""
    if label == embedding:
        return ""
    prefix = f"{embedding}-"
    return label[len(prefix):] if label.startswith(prefix) else label


def result_name(key: str) -> str:
    """A method as :func:`aesens.classification.results.load_results` names it, from a
    result name (``'lda'``, ``'cca_samplewise_svd:0.3'``: unchanged) or a pickle key
    (``'-lda'``, ``'-cca_samplewise_svd-0.3'``; ``''`` is no method)."""
    name = key[1:] if key.startswith("-") else key
    for method in METHODS.values():
        if method.uses_threshold and name.startswith(f"{method.name}-"):
            return method.result_name(float(name[len(method.name) + 1:]))
    return name


def split_result_name(name: str) -> tuple[str, float | None]:
    """Method name and threshold of a result name: ``'cca_samplewise_svd:0.3'`` ->
    ``('cca_samplewise_svd', 0.3)``; ``'lda'`` -> ``('lda', None)``."""
    method, _, threshold = name.partition(":")
    return method, float(threshold) if threshold else None


def display_name(name: str) -> str:
    """Legend of a result name: ``'LDA'``, ``'sample-wise CCA SVD (t = 0.3)'``."""
    method, _, threshold = name.partition(":")
    known = METHODS.get(method)
    label = known.display if known else method
    return f"{label} (t = {threshold})" if threshold else label


def result_order(name: str) -> tuple[int, float]:
    """Sort key of result names: :data:`METHODS` order, thresholds increasing."""
    method, threshold = split_result_name(name)
    position = list(METHODS).index(method) if method in METHODS else len(METHODS)
    return position, threshold if threshold is not None else -1.0

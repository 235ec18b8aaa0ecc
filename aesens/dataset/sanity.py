"""Sanity check of an IRMAS-format dataset: how separable its classes are on mean MFCCs."""

from __future__ import annotations

import os

import numpy as np

from aesens.dataset import discover, load_audio, parse_stem
from aesens.errors import AesensError


def mfcc_nearest_centroid_accuracy(dataset_dir: str | os.PathLike,
                                   progress: bool = False) -> float:
    """Leave-one-recording-out nearest-centroid accuracy on mean MFCCs.

    Each file becomes the mean of 20 MFCCs (librosa, mono mix). Every source
    recording (class and group id) is held out in turn; features are
    standardised with the remaining files, which also give one centroid per
    class; the held-out files take the class of the nearest centroid. A
    realistic task lands well above chance and well below 100 %.

    Parameters
    ----------
    dataset_dir : path
        IRMAS-format folder.
    progress : bool
        Show a tqdm progress bar while extracting features.

    Returns
    -------
    float
        Fraction of files classified correctly.

    Raises
    ------
    AesensError
        If the folder is not an IRMAS-format dataset or a class has a single
        recording.
    """
    import librosa
    from tqdm import tqdm

    files = discover(dataset_dir)
    names = [parse_stem(path.stem) for path in files]
    labels = np.array([name.instrument for name in names])
    groups = np.array([f"{name.instrument}/{name.group}" for name in names])
    for code in np.unique(labels):
        if len(np.unique(groups[labels == code])) < 2:
            raise AesensError(f"class {code} has a single recording in {dataset_dir}; "
                              "leave-one-recording-out needs at least two")
    features = []
    for path in tqdm(files, unit="file", desc="MFCC", disable=not progress):
        audio, sample_rate = load_audio(path)
        mfcc = librosa.feature.mfcc(y=audio.mean(axis=0), sr=sample_rate, n_mfcc=20)
        features.append(mfcc.mean(axis=1))
    matrix = np.asarray(features)
    correct = 0
    for group in np.unique(groups):
        test = groups == group
        train = ~test
        mean, std = matrix[train].mean(axis=0), matrix[train].std(axis=0) + 1e-9
        standard = (matrix - mean) / std
        classes = np.unique(labels[train])
        centroids = np.stack([standard[train & (labels == code)].mean(axis=0)
                              for code in classes])
        distances = ((standard[test][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
        correct += int(np.sum(classes[distances.argmin(axis=1)] == labels[test]))
    return correct / len(files)

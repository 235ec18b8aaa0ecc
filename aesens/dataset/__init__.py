"""The IRMAS training-data layout: file names, discovery and audio loading.

IRMAS-TrainingData holds one folder per instrument with 3-s, 44.1-kHz,
stereo, 16-bit WAV excerpts named in one of two patterns::

    [cel][cla]0001__1               [instrument][genre]NNNN__K
    008__[cel][nod][cla]0058__1     PPP__[instrument][drums][genre]NNNN__K

``NNNN`` identifies the source recording (the "group"): excerpts of one
recording must never be split across train and test. ``K`` numbers the
excerpts cut from it. The drums tag is ``dru``, ``nod`` or ``---`` (unknown).

Run ``python -m aesens.dataset generate --help`` to render the offline
IRMAS-format dataset (see :mod:`aesens.dataset.generate`).
"""

from __future__ import annotations

import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from aesens.errors import AesensError

#: Instrument codes in IRMAS folder order, with the long names of the split CSV.
INSTRUMENTS: dict[str, str] = {
    "cel": "cello",
    "cla": "clarinet",
    "flu": "flute",
    "gac": "guitar_acc",
    "gel": "guitar_ele",
    "org": "organ",
    "pia": "piano",
    "sax": "saxophone",
    "tru": "trumpet",
    "vio": "violin",
    "voi": "voice",
}

#: Genre codes of the file names, with the long names of the split CSV.
GENRES: dict[str, str] = {
    "cla": "classical",
    "pop_roc": "pop_roc",
    "jaz_blu": "jazz_blue",
    "cou_fol": "country_folk",
    "lat_sou": "latin_soul",
}

#: Drums tags: with drums, no drums, unknown.
DRUMS_TAGS = ("dru", "nod", "---")

#: Environment variable naming the IRMAS-TrainingData folder.
DATASET_ENV = "AESENS_DATASET_DIR"
#: Option of the extraction scripts naming a list of dataset files to leave out.
SKIP_OPTION = "--skip-files"

_SIMPLE = re.compile(
    r"^\[(?P<instrument>[a-z]{3})\]\[(?P<genre>[a-z_]+)\](?P<group>\d{4})__(?P<excerpt>\d+)$"
)
_PREFIXED = re.compile(
    r"^(?P<prefix>\d+)__\[(?P<instrument>[a-z]{3})\]\[(?P<drums>dru|nod|---)\]"
    r"\[(?P<genre>[a-z_]+)\](?P<group>\d{4})__(?P<excerpt>\d+)$"
)


@dataclass(frozen=True)
class IrmasName:
    """The fields encoded in an IRMAS file stem.

    Attributes
    ----------
    stem : str
        The file name without folder and ``.wav``.
    instrument : str
        Instrument code, e.g. ``"cel"``.
    genre : str
        Genre code, e.g. ``"pop_roc"``.
    group : str
        The four digits identifying the source recording.
    excerpt : int
        Excerpt number ``K`` of ``__K``.
    drums : str or None
        ``"dru"``, ``"nod"`` or ``"---"`` for prefixed names, else ``None``.
    prefix : str or None
        The ``PPP`` number of prefixed names, else ``None``.
    """

    stem: str
    instrument: str
    genre: str
    group: str
    excerpt: int
    drums: str | None = None
    prefix: str | None = None

    @property
    def instrument_name(self) -> str:
        """Long instrument name used in the split CSV (e.g. ``"guitar_acc"``)."""
        return INSTRUMENTS[self.instrument]

    @property
    def genre_name(self) -> str:
        """Long genre name used in the split CSV (e.g. ``"jazz_blue"``)."""
        return GENRES[self.genre]


def parse_stem(stem: str) -> IrmasName:
    """Parse an IRMAS file stem (or file name) into its fields.

    Parameters
    ----------
    stem : str
        File stem such as ``"008__[cel][nod][cla]0058__1"``; a trailing
        ``.wav`` and leading folders are ignored.

    Returns
    -------
    IrmasName

    Raises
    ------
    AesensError
        If the name follows neither IRMAS pattern or uses an unknown
        instrument or genre code.
    """
    name = Path(stem).name
    if name.lower().endswith(".wav"):
        name = name[:-4]
    match = _SIMPLE.match(name) or _PREFIXED.match(name)
    if match is None:
        raise AesensError(
            f"{stem!r} is not an IRMAS file name: expected '[ins][genre]NNNN__K' or "
            "'PPP__[ins][dru|nod][genre]NNNN__K'; rename or remove it"
        )
    fields = match.groupdict()
    if fields["instrument"] not in INSTRUMENTS:
        raise AesensError(f"{stem!r}: unknown instrument code {fields['instrument']!r}; "
                          f"expected one of {', '.join(INSTRUMENTS)}")
    if fields["genre"] not in GENRES:
        raise AesensError(f"{stem!r}: unknown genre code {fields['genre']!r}; "
                          f"expected one of {', '.join(GENRES)}")
    return IrmasName(
        stem=name,
        instrument=fields["instrument"],
        genre=fields["genre"],
        group=fields["group"],
        excerpt=int(fields["excerpt"]),
        drums=fields.get("drums"),
        prefix=fields.get("prefix"),
    )


#: The dataset folder under a base folder, as the published scripts laid it out.
DATASET_SUBDIR = Path("datasets") / "IRMAS-TrainingData"


@dataclass(frozen=True)
class DatasetLocation:
    """Where the dataset lies, and the base folder the effect-only WAVs go under.

    Attributes
    ----------
    dataset_dir : Path
        The IRMAS-TrainingData folder.
    basedir : Path
        The folder holding ``datasets/``: the published scripts kept the
        effect-only WAVs under ``<basedir>/datasets/audio-embeddings/``.
    note : str or None
        A line saying that the published layout was found one folder up, else ``None``.
    """

    dataset_dir: Path
    basedir: Path
    note: str | None = None


def locate_dataset(dataset_dir: str | os.PathLike | None = None,
                   basedir: str | os.PathLike | None = None) -> DatasetLocation:
    """Find the IRMAS-TrainingData folder and the base folder beside it.

    Order: ``dataset_dir`` if given, else the ``AESENS_DATASET_DIR``
    environment variable, else ``<basedir>/datasets/IRMAS-TrainingData``.
    Without ``basedir`` that is ``./datasets/IRMAS-TrainingData``; when that
    folder is absent and ``../datasets/IRMAS-TrainingData`` exists, the
    published layout (scripts run from the code folder, the data one folder
    up, ``basedir`` = the parent of the code folder) is taken: the base
    folder becomes ``..`` and :attr:`DatasetLocation.note` says so. An
    explicit ``basedir`` or dataset folder is never second-guessed.

    Parameters
    ----------
    dataset_dir : path, optional
        The dataset folder (``--dataset-dir``).
    basedir : path, optional
        The folder holding ``datasets/`` (``--basedir``); default the
        working directory, or its parent in the published layout.
    """
    base = Path(basedir) if basedir is not None else Path(".")
    if dataset_dir is not None:
        return DatasetLocation(Path(dataset_dir), base)
    if os.environ.get(DATASET_ENV):
        return DatasetLocation(Path(os.environ[DATASET_ENV]), base)
    here = base / DATASET_SUBDIR
    above = Path("..") / DATASET_SUBDIR
    if basedir is None and not here.is_dir() and above.is_dir():
        return DatasetLocation(above, Path(".."), note=(
            f"{here} is absent: using {above} (the published layout, data one folder above "
            "the code; pass --basedir or --dataset-dir to choose)"))
    return DatasetLocation(here, base)


def discover(dataset_dir: str | os.PathLike) -> list[Path]:
    """List the WAV files of an IRMAS-format folder, sorted by instrument then stem.

    Parameters
    ----------
    dataset_dir : path
        Folder with one sub-folder per instrument code.

    Returns
    -------
    list of Path
        Every regular file ``<instrument>/*.wav`` (``.WAV`` too), in a
        deterministic order; FIFOs, devices and folders named so are left out.

    Raises
    ------
    AesensError
        If the folder is missing, holds no instrument folder or no WAV file,
        a WAV file's name does not parse, or two names differ only in case or
        extension (``x.wav``, ``x.WAV``, ``x.wav.wav``: one key of the
        embeddings files).
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise AesensError(
            f"dataset folder {root} does not exist; pass --dataset-dir, set {DATASET_ENV}, "
            "or generate one with 'python -m aesens.dataset generate --out DIR'"
        )
    files: list[Path] = []
    for code in INSTRUMENTS:
        folder = root / code
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir()
                                if p.suffix.lower() == ".wav" and not p.name.startswith(".")
                                and _is_regular_file(p)))
    if not files:
        raise AesensError(
            f"no WAV files in {root}/<instrument>/ (expected folders {', '.join(INSTRUMENTS)}); "
            "point --dataset-dir at IRMAS-TrainingData"
        )
    seen: dict[str, Path] = {}
    for path in files:
        name = parse_stem(path.stem)
        if name.instrument != path.parent.name:
            raise AesensError(f"{path}: instrument tag [{name.instrument}] does not match its "
                              f"folder {path.parent.name}/; move the file")
        other = seen.setdefault(name.stem.casefold(), path)
        if other != path:
            raise AesensError(f"{other} and {path} are two files of one name (they differ "
                              "only in case or extension) and would be stored as one example; "
                              "rename or remove one of them")
    return files


def _is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (a link to one too): never a FIFO, device or folder,
    whose opening may block or fail."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


_SCRATCH = threading.local()


def _int16_scratch(frames: int, channels: int) -> np.ndarray:
    """This thread's reusable ``(frames, channels)`` int16 read buffer (no fresh pages per file)."""
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size < frames * channels:
        buffer = _SCRATCH.buffer = np.empty(frames * channels, dtype=np.int16)
    return buffer[:frames * channels].reshape(frames, channels)


#: How a reader turns 16-bit samples into floats: libsndfile (soundfile, librosa,
#: torchaudio) divides by 32768; pedalboard's ``AudioFile`` multiplies by the float32
#: ``1 / 32767``, so that 32767 reads as 1.0 and -32768 as -1.0000305.
PCM16_SCALES = {"soundfile": np.float32(2.0 ** -15), "pedalboard": np.float32(1.0 / 32767.0)}


def load_audio(path: str | os.PathLike, out: np.ndarray | None = None,
               reader: str = "soundfile") -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 ``(channels, samples)`` at its native rate.

    Mono files give one channel; any sample rate and bit depth that
    libsndfile reads are accepted (each model resamples for itself). 16-bit
    files (IRMAS) are read as integers and scaled here exactly as the chosen
    reader converts them, without its interleaved float copy.

    Parameters
    ----------
    path : path
        The WAV file.
    out : numpy.ndarray, optional
        float32 ``(channels, samples)`` array to read into when the file has
        exactly that shape (as when reading a batch into one stacked array);
        otherwise a new array is returned.
    reader : {"soundfile", "pedalboard"}
        Whose float conversion to reproduce (:data:`PCM16_SCALES`):
        libsndfile's, as the models read files, or pedalboard's
        ``AudioFile``, as the published 2A.2 read the files it effected.
        Files other than 16-bit PCM are read by that library itself.

    Returns
    -------
    (numpy.ndarray, int)
        The audio (``out`` itself when it was used) and its sample rate.

    Raises
    ------
    AesensError
        If the file is not a regular file (a FIFO), is truncated (its header
        promises more frames than it holds), cannot be decoded, holds no
        samples, or holds NaN or infinite samples (possible in float WAV
        files).
    """
    if reader not in PCM16_SCALES:
        raise ValueError(f"unknown reader {reader!r}; choose one of {', '.join(PCM16_SCALES)}")
    _check_regular(path)
    try:
        with sf.SoundFile(os.fsencode(path)) as audio_file:
            sample_rate, frames = audio_file.samplerate, audio_file.frames
            channels, pcm16 = audio_file.channels, audio_file.subtype == "PCM_16"
            _check_not_truncated(path, audio_file)
            if pcm16:
                data = audio_file.read(dtype="int16", always_2d=True,
                                       out=_int16_scratch(frames, channels))
            elif reader == "soundfile":
                data = audio_file.read(dtype="float32", always_2d=True)
        if not pcm16 and reader == "pedalboard":
            from pedalboard.io import AudioFile

            with open(path, "rb") as handle, AudioFile(handle) as audio_file:
                data = audio_file.read(audio_file.frames).T
    except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as error:
        raise AesensError(f"{path}: cannot read audio ({str(error).splitlines()[0]}); "
                          "replace the file or remove it from the dataset") from None
    if data.shape[0] == 0:
        raise AesensError(f"{path}: the file holds no samples; replace it or remove it")
    shape = (data.shape[1], data.shape[0])
    if out is None or out.shape != shape or out.dtype != np.float32:
        out = np.empty(shape, dtype=np.float32)
    for channel, samples in enumerate(data.T):
        if pcm16:
            np.multiply(samples, PCM16_SCALES[reader], out=out[channel])
        else:
            out[channel] = samples
    if not pcm16 and not np.isfinite(out).all():
        bad = int(np.count_nonzero(~np.isfinite(out)))
        raise AesensError(f"{path}: {bad} sample(s) are NaN or infinite; fix the file, or "
                          f"leave it out with {SKIP_OPTION} LIST.txt (one file name per line; "
                          "the skip is recorded in the embeddings' attributes)")
    return out, int(sample_rate)


def _check_regular(path: str | os.PathLike) -> None:
    """Refuse a path that is not a regular file (a FIFO would block its reader for good)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the reader's own error says what is wrong
    if not stat.S_ISREG(mode):
        raise AesensError(f"{path}: not a regular file (a FIFO, device or folder); replace it "
                          "with the audio file or remove it from the dataset")


#: libsndfile's log line of a WAV data chunk longer than the file: ``data : <header> (should
#: be <present>)``.
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_BLOCK_ALIGN = re.compile(r"^\s*Block Align\s*:\s*(\d+)", re.MULTILINE)
#: Data sizes of a header written before its length was known (a stream): no promise.
_STREAMED_SIZES = (0, 0xFFFFFFFF)


def _check_not_truncated(path: str | os.PathLike, audio_file: sf.SoundFile) -> None:
    """Refuse a file whose header promises more frames than it holds (cut short, or still
    being copied), as libsndfile's log of the open reports it.

    Raises
    ------
    AesensError
        Naming the file, both frame counts and :data:`SKIP_OPTION`.
    """
    log = audio_file.extra_info
    short = _SHORT_DATA.search(log)
    if short is None:
        return
    promised, present = int(short.group(1)), int(short.group(2))
    align = _BLOCK_ALIGN.search(log)
    frame_bytes = max(1, int(align.group(1))) if align else 1
    if promised in _STREAMED_SIZES or promised // frame_bytes <= present // frame_bytes:
        return
    raise AesensError(f"{path}: the file is truncated (its header promises "
                      f"{promised // frame_bytes} frames, it holds {present // frame_bytes}: "
                      "cut short, or still being copied); copy it again, or leave it out with "
                      f"{SKIP_OPTION} LIST.txt (one file name per line)")


def read_skip_list(list_path: str | os.PathLike, files: list[Path]) -> tuple[list[Path], list[str]]:
    """Leave the files named in a skip list out of the dataset.

    Parameters
    ----------
    list_path : path
        Text file with one dataset file per line: its stem, its name
        (``.wav``) or its path; blank lines and lines starting with ``#``
        are ignored.
    files : list of Path
        The dataset's files (see :func:`discover`).

    Returns
    -------
    (list of Path, list of str)
        The files kept, in their order, and the sorted stems left out.

    Raises
    ------
    AesensError
        If the list cannot be read or names a file that is not in the dataset.
    """
    try:
        lines = Path(list_path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise AesensError(f"{list_path}: cannot read the skip list ({reason}); give a text "
                          "file with one file name per line") from None
    wanted = set()
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            name = Path(entry).name
            wanted.add(name[:-4] if name.lower().endswith(".wav") else name)
    stems = {path.stem for path in files}
    unknown = sorted(wanted - stems)
    if unknown:
        raise AesensError(f"{list_path}: {len(unknown)} name(s) are not in the dataset (first: "
                          f"{unknown[0]!r}); correct or remove them")
    return [path for path in files if path.stem not in wanted], sorted(wanted)


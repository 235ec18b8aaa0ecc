"""Where numba caches the compiled kernels: a writable folder, whatever the install.

The kernels of :mod:`aesens.effects.dsp` and :mod:`aesens.effects.roundtrip` are compiled
with ``cache=True``. numba writes its cache beside the source
(``aesens/__pycache__``) or in the user's cache folder, and fails at import
("cannot cache function") when neither can be written: a read-only install
(a system package, a container image) run with an unwritable ``HOME``.
:func:`use_writable_cache` then points ``NUMBA_CACHE_DIR`` at a private
folder of the temporary directory, silently; a ``NUMBA_CACHE_DIR`` the user
set is kept.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

#: numba's setting of the cache folder (an environment variable and ``numba.config.CACHE_DIR``).
CACHE_ENV = "NUMBA_CACHE_DIR"


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (created if needed): a real write, which
    read-only mounts refuse even to root."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _user_cache() -> Path:
    """numba's user-wide cache folder on Linux and macOS (``$XDG_CACHE_HOME/numba``)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "numba"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"


def _private_temporary() -> Path:
    """A folder of the temporary directory that only this user can write (reused by runs)."""
    folder = Path(tempfile.gettempdir()) / f"aesens-numba-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() \
                and not info.st_mode & 0o022:
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="aesens-numba-"))


def use_writable_cache(package: Path = Path(__file__).parent) -> Path | None:
    """Point numba's cache at a private temporary folder when its own places are unwritable.

    Parameters
    ----------
    package : Path
        The folder of the modules whose kernels are cached.

    Returns
    -------
    Path or None
        The folder chosen, or ``None`` when numba's own places (or the
        user's ``NUMBA_CACHE_DIR``) are used.
    """
    if os.environ.get(CACHE_ENV):
        return None
    try:
        user_cache = _user_cache()
    except (KeyError, RuntimeError):  # no home folder
        user_cache = None
    if _writable(package / "__pycache__") or (user_cache is not None
                                               and _writable(user_cache)):
        return None
    try:
        folder = _private_temporary()
    except OSError:
        return None  # nowhere to write: numba says so itself
    os.environ[CACHE_ENV] = str(folder)
    numba = sys.modules.get("numba")
    if numba is not None:  # imported before aesens: its configuration is already read
        numba.config.CACHE_DIR = str(folder)
    return folder

"""The one place where optional libraries are imported around their packaging problems.

``torchaudio`` has no build matching the pinned ``torch==2.13.0``, yet some
model libraries import it at top level although the code paths used here
never call it (torchcrepe only uses it in its file loader; the aesens
loaders hand the libraries arrays, not files). :func:`stub_torchaudio`
installs an empty placeholder module in :data:`sys.modules` when the real
one is absent or broken, so that such imports succeed; calling anything on
the placeholder raises an informative error.

Other libraries do too much in their package ``__init__``: importing
``panns_inference`` downloads a labels file into HOME, importing ``msclap``
imports torchaudio, transformers and huggingface_hub. The loaders only need
the model-definition files inside these packages: :func:`import_submodule`
imports such a file without running the package's ``__init__``, and
:func:`stub_modules` lets placeholders stand, during that import only, for
modules the needed code never uses.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator


class _MissingTorchaudio(types.ModuleType):
    """Placeholder for torchaudio whose attributes explain why it is missing."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"torchaudio.{name} is unavailable: aesens passes audio arrays to the models "
            "and does not use torchaudio; install a torchaudio build matching your torch "
            "to use this function"
        )


def stub_torchaudio() -> None:
    """Make ``import torchaudio`` succeed, with the real module when it loads."""
    if "torchaudio" in sys.modules:
        return
    try:
        importlib.import_module("torchaudio")
    except (ImportError, OSError):
        sys.modules.pop("torchaudio", None)
        sys.modules["torchaudio"] = _MissingTorchaudio("torchaudio")


class _Placeholder:
    """Stands for a name of a stubbed module: attributes resolve, calling it raises."""

    def __init__(self, qualname: str) -> None:
        self._qualname = qualname

    def __getattr__(self, name: str) -> _Placeholder:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(f"{self._qualname}.{name}")

    def __call__(self, *args: object, **kwargs: object):
        raise ImportError(f"{self._qualname} is a placeholder: aesens loads only the parts of "
                          "this library that do not need it")

    def __repr__(self) -> str:
        return f"<placeholder {self._qualname}>"


class _PlaceholderModule(types.ModuleType):
    """A module whose every attribute is a :class:`_Placeholder`."""

    def __getattr__(self, name: str) -> _Placeholder:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(f"{self.__name__}.{name}")


#: Module types of the placeholders that :func:`stub_modules` may hang stubbed children on.
_PLACEHOLDERS = (_PlaceholderModule, _MissingTorchaudio)


@contextlib.contextmanager
def stub_modules(*names: str) -> Iterator[None]:
    """Let placeholder modules stand for ``names`` while the block runs.

    Names already imported keep their module (real, or the placeholder of
    :func:`stub_torchaudio`). The placeholders are removed from
    :data:`sys.modules` afterwards; code imported meanwhile
    keeps references to them, which fail only when called. Use this only for
    imports that the code paths aesens runs never call.

    Parameters
    ----------
    *names : str
        Dotted module names, parents before children (``"matplotlib"``,
        ``"matplotlib.pyplot"``).
    """
    added: list[str] = []
    for name in names:
        if name in sys.modules:
            continue
        module = _PlaceholderModule(name)
        module.__path__ = []
        sys.modules[name] = module
        added.append(name)
        parent, _, child = name.rpartition(".")
        if isinstance(sys.modules.get(parent), _PLACEHOLDERS):  # for "import parent.child as x"
            setattr(sys.modules[parent], child, module)
    try:
        yield
    finally:
        for name in reversed(added):
            sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            if isinstance(sys.modules.get(parent), _PLACEHOLDERS):
                vars(sys.modules[parent]).pop(child, None)


def import_submodule(package: str, module: str) -> types.ModuleType:
    """Import ``package.module`` from the installed files without running ``package/__init__``.

    The files are imported under the private name ``_aesens_<package>``, so
    relative imports among them work and the real package name stays free
    for a normal ``import package``. Sub-packages on the way (``models`` in
    ``module="models.clap"``) do run their own ``__init__``.

    Parameters
    ----------
    package : str
        Top-level installed package, e.g. ``"panns_inference"``.
    module : str
        Dotted module path inside it, e.g. ``"models"``.

    Raises
    ------
    ModuleNotFoundError
        If ``package`` is not installed.
    """
    alias = f"_aesens_{package}"
    if alias not in sys.modules:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"No module named {package!r}", name=package)
        root = types.ModuleType(alias, f"files of {package}, imported without its __init__")
        root.__path__ = list(spec.submodule_search_locations)
        root.__package__ = alias
        sys.modules[alias] = root
    return importlib.import_module(f"{alias}.{module}")

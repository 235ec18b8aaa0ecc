"""The argument parsers of the ``python -m aesens.<command>`` commands, light to import.

Each parser is built from argparse and :mod:`aesens.cli.types` alone, so that
``--help`` and usage errors answer before the command imports its stage
(numpy, pandas, matplotlib, scikit-learn). Descriptions are the stage
module's docstring, read from its source without importing it, in plain
text (:func:`plain`).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from pathlib import Path

from aesens.analysis import DEFAULT_UMAP_FILES
from aesens.cli.types import effect_names, embedding_names, name_list, non_negative_int

#: Figure formats written by default (``--format`` of ``python -m aesens.figures``).
DEFAULT_FORMATS = ("pdf", "png")

_ROLE = re.compile(r":(?:func|mod|class|meth|data|attr|obj|exc):`~?([^`]+)`")


def plain(text: str | None) -> str:
    """Docstring text without reStructuredText markup: ``:func:`~a.b``` -> ``b``,
    ``:mod:`a.b``` -> ``a.b``, double back-quotes dropped."""
    def role(match: re.Match) -> str:
        target = match.group(1)
        return target.rsplit(".", 1)[-1] if match.group(0).count("~") else target

    text = _ROLE.sub(role, text or "")
    return text.replace("``", "")


def description_of(module: str) -> str:
    """The plain-text docstring of a module of the package, read without importing it."""
    origin = importlib.util.find_spec(module).origin
    return plain(ast.get_docstring(ast.parse(Path(origin).read_text())))


def parser_for(command: str, module: str) -> argparse.ArgumentParser:
    """An empty parser of ``python -m aesens.<command>`` described by ``module``'s docstring."""
    return argparse.ArgumentParser(prog=f"python -m aesens.{command}",
                                   description=description_of(module),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def figure_formats(value: str) -> list[str]:
    """Argument type: comma-separated figure formats matplotlib can write."""
    from matplotlib.backend_bases import FigureCanvasBase

    names = [name.lower().lstrip(".") for name in name_list(value)]
    supported = FigureCanvasBase.get_supported_filetypes()
    unknown = [name for name in names if name not in supported]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown figure format {', '.join(unknown)}; choose "
                                         f"from {', '.join(sorted(supported))}")
    return names


def figures_parser() -> argparse.ArgumentParser:
    """``python -m aesens.figures``: every figure, the correlation tables and the summary."""
    parser = parser_for("figures", "aesens.reporting.figures")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder with grouped/ and averaged/ (default: embeddings)")
    parser.add_argument("--results-dir", default="results",
                        help="classification results in, tables and summary out "
                             "(default: results)")
    parser.add_argument("--plots-dir", default="plots", help="figures out (default: plots)")
    parser.add_argument("--models-dir", default=None,
                        help="classification pickles <effect>/deformdir_<embedding>.pkl whose "
                             "global CCA directions are used (default: models beside the "
                             "embeddings folder; computed where missing)")
    parser.add_argument("--embeddings", type=embedding_names, default=None,
                        help="comma-separated embeddings (default: all present)")
    parser.add_argument("--effects", type=effect_names, default=None,
                        help="comma-separated effects (default: all present)")
    parser.add_argument("--format", type=figure_formats, default=list(DEFAULT_FORMATS),
                        help="comma-separated figure formats (default: pdf,png)")
    parser.add_argument("--umap-files", type=non_negative_int, default=DEFAULT_UMAP_FILES,
                        help=f"files per UMAP panel, 0 for none (default: {DEFAULT_UMAP_FILES})")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="UMAP file draw and layout seed, 0 or more (default: 0)")
    parser.add_argument("--timings", default=None, metavar="CSV",
                        help="also write the wall time of the statistics beyond the paper (shift "
                             "curves, held-out R², probe, layer profiles) to this CSV")
    return parser


def report_parser() -> argparse.ArgumentParser:
    """``python -m aesens.report``: the summary report."""
    parser = parser_for("report", "aesens.reporting.report")
    parser.add_argument("--results-dir", default="results", help="default: results")
    parser.add_argument("--plots-dir", default="plots", help="default: plots")
    parser.add_argument("--embeddings-dir", default=None,
                        help="folder of averaged/, for the embedding dimensions (default: "
                             "embeddings beside the results folder)")
    return parser


def scorecard_parser() -> argparse.ArgumentParser:
    """``python -m aesens.scorecard``: the scorecard (CSV, Markdown, HTML and heat map)."""
    parser = parser_for("scorecard", "aesens.reporting.scorecard")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder with grouped/ and averaged/ (default: embeddings)")
    parser.add_argument("--results-dir", default="results",
                        help="classification results result_<embedding>.csv per effect "
                             "(default: results)")
    parser.add_argument("--out", default=None,
                        help="folder of the scorecard files (default: the results folder)")
    parser.add_argument("--plots-dir", default=None,
                        help="figures linked from the scorecard (default: plots beside the "
                             "embeddings folder)")
    parser.add_argument("--models-dir", default=None,
                        help="classification pickles whose global CCA directions are used "
                             "(default: models beside the embeddings folder)")
    parser.add_argument("--embeddings", type=embedding_names, default=None,
                        help="comma-separated embeddings (default: all present)")
    parser.add_argument("--effects", type=effect_names, default=None,
                        help="comma-separated effects (default: all present)")
    return parser

"""One self-contained HTML report of a pipeline run: ``results/report.html``.

``python -m aesens.html_report`` (the demo's last stage) gathers in one page,
every figure embedded as a PNG data URI and no external resource:

- the summary report (``results/summary.md``: "What to notice", the
  sensitivity and classification tables), without its list of figure links;
- the scorecard (``results/scorecard.md``) with its heat map;
- the shift curves and the held-out sample-wise R² histograms;
- the figures of the whole run (UMAP trajectories, global correlations,
  sample-wise R² histograms, singular values);
- the layer profiles of Hugging Face encoders extracted at several layers
  (:mod:`aesens.reporting.layer_profiles`), or how to make them;
- one section per embedding x effect: its shift table, its published and
  held-out sample-wise R², its probe scores, and its own figures (singular
  values per instrument, ROC AUC curves);

with a table of contents and an embedding x effect grid of links. Missing
inputs are skipped (the page says so).
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from aesens.analysis import heldout, probe, shift
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli
from aesens.reporting import layer_profiles
from aesens.safe_files import atomic_file

PathLike = str | os.PathLike
#: Figures of the whole run, in the order shown (stems; those missing are skipped).
OVERVIEW_FIGURES = ("shift_curves", "samplewise_r2_heldout_histograms",
                    "samplewise_r2_histograms", "umap_trajectories", "singular_values")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222;
       line-height: 1.45; }
nav { position: fixed; top: 0; left: 0; bottom: 0; width: 15em; overflow-y: auto;
      background: #f4f4f4; padding: 1em; font-size: 0.85em; border-right: 1px solid #ddd; }
nav ul { padding-left: 1.1em; margin: 0.3em 0; }
main { margin-left: 17em; padding: 1em 2em; max-width: 1300px; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.82em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.45em; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
.scroll { overflow-x: auto; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85em; }
.grid td { text-align: center; }
.note { color: #a04000; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
"""


# --------------------------------------------------------------------------- Markdown


def _inline(text: str, base: Path | None) -> str:
    """Escape a line of Markdown and render its code spans, bold, images and links."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)

    def image(match: re.Match) -> str:
        alt, src = match.group(1), html.unescape(match.group(2))
        path = (base / src) if base is not None else None
        if path is not None and path.suffix.lower() == ".png" and path.exists():
            return _img(path, alt)
        return html.escape(alt)

    out = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", image, out)
    out = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)
    return re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", out)


def markdown_to_html(text: str, base: Path | None = None, level_offset: int = 1) -> str:
    """Render the Markdown the reports write: headings, lists (numbered too), tables, paragraphs.

    ``base``: folder of the Markdown file, where its PNG images are read and
    embedded; ``level_offset`` is added to every heading level.
    """
    blocks: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif heading := re.match(r"(#+)\s+(.*)", line):
            level = min(len(heading.group(1)) + level_offset, 6)
            blocks.append(f"<h{level}>{_inline(heading.group(2), base)}</h{level}>")
            index += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                cells = [cell.strip() for cell in lines[index].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                    rows.append(cells)
                index += 1
            head = "".join(f"<th>{_inline(cell, base)}</th>" for cell in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_inline(cell, base)}</td>" for cell in row)
                           + "</tr>" for row in rows[1:])
            blocks.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                          f"<tbody>{body}</tbody></table></div>")
        elif re.match(r"\s*\d+\.\s+", line):
            items = []
            while index < len(lines) and re.match(r"\s*\d+\.\s+", lines[index]):
                items.append(re.sub(r"^\s*\d+\.\s+", "", lines[index]))
                index += 1
            blocks.append("<ol>" + "".join(f"<li>{_inline(item, base)}</li>" for item in items)
                          + "</ol>")
        elif re.match(r"\s*[-*]\s+", line):
            items = []
            while index < len(lines) and (re.match(r"\s*[-*]\s+", lines[index])
                                          or (lines[index].startswith("  ")
                                              and lines[index].strip())):
                if re.match(r"\s*[-*]\s+", lines[index]):
                    items.append(re.sub(r"^\s*[-*]\s+", "", lines[index]))
                else:
                    items[-1] += " " + lines[index].strip()
                index += 1
            blocks.append("<ul>" + "".join(f"<li>{_inline(item, base)}</li>" for item in items)
                          + "</ul>")
        else:
            paragraph = []
            while index < len(lines) and lines[index].strip() and not re.match(
                    r"(#+\s|\s*\||\s*[-*]\s+|\s*\d+\.\s+)", lines[index]):
                paragraph.append(lines[index].strip())
                index += 1
            blocks.append(f"<p>{_inline(' '.join(paragraph), base)}</p>")
    return "\n".join(blocks)


def drop_section(text: str, title: str) -> str:
    """Markdown without the ``## <title>`` section (up to the next heading of level 2 or less)."""
    return re.sub(rf"(?ms)^##\s+{re.escape(title)}\s*$.*?(?=^#{{1,2}}\s|\Z)", "", text)


# --------------------------------------------------------------------------- pieces


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def figure(path: Path, caption: str = "") -> str:
    """A ``<figure>`` with the PNG embedded."""
    return (f"<figure>{_img(path, caption or path.stem)}"
            f"<figcaption>{html.escape(caption or path.stem)}</figcaption></figure>")


def table_html(table: pd.DataFrame, digits: int = 4) -> str:
    """A plain HTML table of a data frame (floats to ``digits`` significant digits)."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "—" if pd.isna(value) else f"{value:.{digits}g}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}'
            "</tbody></table></div>")


def find_pairs(results_dir: Path, plots_dir: Path) -> list[tuple[str, str]]:
    """Embedding x effect pairs with a shift table or a results CSV, effects in registry order."""
    pairs = set()
    for effect in EFFECTS:
        folder = results_dir / effect
        if folder.is_dir():
            for path in folder.glob("*.csv"):
                match = re.fullmatch(r"(?:shift|result)_(.+)\.csv", path.name)
                if match:
                    pairs.add((match.group(1), effect))
    order = list(EFFECTS)
    return sorted(pairs, key=lambda pair: (pair[0], order.index(pair[1])))


def _anchor(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9]+", "_", part) for part in parts)


def _with_settings(table: pd.DataFrame, effect: str) -> pd.DataFrame:
    """A shift table with the setting of each row named with its unit, after ``rank``."""
    from aesens.reporting.report import setting_label  # matplotlib: not for --help

    info = EFFECTS[effect]
    named = table.copy()
    named.insert(int(named.columns.get_loc("rank")) + 1, "setting",
                 [setting_label(info, int(rank)) for rank in named["rank"]])
    return named


def pair_section(embedding: str, effect: str, results_dir: Path, plots_dir: Path) -> str:
    """The section of one embedding and effect."""
    parts = [f'<h2 id="{_anchor("pair", embedding, effect)}">{html.escape(embedding)}, '
             f"{html.escape(effect)}</h2>"]
    if shift.shift_path(results_dir, effect, embedding).exists():
        parts += ["<h3>Shift against the noise floor</h3>",
                  "<p>One row per setting; the floor rows: paired statistics at the gentlest "
                  "setting, distributional ones between random halves of the original files "
                  "(largest over the splits, and their mean).</p>",
                  table_html(_with_settings(shift.read_shift_table(results_dir, effect,
                                                                   embedding), effect))]
    if heldout.heldout_path(results_dir, effect, embedding).exists():
        held = heldout.read_heldout_table(results_dir, effect, embedding)
        parts += ["<h3>Sample-wise R², published and held-out</h3>",
                  f"<p>Median over {len(held)} train files: "
                  f"{held['samplewise_r2'].median():.3f} published (fitted and scored on the "
                  f"same grid values), {held['samplewise_r2_heldout'].median():.3f} held-out "
                  "(fitted on alternating grid values, scored on the others).</p>"]
    path = probe.probe_path(results_dir, effect, embedding)
    if path.exists():
        parts += ["<h3>Effect-strength probe</h3>", table_html(pd.read_csv(path))]
    for stem in (f"singular_values_{embedding}_{effect}", f"roc_auc_{embedding}"):
        png = plots_dir / f"{stem}.png"
        if png.exists():
            parts.append(figure(png, stem))
    return "\n".join(parts)


def layer_profile_section(results_dir: Path, plots_dir: Path) -> str:
    """The layer profiles: each model's figure and table, or how to run them."""
    parts = []
    for png in layer_profiles.find_profiles(plots_dir):
        model = png.stem[len(layer_profiles.PREFIX):]
        parts.append(figure(png, f"{model}: every statistic against the hidden state, one "
                                 "curve per effect"))
        table = layer_profiles.table_path(results_dir, model)
        if table.exists():
            parts.append(table_html(pd.read_csv(table)))
    if parts:
        return "\n".join(parts)
    return ('<p class="note">No layer profiles: they are drawn for a Hugging Face encoder '
            "extracted at two or more layers. Extract every hidden state in one pass with "
            "<code>--layer all</code> (e.g. <code>python 2A.1_featureExtract_original.py "
            "hf:facebook/wav2vec2-base --layer all</code>, and the same option for 2A.2), run "
            "the later stages for the <code>+layerN</code> embeddings, then "
            "<code>python -m aesens.figures</code>.</p>")


def _markdown_file(path: Path, drop: Iterable[str] = ()) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^# .*$", "", text, count=1)  # the page has its own title
    for title in drop:
        text = drop_section(text, title)
    return markdown_to_html(text, base=path.parent)


def render_report(results_dir: PathLike = "results", plots_dir: PathLike = "plots") -> str:
    """The report page as a string (see the module docstring)."""
    results_dir, plots_dir = Path(results_dir), Path(plots_dir)
    pairs = find_pairs(results_dir, plots_dir)
    embeddings = list(dict.fromkeys(pair[0] for pair in pairs))
    effects = [name for name in EFFECTS if any(pair[1] == name for pair in pairs)]
    sections: list[tuple[str, str, str]] = []  # (anchor, title, html)
    summary = results_dir / "summary.md"
    sections.append(("summary", "Summary: what to notice, sensitivity, classification",
                     _markdown_file(summary, drop=("Figures",)) if summary.exists() else
                     '<p class="note">No summary.md: run python -m aesens.figures.</p>'))
    card = results_dir / "scorecard.md"
    sections.append(("scorecard", "Scorecard",
                     _markdown_file(card) if card.exists() else
                     '<p class="note">No scorecard.md: run python -m aesens.scorecard.</p>'))
    overview = [figure(plots_dir / f"{stem}.png", stem) for stem in OVERVIEW_FIGURES
                if (plots_dir / f"{stem}.png").exists()]
    overview += [figure(path, path.stem)
                 for path in sorted((plots_dir / "corr").glob("corr_*.png"))]
    sections.append(("figures", "Figures of the whole run",
                     "\n".join(overview) or '<p class="note">No figures.</p>'))
    sections.append(("layers", "Layer profiles of Hugging Face encoders",
                     layer_profile_section(results_dir, plots_dir)))
    grid = ["<table class=\"grid\"><thead><tr><th></th>"
            + "".join(f"<th>{html.escape(name)}</th>" for name in effects) + "</tr></thead><tbody>"]
    for embedding in embeddings:
        cells = "".join(
            f'<td><a href="#{_anchor("pair", embedding, name)}">{html.escape(name)}</a></td>'
            if (embedding, name) in pairs else "<td>—</td>" for name in effects)
        grid.append(f"<tr><th>{html.escape(embedding)}</th>{cells}</tr>")
    grid.append("</tbody></table>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{anchor}">{html.escape(title)}</a></li>'
                  for anchor, title, _ in sections)
    toc += "".join(f'<li><a href="#{_anchor("pair", embedding, effect)}">'
                   f"{html.escape(embedding)}, {html.escape(effect)}</a></li>"
                   for embedding, effect in pairs)
    body = [f'<section><h2 id="{anchor}">{html.escape(title)}</h2>\n{content}</section>'
            for anchor, title, content in sections]
    body += [f"<section>{pair_section(embedding, effect, results_dir, plots_dir)}</section>"
             for embedding, effect in pairs]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>Sensitivity of audio embeddings to effects: report</title>",
        f"<style>{STYLE}</style>", "</head>", "<body>",
        f"<nav><strong>Contents</strong><ul>{toc}</ul></nav>", "<main>",
        "<h1>Sensitivity of audio embeddings to effects: report</h1>",
        f"<p>Generated {html.escape(stamp)} by <code>python -m aesens.html_report</code>; "
        "every figure is embedded. Embedding x effect:</p>", *grid, *body,
        "</main>", "</body>", "</html>", ""])


def write_report(results_dir: PathLike = "results", plots_dir: PathLike = "plots",
                 out: PathLike | None = None) -> Path:
    """Write the report (default ``<results_dir>/report.html``) atomically; returns its path.

    Raises
    ------
    AesensError
        If the results folder does not exist.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise AesensError(f"no results folder {results_dir}; run the pipeline (make demo) or "
                          "give --results-dir")
    path = Path(out) if out is not None else results_dir / "report.html"
    with atomic_file(path) as tmp:
        tmp.write_text(render_report(results_dir, plots_dir), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write the HTML report."""
    parser = argparse.ArgumentParser(prog="python -m aesens.html_report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", default="results", help="default: results")
    parser.add_argument("--plots-dir", default="plots", help="default: plots")
    parser.add_argument("--out", default=None,
                        help="the page (default: report.html in the results folder)")
    args = parser.parse_args(argv)
    print(f"wrote {write_report(args.results_dir, args.plots_dir, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

"""The paper's figures and correlation tables, from the pipeline's outputs.

``python -m aesens.figures`` renders, for every embedding and effect whose
grouped file exists (``embeddings/grouped/<embedding>/<effect>.h5``):

- the paper's figures under their published names (:mod:`aesens.reporting.paper_figures`):
  ``corr/corr_<instrument>`` (3.1: projection of the train paths on the
  instrument's global CCA direction against the parameter, the paper's
  global R² in each title as ``$R^2 \\approx 0.1234$``, effects (rows) x
  embeddings (columns)), ``umap/umap_<instrument>_0.pdf`` (2B.1),
  ``svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf`` (3.5) and
  ``rocauc_curves/rocauc_two_paper.pdf`` with its legend (4);
- ``umap_trajectories``: UMAP trajectories of a few random train files,
  embeddings (rows) x effects (columns), each panel its own layout (the
  title says so), under each the median relative displacement of all files
  at the strongest setting from ``shift_<embedding>.csv``;
- ``samplewise_r2_histograms``: sample-wise R² of every train file, effects x embeddings;
- ``singular_values``: normalised singular values of the sample-wise CCA
  directions against those of the centred original data (median and range
  over instruments), effects x embeddings; ``singular_values_<embedding>_<effect>``
  shows one panel per instrument;
- ``roc_auc_<embedding>``: ROC AUC against the effect parameter (train orig /
  test effected, train effected / test orig), one curve per
  desensitisation method, from ``results/<effect>/result_<embedding>.csv``;
- the shift curves, held-out sample-wise R² and effect-strength probe
  (tables and figures, :mod:`aesens.reporting.shift_figures`);
- ``layer_profile_<model>``: every statistic against the hidden state, for
  each Hugging Face encoder with two or more layer embeddings
  (:mod:`aesens.reporting.layer_profiles`);

as PDF and PNG (the paper's 2B.1, 3.5 and 4 figures as PDF) in ``plots/``,
plus ``results/correlations.csv`` (merged into the existing file: other
rows and hand-edited columns such as
``comment`` are kept) and ``results/<effect>/cca_r2s_<embedding>.txt`` (the
sample-wise R² of every train file, one per line), then the summary report
(:mod:`aesens.reporting.report`). Global CCA directions come from the classification
stage's ``models/<effect>/deformdir_<embedding>.pkl`` when it holds them.

The notebooks call these ``*_figure`` / ``*_grid`` functions, which draw
with :mod:`aesens.reporting.plots`, and :mod:`aesens.analysis.sensitivity`, which computes what
they draw (cached per embedding and effect).
"""

from __future__ import annotations

import csv
import sys
import textwrap
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aesens import layout, store
from aesens.analysis import DEFAULT_UMAP_FILES, shift
from aesens.analysis.cca import (
    ConstantPathWarning,
    global_cca_direction,
    project,
    samplewise_r2,
)
from aesens.analysis.files import (
    merge_correlations,
    read_cca_r2s,
    write_cca_r2s,
)
from aesens.analysis.sensitivity import (
    Analysis,
    analyse,
    find_effects,
    find_embeddings,
    load,
    present_instruments,
    samplewise_directions,
    umap_grid_coordinates,
)
from aesens.classification.results import load_results
from aesens.cli.commands import DEFAULT_FORMATS, figures_parser
from aesens.effects import EFFECTS, get_effect
from aesens.errors import AesensError, run_cli
from aesens.layout import PathLike
from aesens.reporting import paper_figures, plots
from aesens.reporting.layer_profiles import render_layer_profiles
from aesens.reporting.report import setting_label, write_summary
from aesens.reporting.roc_figures import roc_auc_figure
from aesens.reporting.shift_figures import render_extras
from aesens.safe_files import atomic_file

#: The part of :func:`render_all` timed on its own: the statistics the paper did not compute.
EXTRAS_PART = "shift curves, held-out R², probe and layer profiles"

#: Output formats of :func:`render_all` by default.


# --------------------------------------------------------------------------- figures


#: Suptitle of :func:`umap_grid` when it says how to read the panels.
OWN_LAYOUT_NOTE = ("Each panel is its own UMAP layout: positions and distances are not "
                   "comparable across panels")


def umap_grid(coordinates: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]],
              displacements: Mapping[tuple[str, str], str] | None = None,
              own_layout_note: bool = True) -> Figure:
    """UMAP trajectories, embeddings (rows) x effects (columns), a colour bar per effect.

    Parameters
    ----------
    coordinates : mapping
        ``(embedding, effect) -> (paths_2d, originals_2d)`` from :func:`umap_coordinates`.
    displacements : mapping, optional
        ``(embedding, effect) ->`` a text written below the panel, e.g.
        :func:`displacement_notes` (how far the files move, which a UMAP layout cannot show).
    own_layout_note : bool
        Say in the title that every panel is its own layout (the paper's 2B.1
        figure, drawn as published, says nothing).
    """
    embeddings = list(dict.fromkeys(key[0] for key in coordinates))
    effects = list(dict.fromkeys(key[1] for key in coordinates))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(embeddings), len(effects), (1.7, 1.6))
        for col, name in enumerate(effects):
            effect = get_effect(name)
            mappable = None
            for row, embedding in enumerate(embeddings):
                ax = axes[row, col]
                if (embedding, name) not in coordinates:
                    ax.set_axis_off()
                    continue
                paths_2d, originals_2d = coordinates[embedding, name]
                mappable = plots.trajectory_panel(ax, paths_2d, originals_2d, effect,
                                                  title=name if row == 0 else "")
                if col == 0:
                    ax.set_ylabel(embedding)
                if displacements and (embedding, name) in displacements:
                    # below the panel (UMAP axes carry no ticks), where it hides no path
                    ax.set_xlabel(displacements[embedding, name], fontsize=plots.FONT_SIZE - 1)
            if mappable is not None:
                plots.param_colorbar(fig, mappable, axes[:, col], effect)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if own_layout_note:
            lines = [OWN_LAYOUT_NOTE + "."]
            if displacements:
                lines.append("Below each panel: the median relative displacement ‖B−A‖/‖A‖ of "
                             "all files at the strongest setting (floor: at the gentlest).")
            # wrapped to the figure's width (about 13 characters an inch at this font size)
            width = int(13 * fig.get_figwidth())
            fig.suptitle("\n".join(textwrap.fill(line, width) for line in lines))
            fig.legend(handles, labels, loc="outside lower center")
        else:
            fig.legend(handles, labels, loc="outside upper right")
    return fig


def displacement_notes(pairs: Sequence[tuple[str, str]],
                       results_dir: PathLike) -> dict[tuple[str, str], str]:
    """How far each pair's files move, for :func:`umap_grid`, from its shift table.

    ``'‖B−A‖/‖A‖ 1.2 at −40 dB'`` over ``'(floor 0.016)'``: the median
    relative displacement over all files at the strongest setting
    (:func:`aesens.analysis.shift.ranks_outward`) and at the gentlest (the
    paired floor). Pairs without ``results/<effect>/shift_<embedding>.csv`` are left out.
    """
    notes = {}
    for embedding, name in pairs:
        if not shift.shift_path(results_dir, name, embedding).exists():
            continue
        effect = get_effect(name)
        table = shift.read_shift_table(results_dir, name, embedding)
        settings = table[table["kind"] == "setting"].set_index("rank")
        strongest = shift.ranks_outward(effect)[-1]
        value = float(settings.loc[strongest, "median_relative_displacement"])
        floor = float(table.loc[table["kind"] == "floor", "median_relative_displacement"].iloc[0])
        notes[embedding, name] = (f"‖B−A‖/‖A‖ {value:.2g} at {setting_label(effect, strongest)}"
                                  f"\n(floor {floor:.2g})")
    return notes


def global_correlation_grid(analyses: Mapping[tuple[str, str], Analysis],
                            instrument: str) -> Figure:
    """The paper's global correlation figure (3.1) of one instrument: effects (rows) x embeddings.

    Each panel: the instrument's train paths projected on its global CCA
    direction against the parameter, titled with the paper's global R² as the
    published notebook wrote it (``$R^2 \\approx 0.1234$``, :func:`aesens.reporting.plots.r2_title`;
    in the top row below the embedding's name); effects label the rows.
    """
    embeddings = list(dict.fromkeys(key[0] for key in analyses))
    effects = list(dict.fromkeys(key[1] for key in analyses))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.3, 1.9))
        for (embedding, effect), analysis in analyses.items():
            ax = axes[effects.index(effect), embeddings.index(embedding)]
            result = analysis.instruments.get(instrument)
            if result is None:
                ax.set_axis_off()
                continue
            plots.correlation_panel(ax, result.projections, result.global_r2, analysis.effect,
                                    title=f"{embedding}\n" if effects.index(effect) == 0 else "")
            if embeddings.index(embedding) == 0:
                ax.set_ylabel(f"{effect}\nprojection")
        fig.suptitle(f"{instrument}, global CCA direction")
    return fig


def samplewise_r2_values(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings",
                         results_dir: PathLike | None = None,
                         instrument: str | None = None) -> np.ndarray:
    """Sample-wise R² of the train files (of one instrument, or of all), in train-set order.

    Read from ``<results_dir>/<effect>/cca_r2s_<embedding>.txt`` (written by
    :func:`write_correlations` and the 3.3 notebook) when it exists, else
    computed by :func:`analyse`.

    Raises
    ------
    AesensError
        If the file does not hold one value per train file.
    """
    labels = store.read_arrays(layout.averaged_path(embedding, embeddings_dir=embeddings_dir),
                               ["Y_train"])["Y_train"].astype(str)
    if results_dir is not None and layout.cca_r2s_path(embedding, effect, results_dir).exists():
        r2 = read_cca_r2s(effect, embedding, results_dir, n_files=len(labels))
    else:
        r2 = analyse(embedding, effect, embeddings_dir).all_samplewise_r2()
    return r2 if instrument is None else r2[labels == instrument]


def r2_histogram_grid(values: Mapping[tuple[str, str], np.ndarray], title: str = "") -> Figure:
    """Histograms of sample-wise R² values, effects (rows) x embeddings (columns).

    Parameters
    ----------
    values : mapping
        ``(embedding, effect) -> (n_files,)`` R² values, e.g. from
        :func:`samplewise_r2_values` or :meth:`Analysis.all_samplewise_r2`.
    title : str
        Figure title (e.g. the instrument shown).
    """
    embeddings = list(dict.fromkeys(key[0] for key in values))
    effects = list(dict.fromkeys(key[1] for key in values))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.2, 1.6),
                                      sharex=True)
        for (embedding, effect), r2 in values.items():
            ax = axes[effects.index(effect), embeddings.index(embedding)]
            plots.r2_histogram_panel(ax, r2, title=f"{embedding}, {effect}")
        for ax in axes[:-1].flat:
            ax.set_xlabel("")
        if title:
            fig.suptitle(title)
    return fig


def _padded(profiles: Sequence[np.ndarray]) -> np.ndarray:
    out = np.full((len(profiles), max(len(p) for p in profiles)), np.nan)
    for row, profile in enumerate(profiles):
        out[row, :len(profile)] = profile
    return out


def singular_value_grid(analyses: Mapping[tuple[str, str], Analysis]) -> Figure:
    """Normalised singular values (median and range over instruments), effects x embeddings."""
    embeddings = list(dict.fromkeys(key[0] for key in analyses))
    effects = list(dict.fromkeys(key[1] for key in analyses))
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(len(effects), len(embeddings), (2.2, 1.7))
        for (embedding, effect), analysis in analyses.items():
            results = list(analysis.instruments.values())
            plots.singular_value_panel(axes[effects.index(effect), embeddings.index(embedding)],
                                       _padded([r.sv_directions for r in results]),
                                       _padded([r.sv_originals for r in results]),
                                       title=f"{embedding}, {effect}")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig


def singular_value_figure(analysis: Analysis, instruments: Sequence[str] | None = None,
                          n_cols: int = 4) -> Figure:
    """Normalised singular values, one panel per instrument, for one embedding and effect."""
    names = list(analysis.instruments) if instruments is None else list(instruments)
    n_cols = min(n_cols, len(names))
    n_rows = -(-len(names) // n_cols)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(n_rows, n_cols, (1.7, 1.5), sharey=True)
        for ax, name in zip(axes.flat, names, strict=False):
            result = analysis.instruments[name]
            plots.singular_value_panel(ax, result.sv_directions, result.sv_originals,
                                       title=name)
        for ax in axes.flat[len(names):]:
            ax.set_axis_off()
        for ax in axes[:, 1:].flat:
            ax.set_ylabel("")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        fig.suptitle(f"{analysis.embedding}, {analysis.effect.name}")
    return fig


def samplewise_correlation_figure(embedding: str, effect: str, index: int,
                                  embeddings_dir: PathLike = "embeddings") -> Figure:
    """One train file's path projected on its own CCA direction and on its instrument's global one.

    Parameters
    ----------
    embedding, effect : str
        Which grouped data.
    index : int
        Row of the file in the train set.
    embeddings_dir : path
        Folder holding ``grouped/`` and ``averaged/``.
    """
    sweep = load(embedding, effect, embeddings_dir)
    if not 0 <= index < len(sweep.train_A):
        raise AesensError(f"file index {index} is outside 0..{len(sweep.train_A) - 1}")
    instrument = str(sweep.Y_train[index])
    path = sweep.paths()[index]
    own = samplewise_directions(embedding, effect, embeddings_dir)[index]
    mask = sweep.Y_train.astype(str) == instrument
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)
        shared = global_cca_direction(sweep.paths()[mask])
    effect_info = get_effect(effect)
    with plt.rc_context(plots.style()):
        fig, axes = plots.figure_grid(1, 2, (2.8, 2.2), sharex=True)
        for ax, direction, label in ((axes[0, 0], own, "own direction"),
                                     (axes[0, 1], shared, "global direction")):
            projection = project(path, direction)
            plots.correlation_panel(ax, projection[None], float(samplewise_r2(
                path[None], direction[None])[0]), effect_info, title=f"{label}: ")
        fig.suptitle(f"{embedding}, {effect}: train file {index} ({instrument})")
    return fig


def save(fig: Figure, plots_dir: PathLike, name: str,
         formats: Sequence[str] = DEFAULT_FORMATS, close: bool = True,
         dpi: float = plots.PNG_DPI) -> list[Path]:
    """Save a figure as ``<plots_dir>/<name>.<format>`` for each format (and close it).

    Each file is written to a temporary file renamed over the target once
    complete, at ``dpi`` dots per inch (the resolution of a PNG and of
    anything rasterised in a PDF; default :data:`aesens.reporting.plots.PNG_DPI`,
    matplotlib's own default is 100).
    """
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = plots_dir / f"{name}.{fmt}"
        with atomic_file(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        paths.append(path)
    if close:
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------- tables


def write_correlations(analyses: Mapping[tuple[str, str], Analysis],
                       results_dir: PathLike = "results") -> list[Path]:
    """Merge ``correlations.csv``, write ``<effect>/cca_r2s_<embedding>.txt`` in ``results_dir``.

    ``correlations.csv`` gets one row per embedding, effect and instrument
    (:meth:`Analysis.table`), merged into the existing file (see
    :func:`aesens.analysis.files.merge_correlations`: other rows and
    user-added columns such as ``comment`` are kept); each
    ``cca_r2s_<embedding>.txt`` holds the sample-wise R² of every train file,
    one per line, in train-set order.

    Returns
    -------
    list of Path
        The files written.
    """
    if not analyses:
        return []
    table = pd.concat([analysis.table() for analysis in analyses.values()], ignore_index=True)
    written = [merge_correlations(table, results_dir)]
    for (embedding, effect), analysis in analyses.items():
        written.append(write_cca_r2s(analysis.all_samplewise_r2(), effect, embedding,
                                     results_dir))
    return written


# --------------------------------------------------------------------------- command


def render_all(embeddings_dir: PathLike = "embeddings", results_dir: PathLike = "results",
               plots_dir: PathLike = "plots", embeddings: Sequence[str] | None = None,
               effects: Sequence[str] | None = None, formats: Sequence[str] = DEFAULT_FORMATS,
               umap_files: int = DEFAULT_UMAP_FILES, seed: int = 0,
               models_dir: PathLike | None = None,
               timings: list[tuple[str, float]] | None = None) -> list[Path]:
    """Render every figure and table for the embeddings and effects present.

    Parameters
    ----------
    embeddings_dir, results_dir, plots_dir : path
        Inputs (grouped, averaged and ccadirs files; classification
        results) and outputs.
    embeddings, effects : sequence of str, optional
        Restrict to these (default: all with grouped files).
    formats : sequence of str
        Figure formats.
    umap_files : int
        Files per panel of ``umap_trajectories`` (0: no UMAP figure, neither
        it nor the paper's 2B.1 figure).
    seed : int
        Seed of the UMAP file draw and layout.
    models_dir : path, optional
        Folder of the classification stage's ``<effect>/deformdir_<embedding>.pkl``
        whose global CCA directions are used (default: ``models`` beside
        ``embeddings_dir``; directions missing there are computed).
    timings : list, optional
        Gets ``(EXTRAS_PART, seconds)``: the wall time of the statistics
        beyond the paper (shift curves, held-out R², probe, layer profiles).

    Returns
    -------
    list of Path
        Every file written.

    Raises
    ------
    AesensError
        If no grouped file matches the selection.
    """
    names = list(embeddings) if embeddings else find_embeddings(embeddings_dir)
    for name in effects or ():
        get_effect(name)
    pairs = [(embedding, effect) for embedding in names
             for effect in find_effects(embedding, embeddings_dir)
             if not effects or effect in effects]
    if not pairs:
        raise AesensError(f"no grouped embeddings in {Path(embeddings_dir) / 'grouped'} for "
                          f"embeddings {names or 'any'} and effects {list(effects or EFFECTS)}; "
                          "run group_effect_params.py first")
    analyses: dict[tuple[str, str], Analysis] = {}
    for embedding, effect in pairs:
        print(f"analysing {embedding} / {effect}", flush=True)
        analyses[embedding, effect] = analyse(embedding, effect, embeddings_dir, models_dir)
    coordinates = (umap_grid_coordinates(pairs, embeddings_dir, umap_files, seed)
                   if umap_files else {})
    written = write_correlations(analyses, results_dir)
    instruments = present_instruments(name for analysis in analyses.values()
                                      for name in analysis.instruments)
    paper_figures.make_plot_folders(plots_dir)
    ordered = {key: analyses[key] for key in paper_figures.paper_sorted(list(analyses))}
    for instrument in instruments:
        written += save(global_correlation_grid(ordered, instrument),
                        Path(plots_dir) / paper_figures.CORR_FOLDER, f"corr_{instrument}",
                        formats)
    written += paper_figure_files(embeddings_dir, results_dir, plots_dir, seed,
                                  umap=bool(umap_files), models_dir=models_dir, embeddings=names)
    written += save(r2_histogram_grid({key: analysis.all_samplewise_r2()
                                       for key, analysis in analyses.items()}),
                    plots_dir, "samplewise_r2_histograms", formats)
    written += save(singular_value_grid(analyses), plots_dir, "singular_values", formats)
    for (embedding, effect), analysis in analyses.items():
        written += save(singular_value_figure(analysis), plots_dir,
                        f"singular_values_{embedding}_{effect}", formats)
    start = time.perf_counter()
    written += render_extras(pairs, lambda emb, eff: load(emb, eff, embeddings_dir),
                             {key: analysis.all_samplewise_r2()
                              for key, analysis in analyses.items()},
                             results_dir, lambda fig, name: save(fig, plots_dir, name, formats))
    written += render_layer_profiles(pairs, results_dir,
                                     lambda fig, name: save(fig, plots_dir, name, formats))
    if timings is not None:
        timings.append((EXTRAS_PART, time.perf_counter() - start))
    if coordinates:
        written += save(umap_grid(coordinates, displacement_notes(pairs, results_dir)),
                        plots_dir, "umap_trajectories", formats)
    for embedding in dict.fromkeys(key[0] for key in pairs):
        tables = {effect: load_results(effect, embedding, results_dir)
                  for emb, effect in pairs
                  if emb == embedding
                  and layout.results_csv_path(embedding, effect, results_dir).exists()}
        if tables:
            written += save(roc_auc_figure(tables, embedding), plots_dir,
                            f"roc_auc_{embedding}", formats)
        else:
            print(f"no classification results for {embedding} in {results_dir}: "
                  "skipping its ROC AUC figure", flush=True)
    return written


def paper_figure_files(embeddings_dir: PathLike = "embeddings",
                       results_dir: PathLike = "results", plots_dir: PathLike = "plots",
                       seed: int = 0, umap: bool = True, models_dir: PathLike | None = None,
                       embeddings: Sequence[str] | None = None) -> list[Path]:
    """Save the paper's 2B.1, 3.5 and 4 figures under their published names (PDF).

    Of ``embeddings`` (default: all), the paper's if present, else what exists.

    See :mod:`aesens.reporting.paper_figures`: ``umap/umap_<instrument>_0.pdf`` (unless
    ``umap`` is false), ``svd_singvals_ccadirs/svd_singvals_ccadirs_paper.pdf``
    and, when classification results exist,
    ``rocauc_curves/rocauc_two_paper.pdf`` with ``rocauc_two_paper_legend.pdf``.

    Returns
    -------
    list of Path
        The files written.
    """
    plots_dir = Path(plots_dir)
    paper_figures.make_plot_folders(plots_dir)
    written = []
    if umap:
        pairs, instrument = paper_figures.umap_selection(embeddings_dir, embeddings=embeddings)
        with warnings.catch_warnings():
            # Tiny selections make UMAP fall back from spectral initialisation; expected here.
            warnings.simplefilter("ignore", UserWarning)
            coordinates = paper_figures.umap_panels(pairs, instrument,
                                                    embeddings_dir=embeddings_dir, seed=seed)
        written += save(umap_grid(coordinates, own_layout_note=False),
                        plots_dir / paper_figures.UMAP_FOLDER,
                        paper_figures.umap_name(instrument), ["pdf"])
    written += save(paper_figures.svd_figure(paper_figures.svd_triples(embeddings_dir, embeddings),
                                             embeddings_dir, models_dir),
                    plots_dir / paper_figures.SVD_FOLDER, paper_figures.SVD_NAME, ["pdf"])
    rows = paper_figures.rocauc_rows(results_dir, embeddings)
    if rows:
        folder = plots_dir / paper_figures.ROCAUC_FOLDER
        written += save(paper_figures.rocauc_figure(rows, results_dir), folder,
                        paper_figures.ROCAUC_NAME, ["pdf"])
        written += save(paper_figures.rocauc_legend(), folder, paper_figures.ROCAUC_LEGEND_NAME,
                        ["pdf"])
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: render every figure, the correlation tables and the summary report."""
    parser = figures_parser()
    args = parser.parse_args(argv)
    timings: list[tuple[str, float]] = []
    written = render_all(args.embeddings_dir, args.results_dir, args.plots_dir, args.embeddings,
                         args.effects, args.format, args.umap_files, args.seed, args.models_dir,
                         timings)
    written.append(write_summary(args.results_dir, args.plots_dir, args.embeddings_dir))
    if args.timings:
        with atomic_file(args.timings) as tmp, open(tmp, "w", newline="") as handle:
            csv.writer(handle).writerows([("part", "seconds"), *timings])
    print(f"wrote {len(written)} files:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

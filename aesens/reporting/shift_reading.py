"""Readings of the shift curves, held-out R² and probe: how far each embedding moves.

The global CCA R² says whether the files move along one shared monotone
direction, not how far they move: an embedding with a global R² near 0 can
move most of its norm. This section of the summary report reads, per
embedding and effect, the tables of :mod:`aesens.analysis.shift`, :mod:`aesens.analysis.heldout`
and :mod:`aesens.analysis.probe`, always against the noise floor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from aesens.analysis import heldout, probe, shift
from aesens.effects import EFFECTS, Effect
from aesens.reporting.reading import percent

PathLike = str | os.PathLike


def pair_sentence(embedding: str, effect: Effect, table: pd.DataFrame,
                  held: pd.DataFrame | None, scores: pd.DataFrame | None,
                  label: Callable[[Effect, int], str]) -> str:
    """One item: displacement, identification, distances against the floor, R², probe."""
    settings = table[table["kind"] == "setting"].set_index("rank")
    floor = table[table["kind"] == "floor"].iloc[0]
    strongest = shift.ranks_outward(effect)[-1]
    at = settings.loc[strongest]
    gentlest = label(effect, int(floor["rank"]))
    moved = {statistic: shift.first_rank_above_floor(table, effect, statistic)
             for statistic in ("median_relative_displacement", "frechet_distance",
                               "kernel_distance")}
    parts = [f"At {label(effect, strongest)} the median file moves "
             f"{percent(at['median_relative_displacement'])} of its norm "
             f"({percent(floor['median_relative_displacement'])} at {gentlest}, the gentlest "
             f"setting) and {percent(at['identification_rate'])} of effected files are still "
             f"nearest their own original."]
    ratio = at["frechet_distance"] / floor["frechet_distance"] if floor["frechet_distance"] > 0 \
        else np.nan
    if moved["frechet_distance"] is None and moved["kernel_distance"] is None:
        parts.append("As sets, the effected files stay within 3× the noise floor (random halves "
                     f"of the originals) at every setting (Fréchet {ratio:.2g}× at the "
                     "strongest).")
    else:
        first = [f"{name} from {label(effect, value)}" for name, value in
                 (("Fréchet", moved["frechet_distance"]), ("kernel", moved["kernel_distance"]))
                 if value is not None]
        parts.append(f"As sets they leave the noise floor (above 3× the distance between random "
                     f"halves of the originals: {', '.join(first)}; Fréchet {ratio:.2g}× at the "
                     "strongest).")
    if held is not None and len(held):
        in_sample = float(np.nanmedian(held["samplewise_r2"]))
        out = float(np.nanmedian(held["samplewise_r2_heldout"]))
        parts.append(f"Sample-wise R²: {in_sample:.2f} published (fitted and scored on the same "
                     f"grid values), {out:.2f} held-out (fitted on alternating values, scored on "
                     "the others)" + ("; the gap says the fitted direction does not carry "
                                      "over to unseen settings." if in_sample - out > 0.2
                                      else "."))
    if scores is not None and len(scores):
        by = scores.set_index("features")
        parts.append(f"A linear probe reads the setting's rank with R² "
                     f"{by.loc['effected', 'r2']:.2f} from the effected embedding and "
                     f"{by.loc['displacement', 'r2']:.2f} from the displacement B − A "
                     "(folds by source recording).")
    return f"- **{embedding} × {effect.name}**: " + " ".join(parts)


def how_far_they_move(results_dir: PathLike,
                      label: Callable[[Effect, int], str]) -> list[str]:
    """Markdown lines of the section (empty when no shift table exists).

    ``label(effect, rank)`` names a setting with its unit (the report's).
    """
    results_dir = Path(results_dir)
    items = []
    for name, effect in EFFECTS.items():
        folder = results_dir / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("shift_*.csv")):
            embedding = path.stem[len("shift_"):]
            table = shift.read_shift_table(results_dir, name, embedding)
            held = (heldout.read_heldout_table(results_dir, name, embedding)
                    if heldout.heldout_path(results_dir, name, embedding).exists() else None)
            scores_path = probe.probe_path(results_dir, name, embedding)
            scores = pd.read_csv(scores_path) if scores_path.exists() else None
            items.append((embedding, pair_sentence(embedding, effect, table, held, scores,
                                                   label)))
    if not items:
        return []
    items.sort(key=lambda item: item[0])
    return ["## How far the embeddings move", "",
            "The global R² above says whether files move along one shared direction, not how "
            "far. Here: the median relative displacement ‖B − A‖/‖A‖ and the share of effected "
            "files whose nearest original (cosine) is their own, at the strongest setting "
            "against the gentlest; the Fréchet and kernel distances of the effected set from "
            "the originals against their noise floor (the largest of the same distance between "
            "random halves of the original files); the published sample-wise R² beside a "
            "held-out one; and a cross-validated ridge probe of the setting. Tables: "
            "`<effect>/shift_<embedding>.csv`, "
            "`<effect>/samplewise_r2_heldout_<embedding>.csv`, `<effect>/probe_<embedding>.csv`.",
            "", *(text for _, text in items), ""]

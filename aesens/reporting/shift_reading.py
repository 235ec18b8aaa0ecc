"""The summary's section on the held-out sample-wise R² and the effect-strength probe.

Per embedding and effect, it reads the tables of :mod:`aesens.analysis.heldout`
and :mod:`aesens.analysis.probe`. How far each pair moves, from the tables of
:mod:`aesens.analysis.shift`, is read with the other findings in
:mod:`aesens.reporting.reading`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from aesens.analysis import heldout, probe
from aesens.effects import EFFECTS, Effect

PathLike = str | os.PathLike


def pair_sentence(embedding: str, effect: Effect, held: pd.DataFrame | None,
                  scores: pd.DataFrame | None) -> str | None:
    """One item: the sample-wise R² published and held out (medians per instrument, then
    over instruments, as in the scorecard), and the probe (``None``: neither).

    How far the pair moves (displacement, identification, distances against
    the floor) is read in "What to notice" (:mod:`aesens.reporting.reading`).
    """
    parts = []
    if held is not None and len(held):
        in_sample = heldout.median_over_instruments(held, "samplewise_r2")
        out = heldout.median_over_instruments(held, "samplewise_r2_heldout")
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
    return f"- **{embedding} × {effect.name}**: " + " ".join(parts) if parts else None


def heldout_and_probe(results_dir: PathLike) -> list[str]:
    """Markdown lines of the section (empty when no held-out or probe table exists)."""
    results_dir = Path(results_dir)
    items = []
    for name, effect in EFFECTS.items():
        folder = results_dir / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("shift_*.csv")):
            embedding = path.stem[len("shift_"):]
            held = (heldout.read_heldout_table(results_dir, name, embedding)
                    if heldout.heldout_path(results_dir, name, embedding).exists() else None)
            scores_path = probe.probe_path(results_dir, name, embedding)
            scores = pd.read_csv(scores_path) if scores_path.exists() else None
            text = pair_sentence(embedding, effect, held, scores)
            if text:
                items.append((embedding, text))
    if not items:
        return []
    items.sort(key=lambda item: item[0])
    return ["## Held-out sample-wise R² and effect-strength probe", "",
            "How far each pair moves (the shift tables `<effect>/shift_<embedding>.csv`) is read "
            "under \"What to notice\". Here: the published sample-wise R² beside a held-out "
            "one, which can fall below 1 where the published one is 1 by construction; and a "
            "cross-validated ridge probe of the setting's rank. Tables: "
            "`<effect>/samplewise_r2_heldout_<embedding>.csv`, `<effect>/probe_<embedding>.csv`.",
            "", *(text for _, text in items), ""]

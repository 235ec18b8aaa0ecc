"""Tests of the composition of a generated recording (aesens.dataset.compose)."""

from __future__ import annotations

import dataclasses

from aesens.dataset import INSTRUMENTS
from aesens.dataset.compose import _family, compose
from aesens.dataset.material import LEAD_PROGRAMS
from aesens.dataset.plan import RecordingPlan


def test_drum_part_only_when_planned() -> None:
    plan = RecordingPlan("cel", "pop_roc", 1, 2, drums=True, prefix=None, entropy=(0, 0, 0))
    without = dataclasses.replace(plan, drums=False)
    assert [part.role for part in compose(plan, 6.0)].count("drums") == 1
    assert "drums" not in [part.role for part in compose(without, 6.0)]


def test_lead_is_in_range_and_accompaniment_avoids_its_family() -> None:
    for index, code in enumerate(INSTRUMENTS):
        plan = RecordingPlan(code, "pop_roc", 1, 2, drums=False, prefix=None,
                             entropy=(0, index, 0))
        parts = compose(plan, 9.0)
        lead_programs = {lead.program for lead in LEAD_PROGRAMS[code]}
        melody = parts[0]
        assert melody.role == "lead" and melody.program in lead_programs
        low = min(lead.low for lead in LEAD_PROGRAMS[code])
        high = max(lead.high for lead in LEAD_PROGRAMS[code])
        assert all(low <= note.pitch <= high for note in melody.notes)
        assert melody.notes and len({note.velocity for note in melody.notes}) > 3
        families = {_family(part.program) for part in parts
                    if part.role in ("bass", "harmony")}
        assert _family(melody.program) not in families

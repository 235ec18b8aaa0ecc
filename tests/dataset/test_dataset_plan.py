"""Tests of the generated dataset's plan (aesens.dataset.plan): names, groups and counts."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from aesens.dataset import INSTRUMENTS, parse_stem
from aesens.dataset.plan import MIN_RECORDINGS_PER_CLASS, plan_dataset
from aesens.errors import AesensError


def test_plan_names_parse_with_both_patterns() -> None:
    plans = plan_dataset(per_class=15, seed=0)
    stems = [stem for plan in plans for stem in plan.stems()]
    names = [parse_stem(stem) for stem in stems]
    assert {name.instrument for name in names} == set(INSTRUMENTS)
    drums_tags = Counter(name.drums for name in names)
    assert drums_tags[None] > 0 and drums_tags["dru"] > 0 and drums_tags["nod"] > 0
    assert "lat_sou" in {name.genre for name in names}
    for plan in plans:
        for name in map(parse_stem, plan.stems()):
            assert (name.instrument, name.genre, int(name.group)) == (
                plan.instrument, plan.genre, plan.group)
            if name.drums is not None:
                assert name.drums == ("dru" if plan.drums else "nod")


def test_plan_group_structure() -> None:
    plans = plan_dataset(per_class=15, seed=0)
    assert len({plan.group for plan in plans}) == len(plans)
    per_class = defaultdict(list)
    for plan in plans:
        per_class[plan.instrument].append(plan)
        assert 2 <= plan.excerpts <= 4
        assert [parse_stem(stem).excerpt for stem in plan.stems()] == list(
            range(1, plan.excerpts + 1))
    for recordings in per_class.values():
        assert len(recordings) >= MIN_RECORDINGS_PER_CLASS
        assert 14 <= sum(plan.excerpts for plan in recordings) <= 18


def test_plan_rejects_unknown_instrument() -> None:
    with pytest.raises(AesensError, match="unknown instrument"):
        plan_dataset(instruments=["xyz"])

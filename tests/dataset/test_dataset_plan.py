"""Tests of the generated dataset's plan (aesens.dataset.plan): names, groups and counts."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from aesens import demo
from aesens.dataset import INSTRUMENTS, parse_stem
from aesens.dataset.folds import N_SPLITS
from aesens.dataset.plan import DROPPED_GENRE, plan_dataset
from aesens.errors import AesensError
from aesens.sweep.split import make_split


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
        kept = [plan for plan in recordings if plan.genre != DROPPED_GENRE]
        assert len(kept) >= N_SPLITS and len(kept) % N_SPLITS == 0  # a group split can work
        assert 15 <= sum(plan.excerpts for plan in kept) <= 18


def test_plan_rejects_unknown_instrument() -> None:
    with pytest.raises(AesensError, match="unknown instrument"):
        plan_dataset(instruments=["xyz"])


def split_counts(per_class: int, seed: int) -> dict[str, object]:
    """Generate the plan, run the published 2A.3 split on its stems and count what it keeps."""
    plans = plan_dataset(per_class=per_class, seed=seed)
    stems = [stem for plan in plans for stem in plan.stems()]
    split = make_split(stems)
    generated = Counter(INSTRUMENTS[parse_stem(stem).instrument] for stem in stems
                        if parse_stem(stem).genre != DROPPED_GENRE)
    return {"stems": set(stems), "kept": set(split["file_name"]), "generated": generated,
            "train": Counter(split["instrument"][split["split"] == "train"]),
            "test": Counter(split["instrument"][split["split"] == "test"]),
            "dropped_recordings": [plan for plan in plans if plan.genre == DROPPED_GENRE]}


@pytest.mark.parametrize(("per_class", "seed"), [(demo.DEFAULT_PER_CLASS, 0),
                                                 (demo.DEFAULT_PER_CLASS, 1), (12, 2)])
def test_the_split_keeps_every_generated_file_but_the_lat_sou_ones(per_class: int,
                                                                    seed: int) -> None:
    counts = split_counts(per_class, seed)
    left_out = counts["stems"] - counts["kept"]
    assert left_out and {parse_stem(stem).genre for stem in left_out} == {DROPPED_GENRE}
    assert len(counts["dropped_recordings"]) == 1  # one recording exercises the genre drop
    assert len(left_out) == counts["dropped_recordings"][0].excerpts
    assert counts["train"] + counts["test"] == counts["generated"]  # balancing dropped none
    assert len(set(counts["train"].values())) == 1 and len(set(counts["test"].values())) == 1
    assert set(counts["train"]) == set(counts["test"]) == set(INSTRUMENTS.values())


def test_the_demo_states_the_counts_of_its_split() -> None:
    counts = split_counts(demo.DEFAULT_PER_CLASS, 0)
    help_text = demo.parser().format_help()
    stated = re.search(r"(\d+) train and (\d+) test files per class", " ".join(help_text.split()))
    assert stated, help_text
    assert {int(stated[1])} == set(counts["train"].values())
    assert {int(stated[2])} == set(counts["test"].values())

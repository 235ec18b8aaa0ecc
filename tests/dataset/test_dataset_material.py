"""Consistency of the generated dataset's musical material (aesens.dataset.material)."""

from __future__ import annotations

from aesens.dataset import GENRES, INSTRUMENTS
from aesens.dataset.compose import ACCOMPANIMENT_STYLES
from aesens.dataset.material import DRUM_PATTERNS, GENRE_STYLES, LEAD_PROGRAMS, MODES
from aesens.dataset.plan import CLASS_GENRES, DRUMS_PROBABILITY


def test_every_class_and_genre_has_material() -> None:
    assert set(LEAD_PROGRAMS) == set(CLASS_GENRES) == set(INSTRUMENTS)
    assert set(GENRE_STYLES) == set(DRUMS_PROBABILITY) == set(GENRES)
    for genres in CLASS_GENRES.values():
        assert set(genres) <= set(GENRES)
    for leads in LEAD_PROGRAMS.values():
        for lead in leads:
            assert 0 <= lead.program <= 127 and lead.low < lead.high


def test_genre_styles_name_known_modes_patterns_and_accompaniments() -> None:
    for style in GENRE_STYLES.values():
        assert set(style.modes) <= set(MODES) | {"blues"}
        assert style.drum_style in DRUM_PATTERNS
        assert set(style.left_hand) <= set(ACCOMPANIMENT_STYLES)
        for arrangement in style.arrangements:
            for accompaniment, programs in arrangement:
                assert accompaniment in ACCOMPANIMENT_STYLES and programs
        for progression in style.progressions:
            assert all(0 <= degree < 7 for degree in progression)

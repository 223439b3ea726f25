"""Hypothesis strategies built on :mod:`netid.documents.synth`."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import strategies as st

from netid.documents import BIRTH_DATE_FLOOR, synth
from netid.documents.countries import foreign_alpha3_codes
from netid.documents.model import Sex
from netid.documents.regions import known_county_codes

from .support import TODAY

rngs = st.randoms(use_true_random=False)
birth_dates = st.dates(min_value=BIRTH_DATE_FLOOR, max_value=TODAY)
_SEXES: tuple[Sex, Sex] = ("M", "F")
sexes = st.sampled_from(_SEXES)
county_codes = st.sampled_from(known_county_codes())
nationalities = st.sampled_from(foreign_alpha3_codes())


@st.composite
def resident_ids(draw: st.DrawFn) -> tuple[str, dt.date, Sex, str]:
    """(number, birth_date, sex, region_code) of a valid 18-character resident ID."""
    rng: random.Random = draw(rngs)
    born = draw(birth_dates)
    sex = draw(sexes)
    region = draw(county_codes)
    return synth.resident_id(rng, birth_date=born, sex=sex, region_code=region), born, sex, region

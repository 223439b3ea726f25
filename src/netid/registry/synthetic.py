"""A synthetic, realistic registry population for tests, demos and the 1,000,000-person benchmark.

Everything is drawn from one ``random.Random(seed)``: the same ``(people, seed, today)`` give the
same records and, through :func:`write_population`, the same bytes (and a longer run starts with
the same people). Generation streams: memory stays flat in ``people`` (a 16 MiB Bloom filter
keeps document numbers unique, phone numbers come from a bijection of a counter, guardian
candidates live in small bounded pools); about 50 MB RSS for 1,000,000 people. No database, no
I/O besides the output file of :func:`write_population`.

Speed: ≈18 µs per person including JSON encoding (≈55,000 people/s on one core of the 2-core
development box, 48,000-52,000/s end to end while other jobs share the box); a little under half
of that is :func:`netid.documents.synth.resident_id`.

The import record
=================

JSON Lines (``.jsonl`` or ``.json``): one person per line, UTF-8, in the import record
format that :mod:`netid.registry.schemas` documents (keys in its order, ``null`` or ``[]``
where absent).

``name``
    exactly as registered (valid for :func:`netid.core.text.validate_name`; separator U+00B7).
``sex``
    ``M`` | ``F``.
``birth_date``, ``death_date``
    ISO dates; ``death_date`` is set exactly when ``status`` is ``deceased``.
``nationality``
    ISO 3166-1 alpha-3: ``CHN`` for Chinese citizens, including Hong Kong, Macau and Taiwan
    residents and citizens settled abroad.
``ethnicity``
    GB/T 3304-1991 code (:mod:`netid.core.ethnicity`) for Chinese citizens, ``null`` for
    foreigners.
``region_code``
    GB/T 2260 county code of the household registration (the first six digits of the resident
    ID); ``null`` for foreigners, Hong Kong/Macau/Taiwan residents and citizens settled abroad
    (who hold no household registration).
``status``
    ``active`` | ``deceased``. The person's status is authoritative: a deceased person's
    documents keep their own status (``expired`` once their term has passed); the deceased
    have no phones.
``phones``
    E.164 mainland mobiles ``+861[3-9]xxxxxxxxx``; unique within a file.
``documents``
    ``number`` (valid for :func:`netid.documents.check_document_number`, unique within a file,
    birth date and sex consistent with the person where the format encodes them), ``status``
    (``valid`` | ``expired`` | ``revoked`` | ``reported_lost``), ``issued_on``, ``expires_on``
    (``null`` for a long-term resident ID, issued at 46 or older). The first document is the
    person's primary one.
``guardians``
    for minors under 16 only: one or two links ``{"document_number", "relation"}`` with
    ``relation`` ``father`` | ``mother`` | ``guardian``; the number is the guardian's *first*
    document, and the guardian is an adult who appears **earlier** in the same file.

CSV (``.csv``): UTF-8 without BOM, written by the ``csv`` module (excel dialect, CRLF), header
``name,sex,birth_date,nationality,ethnicity,region_code,status,death_date,phones,documents,
guardians``; ``null`` is the empty field; ``phones`` are ``;``-separated; ``documents`` are
``;``-separated ``number|status|issued_on|expires_on``; ``guardians`` are ``;``-separated
``document_number|relation``. (None of these characters occurs in a number, date or phone.)

The population
==============

Shaped on the 2020 census and later births (targets; ``tests/registry/test_synthetic.py``
checks them on 20,000 people):

* ages 0-100, ≈18 % under 18 and ≈20 % aged 60 or more, sexes ≈50/50 (more women among the
  old); birth dates uniform within each year of age;
* categories: ≈98.35 % mainland household registration (resident ID; 1.1 % also hold a passport),
  0.4 % citizens settled abroad (passport only), 1.0 % Hong Kong/Macau/Taiwan residents (travel
  permit, 65 % also a residence permit), 0.25 % foreigners (permanent residence card: 2017
  15-character, 2023 18-digit, or both -- an expired 2017 card has been replaced);
* ethnicity: 91.1 % Han, minorities by census size with their main provinces; Uyghur, Kazakh,
  Kyrgyz, Tajik, Uzbek, Tatar and Russian names, transliterated names of citizens of foreign
  origin (98), and some Mongolian and Manchu (爱新觉罗·…) names use U+00B7;
  counties drawn from every province (population-weighted, then uniform within a province);
* 1.5 % of Han-style names carry a character outside the BMP (CJK Ext B-E), as real registries
  must; Hong Kong/Macau/Taiwan residents have traditional characters; foreigners Latin names
  (some kanji for Japanese), with diacritics in NFC;
* ≈0.5 % deceased (mostly old), ≈0.5 % of documents expired, reported lost or revoked;
* minors under 16 have one or two guardians (parents whose surname, household registration and
  ethnicity they inherit; the two parents mostly from one province), 4 % another guardian
  (relation ``guardian``, a grandparent's age); when no suitable earlier adult exists, a parent
  is generated first, and no adult is linked to more than 3 children;
* phones: most adults one mobile, some two, some old people none, children under 10 none.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import datetime as dt
import functools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

import orjson

from netid.core.ethnicity import ETHNICITIES, HAN
from netid.core.text import MIDDLE_DOT
from netid.documents import regions, synth
from netid.documents.model import Sex
from netid.registry.schemas import FIELDS

__all__ = ["CSV_HEADER", "generate_population", "write_population"]

T = TypeVar("T")
Record = dict[str, Any]

CSV_HEADER: Final = FIELDS  # the importer's record fields, in their documented order

# --- person categories -------------------------------------------------------------------
_MAINLAND, _ABROAD, _HMT, _FOREIGN = 0, 1, 2, 3
_CATEGORY_CUM: Final = (0.9835, 0.9875, 0.9975)  # cumulative; the rest are foreigners
_MAINLAND_PASSPORT: Final = 0.011
_HMT_AREAS: Final = (("HK", 0.45), ("MO", 0.10), ("TW", 0.45))
_AISIN_GIORO: Final = "爱新觉罗"  # the Manchu imperial clan name, written with U+00B7
_AISIN_GIORO_SHARE: Final = 0.015
_HMT_RESIDENCE_PERMIT: Final = 0.65
_FOREIGN_BOTH_CARDS: Final = 0.20
_FOREIGN_2023_ONLY: Final = 0.35
_BAD_DOCUMENT: Final = 0.005  # expired / reported_lost / revoked
_SUPPLEMENTARY_NAME: Final = 0.015
_PARENT_REUSE: Final = 3  # children per pooled parent at most
_PARENT_ATTEMPTS: Final = 20
_POOL_CAP: Final = 24
_POOL_REFRESH: Final = 0.1  # chance that an adult replaces someone in a full pool

# GB 11643 / permit rules in force: first issue dates of the document generations.
_RESIDENCE_PERMIT_START: Final = dt.date(2018, 9, 1)
_PR2017_FIRST: Final = dt.date(2004, 8, 15)
_PR2017_LAST: Final = dt.date(2023, 11, 30)
_PR2023_FIRST: Final = dt.date(2023, 12, 1)

# 2020 census, population by 5-year age group (millions), 0-4 ... 95-99, 100+.
_CENSUS_2020: Final = (
    77.9, 90.2, 85.3, 72.7, 74.9, 91.9, 124.1, 99.0, 93.0, 114.2,
    121.4, 101.4, 73.4, 74.0, 47.8, 31.0, 20.4, 11.4, 4.4, 0.9, 0.12,
)  # fmt: skip
_AGE_TARGETS: Final = ((0, 18, 0.18), (18, 60, 0.62), (60, 101, 0.20))

# 2020 census, province population (millions); GB/T 2260 province codes.
_PROVINCE_POPULATION: Final = {
    "11": 21.9, "12": 13.9, "13": 74.6, "14": 34.9, "15": 24.0, "21": 42.6, "22": 24.1,
    "23": 31.9, "31": 24.9, "32": 84.7, "33": 64.6, "34": 61.0, "35": 41.5, "36": 45.2,
    "37": 101.5, "41": 99.4, "42": 57.8, "43": 66.4, "44": 126.0, "45": 50.1, "46": 10.1,
    "50": 32.1, "51": 83.7, "52": 38.6, "53": 47.2, "54": 3.6, "61": 39.5, "62": 25.0,
    "63": 5.9, "64": 7.2, "65": 25.9,
}  # fmt: skip

# 2020 census, minority populations (10,000s) and main provinces (share of the group).
_MINORITIES: Final[dict[str, tuple[float, dict[str, float]]]] = {
    "02": (629, {"15": 0.7, "21": 0.1, "22": 0.05, "65": 0.05, "13": 0.05, "23": 0.05}),
    "03": (1138, {"64": 0.2, "62": 0.12, "65": 0.09, "41": 0.08, "63": 0.07, "53": 0.06,
                  "13": 0.05, "37": 0.05, "11": 0.03, "15": 0.03, "*": 0.22}),
    "04": (706, {"54": 0.45, "51": 0.22, "63": 0.2, "62": 0.07, "53": 0.03, "*": 0.03}),
    "05": (1177, {"65": 0.99, "*": 0.01}),
    "06": (1107, {"52": 0.42, "43": 0.2, "53": 0.11, "50": 0.05, "45": 0.05, "*": 0.17}),
    "07": (983, {"53": 0.56, "51": 0.3, "52": 0.1, "*": 0.04}),
    "08": (1957, {"45": 0.9, "53": 0.06, "44": 0.03, "*": 0.01}),
    "09": (358, {"52": 0.97, "*": 0.03}),
    "10": (170, {"22": 0.6, "23": 0.15, "21": 0.1, "*": 0.15}),
    "11": (1042, {"21": 0.5, "13": 0.2, "23": 0.1, "22": 0.08, "15": 0.04, "11": 0.03,
                  "*": 0.05}),
    "12": (350, {"52": 0.5, "43": 0.3, "45": 0.1, "*": 0.1}),
    "13": (331, {"45": 0.6, "43": 0.25, "44": 0.07, "53": 0.07, "*": 0.01}),
    "14": (209, {"53": 0.8, "43": 0.1, "52": 0.1}),
    "15": (959, {"43": 0.3, "42": 0.25, "52": 0.2, "50": 0.15, "*": 0.1}),
    "16": (173, {"53": 1.0}),
    "17": (156, {"65": 0.98, "*": 0.02}),
    "18": (133, {"53": 1.0}),
    "19": (160, {"46": 1.0}),
    "20": (76, {"53": 1.0}),
    "21": (43, {"53": 1.0}),
    "22": (75, {"35": 0.5, "33": 0.3, "36": 0.1, "*": 0.1}),
    "23": (0.4, {"35": 1.0}),
    "24": (50, {"53": 1.0}),
    "25": (50, {"52": 1.0}),
    "26": (77, {"62": 0.9, "65": 0.1}),
    "27": (32, {"53": 1.0}),
    "28": (16, {"53": 1.0}),
    "29": (20, {"65": 1.0}),
    "30": (28, {"63": 0.8, "62": 0.2}),
    "31": (13, {"15": 0.6, "23": 0.3, "65": 0.1}),
    "32": (28, {"45": 1.0}),
    "33": (31, {"51": 1.0}),
    "34": (13, {"53": 1.0}),
    "35": (17, {"63": 0.9, "62": 0.1}),
    "36": (12, {"45": 1.0}),
    "37": (68, {"52": 1.0}),
    "38": (19, {"21": 0.7, "65": 0.3}),
    "39": (4.4, {"53": 1.0}),
    "40": (4.5, {"53": 1.0}),
    "41": (5.1, {"65": 1.0}),
    "42": (3.7, {"53": 1.0}),
    "43": (1.2, {"65": 1.0}),
    "44": (1.6, {"65": 0.6, "15": 0.4}),
    "45": (3.4, {"15": 1.0}),
    "46": (2.2, {"53": 1.0}),
    "47": (2.4, {"62": 1.0}),
    "48": (1.5, {"62": 1.0}),
    "49": (3.3, {"45": 1.0}),
    "50": (0.36, {"65": 1.0}),
    "51": (0.7, {"53": 1.0}),
    "52": (0.9, {"15": 0.6, "23": 0.4}),
    "53": (0.5, {"23": 1.0}),
    "54": (1.1, {"54": 1.0}),
    "55": (0.4, {"54": 1.0}),
    "56": (2.6, {"53": 1.0}),
    "97": (84, {"52": 0.9, "*": 0.1}),
    "98": (1.7, {"*": 1.0}),
}  # fmt: skip
_MINORITY_SHARE: Final = 0.089

_SINGLE_GIVEN_SHARE: Final = (0.35, 0.25, 0.12)  # one-character given names, by era
# Patronymic naming (own name · father's name): Uyghur, Kazakh, Kyrgyz, Tajik, Uzbek, Tatar.
_TURKIC: Final = frozenset({"05", "17", "29", "41", "43", "50"})
_NATIONALITIES: Final = (
    ("USA", "en", 0.16), ("KOR", "ko", 0.12), ("JPN", "ja", 0.04), ("JPN", "ja-kanji", 0.04),
    ("CAN", "en", 0.07), ("AUS", "en", 0.05), ("GBR", "en", 0.05), ("DEU", "de", 0.05),
    ("FRA", "fr", 0.04), ("SGP", "en", 0.05), ("MYS", "ms-zh", 0.04), ("RUS", "ru", 0.04),
    ("PAK", "south-asian", 0.03), ("VNM", "vi", 0.03), ("ITA", "it", 0.02), ("ESP", "es", 0.02),
    ("NLD", "nordic", 0.02), ("IND", "south-asian", 0.02), ("BRA", "pt", 0.02), ("NZL", "en", 0.01),
    ("SWE", "nordic", 0.01), ("POL", "pl", 0.01), ("MEX", "es", 0.01), ("UKR", "uk", 0.01),
    ("KAZ", "kk", 0.01), ("PRT", "pt", 0.01), ("AUT", "de", 0.01), ("BEL", "fr", 0.01),
)  # fmt: skip
_MOBILE_PREFIXES: Final = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "166", "170", "171", "172", "173",
    "175", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187", "188",
    "189", "190", "191", "193", "195", "196", "197", "198", "199",
)  # fmt: skip


def _words(text: str) -> tuple[str, ...]:
    """Space-separated words; ``|`` inside a word stands for a space."""
    return tuple(word.replace("|", " ") for word in text.split())


class _Weighted(Generic[T]):
    """Weighted choice by bisection over cumulative weights (one ``random()`` per draw)."""

    __slots__ = ("cum", "items", "last", "total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        items: list[T] = []
        cum: list[float] = []
        acc = 0.0
        for item, weight in pairs:
            if weight > 0:
                acc += weight
                items.append(item)
                cum.append(acc)
        if not items:
            raise ValueError("no positive weight")
        self.items = tuple(items)
        self.cum = cum
        self.total = acc
        self.last = len(items) - 1

    def pick(self, u: float) -> T:
        i = bisect.bisect_right(self.cum, u * self.total)
        return self.items[i if i <= self.last else self.last]


class _Culture:
    __slots__ = ("family", "family_first", "female", "male")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.male = _words(spec["m"])
        self.female = _words(spec["f"])
        self.family = _words(spec["family"])
        self.family_first = bool(spec["family_first"])


class _Tables:
    """Everything that does not depend on the seed, built once per process."""

    def __init__(self) -> None:
        raw = resources.files("netid.registry").joinpath("data/synthetic_names.json").read_bytes()
        words: dict[str, Any] = orjson.loads(raw)

        shape: list[float] = []
        for age in range(101):
            base = age - 4  # the 2020 census, shifted to the mid-2020s
            shape.append(9.5 if base < 0 else _CENSUS_2020[min(base // 5, 20)] / 5)
        weights = list(shape)
        for lo, hi, share in _AGE_TARGETS:
            segment = sum(shape[lo:hi])
            for age in range(lo, hi):
                weights[age] = shape[age] / segment * share
        self.ages = _Weighted(list(enumerate(weights)))

        counties: dict[str, list[str]] = {}
        for code in regions.known_county_codes():
            counties.setdefault(code[:2], []).append(code)
        self.counties = {p: tuple(c) for p, c in sorted(counties.items())}
        han = [(p, _PROVINCE_POPULATION.get(p, 1.0)) for p in self.counties]
        total = sum(w for _p, w in han)
        self.han_provinces = _Weighted(han)
        self.minority_provinces: dict[str, _Weighted[str]] = {}
        for code, (_size, where) in _MINORITIES.items():
            spread = where.get("*", 0.0)
            pairs = [(p, w) for p, w in where.items() if p in self.counties]
            pairs += [(p, spread * w / total) for p, w in han]
            self.minority_provinces[code] = _Weighted(pairs)
        self.minorities = _Weighted([(code, size) for code, (size, _w) in _MINORITIES.items()])
        if not all(code in ETHNICITIES for code in _MINORITIES):  # pragma: no cover
            raise AssertionError("minority table uses an unknown GB/T 3304 code")

        self.surnames = _Weighted(list(words["surnames"].items()))
        self.surname_set = frozenset(words["surnames"])
        self.given = {(key[0], int(key[1])): chars for key, chars in words["given_chars"].items()}
        self.supplementary = _words(words["supplementary"])
        simplified, traditional = words["traditional"]
        self.traditional = str.maketrans(simplified, traditional)
        self.turkic_m, self.turkic_f = _words(words["turkic_m"]), _words(words["turkic_f"])
        self.mongol_m, self.mongol_f = _words(words["mongol_m"]), _words(words["mongol_f"])
        self.tibetan_first = _words(words["tibetan_first"])
        self.tibetan_m, self.tibetan_f = _words(words["tibetan_m"]), _words(words["tibetan_f"])
        self.russian_m, self.russian_f = _words(words["russian_m"]), _words(words["russian_f"])
        self.russian_family_m = _words(words["russian_family_m"])
        self.russian_family_f = _words(words["russian_family_f"])
        self.origin_m = _words(words["foreign_origin_m"])
        self.origin_f = _words(words["foreign_origin_f"])
        self.origin_family = _words(words["foreign_origin_family"])
        self.cultures = {name: _Culture(spec) for name, spec in words["cultures"].items()}
        self.nationalities = _Weighted([(f"{a}/{c}", w) for a, c, w in _NATIONALITIES])
        self.hmt_areas = _Weighted(_HMT_AREAS)
        self.resident_id_validity = tuple(_resident_id_validity(age) for age in range(130))


@functools.cache
def _tables() -> _Tables:
    return _Tables()


def _shift_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February in a common year
        return d.replace(year=d.year + years, day=28)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# Validity in years by age at issue (None = long-term).
def _resident_id_validity(age: int) -> int | None:
    # 居民身份证法 art. 5: under 16: 5 years; 16-25: 10; 26-45: 20; 46 and older: long-term.
    if age < 16:
        return 5
    if age <= 25:
        return 10
    if age <= 45:
        return 20
    return None


def _passport_validity(age: int) -> int:
    return 5 if age < 16 else 10  # 护照法 art. 6


def _adult_ten_validity(age: int) -> int:
    return 5 if age < 18 else 10  # HK/MO travel permits, foreigner's permanent residence cards


def _five_years(_age: int) -> int:
    return 5  # Taiwan travel permits, residence permits


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3.3e24."""
    if n < 2:
        return False
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in bases:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.cache
def _bloom_moduli(log2: int) -> tuple[int, int]:
    """The two largest primes below 2**log2 (the Bloom filter's hash moduli)."""
    found: list[int] = []
    n = (1 << log2) - 1
    while len(found) < 2:
        if _is_prime(n):
            found.append(n)
        n -= 2
    return found[0], found[1]


class _Bloom:
    """Fixed-size Bloom filter over document numbers (``[0-9A-Z]+``), deterministic.

    The two positions are the number (read in base 36, tagged with its length) modulo two
    distinct primes, so they are independent (CRT) and cost one ``int()`` and two ``%``. A
    false positive only makes the generator draw another number: uniqueness is exact, memory
    is flat (16 MiB up to 8 million people, then 2 bytes per person up to 1 GiB), and with
    1 million numbers stored fewer than 3 draws in 10,000 are repeated.
    """

    __slots__ = ("bits", "p1", "p2")

    def __init__(self, people: int) -> None:
        log2 = min(33, max(27, math.ceil(math.log2(max(people, 1) * 16))))
        self.bits = bytearray(1 << (log2 - 3))
        self.p1, self.p2 = _bloom_moduli(log2)

    def add(self, number: str) -> bool:
        """Add ``number``; False if it was (probably) there already."""
        value = int(number, 36) << 6 | len(number)
        a, b = value % self.p1, value % self.p2
        bits = self.bits
        ma, mb = 1 << (a & 7), 1 << (b & 7)
        a, b = a >> 3, b >> 3
        if bits[a] & ma and bits[b] & mb:
            return False
        bits[a] |= ma
        bits[b] |= mb
        return True


class _Phones:
    """Unique mainland mobiles from an affine bijection of a counter (no set of numbers kept)."""

    __slots__ = ("a", "b", "i", "m")

    def __init__(self, rng: random.Random) -> None:
        self.m = len(_MOBILE_PREFIXES) * 10**8
        a = rng.randrange(self.m // 3, self.m)
        while math.gcd(a, self.m) != 1:
            a += 1
        self.a = a
        self.b = rng.randrange(self.m)
        self.i = 0

    def next(self) -> str:
        q = (self.a * self.i + self.b) % self.m
        self.i += 1
        return f"+86{_MOBILE_PREFIXES[q // 100_000_000]}{q % 100_000_000:08d}"


class _Parent:
    """A guardian candidate: an alive adult whose first document is valid."""

    __slots__ = ("document", "ethnicity", "region", "token", "uses")

    def __init__(
        self, document: str, region: str | None, token: str, ethnicity: str | None
    ) -> None:
        self.document = document
        self.region = region
        self.token = token  # family name (or, in patronymic cultures, the parent's own name)
        self.ethnicity = ethnicity
        self.uses = 0


_PoolKey = tuple[int, str, str, int]  # (category, area or nationality/culture, sex, birth year)


class _Generator:
    def __init__(self, people: int, seed: int, today: dt.date) -> None:
        if people < 0:
            raise ValueError("people must not be negative")
        self.people = people
        self.today = today
        self.today_ord = today.toordinal()
        self.today_iso = today.isoformat()
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
        self.rnd = self.rng.random
        self.t = _tables()
        self.seen = _Bloom(people)
        self.phones = _Phones(self.rng)
        self.pools: dict[_PoolKey, list[_Parent]] = {}
        self.parents_created = 0
        # birth dates of each age: (first ordinal, number of days)
        self.birth_ranges: list[tuple[int, int]] = []
        for age in range(101):
            latest = _shift_years(today, -age).toordinal()
            earliest = _shift_years(today, -age - 1).toordinal() + 1
            self.birth_ranges.append((earliest, latest - earliest + 1))

    # --- people -------------------------------------------------------------------------
    def run(self) -> Iterator[Record]:
        rnd = self.rnd
        t = self.t
        pick_age = t.ages.pick
        birth_ranges = self.birth_ranges
        fromordinal = dt.date.fromordinal
        mainland_cut, abroad_cut, hmt_cut = _CATEGORY_CUM
        emitted = 0
        emit: list[Record] = []
        while emitted < self.people:
            u = rnd()
            if u < mainland_cut:
                cat, sub = _MAINLAND, ""
            elif u < abroad_cut:
                cat, sub = _ABROAD, ""
            elif u < hmt_cut:
                cat, sub = _HMT, t.hmt_areas.pick(rnd())
            else:
                cat, sub = _FOREIGN, t.nationalities.pick(rnd())
            age = pick_age(rnd())
            first, days = birth_ranges[age]
            birth = fromordinal(first + int(rnd() * days))
            v = rnd()
            sex: Sex = "M" if v < (0.512 if age < 60 else 0.49 if age < 80 else 0.42) else "F"
            guardians: list[tuple[_Parent, str]] | None = None
            if age < 16:
                guardians = self._guardians(cat, sub, birth, emit)
                for record in emit:  # parents generated just now come before their ward
                    yield record
                    emitted += 1
                    if emitted >= self.people:
                        return
                emit.clear()
            yield self._person(cat, sub, sex, age, birth, guardians)[0]
            emitted += 1

    def _person(
        self,
        cat: int,
        sub: str,
        sex: Sex,
        age: int,
        birth: dt.date,
        guardians: list[tuple[_Parent, str]] | None,
        *,
        hint: _Parent | None = None,
        as_parent: bool = False,
    ) -> tuple[Record, _Parent | None]:
        """One record, and its guardian-pool entry if the person can be a guardian.

        ``as_parent``: generated for a ward, so alive and always returned as a pool entry;
        ``hint`` is then the ward's other parent, whose household registration and ethnicity
        this one shares.
        """
        rnd = self.rnd
        t = self.t
        birth_iso = birth.isoformat()
        family = guardians[0][0] if guardians else hint
        death: dt.date | None = None
        if not as_parent and rnd() < (0.035 if age >= 70 else 0.007 if age >= 60 else 0.0012):
            first = max(birth.toordinal(), self.today_ord - 1826)  # died in the last 5 years
            death = dt.date.fromordinal(first + int(rnd() * (self.today_ord - first + 1)))
        documents: list[Record] = []
        ethnicity: str | None = None
        region: str | None = None
        nationality = "CHN"
        if cat == _MAINLAND:
            if family is not None:
                ethnicity, region = family.ethnicity, family.region
            elif rnd() >= _MINORITY_SHARE:
                ethnicity = HAN
            else:
                ethnicity = t.minorities.pick(rnd())
            inherit = guardians[0][0].token if guardians else None
            if ethnicity == HAN:
                surname, given = self._han(sex, birth, inherit, ethnicity)
                name, token = surname + given, surname
            else:
                name, token = self._name(sex, birth, ethnicity, inherit)
            if region is None:
                region = self._region(ethnicity)
            rng, seen_add = self.rng, self.seen.add
            resident_id = synth.resident_id
            while True:
                number = resident_id(rng, birth_date=birth, sex=sex, region_code=region)
                if seen_add(number):
                    break
            bad = rnd() < _BAD_DOCUMENT
            if death is None and not bad:
                documents.append(self._valid_resident_id(number, birth, birth_iso))
            else:
                doc = self._document(number, _resident_id_validity, birth, birth, death, bad=bad)
                assert doc is not None
                documents.append(doc)
            if rnd() < _MAINLAND_PASSPORT:
                self._passport(documents, birth, death)
        elif cat == _FOREIGN:
            nationality, culture = sub.split("/")
            name, token = self._foreign_name(sex, culture, family.token if family else None)
            self._foreign_documents(documents, nationality, sex, birth, death)
        else:
            if family is not None:
                ethnicity = family.ethnicity
            elif cat == _HMT:
                ethnicity = "23" if sub == "TW" and rnd() < 0.02 else HAN
            else:
                ethnicity = HAN if rnd() >= _MINORITY_SHARE else t.minorities.pick(rnd())
            name, token = self._name(
                sex, birth, ethnicity, guardians[0][0].token if guardians else None
            )
            if cat == _HMT:
                name = name.translate(t.traditional)
                self._hmt_documents(documents, sub, sex, birth, death)
            else:
                self._passport(documents, birth, death)
        phones: list[str] = []
        if death is None:
            v = rnd()
            if cat == _MAINLAND:
                if age >= 18:
                    count = 0 if v < (0.25 if age >= 75 else 0.02) else 1 if v < 0.93 else 2
                else:
                    count = 0 if age < 10 else int(v < (0.4 if age < 16 else 0.8))
            elif age < 10:
                count = 0
            else:
                count = int(v < (0.3 if cat == _ABROAD else 0.6 if cat == _HMT else 0.8))
            if count:
                phones.append(self.phones.next())
                if count == 2:
                    phones.append(self.phones.next())
        record: Record = {
            "name": name,
            "sex": sex,
            "birth_date": birth_iso,
            "nationality": nationality,
            "ethnicity": ethnicity,
            "region_code": region,
            "status": "active" if death is None else "deceased",
            "death_date": None if death is None else death.isoformat(),
            "phones": phones,
            "documents": documents,
            "guardians": [
                {"document_number": parent.document, "relation": relation}
                for parent, relation in guardians
            ]
            if guardians
            else [],
        }
        parent: _Parent | None = None
        if death is None and age >= 18 and (as_parent or documents[0]["status"] == "valid"):
            key = (cat, sub, sex, birth.year)
            pool = self.pools.get(key)
            if pool is None:
                pool = self.pools[key] = []
            if len(pool) < _POOL_CAP:
                parent = _Parent(documents[0]["number"], region, token, ethnicity)
                pool.append(parent)
            elif as_parent or rnd() < _POOL_REFRESH:
                parent = _Parent(documents[0]["number"], region, token, ethnicity)
                pool[int(rnd() * _POOL_CAP)] = parent
        return record, parent

    def _region(self, ethnicity: str | None) -> str:
        rnd = self.rnd
        if ethnicity is None or ethnicity == HAN:
            province = self.t.han_provinces.pick(rnd())
        else:
            province = self.t.minority_provinces[ethnicity].pick(rnd())
        counties = self.t.counties[province]
        return counties[int(rnd() * len(counties))]

    # --- names --------------------------------------------------------------------------
    def _han(
        self, sex: Sex, birth: dt.date, surname: str | None, ethnicity: str | None
    ) -> tuple[str, str]:
        """(surname, given name) in the Han style; 1.5 % carry a supplementary-plane character."""
        rnd = self.rnd
        t = self.t
        if surname is None or surname not in t.surname_set:
            surname = "马" if ethnicity == "03" and rnd() < 0.4 else t.surnames.pick(rnd())
        era = 0 if birth.year < 1965 else 1 if birth.year < 1990 else 2
        chars = t.given[(sex, era)]
        n = len(chars)
        given = chars[int(rnd() * n)]
        if rnd() >= _SINGLE_GIVEN_SHARE[era]:
            given += chars[int(rnd() * n)]
        if rnd() < _SUPPLEMENTARY_NAME:
            extra = t.supplementary
            given = given[:-1] + extra[int(rnd() * len(extra))]
        return surname, given

    def _name(
        self, sex: Sex, birth: dt.date, ethnicity: str | None, family: str | None
    ) -> tuple[str, str]:
        """(name, family token handed to children) of a Chinese citizen.

        ``family`` is the token of the parent the person takes after: a surname, or the
        father's own name in patronymic cultures (``own · father``).
        """
        rnd = self.rnd
        t = self.t
        male = sex == "M"

        def one(words: Sequence[str]) -> str:
            return words[int(rnd() * len(words))]

        if ethnicity in _TURKIC:
            own = one(t.turkic_m if male else t.turkic_f)
            return own + MIDDLE_DOT + (family or one(t.turkic_m)), own
        if ethnicity == "44":  # Russian: given · family name in its gendered form
            i = int(rnd() * len(t.russian_family_m))
            if family in t.russian_family_m:
                i = t.russian_family_m.index(family)
            fam = (t.russian_family_m if male else t.russian_family_f)[i]
            return one(t.russian_m if male else t.russian_f) + MIDDLE_DOT + fam, fam
        if ethnicity == "98":  # Chinese citizens of foreign origin: transliterated names
            fam = family or one(t.origin_family)
            return one(t.origin_m if male else t.origin_f) + MIDDLE_DOT + fam, fam
        if ethnicity == "02" and rnd() < 0.35:  # Mongolian names, half with the father's name
            own = one(t.mongol_m if male else t.mongol_f)
            if rnd() < 0.5:
                return own + MIDDLE_DOT + (family or one(t.mongol_m)), own
            return own, own
        if ethnicity == "04" and rnd() < 0.8:  # Tibetan: two name parts, no family name
            return one(t.tibetan_first) + one(t.tibetan_m if male else t.tibetan_f), ""
        if family == _AISIN_GIORO or (
            ethnicity == "11" and family is None and rnd() < _AISIN_GIORO_SHARE
        ):
            _surname, given = self._han(sex, birth, None, ethnicity)
            return _AISIN_GIORO + MIDDLE_DOT + given, _AISIN_GIORO
        surname, given = self._han(sex, birth, family, ethnicity)
        return surname + given, surname

    def _foreign_name(self, sex: Sex, culture: str, family: str | None) -> tuple[str, str]:
        rnd = self.rnd
        c = self.t.cultures[culture]
        given_list = c.male if sex == "M" else c.female
        given = given_list[int(rnd() * len(given_list))]
        fam = family or c.family[int(rnd() * len(c.family))]
        return (f"{fam} {given}" if c.family_first else f"{given} {fam}"), fam

    # --- guardians ----------------------------------------------------------------------
    def _pool_take(
        self, cat: int, sub: str, sex: Sex, year: int, near: str | None
    ) -> _Parent | None:
        """A pooled adult born within 3 years of ``year``; with ``near`` (the other parent's
        household registration), someone from the same province is preferred."""
        rnd = self.rnd
        for dy in (0, 1, -1, 2, -2, 3, -3):
            pool = self.pools.get((cat, sub, sex, year + dy))
            if pool:
                n = len(pool)
                i = int(rnd() * n)
                if near is not None:  # scan from a random start for the same province
                    province = near[:2]
                    for k in range(n):
                        region = pool[(i + k) % n].region
                        if region is not None and region[:2] == province:
                            i = (i + k) % n
                            break
                parent = pool[i]
                parent.uses += 1
                if parent.uses >= _PARENT_REUSE:
                    pool[i] = pool[-1]
                    pool.pop()
                return parent
        return None

    def _guardians(
        self, cat: int, sub: str, birth: dt.date, emit: list[Record]
    ) -> list[tuple[_Parent, str]]:
        """Choose 1-2 guardians; parents that had to be generated are appended to ``emit``."""
        rnd = self.rnd
        u = rnd()
        wanted: list[tuple[str, Sex, int]] = []  # (relation, sex, birth year)
        if u < 0.82 or u >= 0.96:  # both parents 82 %, father only 4 %
            wanted.append(("father", "M", birth.year - 22 - int(rnd() * 18)))
        if u < 0.92:  # mother only 10 %
            wanted.append(("mother", "F", birth.year - 20 - int(rnd() * 17)))
        if not wanted:  # another guardian, e.g. a grandparent, 4 %
            grand_sex: Sex = "F" if rnd() < 0.6 else "M"
            wanted.append(("guardian", grand_sex, birth.year - 45 - int(rnd() * 20)))
        chosen: list[tuple[_Parent, str]] = []
        youngest, oldest = self.today.year - 19, self.today.year - 95
        for relation, sex, year in wanted:
            year = max(min(year, youngest), oldest)
            hint = chosen[0][0] if chosen else None
            parent = self._pool_take(cat, sub, sex, year, hint.region if hint else None)
            if parent is None:
                record, parent = self._make_parent(cat, sub, sex, year, hint)
                emit.append(record)
            chosen.append((parent, relation))
        return chosen

    def _make_parent(
        self, cat: int, sub: str, sex: Sex, year: int, hint: _Parent | None
    ) -> tuple[Record, _Parent]:
        """An alive adult born in ``year`` for a ward's link, preferably (in practice always)
        one whose first document is valid."""
        self.parents_created += 1
        age = min(100, max(19, self.today.year - year))
        for attempt in range(_PARENT_ATTEMPTS):
            first, days = self.birth_ranges[age]
            birth = dt.date.fromordinal(first + int(self.rnd() * days))
            record, parent = self._person(
                cat, sub, sex, age, birth, None, hint=hint, as_parent=True
            )
            if record["documents"][0]["status"] == "valid" or attempt == _PARENT_ATTEMPTS - 1:
                break
            # A discarded attempt is never written, so no ward may ever pick it as a parent.
            pool = self.pools[(cat, sub, sex, birth.year)]
            pool[:] = [p for p in pool if p is not parent]
        assert parent is not None  # as_parent: always an entry
        parent.uses += 1
        return record, parent

    # --- documents ----------------------------------------------------------------------
    def _valid_resident_id(self, number: str, birth: dt.date, birth_iso: str) -> Record:
        """Fast path: the card in force today for a living person (居民身份证法 art. 5).

        The card history is simulated in whole days: an optional child card (5 years) before
        16, the first adult card at 16 to 17.5 (10 years), renewed at expiry (within 60 days)
        at 26+ (20 years) and 46+ (long-term). The day counts are lower bounds of the calendar
        periods (10 years ≥ 3652 days, 20 years ≥ 7304, 5 years ≥ 1826), so the returned card
        has not expired and its validity matches the holder's age on the issue date.
        """
        rnd = self.rnd
        today_ord = self.today_ord
        birth_ord = birth.toordinal()
        issue = birth_ord + 5844 + int(rnd() * 540)  # 16 years are at most 5844 days
        if issue <= today_ord:
            years = 10
            if issue + 3652 <= today_ord:
                issue += 3653 + int(rnd() * 60)
                years = 20
                if issue + 7304 <= today_ord:
                    issue += 7305 + int(rnd() * 60)
                    years = 0
            issue = min(issue, today_ord)
        else:  # a child card, issued within the last five years and before the 16th birthday
            first = max(birth_ord, today_ord - 1825)
            issue = first + int(rnd() * (min(today_ord, birth_ord + 5843) - first + 1))
            years = 5
        issued = dt.date.fromordinal(issue).isoformat()
        if not years:
            return {"number": number, "status": "valid", "issued_on": issued,
                    "expires_on": None}  # fmt: skip
        end = int(issued[:4]) + years
        md = issued[5:]
        expires = f"{end}-{md}" if md != "02-29" or calendar.isleap(end) else f"{end}-02-28"
        return {"number": number, "status": "valid", "issued_on": issued,
                "expires_on": expires}  # fmt: skip

    def _dates(
        self,
        validity: Callable[[int], int | None],
        birth: dt.date,
        lo: dt.date,
        hi: dt.date,
        *,
        expired: bool,
    ) -> tuple[dt.date, dt.date | None] | None:
        """(issued_on, expires_on) of a card issued in [lo, hi]; None if impossible."""
        rnd = self.rnd
        today = self.today
        lo = max(lo, birth)
        if hi < lo:
            return None
        if expired:
            end = dt.date.fromordinal(self.today_ord - 1 - int(rnd() * 1000))
            for period in (5, 10, 20):
                issued = _shift_years(end, -period)
                if lo <= issued <= hi and validity(_age(birth, issued)) == period:
                    return issued, end
            return None
        lo_ord, hi_ord = lo.toordinal(), hi.toordinal()
        for _attempt in range(3):
            guess = validity(_age(birth, hi)) or 20
            start = max(lo_ord, hi_ord - guess * 365)
            issued = dt.date.fromordinal(start + int(rnd() * (hi_ord - start + 1)))
            years = validity(_age(birth, issued))
            if years is None:
                return issued, None
            expires = _shift_years(issued, years)
            if expires > today:
                return issued, expires
        issued = dt.date.fromordinal(max(lo_ord, hi_ord - int(rnd() * 365)))
        years = validity(_age(birth, issued))
        return issued, None if years is None else _shift_years(issued, years)

    def _document(
        self,
        number: str,
        validity: Callable[[int], int | None],
        birth: dt.date,
        lo: dt.date,
        death: dt.date | None,
        hi: dt.date | None = None,
        *,
        bad: bool | None = None,
    ) -> Record | None:
        """A document record issued in [lo, min(hi, death, today)]; None if impossible.

        0.5 % get a bad status (expired 40 %, reported lost 40 %, revoked 20 %); a card whose
        natural expiry has passed (a dead person's, or one from a closed issuing window) is
        ``expired``.
        """
        rnd = self.rnd
        status = "valid"
        if bad is None:
            bad = rnd() < _BAD_DOCUMENT
        if bad:
            u = rnd()
            status = "expired" if u < 0.4 else "reported_lost" if u < 0.8 else "revoked"
        end = min(hi or self.today, death or self.today)
        dates = self._dates(validity, birth, lo, end, expired=status == "expired")
        if dates is None and status == "expired":
            status = "reported_lost"
            dates = self._dates(validity, birth, lo, end, expired=False)
        if dates is None:
            return None
        issued, expires = dates
        if status == "valid" and expires is not None and expires <= self.today:
            status = "expired"
        return {
            "number": number,
            "status": status,
            "issued_on": issued.isoformat(),
            "expires_on": None if expires is None else expires.isoformat(),
        }

    def _unique(self, make: Callable[[], str]) -> str:
        add = self.seen.add
        while True:
            number = make()
            if add(number):
                return number

    def _passport(self, documents: list[Record], birth: dt.date, death: dt.date | None) -> None:
        rng = self.rng
        number = self._unique(lambda: synth.passport(rng))
        doc = self._document(number, _passport_validity, birth, birth, death)
        assert doc is not None
        documents.append(doc)

    def _hmt_documents(
        self, documents: list[Record], area: str, sex: Sex, birth: dt.date, death: dt.date | None
    ) -> None:
        """Residence permit (65 %, first) and the travel permit every such resident holds."""
        rng = self.rng
        region: Literal["HK", "MO", "TW"] = "HK" if area == "HK" else "MO" if area == "MO" else "TW"
        if rng.random() < _HMT_RESIDENCE_PERMIT:
            number = self._unique(
                lambda: synth.residence_permit(rng, region=region, birth_date=birth, sex=sex)
            )
            doc = self._document(number, _five_years, birth, _RESIDENCE_PERMIT_START, death)
            if doc is not None:  # None: died before residence permits existed
                documents.append(doc)
        if region == "TW":
            number = self._unique(lambda: synth.travel_permit_tw(rng))
            doc = self._document(number, _five_years, birth, birth, death)
        else:
            hkmo: Literal["HK", "MO"] = "HK" if region == "HK" else "MO"
            number = self._unique(lambda: synth.travel_permit_hkmo(rng, hkmo))
            doc = self._document(number, _adult_ten_validity, birth, birth, death)
        assert doc is not None
        documents.append(doc)

    def _foreign_documents(
        self,
        documents: list[Record],
        nationality: str,
        sex: Sex,
        birth: dt.date,
        death: dt.date | None,
    ) -> None:
        """2023 card, 2017 card or both (newest first); the 2017 window closed 2023-11-30, and
        an expired 2017 card has been replaced by a 2023 one."""
        rng = self.rng
        u = rng.random()
        end = death or self.today
        new_possible = end >= _PR2023_FIRST
        old_possible = min(end, _PR2017_LAST) >= max(_PR2017_FIRST, birth)
        want_new = new_possible and (
            u < _FOREIGN_BOTH_CARDS + _FOREIGN_2023_ONLY or not old_possible
        )
        want_old = old_possible and (u < _FOREIGN_BOTH_CARDS or not want_new)
        if want_new:
            number = self._unique(
                lambda: synth.foreign_pr_2023(
                    rng, nationality_alpha3=nationality, birth_date=birth, sex=sex
                )
            )
            doc = self._document(number, _adult_ten_validity, birth, _PR2023_FIRST, death)
            assert doc is not None
            documents.append(doc)
        if want_old or not documents:
            number = self._unique(
                lambda: synth.foreign_pr_2017(rng, nationality_alpha3=nationality, birth_date=birth)
            )
            last = _PR2017_LAST if old_possible else None
            doc = self._document(number, _adult_ten_validity, birth, _PR2017_FIRST, death, last)
            if doc is None:  # only when `today` predates 2004: issued since birth
                doc = self._document(number, _adult_ten_validity, birth, birth, death)
            assert doc is not None
            documents.append(doc)
            if doc["status"] == "expired" and new_possible and not want_new:
                # an expired 2017 card is replaced by a 2023 card (which then comes first)
                number = self._unique(
                    lambda: synth.foreign_pr_2023(
                        rng, nationality_alpha3=nationality, birth_date=birth, sex=sex
                    )
                )
                lo = max(
                    _PR2023_FIRST, dt.date.fromisoformat(doc["expires_on"] or doc["issued_on"])
                )
                renewed = self._document(number, _adult_ten_validity, birth, lo, death)
                if renewed is not None:
                    documents.insert(0, renewed)


def generate_population(*, people: int, seed: int, today: dt.date) -> Iterator[Record]:
    """Yield ``people`` import records (see the module docstring), deterministically per seed.

    Guardians always precede their wards. Records are fresh dicts; nothing is retained.
    """
    return _Generator(people, seed, today).run()


def _csv_row(record: Record) -> list[str]:
    return [
        record["name"],
        record["sex"],
        record["birth_date"],
        record["nationality"],
        record["ethnicity"] or "",
        record["region_code"] or "",
        record["status"],
        record["death_date"] or "",
        ";".join(record["phones"]),
        ";".join(
            f"{d['number']}|{d['status']}|{d['issued_on'] or ''}|{d['expires_on'] or ''}"
            for d in record["documents"]
        ),
        ";".join(f"{g['document_number']}|{g['relation']}" for g in record["guardians"]),
    ]


_PROGRESS_EVERY: Final = 10_000
_WRITE_BUFFER: Final = 1 << 22  # fewer, larger writes: measurably faster on a VM disk


def write_population(
    path: Path,
    *,
    people: int,
    seed: int,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the population to ``path`` and return the number of people written.

    ``.jsonl`` / ``.json``: JSON Lines; ``.csv``: CSV (see the module docstring). ``progress``
    is called with the running count every 10,000 people and once at the end.
    """
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv"):
        raise ValueError("the output file must end with .jsonl, .json or .csv")
    records = generate_population(people=people, seed=seed, today=today)
    count = 0
    if suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="", buffering=_WRITE_BUFFER) as text:
            writer = csv.writer(text)
            writer.writerow(CSV_HEADER)
            for record in records:
                writer.writerow(_csv_row(record))
                count += 1
                if progress is not None and count % _PROGRESS_EVERY == 0:
                    progress(count)
    else:
        dumps = orjson.dumps
        newline = orjson.OPT_APPEND_NEWLINE
        with path.open("wb", buffering=_WRITE_BUFFER) as out:
            write = out.write
            for record in records:
                write(dumps(record, option=newline))
                count += 1
                if progress is not None and count % _PROGRESS_EVERY == 0:
                    progress(count)
    if progress is not None and count % _PROGRESS_EVERY != 0:
        progress(count)
    return count

"""The synthetic population: deterministic, valid, realistic, and the same in JSONL and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netid.core.ethnicity import ETHNICITIES
from netid.core.text import MIDDLE_DOT, validate_name
from netid.documents import DocumentCheck, DocumentType, check_document_number
from netid.documents.regions import mainland_province_codes
from netid.registry import synthetic
from netid.registry.schemas import parse_record
from netid.registry.synthetic import CSV_HEADER, generate_population, write_population

TODAY = dt.date(2025, 6, 30)
PEOPLE = 20_000
PHONE = re.compile(r"\+861[3-9][0-9]{9}")
ISO3166_ALPHA3 = re.compile(r"[A-Z]{3}")


def _age(birth: dt.date, on: dt.date = TODAY) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def population() -> list[dict[str, Any]]:
    return list(generate_population(people=PEOPLE, seed=20250630, today=TODAY))


@pytest.fixture(scope="module")
def checks(population: list[dict[str, Any]]) -> dict[str, DocumentCheck]:
    return {
        doc["number"]: check_document_number(doc["number"], today=TODAY)
        for person in population
        for doc in person["documents"]
    }


def _share(count: int, total: int) -> float:
    return count / total


# --- format and determinism ----------------------------------------------------------------


def test_record_shape(population: list[dict[str, Any]]) -> None:
    assert len(population) == PEOPLE
    for person in population:
        assert list(person) == list(CSV_HEADER)
        assert person["sex"] in ("M", "F")
        assert person["status"] in ("active", "deceased")
        assert (person["status"] == "deceased") == (person["death_date"] is not None)
        assert ISO3166_ALPHA3.fullmatch(person["nationality"])
        assert person["documents"]
        for doc in person["documents"]:
            assert list(doc) == ["number", "status", "issued_on", "expires_on"]
            assert doc["status"] in ("valid", "expired", "revoked", "reported_lost")
            assert doc["issued_on"] is not None
            if doc["expires_on"] is not None:
                assert doc["issued_on"] < doc["expires_on"]
            assert doc["issued_on"] >= person["birth_date"]
            assert doc["issued_on"] <= (person["death_date"] or TODAY.isoformat())
            if doc["status"] == "valid" and doc["expires_on"] is not None:
                assert doc["expires_on"] > TODAY.isoformat()
        for link in person["guardians"]:
            assert list(link) == ["document_number", "relation"]
            assert link["relation"] in ("father", "mother", "guardian")


def test_every_record_is_accepted_by_the_importer(population: list[dict[str, Any]]) -> None:
    for person in population:
        parsed = parse_record(person, today=TODAY)
        assert parsed.name == person["name"]


def test_names_are_valid_and_stored_as_generated(population: list[dict[str, Any]]) -> None:
    for person in population:
        assert validate_name(person["name"]) is person["name"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for suffix in (".jsonl", ".csv"):
        a, b, c = (tmp_path / f"{n}{suffix}" for n in "abc")
        assert write_population(a, people=1500, seed=1, today=TODAY) == 1500
        write_population(b, people=1500, seed=1, today=TODAY)
        write_population(c, people=1500, seed=2, today=TODAY)
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_json_suffix_is_json_lines_and_prefix_stable(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    write_population(path, people=300, seed=5, today=TODAY)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert records == list(generate_population(people=300, seed=5, today=TODAY))
    # a longer run starts with the same people
    assert records[:100] == list(generate_population(people=100, seed=5, today=TODAY))


def _from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    def parts(value: str) -> Iterator[list[str]]:
        return (part.split("|") for part in value.split(";") if part)

    return {
        "name": row["name"],
        "sex": row["sex"],
        "birth_date": row["birth_date"],
        "nationality": row["nationality"],
        "ethnicity": row["ethnicity"] or None,
        "region_code": row["region_code"] or None,
        "status": row["status"],
        "death_date": row["death_date"] or None,
        "phones": [p for p in row["phones"].split(";") if p],
        "documents": [
            {"number": n, "status": s, "issued_on": i or None, "expires_on": e or None}
            for n, s, i, e in parts(row["documents"])
        ],
        "guardians": [{"document_number": n, "relation": r} for n, r in parts(row["guardians"])],
    }


def test_jsonl_and_csv_carry_the_same_people(tmp_path: Path) -> None:
    jsonl, csv_path = tmp_path / "p.jsonl", tmp_path / "p.csv"
    seen: list[int] = []
    assert write_population(jsonl, people=3000, seed=9, today=TODAY) == 3000
    assert (
        write_population(csv_path, people=3000, seed=9, today=TODAY, progress=seen.append) == 3000
    )
    assert seen == [3000]
    raw = csv_path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM
    with csv_path.open(encoding="utf-8", newline="") as text:
        reader = csv.DictReader(text)
        assert tuple(reader.fieldnames or ()) == CSV_HEADER
        from_csv = [_from_csv_row(row) for row in reader]
    from_jsonl = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert from_csv == from_jsonl


def test_progress_and_edge_cases(tmp_path: Path) -> None:
    calls: list[int] = []
    assert write_population(tmp_path / "p.jsonl", people=25_000, seed=1, today=TODAY,
                            progress=calls.append) == 25_000  # fmt: skip
    assert calls == [10_000, 20_000, 25_000]
    assert write_population(tmp_path / "empty.jsonl", people=0, seed=1, today=TODAY) == 0
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    with pytest.raises(ValueError, match="jsonl"):
        write_population(tmp_path / "p.txt", people=1, seed=1, today=TODAY)
    with pytest.raises(ValueError, match="negative"):
        list(generate_population(people=-1, seed=1, today=TODAY))


def test_generation_is_lazy() -> None:
    people = generate_population(people=10**6, seed=1, today=TODAY)
    first = next(people)
    assert first["documents"]


# --- documents -------------------------------------------------------------------------------


def test_documents_valid_and_consistent(
    population: list[dict[str, Any]], checks: dict[str, DocumentCheck]
) -> None:
    for person in population:
        birth = dt.date.fromisoformat(person["birth_date"])
        for doc in person["documents"]:
            check = checks[doc["number"]]
            assert check.valid, (check.rule, check.message)
            assert check.normalized == doc["number"]
            if check.birth_date is not None:
                assert check.birth_date == birth
            if check.sex is not None:
                assert check.sex == person["sex"]
            if check.type is DocumentType.RESIDENT_ID:
                assert check.region_code == person["region_code"]
            if check.type is DocumentType.FOREIGN_PERMANENT_RESIDENCE:
                assert check.nationality == person["nationality"] != "CHN"
            else:
                assert person["nationality"] == "CHN"


def test_resident_id_validity_follows_the_law(
    population: list[dict[str, Any]], checks: dict[str, DocumentCheck]
) -> None:
    # 居民身份证法 art. 5: <16: 5 years; 16-25: 10; 26-45: 20; 46+: long-term
    for person in population:
        birth = dt.date.fromisoformat(person["birth_date"])
        for doc in person["documents"]:
            if checks[doc["number"]].type is not DocumentType.RESIDENT_ID:
                continue
            issued = dt.date.fromisoformat(doc["issued_on"])
            age = _age(birth, issued)
            expected = 5 if age < 16 else 10 if age <= 25 else 20 if age <= 45 else None
            if expected is None:
                assert doc["expires_on"] is None
            else:
                assert doc["expires_on"] is not None
                expires = dt.date.fromisoformat(doc["expires_on"])
                assert expires.year - issued.year == expected


def test_numbers_and_phones_unique(population: list[dict[str, Any]]) -> None:
    numbers = [d["number"] for p in population for d in p["documents"]]
    phones = [phone for p in population for phone in p["phones"]]
    assert len(numbers) == len(set(numbers))
    assert len(phones) == len(set(phones))
    assert all(PHONE.fullmatch(phone) for phone in phones)


def test_phone_bijection_is_unique_and_well_formed() -> None:
    import random

    phones = synthetic._Phones(random.Random(3))
    drawn = [phones.next() for _ in range(200_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(PHONE.fullmatch(p) for p in drawn[:1000])


def test_bloom_never_forgets() -> None:
    bloom = synthetic._Bloom(1000)
    numbers = [f"{i:018d}" for i in range(0, 10**18, 10**13)] + [f"E{i:08d}" for i in range(10**4)]
    fresh = sum(bloom.add(n) for n in numbers)
    assert fresh >= len(numbers) - 2  # a false positive only costs a redraw
    assert not any(bloom.add(n) for n in numbers)  # a repeat is never accepted


def test_document_type_proportions(
    population: list[dict[str, Any]], checks: dict[str, DocumentCheck]
) -> None:
    types = Counter(checks[d["number"]].type for p in population for d in p["documents"])
    total = sum(types.values())
    assert 0.95 <= _share(types[DocumentType.RESIDENT_ID], total) <= 0.985
    assert 0.003 <= _share(types[DocumentType.RESIDENCE_PERMIT], total) <= 0.009
    assert 0.0015 <= _share(types[DocumentType.FOREIGN_PERMANENT_RESIDENCE], total) <= 0.005
    permits = types[DocumentType.TRAVEL_PERMIT_HKMO] + types[DocumentType.TRAVEL_PERMIT_TW]
    assert 0.006 <= _share(permits, total) <= 0.015
    assert types[DocumentType.TRAVEL_PERMIT_HKMO] and types[DocumentType.TRAVEL_PERMIT_TW]
    assert 0.007 <= _share(types[DocumentType.PASSPORT], total) <= 0.02
    two = sum(len(p["documents"]) >= 2 for p in population)
    assert 0.012 <= _share(two, len(population)) <= 0.03
    # foreigners' cards in both generations (15-character 2017, 18-digit 2023), some hold both
    foreign = [
        {len(d["number"]) for d in p["documents"]} for p in population if p["nationality"] != "CHN"
    ]
    assert any(s == {15} for s in foreign)
    assert any(s == {18} for s in foreign)
    assert any(s == {15, 18} for s in foreign)
    # travel permit holders are HK/MO/TW residents: no household registration; most also
    # hold a residence permit
    holders = [
        {checks[d["number"]].type for d in p["documents"]}
        for p in population
        if any(
            checks[d["number"]].type
            in (DocumentType.TRAVEL_PERMIT_HKMO, DocumentType.TRAVEL_PERMIT_TW)
            for d in p["documents"]
        )
    ]
    with_permit = sum(DocumentType.RESIDENCE_PERMIT in s for s in holders)
    assert 0.5 <= with_permit / len(holders) <= 0.8
    assert all(DocumentType.RESIDENT_ID not in s for s in holders)


def test_document_statuses(population: list[dict[str, Any]]) -> None:
    statuses = Counter(d["status"] for p in population for d in p["documents"])
    total = sum(statuses.values())
    bad = statuses["expired"] + statuses["revoked"] + statuses["reported_lost"]
    assert 0.0025 <= _share(bad, total) <= 0.01
    assert statuses["expired"] and statuses["revoked"] and statuses["reported_lost"]


# --- people ----------------------------------------------------------------------------------


def test_age_and_sex_shape(population: list[dict[str, Any]]) -> None:
    ages = [_age(dt.date.fromisoformat(p["birth_date"])) for p in population]
    assert min(ages) == 0
    assert max(ages) <= 100
    assert 0.16 <= _share(sum(a < 18 for a in ages), len(ages)) <= 0.20
    assert 0.18 <= _share(sum(a >= 60 for a in ages), len(ages)) <= 0.22
    assert sum(a >= 90 for a in ages) > 0
    males = sum(p["sex"] == "M" for p in population)
    assert 0.47 <= _share(males, len(population)) <= 0.53


def test_regions_from_every_province(population: list[dict[str, Any]]) -> None:
    provinces = {p["region_code"][:2] for p in population if p["region_code"]}
    assert provinces == set(mainland_province_codes())
    for person in population:
        # a household registration exactly when the person holds a resident ID
        has_resident_id = any(len(d["number"]) == 18 and d["number"][:1] not in "89"
                              for d in person["documents"])  # fmt: skip
        assert (person["region_code"] is not None) == has_resident_id


def test_ethnicity(population: list[dict[str, Any]]) -> None:
    citizens = [p for p in population if p["nationality"] == "CHN"]
    assert all(p["ethnicity"] in ETHNICITIES for p in citizens)
    assert all(p["ethnicity"] is None for p in population if p["nationality"] != "CHN")
    minorities = [p for p in citizens if p["ethnicity"] != "01"]
    assert 0.07 <= _share(len(minorities), len(citizens)) <= 0.11
    assert len({p["ethnicity"] for p in minorities}) >= 25
    dotted = [p for p in minorities if MIDDLE_DOT in p["name"]]
    assert _share(len(dotted), len(minorities)) >= 0.08
    assert all(MIDDLE_DOT in p["name"] for p in citizens if p["ethnicity"] in ("05", "17"))
    # Uyghur people live mostly in Xinjiang
    uyghur = [p for p in citizens if p["ethnicity"] == "05" and p["region_code"]]
    assert _share(sum(p["region_code"].startswith("65") for p in uyghur), len(uyghur)) > 0.9
    # the separator is always U+00B7, never a look-alike
    assert not any(c in p["name"] for p in population for c in "\u30fb\uff65\u2022\u2027.")


def test_supplementary_plane_names(population: list[dict[str, Any]]) -> None:
    rare = [p for p in population if any(ord(c) > 0xFFFF for c in p["name"])]
    assert 0.01 <= _share(len(rare), len(population)) <= 0.03


def test_foreign_and_traditional_names(population: list[dict[str, Any]]) -> None:
    foreign = [p for p in population if p["nationality"] != "CHN"]
    assert foreign
    assert any(p["name"].isascii() for p in foreign)
    assert all(" " in p["name"] for p in foreign)
    no_region = [p for p in population if p["nationality"] == "CHN" and not p["region_code"]]
    assert any(c in p["name"] for p in no_region for c in "陳張劉黃吳鄭楊趙")


def test_deceased(population: list[dict[str, Any]]) -> None:
    dead = [p for p in population if p["status"] == "deceased"]
    assert 0.003 <= _share(len(dead), len(population)) <= 0.008
    for person in dead:
        assert person["birth_date"] <= person["death_date"] <= TODAY.isoformat()
        assert person["phones"] == []
    old = sum(_age(dt.date.fromisoformat(p["birth_date"])) >= 60 for p in dead)
    assert old / len(dead) >= 0.5


def test_phones(population: list[dict[str, Any]]) -> None:
    living = [p for p in population if p["status"] == "active"]
    adults = [p for p in living if _age(dt.date.fromisoformat(p["birth_date"])) >= 18]
    children = [p for p in living if _age(dt.date.fromisoformat(p["birth_date"])) < 10]
    counts = Counter(len(p["phones"]) for p in adults)
    assert _share(counts[1], len(adults)) >= 0.8
    assert 0.03 <= _share(counts[2], len(adults)) <= 0.1
    assert counts[0] > 0
    assert all(not p["phones"] for p in children)


def test_guardians_precede_wards_and_are_adults(population: list[dict[str, Any]]) -> None:
    first_document: dict[str, int] = {}
    wards = 0
    for index, person in enumerate(population):
        birth = dt.date.fromisoformat(person["birth_date"])
        age = _age(birth)
        links = person["guardians"]
        if age < 16:
            wards += 1
            assert 1 <= len(links) <= 2
            assert len({link["document_number"] for link in links}) == len(links)
        else:
            assert links == []
        for link in links:
            position = first_document.get(link["document_number"])
            assert position is not None and position < index  # an earlier person's first doc
            guardian = population[position]
            assert guardian["status"] == "active"
            guardian_birth = dt.date.fromisoformat(guardian["birth_date"])
            assert _age(guardian_birth) >= 18
            assert guardian_birth < birth
            if link["relation"] == "father":
                assert guardian["sex"] == "M"
            elif link["relation"] == "mother":
                assert guardian["sex"] == "F"
            # parents share the ward's category (mainland, abroad, HK/MO/TW, foreign)
            assert (guardian["nationality"] == "CHN") == (person["nationality"] == "CHN")
        first_document[person["documents"][0]["number"]] = index
    assert wards > 0.1 * len(population)
    relations = Counter(link["relation"] for p in population for link in p["guardians"])
    assert relations["father"] and relations["mother"] and relations["guardian"]


def test_children_inherit_household_and_family_name(population: list[dict[str, Any]]) -> None:
    by_document = {p["documents"][0]["number"]: p for p in population}
    same_region = same_surname = total = 0
    for person in population:
        fathers = [link for link in person["guardians"] if link["relation"] == "father"]
        if not fathers or person["region_code"] is None:
            continue
        father = by_document[fathers[0]["document_number"]]
        total += 1
        same_region += father["region_code"] == person["region_code"]
        same_surname += father["name"][:1] == person["name"][:1]
    assert total > 1000
    assert same_region == total
    assert same_surname / total > 0.85


def test_parents_mostly_from_one_province(population: list[dict[str, Any]]) -> None:
    by_document = {p["documents"][0]["number"]: p for p in population}
    same = total = 0
    for person in population:
        links = {link["relation"]: link["document_number"] for link in person["guardians"]}
        if "father" in links and "mother" in links and person["region_code"]:
            father, mother = by_document[links["father"]], by_document[links["mother"]]
            total += 1
            same += father["region_code"][:2] == (mother["region_code"] or "")[:2]
    assert same / total > 0.4


def test_every_nationality_has_names_and_cards() -> None:
    import random

    from netid.documents import synth

    tables = synthetic._tables()
    rng = random.Random(1)
    for key in tables.nationalities.items:
        alpha3, culture = key.split("/")
        assert culture in tables.cultures
        number = synth.foreign_pr_2023(
            rng, nationality_alpha3=alpha3, birth_date=dt.date(1980, 1, 1), sex="F"
        )
        assert check_document_number(number, today=TODAY).nationality == alpha3


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_every_guardian_reference_names_an_earlier_person(seed: int) -> None:
    """Regression: a parent drawn and then discarded (its document not valid) stayed in the
    pool and was later named as another ward's guardian, though never written."""
    seen: set[str] = set()
    for person in generate_population(people=20_000, seed=seed, today=TODAY):
        for link in person["guardians"]:
            assert link["document_number"] in seen
        seen.add(person["documents"][0]["number"])

"""Streaming bulk import of a registry file (CSV or JSON Lines) in committed batches.

Crash safety: each batch is one transaction (people, keys, documents, guardian links and the
access record together), so a kill at any moment loses no committed batch and leaves no
half-written person; importing again skips everyone already present (matched by the blind
index of any of their documents) and finishes the job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from netid.registry.errors import ImportFileInvalid, RecordRejected
from netid.registry.schemas import FIELDS, PersonData, parse_record
from netid.registry.service import RegistryService, Rejection

MAX_LINE_BYTES = 64 * 1024
DEFAULT_BATCH_SIZE = 2000

UnitOfWork = Callable[[], AbstractContextManager[RegistryService]]


@dataclass
class ImportSummary:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0

    def to_json(self) -> dict[str, int]:
        return self.__dict__.copy()


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(";") if part != ""]


def _csv_row_to_record(row: dict[str, str | None]) -> dict[str, Any]:
    def cell(name: str) -> str | None:
        value = row.get(name)
        return value if value not in ("", None) else None

    documents = []
    for part in _split(row.get("documents")):
        number, status, issued, expires = ([*part.split("|"), "", "", ""])[:4]
        documents.append(
            {
                "number": number,
                "status": status or None,
                "issued_on": issued or None,
                "expires_on": expires or None,
            }
        )
    guardians = []
    for part in _split(row.get("guardians")):
        number, relation = ([*part.split("|"), ""])[:2]
        guardians.append({"document_number": number, "relation": relation or None})
    record: dict[str, Any] = {name: cell(name) for name in FIELDS[:8]}
    record.update(phones=_split(row.get("phones")), documents=documents, guardians=guardians)
    return record


def read_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, raw record or :class:`RecordRejected`) for every record of the file."""
    suffix = path.suffix.lower()
    try:
        handle = path.open("rb")
    except OSError:
        raise ImportFileInvalid() from None
    with handle:
        if suffix in (".jsonl", ".ndjson", ".json"):
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                if len(raw) > MAX_LINE_BYTES:
                    yield line_no, RecordRejected("record", "too_long", "The line is too long.")
                    continue
                try:
                    yield line_no, orjson.loads(raw)
                except orjson.JSONDecodeError:
                    yield line_no, RecordRejected("record", "json", "The line is not valid JSON.")
        elif suffix == ".csv":
            text = io.TextIOWrapper(handle, encoding="utf-8", errors="strict", newline="")
            try:
                reader = csv.DictReader(text)
                if reader.fieldnames is None or set(reader.fieldnames) != set(FIELDS):
                    raise ImportFileInvalid("The CSV header must be: " + ",".join(FIELDS))
                for row in reader:
                    yield reader.line_num, _csv_row_to_record(row)
            except UnicodeDecodeError:
                raise ImportFileInvalid("The file is not valid UTF-8.") from None
            except csv.Error:
                raise ImportFileInvalid("The CSV file is malformed.") from None
        else:
            raise ImportFileInvalid()


def write_rejection(report: TextIO, rejection: Rejection) -> None:
    report.write(orjson.dumps(rejection.__dict__).decode() + "\n")


def run_import(
    path: Path,
    *,
    unit_of_work: UnitOfWork,
    actor: str,
    today: dt.date,
    report: TextIO,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    summary = ImportSummary()

    def flush(batch: list[tuple[int, PersonData]]) -> None:
        with unit_of_work() as service:
            outcome = service.import_batch(batch, actor=actor)
        # Only after the commit: the report and the counts describe what is durable.
        summary.imported += outcome.imported
        summary.duplicates += outcome.duplicates
        summary.rejected += len(outcome.rejections)
        for rejection in outcome.rejections:
            write_rejection(report, rejection)
        if progress:
            progress(len(batch))

    batch: list[tuple[int, PersonData]] = []
    for line_no, raw in read_records(path):
        summary.read += 1
        try:
            if isinstance(raw, RecordRejected):
                raise raw
            batch.append((line_no, parse_record(raw, today=today)))
        except RecordRejected as exc:
            summary.rejected += 1
            write_rejection(report, Rejection(line_no, exc.field, exc.rule, exc.message))
            if progress:
                progress(1)
        if len(batch) >= batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return summary

"""Streaming bulk import of a registry file (CSV or JSON Lines) in committed batches.

Crash safety: each batch is one transaction (people, keys, documents, guardian links and the
access record together), so a kill at any moment loses no committed batch and leaves no
half-written person; importing again skips everyone already present (matched by the blind
index of any of their documents) and finishes the job.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from netid.core.ids import new_row_id
from netid.registry.errors import ImportFileInvalid, RecordRejected
from netid.registry.schemas import FIELDS, parse_record
from netid.registry.service import (
    ImportKeys,
    PreparedPerson,
    RegistryService,
    Rejection,
    prepare_person,
)

MAX_LINE_BYTES = 64 * 1024
# Records a transaction. Large, because each commit costs an fsync and rewrites every page
# of the two random-keyed indexes (blind index, subject id) that the batch touched; memory
# is bounded by about two batches of prepared records whatever the file size.
DEFAULT_BATCH_SIZE = 10_000
# Records a work unit of a sealing process: small enough to spread evenly over the workers,
# large enough that the per-task overhead vanishes.
CHUNK_SIZE = 1000

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


def _decode_json_line(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RecordRejected("record", "json", "The line is not valid JSON.") from None


def read_records(path: Path, *, decode: bool = True) -> Iterator[tuple[int, Any]]:
    """(line number, record or :class:`RecordRejected`) for every record of the file.

    With ``decode=False`` JSON lines are yielded as bytes, for a worker to decode."""
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
                if decode:
                    try:
                        yield line_no, _decode_json_line(raw)
                    except RecordRejected as exc:
                        yield line_no, exc
                else:
                    yield line_no, raw  # decoded by the worker that prepares it
        elif suffix == ".csv":
            # utf-8-sig: spreadsheet programs put a byte-order mark in front of UTF-8 CSV.
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="")
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


# (line number, raw record, person id). Person ids are drawn here, in file order, not in the
# workers: ids are time-ordered, and export order (guardians before wards) follows them.
Chunk = list[tuple[int, Any, str]]
_worker_state: dict[str, Any] = {}


def _init_worker(keys: ImportKeys, today: dt.date, parent_pid: int) -> None:
    _worker_state.update(keys=keys, today=today)
    # If the importer is killed (kill -9, OOM), its workers must not live on holding key
    # material: a pool worker blocked on its queue does not notice the parent's death.
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.2)
    os._exit(1)


def prepare_chunk(
    chunk: Chunk, keys: ImportKeys, today: dt.date
) -> tuple[list[PreparedPerson], list[Rejection]]:
    """Parse, check, seal and index a chunk of raw records (pure: no I/O)."""
    prepared: list[PreparedPerson] = []
    rejections: list[Rejection] = []
    for line_no, raw, person_id in chunk:
        try:
            if isinstance(raw, RecordRejected):
                raise raw
            if isinstance(raw, bytes):
                raw = _decode_json_line(raw)
            person = parse_record(raw, today=today)
            prepared.append(prepare_person(line_no, person, keys, person_id=person_id))
        except RecordRejected as exc:
            rejections.append(Rejection(line_no, exc.field, exc.rule, exc.message))
    return prepared, rejections


def _prepare_in_worker(chunk: Chunk) -> tuple[list[PreparedPerson], list[Rejection]]:
    return prepare_chunk(chunk, _worker_state["keys"], _worker_state["today"])


def run_import(
    path: Path,
    *,
    unit_of_work: UnitOfWork,
    actor: str,
    today: dt.date,
    now: Callable[[], dt.datetime],
    report: TextIO,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import ``path``, ``batch_size`` records a transaction. With ``workers`` > 1, parsing and
    sealing (the CPU-heavy part) run in that many processes, on chunks of at most
    :data:`CHUNK_SIZE` records, while this one reads the file and writes the batches, in
    order."""
    summary = ImportSummary()
    with unit_of_work() as service:
        keys = service.import_keys()
    chunk_size = min(batch_size, CHUNK_SIZE)

    def store(prepared: list[PreparedPerson], rejected: list[Rejection], size: int) -> None:
        with unit_of_work() as service:
            outcome = service.store_prepared(prepared, actor=actor, keys=keys, now=now())
        # Only after the commit: the report and the counts describe what is durable.
        summary.imported += outcome.imported
        summary.duplicates += outcome.duplicates
        for rejection in sorted([*rejected, *outcome.rejections], key=lambda r: r.line):
            summary.rejected += 1
            write_rejection(report, rejection)
        if progress:
            progress(size)

    def chunks() -> Iterator[Chunk]:
        # A batch ends on a chunk boundary, so every transaction holds batch_size records.
        chunk: Chunk = []
        in_batch = 0
        for line_no, raw in read_records(path, decode=workers <= 1):
            summary.read += 1
            in_batch += 1
            chunk.append((line_no, raw, new_row_id()))
            if len(chunk) == chunk_size or in_batch == batch_size:
                yield chunk
                chunk = []
                in_batch %= batch_size
        if chunk:
            yield chunk

    prepared: list[PreparedPerson] = []
    rejected: list[Rejection] = []
    size = 0
    # closing(): an exception while storing (keys_changed, the database) shuts the workers
    # down at once, not whenever the suspended generator is collected.
    with contextlib.closing(_prepared_chunks(chunks(), keys, today, workers, batch_size)) as done:
        for chunk_prepared, chunk_rejected, chunk_read in done:
            prepared += chunk_prepared
            rejected += chunk_rejected
            size += chunk_read
            if size == batch_size:
                store(prepared, rejected, size)
                prepared, rejected, size = [], [], 0
    if size:
        store(prepared, rejected, size)
    return summary


def _prepared_chunks(
    chunks: Iterator[Chunk], keys: ImportKeys, today: dt.date, workers: int, batch_size: int
) -> Generator[tuple[list[PreparedPerson], list[Rejection], int], None, None]:
    """(prepared, rejected, records read) per chunk, in file order."""
    if workers <= 1:
        for chunk in chunks:
            yield (*prepare_chunk(chunk, keys, today), len(chunk))
        return
    context = multiprocessing.get_context("spawn")  # no inherited connections or locks
    # Read-ahead: a batch's worth of chunks, so the workers keep sealing while this process
    # writes a batch, and no more, so memory stays flat however large the file.
    ahead = workers * 2 + batch_size // CHUNK_SIZE
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(keys, today, os.getpid()),
    ) as pool:
        pending: deque[tuple[Future[tuple[list[PreparedPerson], list[Rejection]]], int]] = deque()
        for chunk in chunks:
            pending.append((pool.submit(_prepare_in_worker, chunk), len(chunk)))
            while len(pending) > ahead:
                future, size = pending.popleft()
                yield (*future.result(), size)
        while pending:
            future, size = pending.popleft()
            yield (*future.result(), size)

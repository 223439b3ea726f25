"""``netid audit``: the transparency log (status, creation, checkpoints, verification, the
auditor's witness file, the PostgreSQL application role).

Typer stays in this file; the logic is :mod:`netid.audit`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from netid.audit.errors import WitnessInvalid

audit_app = typer.Typer(help="The transparency log (audit).", no_args_is_help=True)

# A witness line is one checkpoint note (a few hundred bytes); a file of 15 years of them
# stays far below this.
_MAX_WITNESS_BYTES = 256 * 1024 * 1024


def _emit(obj: Any) -> None:
    from netid.cli.main import emit

    emit(obj)


def read_witness(path: Path) -> list[str]:
    """The checkpoint notes of a witness file (JSON Lines ``{"note", "witnessed_at"}``,
    oldest first). A missing file is an empty witness."""
    if not path.exists():
        return []
    if path.stat().st_size > _MAX_WITNESS_BYTES:
        raise WitnessInvalid("file", "The witness file is too large.")
    notes: list[str] = []
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise WitnessInvalid("file", "The witness file is not JSON Lines.") from None
            if not isinstance(record, dict) or not isinstance(record.get("note"), str):
                raise WitnessInvalid("file", "A witness line has no checkpoint note.")
            notes.append(record["note"])
    return notes


def _append_witness(path: Path, note: str) -> None:
    line = orjson.dumps({"note": note, "witnessed_at": dt.datetime.now(dt.UTC).isoformat()})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as handle:
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


@audit_app.command("status")
def status() -> None:
    """The log's hash, size, root and latest checkpoint."""
    from netid.cli.main import container

    c = container()
    with c.transaction(write=False) as session:
        _emit({**c.audit(session).status().to_json(), "origin": c.log_origin()})


@audit_app.command("init")
def init(
    hash_alg: Annotated[str, typer.Option("--hash", help="sm3 (default) or sha256")] = "sm3",
) -> None:
    """Create the log with its tree hash; refused once the log has an entry."""
    from netid.cli.main import container

    if hash_alg not in ("sm3", "sha256"):
        raise typer.BadParameter("the tree hash is sm3 or sha256")
    c = container()
    c.migrate()
    with c.transaction() as session:
        created = c.audit(session).create(hash_alg)
    _emit({"hash_alg": created})


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign and store a checkpoint of the current tree now (if it grew since the last)."""
    from netid.cli.main import container

    c = container()
    with c.transaction() as session:
        cut = c.audit(session).cut_checkpoint()
    with c.transaction(write=False) as session:
        latest = c.audit(session).status().latest_checkpoint
    _emit({"cut": cut.tree_size if cut else None, "latest_checkpoint": latest})


@audit_app.command("verify")
def verify(
    witness: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="The auditor's witness file (kept outside the DB)"),
    ] = None,
    nodes: Annotated[bool, typer.Option(help="Also check every stored subtree hash")] = True,
) -> None:
    """Recompute every leaf, the tree, every checkpoint and compare with the witness.

    Prints a JSON report; exits 0 if clean, 1 with the findings (index, kind) otherwise.
    """
    from netid.cli.main import container

    notes = read_witness(witness) if witness is not None else []
    c = container()
    with c.transaction(write=False) as session:
        report = c.audit(session).verify(notes, check_nodes=nodes)
    _emit(report.to_json())
    if not report.clean:
        raise typer.Exit(code=1)


def _fetch(url: str, limit: int = 1024 * 1024) -> bytes:
    """GET ``url`` (http/https only), at most ``limit`` bytes; Unavailable if it fails."""
    from urllib.error import URLError
    from urllib.request import urlopen

    from netid.core.errors import Unavailable

    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("the log URL is http:// or https://")
    try:
        with urlopen(url, timeout=15) as response:  # noqa: S310 (scheme checked above)
            data: bytes = response.read(limit + 1)
    except (URLError, OSError, ValueError):
        raise Unavailable("The log could not be reached.") from None
    if len(data) > limit:
        raise WitnessInvalid("response", "The log's answer is too large.")
    return data


def _remote_witness(notes: list[str], url: str, keys: Path, hash_alg: str) -> tuple[Any, bool, str]:
    """Witness a log by its public HTTP API only (no database): the checkpoint, and the
    consistency proof from the last witnessed size, verified with the published keys."""
    import base64
    import binascii

    from netid.audit.service import tree_hasher, witness_checkpoint
    from netid.crypto.errors import InvalidKeyMaterial
    from netid.crypto.notes import parse_verifier_key

    try:
        document = orjson.loads(keys.read_bytes())
        verifiers = [parse_verifier_key(v) for v in document["log"]["verifier_keys"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, InvalidKeyMaterial):
        raise WitnessInvalid(
            "keys", "The key file is not 'netid keys export-public' output."
        ) from None
    base = url.rstrip("/")
    note = _fetch(f"{base}/v1/log/checkpoint").decode("utf-8", "replace")

    def consistency(first: int, second: int) -> list[bytes]:
        body = _fetch(f"{base}/v1/log/proof/consistency?first={first}&second={second}")
        try:
            return [base64.b64decode(h, validate=True) for h in orjson.loads(body)["hashes"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error):
            raise WitnessInvalid("response", "The log's proof is malformed.") from None

    checkpoint, new = witness_checkpoint(tree_hasher(hash_alg), verifiers, notes, note, consistency)
    return checkpoint, new, note


@audit_app.command("witness")
def witness(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The auditor's witness file")],
    url: Annotated[
        str | None,
        typer.Option(help="Witness a log over HTTP (its public URL) instead of the database"),
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="With --url: 'netid keys export-public' output"
        ),
    ] = None,
    hash_alg: Annotated[
        str, typer.Option("--hash", help="With --url: the log's tree hash")
    ] = "sm3",
) -> None:
    """Check the latest checkpoint against the last one in FILE (signatures, consistency
    proof) and append it. Refuses a smaller tree (rollback) or a fork (exit 65)."""
    notes = read_witness(file)
    if url is not None:
        if keys is None:
            raise typer.BadParameter("--url needs --keys (the published key file)")
        if hash_alg not in ("sm3", "sha256"):
            raise typer.BadParameter("the tree hash is sm3 or sha256")
        checkpoint, new, note = _remote_witness(notes, url, keys, hash_alg)
    else:
        from netid.cli.main import container

        c = container()
        with c.transaction(write=False) as session:
            service = c.audit(session)
            note = service.latest_checkpoint().note
            checkpoint, new = service.witness(notes, note)
    if new:
        _append_witness(file, note)
    _emit({"tree_size": checkpoint.size, "appended": new, "witnessed": len(notes) + int(new)})


@audit_app.command("app-role")
def app_role(
    role: Annotated[str, typer.Argument(help="An existing PostgreSQL role the service uses")],
    schema: Annotated[str | None, typer.Option(help="The schema of the tables")] = None,
) -> None:
    """PostgreSQL: grant ROLE what the service needs, but only SELECT and INSERT on the log
    tables (run as the tables' owner; then let the service connect as ROLE)."""
    from netid.cli.main import container
    from netid.core.errors import ConfigurationError
    from netid.db.append_only import apply_app_role

    c = container()
    if c.engine.dialect.name != "postgresql":
        raise ConfigurationError("Application roles are for PostgreSQL.")
    try:
        with c.engine.begin() as conn:
            apply_app_role(conn, role, schema=schema or c.settings.database_schema)
    except ValueError:
        raise typer.BadParameter("role and schema are lower-case SQL identifiers") from None
    _emit({"role": role, "log_tables": "SELECT, INSERT"})


@audit_app.command("person")
def person_entries(
    document: Annotated[str, typer.Option(help="The person's document number, or '-' (stdin)")],
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 500,
) -> None:
    """A person's own entries, for the person (at a service counter, after checking their
    identity document): who used their data, when, why, with what result. The query is
    itself an entry of the person's."""
    import sys

    from netid.cli.main import container

    number = sys.stdin.readline().strip() if document == "-" else document
    c = container()
    with c.transaction() as session:
        person_id, key = c.registry(session).person_ref(number)
        entries = c.audit(session).entries_of_person(person_id, key, limit=limit)
        c.recorder(session).record(
            actor=c.operator_actor(),
            action="audit.person_entries",
            outcome="ok",
            subject_key=key,
            subject_id=person_id,
            details={"entries": len(entries)},
        )
    _emit({"entries": entries})

"""``netid``: the operator's command line. Every command owns its transaction(s)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from netid.cli.admin import admin_app
from netid.cli.audit import audit_app
from netid.cli.bench import bench_app
from netid.cli.billing import billing_app, receipts_app
from netid.cli.chip import register_chip_commands
from netid.cli.client import client_app
from netid.cli.consent import consent_app, register_marker_commands
from netid.cli.documents import app as documents_app
from netid.cli.errors import report_error
from netid.cli.faces import faces_app
from netid.cli.institutions import institutions_app
from netid.cli.monitoring import monitoring_app
from netid.cli.presentation import register_presentation_commands
from netid.cli.sms import sms_app
from netid.cli.wallet import wallet_app
from netid.config import Settings
from netid.container import Container
from netid.core.clock import today_in_china
from netid.registry.importer import DEFAULT_BATCH_SIZE, ImportSummary

app = typer.Typer(
    help="netid: national network identity authentication public service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys: master key, data keys, signing keys.", no_args_is_help=True)
registry_app = typer.Typer(help="The legal identity registry.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for a first run.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(registry_app, name="registry")
app.add_typer(documents_app, name="documents")
app.add_typer(demo_app, name="demo")
app.add_typer(consent_app, name="consent")
app.add_typer(client_app, name="client")
register_marker_commands(registry_app)
register_chip_commands(registry_app)
app.add_typer(sms_app, name="sms")
app.add_typer(billing_app, name="billing")
app.add_typer(receipts_app, name="receipts")
app.add_typer(faces_app, name="faces")
app.add_typer(institutions_app, name="institutions")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(monitoring_app, name="monitoring")
register_presentation_commands(app)
app.add_typer(wallet_app, name="wallet")
app.add_typer(bench_app, name="bench")

console = Console(stderr=True)
_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container(Settings())
        _container.check_profile()
    return _container


def default_workers() -> int:
    return os.cpu_count() or 1


def emit(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


# -- db ---------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema by running the migrations."""
    container().migrate()
    emit({"status": "ok"})


# -- keys -------------------------------------------------------------------------------------
@keys_app.command("init")
def keys_init() -> None:
    """Create the master key (file, mode 0600) if needed, and every platform key."""
    c = container()
    c.migrate()  # the keyring lives in the database
    master, created = c.ensure_master_key()
    with c.transaction() as session:
        service = c.keyring_service(session, master)
        # An existing keyring gets the purposes added since it was made (e.g. token_mac);
        # if none is missing, a second init is refused as before.
        keys = service.ensure_all_purposes() if service.is_initialised() else []
        if not keys:
            keys = service.initialise()
        c.recorder(session).record(actor=c.operator_actor(), action="keys.init", outcome="ok")
    emit(
        {
            "master_key_created": created,
            "keys": [{"key_id": k.key_id, "purpose": k.purpose.value} for k in keys],
        }
    )


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List keys (ids, purposes, states; never secrets)."""
    c = container()
    with c.transaction(write=False) as session:
        keys = c.keyring_service(session).list_keys()
    if as_json:
        emit(
            [
                {
                    "key_id": k.key_id,
                    "purpose": k.purpose.value,
                    "algorithm": k.algorithm,
                    "state": k.state.value,
                    "created_at": k.created_at.isoformat(),
                    "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                }
                for k in keys
            ]
        )
        return
    table = Table("key id", "purpose", "algorithm", "state", "created", "retired")
    for k in keys:
        table.add_row(
            k.key_id,
            k.purpose.value,
            k.algorithm,
            k.state.value,
            k.created_at.isoformat(timespec="seconds"),
            k.retired_at.isoformat(timespec="seconds") if k.retired_at else "",
        )
    Console().print(table)


def _drain(description: str, step: Callable[[], int]) -> int:
    """Run resumable batches until one reports no work; each batch is its own commit."""
    total = 0
    with progress_bar() as bar:
        task = bar.add_task(description, total=None)
        while True:
            done = step()
            if not done:
                return total
            total += done
            bar.advance(task, done)


def _finish_rotation(c: Container, batch_size: int) -> dict[str, int]:
    c.keyring(reload=True)

    def batch(method: str) -> Callable[[], int]:
        def run() -> int:
            with c.registry_unit() as registry:
                result: int = getattr(registry, method)(
                    batch_size=batch_size, actor=c.operator_actor()
                )
                return result

        return run

    return {
        "person_keys_rewrapped": _drain("Re-wrapping person keys", batch("rewrap_person_keys")),
        "documents_reindexed": _drain("Rebuilding blind index", batch("rebuild_blind_index")),
        "faces_resealed": _drain("Re-sealing face templates", batch("reseal_face_templates")),
        "admin_totp_resealed": _drain(
            "Re-sealing admin TOTP secrets", _reseal_admin_totp(c, batch_size)
        ),
        "institution_applications_resealed": _drain(
            "Re-sealing institution applications", _reseal_applications(c, batch_size)
        ),
        "sms_outbox_resealed": _drain(
            "Re-sealing the SMS outbox", _reseal_sms_outbox(c, batch_size)
        ),
        "account_keys_rewrapped": _drain(
            "Re-wrapping account keys", _enrolment_batch(c, "rewrap_account_keys", batch_size)
        ),
        "enrolments_resealed": _drain(
            "Re-sealing enrolments", _enrolment_batch(c, "reseal_enrolments", batch_size)
        ),
        "collected_faces_resealed": _drain(
            "Re-sealing collected faces", _enrolment_batch(c, "reseal_collected_faces", batch_size)
        ),
    }


def _enrolment_batch(c: Container, method: str, batch_size: int) -> Callable[[], int]:
    def run() -> int:
        with c.transaction() as session:
            result: int = getattr(c.enrolment(session), method)(
                batch_size=batch_size, actor=c.operator_actor()
            )
            return result

    return run


def _reseal_sms_outbox(c: Container, batch_size: int) -> Callable[[], int]:
    def run() -> int:
        with c.transaction() as session:
            return c.outbox(session).reseal(batch_size=batch_size, actor=c.operator_actor())

    return run


def _reseal_applications(c: Container, batch_size: int) -> Callable[[], int]:
    def run() -> int:
        with c.transaction() as session:
            return c.institutions(session).reseal_applications(
                batch_size=batch_size, actor=c.operator_actor()
            )

    return run


def _reseal_admin_totp(c: Container, batch_size: int) -> Callable[[], int]:
    def run() -> int:
        with c.transaction() as session:
            return c.admins(session).reseal_totp_secrets(
                batch_size=batch_size, actor=c.operator_actor()
            )

    return run


@keys_app.command("rotate")
def keys_rotate(
    purpose: Annotated[str, typer.Argument(help="data | face | blind_index | sm2_signing | ...")],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
) -> None:
    """Make a new active key and re-seal what the old one protects, in resumable batches.

    Interrupt it at any time; 'netid keys resume' finishes the job. Old keys keep opening old
    data until 'netid keys retire'.
    """
    from netid.keys.schemas import KeyPurpose

    try:
        key_purpose = KeyPurpose(purpose)
    except ValueError:
        raise typer.BadParameter("unknown key purpose") from None
    c = container()
    with c.transaction() as session:
        info = c.keyring_service(session).rotate(key_purpose)
        c.recorder(session).record(
            actor=c.operator_actor(),
            action="keys.rotate",
            outcome="ok",
            details={"purpose": key_purpose.value, "key_id": info.key_id},
        )
    emit(
        {"rotated": key_purpose.value, "new_key_id": info.key_id, **_finish_rotation(c, batch_size)}
    )


@keys_app.command("resume")
def keys_resume(batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000) -> None:
    """Finish an interrupted rotation."""
    emit(_finish_rotation(container(), batch_size))


@keys_app.command("retire")
def keys_retire(key_id: str) -> None:
    """Destroy a rotated-out key; refused while any row still depends on it."""
    c = container()
    with c.transaction() as session:
        references = c.registry(session).references_to_key(key_id)
        references += c.admins(session).references_to_key(key_id)
        references += c.institutions(session).references_to_key(key_id)
        references += c.outbox(session).references_to_key(key_id)
        references += c.enrolment(session).references_to_key(key_id)
        references += c.accounts(session).references_to_key(key_id)
        info = c.keyring_service(session).retire(key_id, references=references)
        c.recorder(session).record(
            actor=c.operator_actor(),
            action="keys.retire",
            outcome="ok",
            details={"key_id": info.key_id},
        )
    emit({"retired": info.key_id})


@keys_app.command("rotate-master")
def keys_rotate_master(
    new_key_file: Annotated[Path, typer.Option(help="Where to write the new master key")],
) -> None:
    """Re-wrap every key under a new master key, written to NEW_KEY_FILE (mode 0600).

    The file appears only once the database has committed the re-wrap; then point
    NETID_MASTER_KEY_FILE at it (the old key no longer opens anything).
    """
    from netid.keys.master import create_master_key_file, read_master_key_file

    c = container()
    c.check_master_key_location(new_key_file)
    old = c.master_key()
    if new_key_file.exists():
        # A re-run after success: the file holds the key the keyring is wrapped under.
        new = read_master_key_file(new_key_file)
        with c.transaction(write=False) as session:
            c.keyring_service(session, new).load()
        emit({"rewrapped": 0, "new_master_key_id": new.key_id, "set": _key_file_hint(new_key_file)})
        return
    pending = new_key_file.with_name(new_key_file.name + ".pending")
    pending.unlink(missing_ok=True)
    new = create_master_key_file(pending)
    try:
        with c.transaction() as session:
            count = c.keyring_service(session, old).rewrap_under(new)
            c.recorder(session).record(
                actor=c.operator_actor(),
                action="keys.rotate_master",
                outcome="ok",
                details={"new_master_key_id": new.key_id},
            )
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    pending.rename(new_key_file)
    emit({"rewrapped": count, "new_master_key_id": new.key_id, "set": _key_file_hint(new_key_file)})


def _key_file_hint(path: Path) -> str:
    return f"NETID_MASTER_KEY_FILE={path.resolve()}"


@keys_app.command("export-public")
def keys_export_public() -> None:
    """Print the platform's public keys: a JWKS for JOSE keys, SM2 keys as PEM, and the
    transparency log's checkpoint verifier keys (C2SP signed-note vkeys)."""
    from netid.keys.export import public_key_document, with_log_verifier_keys

    c = container()
    with c.transaction(write=False) as session:
        keys = c.keyring_service(session).public_keys()
    document = public_key_document(keys)
    with_log_verifier_keys(document, keys, c.log_origin())
    emit(document)


# -- registry ---------------------------------------------------------------------------------
@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = DEFAULT_BATCH_SIZE,
    report: Annotated[Path | None, typer.Option(help="Rejected rows (JSONL)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, max=64, help="Sealing processes (default: CPUs)")
    ] = None,
) -> None:
    """Import people from CSV or JSON Lines; safe to re-run after an interruption."""
    c = container()
    report_path = report or file.with_name(file.name + ".rejected.jsonl")
    summary = _import_with_progress(
        c, file, report_path, batch_size=batch_size, workers=workers, description="Importing"
    )
    emit({**summary.to_json(), "report": str(report_path)})
    if summary.rejected:
        raise typer.Exit(code=1)


def _import_with_progress(
    c: Container,
    file: Path,
    report_path: Path,
    *,
    description: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
) -> ImportSummary:
    """Run an import with a progress bar; the report of rejected rows is kept only if any."""
    from netid.registry.importer import run_import

    with (
        report_path.open("w", encoding="utf-8") as report_file,
        progress_bar() as bar,
    ):
        task = bar.add_task(description, total=None)
        summary = run_import(
            file,
            unit_of_work=c.registry_unit,
            actor=c.operator_actor(),
            today=today_in_china(c.clock),
            now=c.clock.now,
            report=report_file,
            batch_size=batch_size,
            workers=default_workers() if workers is None else workers,
            progress=lambda n: bar.advance(task, n),
        )
    if not summary.rejected:
        report_path.unlink()
    return summary


@registry_app.command("generate")
def registry_generate(
    people: Annotated[int, typer.Option(min=1, max=100_000_000)],
    out: Annotated[Path, typer.Option(dir_okay=False)],
    seed: int = 2025,
) -> None:
    """Write a realistic synthetic population (CSV or JSON Lines by extension)."""
    from netid.registry.synthetic import write_population

    c = container()
    with progress_bar() as bar:
        task = bar.add_task("Generating", total=people)
        written = write_population(
            out,
            people=people,
            seed=seed,
            today=today_in_china(c.clock),
            progress=lambda n: bar.advance(task, n),
        )
    emit({"people": written, "out": str(out)})


@registry_app.command("show")
def registry_show(
    document: Annotated[
        str, typer.Option(help="Document number, or '-' to read it from standard input")
    ],
    purpose: Annotated[
        str | None, typer.Option(help="Why you look (a short code such as 'complaint-1234')")
    ] = None,
) -> None:
    """Print a masked record; the look-up is recorded with who looked and why."""
    from netid.registry.errors import PersonNotFound

    if document == "-":  # keeps the number out of `ps` and shell history
        document = sys.stdin.readline().strip()
    if purpose is not None and not _PURPOSE.match(purpose):
        raise typer.BadParameter("use 1-64 characters of a-z, 0-9, '.', '_' or '-'")
    c = container()
    with c.registry_unit() as registry:
        person = registry.show(document, actor=c.operator_actor(), purpose=purpose)
    if person is None:
        raise PersonNotFound()
    emit(person.to_json())


# A purpose is stored in clear in the access record: a code, never free text that could carry
# personal data.
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@registry_app.command("export")
def registry_export(out: Annotated[Path, typer.Option(dir_okay=False)]) -> None:
    """Write every person in plaintext (JSON Lines). Recorded; handle the file as secret."""
    c = container()
    count = 0
    # Created private (0600) and exclusively, removed again if the export does not complete:
    # no half-written plaintext left readable by others.
    handle = os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    try:
        with c.registry_unit() as registry, handle:
            for person in registry.unsafe_export_plaintext(actor=c.operator_actor()):
                handle.write(orjson.dumps(person.to_record()) + b"\n")
                count += 1
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    emit({"people": count, "out": str(out)})


@registry_app.command("count")
def registry_count() -> None:
    """How many people the registry holds."""
    c = container()
    with c.transaction(write=False) as session:
        emit({"people": c.registry(session).count()})


# -- demo and serve ---------------------------------------------------------------------------
@demo_app.command("setup")
def demo_setup(people: Annotated[int, typer.Option(min=0)] = 10_000, seed: int = 2025) -> None:
    """Migrate, create keys if missing, and load a synthetic population if the registry is
    empty (or finish loading it, if an earlier run was interrupted)."""
    from netid.cli.client import create_demo_institutions, write_demo_people
    from netid.registry.synthetic import write_population

    c = container()
    c.migrate()
    with c.transaction() as session:
        initialised = c.keyring_service_if_any(session) is not None
    if not initialised:
        master, _ = c.ensure_master_key()
        with c.transaction() as session:
            c.keyring_service(session, master).initialise()
    else:
        with c.transaction() as session:
            c.keyring_service(session).ensure_all_purposes()  # purposes added since
    with c.transaction(write=False) as session:
        present = c.registry(session).count()
    institutions = [
        str(p) for p in create_demo_institutions(c, c.data_path("demo") / "institutions")
    ]
    loading = c.data_path("demo-population.loading")
    if (present and not loading.exists()) or not people:
        emit({"people": present, "loaded": 0, "institutions_created": institutions})
        return
    loading.touch()
    demo_file = c.data_path("demo-population.jsonl")
    write_population(demo_file, people=people, seed=seed, today=today_in_china(c.clock))
    summary = _import_with_progress(
        c, demo_file, c.data_path("demo-population.rejected.jsonl"), description="Loading demo"
    )
    write_demo_people(demo_file, c.data_path("demo") / "people.jsonl")
    demo_file.unlink()
    loading.unlink()
    emit(
        {
            "people": present + summary.imported,
            "loaded": summary.imported,
            "rejected": summary.rejected,
            "institutions_created": institutions,
        }
    )


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    c = container()
    c.check_profile()
    from netid.crypto.selftest import run_self_tests

    run_self_tests()
    c.keyring()  # fail at start, not at the first request, if keys are missing
    uvicorn.run(
        "netid.web.main:app",
        host=host or c.bind_address()[0],
        port=port or c.bind_address()[1],
        workers=workers,
        log_level="info",
        access_log=False,  # access logs would carry paths; our audit log is the record
    )


def main() -> None:
    """Run the CLI; any failure ends as one JSON line on stderr (``netid.cli.errors``)."""
    from netid.cli.errors import was_interrupted

    try:
        app(standalone_mode=True)
    except SystemExit as exc:  # typer.Exit, --help, usage errors: keep their exit code
        if exc.code == 130 and was_interrupted(exc):  # typer turned Ctrl-C into Exit(130)
            sys.exit(report_error(KeyboardInterrupt()))
        raise
    except (Exception, KeyboardInterrupt) as exc:  # never a traceback (it may show data)
        sys.exit(report_error(exc))

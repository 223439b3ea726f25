"""``netid billing`` (monthly statements) and ``netid receipts`` (show, verify offline).

Typer stays in this file; the logic is :mod:`netid.billing`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from netid.billing.errors import PublicKeysInvalid, ReceiptInvalid
from netid.billing.receipts import published_sm2_keys, verify_receipt, verify_receipt_in_log
from netid.billing.schemas import check_month
from netid.cli.files import write_atomically
from netid.crypto.errors import CryptoError

billing_app = typer.Typer(help="Billing: monthly statements.", no_args_is_help=True)
receipts_app = typer.Typer(help="Signed receipts (电子回执).", no_args_is_help=True)

_INSTITUTION_CODE = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
# A signed receipt is a few hundred bytes; a key document a few kilobytes.
_MAX_FILE_BYTES = 1024 * 1024


def _emit(obj: Any) -> None:
    from netid.cli.main import emit

    emit(obj)


def _read_json(path: Path, error: ReceiptInvalid | PublicKeysInvalid) -> Any:
    with path.open("rb") as handle:
        data = handle.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise error
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise error from None


@billing_app.command("statement")
def statement(
    month: Annotated[str, typer.Option(help="Calendar month in China time, e.g. 2026-11")],
    institution: Annotated[
        str | None, typer.Option(help="Only this institution (its institution code)")
    ] = None,
    out: Annotated[Path, typer.Option(file_okay=False, help="Directory for the files")] = Path(),
) -> None:
    """Write statement-MONTH.csv and statement-MONTH.json (statement-MONTH-CODE.* for one
    institution): counts and amounts per institution, verification type and result class."""
    from netid.cli.main import container

    check_month(month)
    if institution is not None and not _INSTITUTION_CODE.fullmatch(institution):
        raise typer.BadParameter("an institution code is 1-32 letters, digits, '-' or '_'")
    c = container()
    with c.transaction(write=False) as session:
        result = c.billing(session).statement(month, institution_code=institution)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"statement-{month}" + (f"-{institution}" if institution else "")
    csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
    write_atomically(csv_path, result.to_csv().encode("utf-8"))
    write_atomically(
        json_path, orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    )
    _emit(
        {
            "month": month,
            "institution_code": institution,
            "csv": str(csv_path),
            "json": str(json_path),
            "totals": result.totals.model_dump(mode="json"),
        }
    )


@receipts_app.command("show")
def receipts_show(receipt_id: Annotated[str, typer.Argument(help="The receipt id")]) -> None:
    """Print a receipt signed with the platform's active SM2 key (operator)."""
    from netid.cli.main import container

    c = container()
    with c.transaction() as session:
        signed = c.receipts(session).signed(receipt_id, institution_code=None)
        c.recorder(session).record(
            actor=c.operator_actor(),
            action="receipt.show",
            outcome="ok",
            details={"receipt_id": signed["receipt"]["id"]},
        )
    _emit(signed)


@receipts_app.command("verify")
def receipts_verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    public_keys: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The platform's published keys ('netid keys export-public' saved to a file);"
            " without it, this platform's own keys from the database",
        ),
    ] = None,
) -> None:
    """Verify a signed receipt offline; prints the receipt if valid, else a JSON error and a
    non-zero exit (65)."""
    if public_keys is not None:
        published = _read_json(public_keys, PublicKeysInvalid())
    else:
        from netid.cli.main import container
        from netid.keys.export import public_key_document

        c = container()
        with c.transaction(write=False) as session:
            published = public_key_document(c.keyring_service(session).public_keys())
            published.setdefault("log", {"verifier_keys": []})["verifier_keys"] = [
                v.verifier_key_line() for v in c.log_verifiers(session)
            ]
    keys = published_sm2_keys(published)
    document = _read_json(file, ReceiptInvalid("format"))
    receipt = verify_receipt(document, keys)
    out: dict[str, Any] = {
        "valid": True,
        "key_id": document["signature"]["key_id"],
        "receipt": receipt,
        "in_log": None,
    }
    if "log" in document:
        # The receipt is also in the log: proven against a checkpoint signed by a log key.
        out["in_log"] = {
            "tree_size": verify_receipt_in_log(receipt, document["log"], _log_verifiers(published))
        }
    _emit(out)


def _log_verifiers(published: Any) -> list[Any]:
    from netid.crypto.notes import parse_verifier_key

    lines = published.get("log", {}).get("verifier_keys", []) if isinstance(published, dict) else []
    try:
        return [parse_verifier_key(line) for line in lines if isinstance(line, str)]
    except (CryptoError, ValueError):
        raise PublicKeysInvalid() from None

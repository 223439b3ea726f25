"""``netid registry chip`` and ``netid registry chip-issuer``: the issuing authority, simulated.

An identity document's chip is signed by the authority that issued the document (ICAO Doc 9303
Part 11 §5.1, passive authentication); the platform only checks that signature. Here these
commands act as that authority: its SM2 key lives in its own directory (default
``<data dir>/document-issuer``, file mode 0600), outside the platform's keyring, and the
platform trusts the public keys listed in ``<data dir>/document-issuer-keys.json``
(docs/decisions/0005 "Chip", DESIGN.md "Keys").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from netid.cli.files import write_atomically
from netid.core.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from netid.crypto.errors import InvalidKeyMaterial
from netid.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
from netid.documents.chip import (
    issuer_key_entry,
    issuer_kid,
    parse_issuer_key,
    parse_trust_file,
    sign_chip,
)
from netid.registry.errors import PersonNotFound

ISSUER_KEY_FILE = "issuer-key.json"

chip_issuer_app = typer.Typer(
    help="The document issuer's key (simulated issuing authority) and the platform's trust.",
    no_args_is_help=True,
)


class IssuerKeyMissing(NotFound):
    code = "document_issuer_key_missing"
    default_message = "The issuer directory holds no key; run 'netid registry chip-issuer init'."


class IssuerKeyInvalid(InvalidInput):
    code = "document_issuer_key_invalid"
    default_message = "The document issuer key file is not valid."


class IssuerKidConflict(Conflict):
    code = "document_issuer_kid_conflict"
    default_message = "The trust file already holds another key under that kid."


class IssuerKey:
    """The authority's private key as loaded from its directory."""

    __slots__ = ("key", "kid")

    def __init__(self, kid: str, key: Sm2PrivateKey) -> None:
        self.kid = kid
        self.key = key


def _issuer_dir(option: Path | None) -> Path:
    from netid.cli.main import container

    return option if option is not None else container().document_issuer_dir()


def load_issuer_key(directory: Path) -> IssuerKey | None:
    path = directory / ISSUER_KEY_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(raw)
        if type(document) is not dict or set(document) != {"kid", "private_key", "created_at"}:
            raise IssuerKeyInvalid()
        key = Sm2PrivateKey.from_private_value(bytes.fromhex(document["private_key"]))
        kid = document["kid"]
        if type(kid) is not str or kid != issuer_kid(key.public_key()):
            raise IssuerKeyInvalid()
    except (ValueError, TypeError, InvalidKeyMaterial):
        raise IssuerKeyInvalid() from None
    return IssuerKey(kid, key)


def create_issuer_key(directory: Path) -> IssuerKey:
    from netid.cli.main import container

    key = Sm2PrivateKey.generate()
    kid = issuer_kid(key.public_key())
    document = {
        "kid": kid,
        "private_key": key.private_value().hex(),  # SECRET: the authority's, 0600
        "created_at": container().clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(
        directory / ISSUER_KEY_FILE, json.dumps(document).encode() + b"\n", private=True
    )
    return IssuerKey(kid, key)


def trust(kid: str, public_key: Sm2PublicKey) -> bool:
    """Add the key to the platform's trust file (atomically); False if it was there already."""
    from netid.cli.main import container

    c = container()
    path = c.document_issuer_trust_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = '{"keys": []}'
    try:
        keys = parse_trust_file(text)
    except ValueError as exc:
        raise ConfigurationError(f"The document issuer trust file is malformed: {exc}") from None
    for existing in keys:
        if existing.kid == kid:
            if existing.public_key != public_key:
                raise IssuerKidConflict()
            return False
    entries: list[dict[str, Any]] = [
        {"kid": k.kid, "public_key": k.public_key.uncompressed().hex(), "added_at": k.added_at}
        for k in keys
    ]
    entries.append(issuer_key_entry(kid, public_key, c.clock.now()))
    c.data_path(path.name)  # creates the data dir (0700) if needed
    write_atomically(path, json.dumps({"keys": entries}, indent=2).encode() + b"\n")
    return True


def ensure_issuer_key(directory: Path) -> tuple[IssuerKey, bool]:
    """The authority's key, created (and trusted by the platform) if the directory has none."""
    found = load_issuer_key(directory)
    if found is not None:
        return found, False
    created = create_issuer_key(directory)
    trust(created.kid, created.key.public_key())
    return created, True


IssuerDirOption = Annotated[
    Path | None,
    typer.Option(
        "--issuer-dir",
        file_okay=False,
        help="The issuing authority's key directory (default <data dir>/document-issuer)",
    ),
]


@chip_issuer_app.command("init")
def chip_issuer_init(issuer_dir: IssuerDirOption = None) -> None:
    """Create the issuer's SM2 key (if none) and make the platform trust its public key."""
    from netid.cli.main import emit

    directory = _issuer_dir(issuer_dir)
    issuer, created = ensure_issuer_key(directory)
    # An existing key is trusted again if the trust file lost it; `trust_added` says whether.
    trust_added = trust(issuer.kid, issuer.key.public_key()) if not created else True
    emit(
        {
            "kid": issuer.kid,
            "created": created,
            "trust_added": trust_added,
            "issuer_dir": str(directory),
        }
    )


@chip_issuer_app.command("export-public")
def chip_issuer_export_public(
    issuer_dir: IssuerDirOption = None,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write here instead of standard output")
    ] = None,
) -> None:
    """Print the issuer's public key ({kid, public_key}) for 'chip-issuer trust'."""
    issuer = load_issuer_key(_issuer_dir(issuer_dir))
    if issuer is None:
        raise IssuerKeyMissing()
    body = json.dumps(
        {"kid": issuer.kid, "public_key": issuer.key.public_key().uncompressed().hex()}
    ).encode()
    if out is None:
        sys.stdout.write(body.decode() + "\n")
    else:
        write_atomically(out, body + b"\n")


@chip_issuer_app.command("trust")
def chip_issuer_trust(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A file from 'export-public'")],
) -> None:
    """Make the platform trust an issuer public key (adds it to the trust file)."""
    from netid.cli.main import emit

    try:
        entry = parse_issuer_key(json.loads(file.read_bytes()), with_added_at=False)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"The public key file is not valid: {exc}") from None
    added = trust(entry.kid, entry.public_key)
    emit({"kid": entry.kid, "added": added})


def register_chip_commands(registry_app: typer.Typer) -> None:
    registry_app.add_typer(chip_issuer_app, name="chip-issuer")

    @registry_app.command("chip")
    def registry_chip(
        number: Annotated[str, typer.Argument(help="Document number, or '-' (stdin)")],
        out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the chip file")],
        issuer_dir: IssuerDirOption = None,
    ) -> None:
        """Read the registry as the issuing authority and write the document's signed chip
        data (0600). The authority's key is created (and trusted) on first use."""
        from netid.cli.main import container, emit

        if number == "-":  # keeps the number out of `ps` and shell history
            number = sys.stdin.readline().strip()
        c = container()
        issuer, created = ensure_issuer_key(_issuer_dir(issuer_dir))
        with c.registry_unit() as registry:
            data = registry.unsafe_chip_data(number, actor=f"document-issuer:{issuer.kid}")
        if data is None:  # raised after the commit, so the look-up stays recorded
            raise PersonNotFound()
        # Written after the commit: an access without its file is over-recorded, never a
        # file without its access record.
        chip = sign_chip(data, key=issuer.key, kid=issuer.kid, signed_at=c.clock.now())
        body = json.dumps(chip, ensure_ascii=False).encode() + b"\n"
        write_atomically(out, body, private=True)
        emit(
            {
                "out": str(out),
                "kid": issuer.kid,
                "signed_at": chip["signed_at"],
                "issuer_key_created": created,
            }
        )

"""``netid client``: a relying party's view, over plain HTTP (see :mod:`netid.client.rp`), and
the demo institutions that ``make run`` creates for it.

The demo writes, under the data directory's ``demo/institutions/``, one client file per
institution (mode 0600: it holds the institution's private key), and ``demo/people.jsonl``: a
few synthetic people to try, since the demo population itself is sealed in the registry.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Annotated, Any

import typer

from netid.cli.files import write_atomically
from netid.client.rp import ClientFile, RelyingParty, private_jwk
from netid.crypto import jose_keys

client_app = typer.Typer(
    help="Act as a relying party (bank, platform, hotel).", no_args_is_help=True
)

# name -> (display name, industry, purposes, website). Their USCCs are generated valid codes
# (GB 32100 check character), not real organisations'.
DEMO_INSTITUTIONS: dict[str, tuple[str, str, list[str], str]] = {
    "bank": (
        "示例商业银行股份有限公司",
        "banking_finance",
        ["account_opening", "payment", "loan"],
        "https://bank.demo.example",
    ),
    "platform": (
        "示例网络科技有限公司",
        "internet_platform",
        ["real_name_registration", "age_check", "minor_protection"],
        "https://platform.demo.example",
    ),
    "hotel": (
        "示例酒店管理有限公司",
        "hotel_lodging",
        ["hotel_check_in"],
        "https://hotel.demo.example",
    ),
}


def demo_uscc(slug: str) -> str:
    from netid.documents import synth

    return synth.uscc(random.Random(f"netid-demo-{slug}"))  # noqa: S311 - demo data, not secret


def create_demo_institutions(c: Any, directory: Path) -> list[Path]:
    """Apply for and approve the three demo institutions (once) and write their client files."""
    from netid.institutions.schemas import ApplicationIn

    written = []
    for slug, (name, industry, purposes, website) in DEMO_INSTITUTIONS.items():
        path = directory / f"{slug}.json"
        if path.exists():
            continue
        key = jose_keys.generate_private_key("ES256")
        kid = f"{slug}-1"
        application = ApplicationIn.model_validate(
            {
                "name": name,
                "uscc": demo_uscc(slug),
                "industry": industry,
                "purposes": purposes,
                "location": "domestic",
                "agreement": {"version": "2026-01", "accepted": True},
                "website": website,
                "legal_representative": {
                    "name": "演示代表",
                    "phone": "+86 10 0000 0000",
                    "email": f"legal@{slug}.demo.example",
                },
                "contact": {
                    "name": "演示联系人",
                    "phone": "+86 10 0000 0001",
                    "email": f"it@{slug}.demo.example",
                },
                "public_jwks": [jose_keys.public_jwk(key, kid)],
            }
        )
        with c.transaction() as session:
            service = c.institutions(session)
            pending = service.apply(application, actor=c.operator_actor())
            approved = service.approve(pending.id, actor=c.operator_actor(), reason="demo")
        base = c.api_base_url()
        client = ClientFile(
            institution_code=approved.code or "",
            client_id=approved.client_id or "",
            token_endpoint=f"{base}/oauth2/token",
            api_base=base,
            private_jwk=private_jwk(key, kid),
        )
        write_atomically(
            path, json.dumps(client.to_json(), indent=2).encode() + b"\n", private=True
        )
        written.append(path)
    return written


def _image(path: Path | None) -> str | None:
    return base64.b64encode(path.read_bytes()).decode() if path else None


@client_app.command("verify")
def client_verify(
    institution: Annotated[Path, typer.Option(help="The institution's client file", exists=True)],
    document: Annotated[str, typer.Option(help="Document number")],
    name: Annotated[str, typer.Option(help="Name as on the document")],
    purpose: Annotated[str, typer.Option(help="Purpose code")],
    type_: Annotated[
        str, typer.Option("--type", help="id2, id3_phone, age_over, face, status")
    ] = "id2",
    phone: Annotated[str | None, typer.Option(help="For id3_phone")] = None,
    threshold: Annotated[int | None, typer.Option(help="For age_over")] = None,
    face_image: Annotated[Path | None, typer.Option(help="For face: a JPEG or PNG")] = None,
    claims: Annotated[str, typer.Option(help="Comma-separated claims to ask for")] = "",
    receipt: Annotated[bool, typer.Option(help="Also fetch the signed receipt")] = False,
) -> None:
    """Verify someone as the institution would: token, verification, receipt."""
    subject: dict[str, Any] = {"document_number": document, "name": name}
    if phone is not None:
        subject["phone"] = phone
    if face_image is not None:
        subject["face_image"] = _image(face_image)
    body: dict[str, Any] = {"type": type_, "purpose": purpose, "subject": subject}
    if threshold is not None:
        body["threshold"] = threshold
    if claims:
        body["claims"] = [c.strip() for c in claims.split(",") if c.strip()]
    _verify_and_emit(institution, body, receipt=receipt)


@client_app.command("scan")
def client_scan(
    institution: Annotated[Path, typer.Option(help="The institution's client file", exists=True)],
    qr: Annotated[str, typer.Option(help="The scanned text of the QR code, or '-' for stdin")],
    purpose: Annotated[str, typer.Option(help="Purpose code")],
    claims: Annotated[str, typer.Option(help="Comma-separated claims to ask for")] = "",
    min_assurance: Annotated[
        str | None, typer.Option(help="L1, L2 or L3: the lowest level accepted")
    ] = None,
    receipt: Annotated[bool, typer.Option(help="Also fetch the signed receipt")] = False,
) -> None:
    """Verify a person's dynamic QR code (netid_qr) as the institution's scanner would."""
    import sys

    text = sys.stdin.readline().strip() if qr == "-" else qr
    body: dict[str, Any] = {"type": "netid_qr", "purpose": purpose, "qr": text}
    if claims:
        body["claims"] = [c.strip() for c in claims.split(",") if c.strip()]
    if min_assurance:
        body["min_assurance"] = min_assurance
    _verify_and_emit(institution, body, receipt=receipt)


@client_app.command("oidc-register")
def client_oidc_register(
    institution: Annotated[Path, typer.Option(help="The institution's client file", exists=True)],
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="An exact redirect URI (repeatable)")
    ],
    post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option("--logout-uri", help="A post-logout redirect URI")
    ] = None,
    sector_identifier_uri: Annotated[
        str | None, typer.Option(help="For redirect URIs on several hosts (OIDC Core §8.1)")
    ] = None,
    auth_method: Annotated[
        str, typer.Option(help="private_key_jwt (the client file's key) or client_secret_basic")
    ] = "private_key_jwt",
    id_token_alg: Annotated[str, typer.Option(help="RS256 or ES256")] = "RS256",  # noqa: S107
    default_purpose: Annotated[str | None, typer.Option(help="A registered purpose")] = None,
) -> None:
    """Register this institution's OpenID Connect client (``PUT /v1/oidc/client``). A
    client_secret_basic secret is printed once."""
    from netid.cli.main import emit

    body: dict[str, Any] = {
        "redirect_uris": redirect_uri,
        "post_logout_redirect_uris": post_logout_redirect_uri or [],
        "token_endpoint_auth_method": auth_method,
        "id_token_signed_response_alg": id_token_alg,
    }
    if sector_identifier_uri:
        body["sector_identifier_uri"] = sector_identifier_uri
    if default_purpose:
        body["default_purpose"] = default_purpose
    answer = RelyingParty(ClientFile.load(institution)).call("PUT", "/v1/oidc/client", body)
    emit({"status": answer.status, "answer": answer.body})
    if answer.status != 200:
        raise typer.Exit(1)


def _verify_and_emit(institution: Path, body: dict[str, Any], *, receipt: bool) -> None:
    """POST the verification (after getting a token), print the answer (and the receipt),
    and exit 1 on a refusal."""
    from netid.cli.main import emit

    rp = RelyingParty(ClientFile.load(institution))
    answer = rp.verify(body)
    out: dict[str, Any] = {"status": answer.status, "answer": answer.body}
    if receipt and answer.status == 200 and isinstance(answer.body, dict):
        out["receipt"] = rp.receipt(answer.body["receipt"]["id"]).body
    emit(out)
    if answer.status != 200:
        raise typer.Exit(1)


def write_demo_people(population: Path, out: Path, *, count: int = 8) -> None:
    """A few adults of the synthetic population, in the clear, to try verifications with.
    Synthetic people only: the file is for the demo and is written private (0600)."""
    picked = []
    with population.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["status"] != "active" or record["birth_date"] > "2000-01-01":
                continue
            doc = record["documents"][0]
            if doc["status"] != "valid":
                continue
            picked.append(
                {
                    "name": record["name"],
                    "document_number": doc["number"],
                    "phone": record["phones"][0] if record["phones"] else None,
                    "birth_date": record["birth_date"],
                }
            )
            if len(picked) == count:
                break
    write_atomically(
        out,
        b"".join(json.dumps(p, ensure_ascii=False).encode() + b"\n" for p in picked),
        private=True,
    )

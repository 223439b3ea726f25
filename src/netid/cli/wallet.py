"""``netid wallet``: the citizen's wallet, standing in for the phone app (:mod:`netid.wallet`).

It talks to a running ``netid serve`` over the public HTTP API only, like a phone would; it
never opens the database. State lives in the wallet directory (``--wallet DIR``, default
``~/.netid-wallet`` or ``$NETID_WALLET``; 0700, files 0600).

PINs and one-time codes are read from standard input (``--pin-stdin`` / ``--code-stdin``, one
line each) or prompted without echo, never taken from the command line (``ps`` and shell
history would show them to other users of the machine while the code is still valid). Output is human text,
or one JSON document with ``--json``. A failure prints its error code and exits 1.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from netid.core.errors import InvalidInput, NetidError
from netid.wallet.errors import PinInputInvalid
from netid.wallet.service import Wallet
from netid.wallet.state import DEFAULT_WALLET_DIR, WALLET_ENV, WalletDir, default_wallet_dir

wallet_app = typer.Typer(
    help="The citizen's wallet (the phone app's stand-in): enrol, log in, show a QR code.",
    no_args_is_help=True,
)
enrol_app = typer.Typer(help="Enrol: chip, face, SMS code, PIN.", no_args_is_help=True)
consents_app = typer.Typer(help="Your separate consents (Kantara receipts).")
wallet_app.add_typer(enrol_app, name="enrol")
wallet_app.add_typer(consents_app, name="consents")

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PinStdin = Annotated[
    bool, typer.Option("--pin-stdin", help="Read the PIN from the first line of stdin.")
]
CodeStdin = Annotated[
    bool, typer.Option("--code-stdin", help="Read the code from the first line of stdin.")
]


@dataclass
class _Options:
    directory: Path
    as_json: bool
    timeout: float


# Set by the group's callback, which typer runs before every wallet command.
_current = _Options(default_wallet_dir(), False, 15.0)


def _options() -> _Options:
    return _current


@wallet_app.callback()
def wallet_main(
    wallet: Annotated[
        Path,
        typer.Option(
            "--wallet",
            envvar=WALLET_ENV,
            help="The wallet directory (0700).",
            file_okay=False,
        ),
    ] = Path(DEFAULT_WALLET_DIR),
    as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option(min=1, max=120, help="HTTP timeout (s)")] = 15.0,
) -> None:
    """The citizen's wallet: it uses only the platform's public HTTP API."""
    global _current
    _current = _Options(wallet.expanduser(), as_json, timeout)


def _wallet(directory: Path | None = None) -> Wallet:
    options = _options()
    return Wallet(WalletDir(directory or options.directory), timeout=options.timeout)


def _json_wanted(as_json: bool) -> bool:
    return as_json or _options().as_json


def _fail(error: NetidError, as_json: bool) -> None:
    body = {"error": error.to_dict()}
    if _json_wanted(as_json):
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        details = error.to_dict().get("details")
        extra = f" {json.dumps(details, ensure_ascii=False)}" if details else ""
        sys.stderr.write(f"error [{error.to_dict()['code']}]: {error.message}{extra}\n")
    raise typer.Exit(1)


def command(func: Callable[P, R]) -> Callable[P, R]:
    """Failures become ``error [code]: message`` (or the JSON error) and exit status 1."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return func(*args, **kwargs)
        except NetidError as error:
            _fail(error, as_json)
        except ValueError as error:  # a malformed URL or option value
            _fail(InvalidInput(str(error)), as_json)
        except OSError as error:
            from netid.cli.errors import FileError

            _fail(FileError(f"A file could not be read or written: {error.strerror}."), as_json)
        raise AssertionError("unreachable")  # pragma: no cover

    return run


def _show(obj: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if _json_wanted(as_json):
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None) + "\n")
        return
    text = human(obj) if human else _plain(obj)
    sys.stdout.write(text.rstrip("\n") + "\n")


def _plain(obj: Any, indent: str = "") -> str:
    if isinstance(obj, dict):
        lines = []
        for key, value in obj.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{indent}{key}:")
                lines.append(_plain(value, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {_scalar(value)}")
        return "\n".join(lines)
    if isinstance(obj, list):
        if not obj:
            return f"{indent}(none)"
        return "\n".join(
            f"{indent}- " + _plain(item, indent + "  ").lstrip()
            if isinstance(item, dict)
            else f"{indent}- {_scalar(item)}"
            for item in obj
        )
    return f"{indent}{_scalar(obj)}"


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return "(none)"
    return str(value)


def _read_pin(pin_stdin: bool, *, confirm: bool = False) -> str:
    """The PIN from stdin's first line, or a prompt without echo (twice when choosing one)."""
    if pin_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
    else:
        pin = getpass.getpass("PIN: ")
        if confirm and getpass.getpass("PIN again: ") != pin:
            raise PinInputInvalid("The two PINs differ.")
    if not pin:
        raise PinInputInvalid()
    return pin


def _read_code(from_stdin: bool) -> str:
    """A one-time code from the next stdin line, or a prompt without echo (never argv)."""
    code = sys.stdin.readline().strip() if from_stdin else getpass.getpass("Code: ").strip()
    if not code:
        raise InvalidInput("No code was given.")
    return code


def _read_file(path: Path, limit: int = 8 * 1024 * 1024) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput("The file is too large.")
    return data


# -- init -------------------------------------------------------------------------------------
@wallet_app.command("init")
@command
def init(
    server: Annotated[str, typer.Option(help="The netid server, e.g. http://127.0.0.1:8000")],
    as_json: JsonOption = False,
) -> None:
    """Create the wallet directory and the device key (P-256; it never leaves the directory)."""
    out = _wallet().init(server)
    _show(out, as_json, lambda o: f"Wallet ready for {o['server']} (device key {o['device_kid']}).")


# -- enrolment --------------------------------------------------------------------------------
@enrol_app.command("start")
@command
def enrol_start(
    chip: Annotated[Path, typer.Option(dir_okay=False, help="The document chip file")],
    guardian_wallet: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Under 14: the guardian's (logged-in) wallet"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start enrolment with the document's chip; the platform sends an SMS code now."""
    try:
        chip_data = json.loads(_read_file(chip, 64 * 1024))
    except ValueError:
        raise InvalidInput("The chip file is not JSON.") from None
    guardian = _wallet(guardian_wallet) if guardian_wallet is not None else None
    out = _wallet().enrol_start(chip_data, guardian=guardian)

    def human(o: dict[str, Any]) -> str:
        lines = [f"Enrolment started (until {o['expires_at']}); supervision: {o['supervision']}."]
        if o.get("phone_hint"):
            lines.append(f"A code was sent to {o['phone_hint']}.")
        if o.get("steps"):
            lines.append("Next: " + ", ".join(o["steps"]))
        return "\n".join(lines)

    _show(out, as_json, human)


@enrol_app.command("face")
@command
def enrol_face(
    photo: Annotated[Path, typer.Option(dir_okay=False, help="A live photo (JPEG or PNG)")],
    as_json: JsonOption = False,
) -> None:
    """Send a live photo with the (simulated) liveness result, signed by the device key."""
    out = _wallet().enrol_face(_read_file(photo))
    _show(out, as_json, lambda o: f"Face accepted; enrolment state: {o['state']}.")


@enrol_app.command("otp")
@command
def enrol_otp(code_stdin: CodeStdin = False, as_json: JsonOption = False) -> None:
    """Confirm the phone with the 6-digit SMS code (prompted, or --code-stdin)."""
    out = _wallet().enrol_otp(_read_code(code_stdin))
    _show(out, as_json, lambda o: f"Phone confirmed; enrolment state: {o['state']}.")


@enrol_app.command("resend")
@command
def enrol_resend(as_json: JsonOption = False) -> None:
    """Send a new SMS code (the tries left are not reset)."""
    out = _wallet().enrol_resend()
    _show(out, as_json, lambda o: f"A new code was sent to {o.get('phone_hint')}.")


@enrol_app.command("finish")
@command
def enrol_finish(pin_stdin: PinStdin = False, as_json: JsonOption = False) -> None:
    """Choose the PIN and receive the credential (or wait for a guardian's approval)."""
    pin = _read_pin(pin_stdin, confirm=True)
    out = _wallet().enrol_finish(pin).to_json()

    def human(o: dict[str, Any]) -> str:
        if o["state"] != "issued":
            return (
                "Waiting for a guardian's approval; run 'netid wallet enrol finish' again "
                "once they have approved it."
            )
        return f"Enrolled. Your network ID: {o['network_id']} (credential until {o['expires_at']})."

    _show(out, as_json, human)


@enrol_app.command("status")
@command
def enrol_status(as_json: JsonOption = False) -> None:
    """Where the enrolment in progress stands."""
    _show(_wallet().enrol_status(), as_json)


# -- sessions ---------------------------------------------------------------------------------
@wallet_app.command("otp")
@command
def login_code(as_json: JsonOption = False) -> None:
    """Send a login code to the bound phone (for 'login --otp-sent')."""
    out = _wallet().request_login_otp()
    _show(out or {"sent": True}, as_json, lambda o: "A login code was sent to your phone.")


@wallet_app.command("login")
@command
def login(
    pin_stdin: PinStdin = False,
    face: Annotated[
        Path | None, typer.Option(dir_okay=False, help="A live photo: assurance L2")
    ] = None,
    otp: Annotated[
        bool, typer.Option("--otp", help="Also a code to the phone: L3 (needs --face)")
    ] = False,
    otp_sent: Annotated[
        bool,
        typer.Option(
            "--otp-sent", help="L3 with a code already sent ('netid wallet otp'), read like --otp"
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Log in: PIN (L1), + face (L2), + SMS code (L3). The session lasts 15 minutes. With
    --pin-stdin the code is the second line of stdin, otherwise it is prompted."""
    wallet = _wallet()
    pin = _read_pin(pin_stdin)
    photo = _read_file(face) if face is not None else None
    otp_code: str | None = None
    if otp or otp_sent:
        if not otp_sent:
            wallet.request_login_otp()
            sys.stderr.write("A login code was sent to your phone.\n")
        otp_code = _read_code(pin_stdin)
    session = wallet.login(pin, face=photo, otp_code=otp_code)
    out = {"assurance": session.assurance, "expires_at": session.expires_at}
    _show(out, as_json, lambda o: f"Logged in at {o['assurance']} until {o['expires_at']}.")


@wallet_app.command("logout")
@command
def logout(as_json: JsonOption = False) -> None:
    """Forget the session (and its QR references)."""
    _wallet().logout()
    _show({"logged_out": True}, as_json, lambda o: "Logged out.")


@wallet_app.command("status")
@command
def status(as_json: JsonOption = False) -> None:
    """Network ID, credential status and expiry, session and assurance."""
    out = _wallet().status()

    def human(o: dict[str, Any]) -> str:
        if not o["enrolled"]:
            state = "enrolment in progress" if o.get("enrolment") else "not enrolled"
            return f"Server: {o['server']}\nWallet: {state}."
        session = o.get("session")
        lines = [
            f"Network ID:  {o['network_id']}",
            f"Credential:  {o.get('credential_status') or '-'} (status list: "
            f"{o.get('status_list', 'unknown')}), until {o.get('credential_expires_at') or '-'}",
            f"Session:     {session['assurance'] + ' until ' + session['expires_at'] if session else 'none'}",
            f"Server:      {o['server']}",
        ]
        return "\n".join(lines)

    _show(out, as_json, human)


@wallet_app.command("refresh")
@command
def refresh(as_json: JsonOption = False) -> None:
    """Fetch a new credential for this device (after expiry, or when an age marker changes);
    it is kept only once it verifies under the platform's published keys."""
    out = _wallet().refresh_credential()
    _show(out, as_json, lambda o: f"Credential renewed (until {o.get('expires_at') or '-'}).")


# -- dynamic QR code --------------------------------------------------------------------------
@wallet_app.command("qr")
@command
def qr(
    png: Annotated[Path | None, typer.Option(dir_okay=False, help="Also write a PNG here")] = None,
    once: Annotated[bool, typer.Option("--once", help="One code, then exit")] = False,
    text: Annotated[
        bool, typer.Option("--text", help="With --once: print only the token text")
    ] = False,
    interval: Annotated[int, typer.Option(min=5, max=60, help="Seconds per code")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Show the dynamic QR code: a new device-signed token every INTERVAL seconds (each valid
    60 s, with a fresh nonce, accepted once). Ctrl-C stops."""
    import segno

    wallet = _wallet()
    while True:
        token = wallet.next_qr_token()
        code = segno.make(token, error="m", micro=False)
        if png is not None:
            from netid.wallet.state import write_private

            buffer = _png_bytes(code)
            write_private(png, buffer)
        if once and text:
            sys.stdout.write(token + "\n")
            return
        if _json_wanted(as_json):
            _show({"qr": token, "png": str(png) if png else None}, True)
        else:
            if not once:
                sys.stdout.write("\x1b[2J\x1b[H")  # clear the terminal for the next code
            code.terminal(out=sys.stdout, compact=True)
            sys.stdout.write(f"Valid 60 s; next code in {interval} s. Ctrl-C to stop.\n")
        sys.stdout.flush()
        if once:
            return
        time.sleep(interval)


def _png_bytes(code: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


# -- offline presentation ---------------------------------------------------------------------
@wallet_app.command("present")
@command
def present(
    claims: Annotated[str, typer.Option(help="Comma-separated claims, e.g. name,age_over_18")],
    nonce: Annotated[str, typer.Option(help="The verifier's nonce")],
    audience: Annotated[str, typer.Option(help="The verifier's identifier (KB-JWT aud)")],
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="Write it here")] = None,
    as_json: JsonOption = False,
) -> None:
    """An SD-JWT presentation disclosing only CLAIMS, bound to the device key (KB-JWT)."""
    names = [c.strip() for c in claims.split(",") if c.strip()]
    if not names:
        raise InvalidInput("Name at least one claim.")
    presentation = _wallet().present(names, nonce=nonce, audience=audience)
    if out is not None:
        from netid.wallet.state import write_private

        write_private(out, presentation.encode("ascii") + b"\n")
        _show({"out": str(out), "claims": names}, as_json, lambda o: f"Written to {o['out']}.")
        return
    _show({"presentation": presentation, "claims": names}, as_json, lambda o: o["presentation"])


@wallet_app.command("claims")
@command
def claims_cmd(as_json: JsonOption = False) -> None:
    """The claims your credential can disclose (and their values: shown only to you)."""
    _show(_wallet().disclosable_claims(), as_json)


# -- requests, consents, locks ----------------------------------------------------------------
@wallet_app.command("requests")
@command
def requests(as_json: JsonOption = False) -> None:
    """Pending consent and guardian requests."""
    _show(_wallet().requests(), as_json)


@wallet_app.command("scan")
@command
def scan(
    text: Annotated[str, typer.Argument(help="The scanned text: netid://login?r=…")],
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking")] = False,
    deny_login: Annotated[bool, typer.Option("--deny", help="Deny without asking")] = False,
    as_json: JsonOption = False,
) -> None:
    """Log in at a website: show who asks, why and for what, then approve or deny. Compare
    the check code with the one on the website's page."""
    wallet = _wallet()
    handle, request = wallet.login_request(text)
    if not (yes or deny_login):
        typer.echo(_plain(request), err=True)
        approve_it = typer.confirm("Approve this login?", default=False, err=True)
    else:
        approve_it = yes and not deny_login
    _show(wallet.decide_login(handle, approve=approve_it), as_json)


@wallet_app.command("approve")
@command
def approve(request_id: str, as_json: JsonOption = False) -> None:
    """Approve a pending request."""
    _show(_wallet().approve(request_id), as_json)


@wallet_app.command("deny")
@command
def deny(request_id: str, as_json: JsonOption = False) -> None:
    """Deny a pending request."""
    _show(_wallet().deny(request_id), as_json)


@consents_app.callback(invoke_without_command=True)
def consents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your consents (with no sub-command: list them)."""
    if ctx.invoked_subcommand is None:
        _list_consents(as_json=as_json)


@command
def _list_consents(*, as_json: bool = False) -> None:
    _show(_wallet().consents(), as_json)


@consents_app.command("revoke")
@command
def consents_revoke(consent_id: str, as_json: JsonOption = False) -> None:
    """Revoke a consent (it acts on the next request)."""
    _show(_wallet().revoke_consent(consent_id), as_json)


@wallet_app.command("locks")
@command
def locks(as_json: JsonOption = False) -> None:
    """Which methods are locked."""
    _show(_wallet().locks(), as_json)


@wallet_app.command("lock")
@command
def lock(
    method: Annotated[str, typer.Argument(help="document | qr | credential")],
    as_json: JsonOption = False,
) -> None:
    """Lock a method: nobody can verify you that way until you unlock it."""
    _show(_wallet().lock(method), as_json)


@wallet_app.command("unlock")
@command
def unlock(
    method: Annotated[str, typer.Argument(help="document | qr | credential")],
    minutes: Annotated[
        int | None, typer.Option(min=1, help="Only for this long, then locked again")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Unlock a method (for good, or for --minutes)."""
    _show(_wallet().unlock(method, minutes=minutes), as_json)


# -- history and deregistration ---------------------------------------------------------------
@wallet_app.command("history")
@command
def history(
    log_keys: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="The platform's public keys (netid keys export-public)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Who used your data, when and why: each entry proven to be in the transparency log."""
    verifiers = _log_verifiers(log_keys) if log_keys is not None else []
    out = _wallet().history(verifiers).to_json()

    def human(o: dict[str, Any]) -> str:
        lines = [
            f"{o['verified']} entries proven in the log (tree size {o['tree_size']}), "
            f"{o['unverified']} not proven."
        ]
        for item in o["entries"]:
            entry = item["entry"]
            mark = "✓" if item["verified"] else f"✗ ({item['reason']})"
            what = entry.get("action", "?")
            who = entry.get("actor", "?")
            when = entry.get("at") or entry.get("time") or entry.get("recorded_at") or ""
            lines.append(
                f"{mark} #{item['index']} {when} {what} by {who} {entry.get('outcome', '')}"
            )
        return "\n".join(lines)

    _show(out, as_json, human)


def _log_verifiers(path: Path) -> list[Any]:
    from netid.crypto.errors import CryptoError
    from netid.crypto.notes import parse_verifier_key

    try:
        document = json.loads(_read_file(path))
        lines = document["log"]["verifier_keys"]
        return [parse_verifier_key(line) for line in lines]
    except (ValueError, KeyError, TypeError, CryptoError):
        raise InvalidInput("The public key file has no log verifier keys.") from None


@wallet_app.command("deregister")
@command
def deregister(
    confirm: Annotated[
        str | None,
        typer.Option(help="Your network ID, to confirm (prompted when omitted: argv is public)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Close the account: credentials revoked, phone, device keys, face and consents deleted.
    The network ID stays yours (re-enrol to use it again). This wallet forgets its key."""
    if confirm is None:
        confirm = typer.prompt("Your network ID, to confirm", err=True)
    out = _wallet().deregister(confirm)
    _show(out, as_json, lambda o: "Deregistered. This wallet no longer holds a credential.")

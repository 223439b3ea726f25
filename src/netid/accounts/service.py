"""Password accounts: set-up by phone code, login by password + phone code (acr L1).

Use cases for ``/accounts/password`` (set or reset a password) and the OIDC password login
(docs/decisions/0006 "Without a wallet"). The service flushes and never commits.

Refusals whose traces must stay (the access record, a failed password, a code try) are raised
as :class:`~netid.accounts.errors.Refusal`: the caller commits, then handles the error it
carries. Other errors (``invalid_document_number`` at set-up, ``password_too_weak``,
``setup_expired``) are raised directly, before anything was written.

The codes are those of enrolment (6 digits, 5 minutes, once, 5 tries, HMAC-SM3 under a
token_mac key, NFKC input), kept here in a table of their own rather than shared: enrolment
keys its codes by (purpose, owner) and keeps tries across resends, while a set-up or login
here is one row per attempt, found by a client-held secret, with dead rows for unknown numbers.
The MAC label differs, so a code row of one can never be replayed as the other.

Access records (actor ``citizen``, under the person's key): ``accounts.setup.start``,
``accounts.password.set``, ``accounts.login.password``, ``accounts.login.code``; the outcome
says what happened (``ok``, ``unknown_person``, ``no_phone``, ``ineligible``,
``rate_limited``, ``no_account``, ``locked``, ``wrong_password``, ``code_invalid``,
``code_spent``) — the log sees the difference, the caller never does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from typing import Any, NoReturn

from netid.accounts.errors import (
    CodeInvalid,
    CodesExhausted,
    LoginFailed,
    PasswordTooWeak,
    Refusal,
    SetupExpired,
)
from netid.accounts.models import AccountCode, PasswordAccount
from netid.accounts.repository import AccountRepository
from netid.accounts.schemas import (
    CODE_DIGITS,
    CODE_TRIES,
    CODE_TTL,
    CODE_WINDOW,
    CODES_PER_WINDOW,
    LOCK,
    LOCK_MAX,
    LOGIN_TRIES,
    PASSWORD_MAX,
    PASSWORD_MIN,
    SECRET_LENGTH,
    AuthenticatedPerson,
    LoginChallenge,
    SetupStarted,
)
from netid.admins.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from netid.audit.service import AccessRecorder
from netid.core.clock import Clock, today_in_china
from netid.core.errors import InvalidInput, NetidError
from netid.core.ids import new_row_id
from netid.core.masking import mask_phone
from netid.crypto.errors import CryptoError
from netid.crypto.jose_keys import b64url_encode
from netid.crypto.sealing import SealKey, open_sealed, seal
from netid.crypto.sm3 import hmac_sm3, length_prefixed
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.registry.service import RegistryService, VerificationSubject
from netid.sms.schemas import SmsSender, otp_message

CITIZEN = "citizen"
_CODE_LABEL = b"netid/account-code/v1"
_PURGE_BATCH = 100


def _hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _is_secret(value: object) -> bool:
    return isinstance(value, str) and len(value) == SECRET_LENGTH and value.isascii()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _typed_code(code: object) -> str:
    """The code as typed, NFKC first: a Chinese input method may type full-width digits
    (１２３４５６), which are the same code to the person. Anything that is not 6 ASCII
    digits becomes a value no code matches (the MAC is still computed: same work)."""
    typed = unicodedata.normalize("NFKC", code) if isinstance(code, str) else ""
    fits = len(typed) == CODE_DIGITS and typed.isascii() and typed.isdigit()
    return typed if fits else "-" * CODE_DIGITS


def check_password_policy(password: object, document_number: str | None = None) -> str:
    """The password, NFKC-normalised (as it is hashed, netid.admins.passwords), if it is
    acceptable; else PasswordTooWeak. The rules (NIST SP 800-63B-4 §3.1.1.2: length, no
    composition rules, refuse values known to the attacker): 10 to 128 characters; not only
    digits (a number space a guesser enumerates); not one character repeated; not the
    document number, nor containing it (case-insensitive: the check character ``X``)."""
    if not isinstance(password, str):
        raise PasswordTooWeak()
    normal = unicodedata.normalize("NFKC", password)
    if not PASSWORD_MIN <= len(normal) <= PASSWORD_MAX:
        raise PasswordTooWeak()
    if all(c.isdigit() for c in normal) or len(set(normal)) == 1:
        raise PasswordTooWeak()
    if document_number:
        number = unicodedata.normalize("NFKC", document_number).strip().casefold()
        if number and number in normal.casefold():
            raise PasswordTooWeak()
    return normal


class AccountService:
    def __init__(
        self,
        *,
        repository: AccountRepository,
        registry: RegistryService,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        sms: SmsSender,
    ) -> None:
        self._repo = repository
        self._registry = registry
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._sms = sms

    # -- small helpers --------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return self._clock.now()

    def _record(
        self,
        action: str,
        *,
        key: SealKey | None,
        person_id: str | None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        """One access record; the subject is named only when there is a key to seal it."""
        self._recorder.record(
            actor=CITIZEN,
            action=action,
            outcome=outcome,
            subject_key=key,
            subject_id=person_id if key is not None else None,
            details=details,
        )

    def _refuse(
        self,
        error: NetidError,
        *,
        action: str,
        outcome: str,
        key: SealKey | None = None,
        person_id: str | None = None,
    ) -> NoReturn:
        self._record(action, key=key, person_id=person_id, outcome=outcome)
        raise Refusal(error)

    def _code_mac(self, secret: bytes, row_id: str, code: str) -> bytes:
        return hmac_sm3(secret, length_prefixed(_CODE_LABEL, row_id.encode(), code.encode()))

    def _eligible(self, subject: VerificationSubject) -> bool:
        """Alive, and the document named is valid today (as enrolment requires)."""
        document = subject.document
        today = today_in_china(self._clock)
        return (
            subject.status == "active"
            and document.status == "valid"
            and (document.expires_on is None or document.expires_on >= today)
        )

    def _window_full(self, person_id: str, now: dt.datetime) -> dt.datetime | None:
        """When the next code may be sent, if this person's codes of the window are spent."""
        sent = self._repo.codes_sent_since(person_id, now - CODE_WINDOW)
        if len(sent) < CODES_PER_WINDOW:
            return None
        return sent[len(sent) - CODES_PER_WINDOW] + CODE_WINDOW

    def _open_row(
        self,
        *,
        purpose: str,
        person_id: str | None,
        code: str | None,
        number: str | None = None,
    ) -> tuple[str, AccountCode]:
        """A new set-up or login row and the client's secret for it. ``code`` None makes a
        dead row: a random MAC that no code matches."""
        now = self._now()
        row_id = new_row_id()
        secret = b64url_encode(secrets.token_bytes(16))
        key = self._keyring.active(KeyPurpose.TOKEN_MAC)
        mac = (
            self._code_mac(key.secret, row_id, code)
            if code is not None
            else secrets.token_bytes(32)
        )
        sealed = None
        if number is not None:
            data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
            sealed = seal(
                data_key, number.encode(), table="account_code", column="number", row_id=row_id
            )
        row = AccountCode(
            id=row_id,
            secret_hash=_hash_secret(secret),
            purpose=purpose,
            person_id=person_id,
            code_mac=mac,
            mac_key_id=key.key_id,
            number_sealed=sealed,
            tries=0,
            sent=code is not None,
            created_at=now,
            expires_at=now + CODE_TTL,
            used_at=None,
        )
        self._repo.purge(now - CODE_WINDOW - CODE_TTL, _PURGE_BATCH)
        self._repo.add(row)
        return secret, row

    def _check_code(self, row: AccountCode, code: object) -> bool | None:
        """True if ``code`` is right (the row is NOT yet marked used: the caller does, once
        everything else passed); False if wrong (the try is counted); None if the row can no
        longer be used (spent, expired — valid for CODE_TTL inclusive — out of tries, or its
        MAC key retired)."""
        now = self._now()
        if row.used_at is not None or row.tries >= CODE_TRIES or now > row.expires_at:
            return None
        try:
            secret = self._keyring.get(row.mac_key_id).secret
        except CryptoError:
            return None
        if hmac.compare_digest(self._code_mac(secret, row.id, _typed_code(code)), row.code_mac):
            return True
        row.tries += 1
        self._repo.flush()
        return False

    def _send(self, phone: str, code: str, purpose: str) -> None:
        minutes = int(CODE_TTL.total_seconds() // 60)
        self._sms.send(phone, otp_message(code, minutes), purpose=purpose)

    # == set-up (and reset) of the password ========================================================
    def start_setup(self, document_number: str) -> SetupStarted:
        """Send a code to the first registry phone of the holder of ``document_number``.

        Always answers a set-up id: for a number nobody holds, a holder without a phone,
        deceased or with an invalid document, or whose codes of the hour are spent, the row
        is dead (no code matches it) and ``phone_hint`` None; the page says the same thing in
        every case. Raises InvalidDocumentNumber (nothing written) for a number of no known
        format. Always recorded (``accounts.setup.start``)."""
        action = "accounts.setup.start"
        subject = self._registry.unsafe_open_subject(document_number, with_phones=True)
        now = self._now()
        outcome = "ok"
        phone: str | None = None
        if subject is None:
            outcome = "unknown_person"
        elif not self._eligible(subject):
            outcome = "ineligible"
        elif not subject.phones:
            outcome = "no_phone"
        elif self._window_full(subject.person_id, now) is not None:
            outcome = "rate_limited"
        else:
            phone = subject.phones[0]
        code = _new_code() if phone is not None else None
        secret, row = self._open_row(
            purpose="setup",
            person_id=subject.person_id if phone is not None and subject else None,
            code=code,
            number=document_number,
        )
        if phone is not None and code is not None:
            self._send(phone, code, "account_setup_otp")
        self._record(
            action,
            key=subject.key if subject else None,
            person_id=subject.person_id if subject else None,
            outcome=outcome,
        )
        return SetupStarted(
            setup_id=secret,
            phone_hint=mask_phone(phone) if phone is not None else None,
            expires_at=row.expires_at,
        )

    def finish_setup(self, setup_id: str, code: str, password: str) -> None:
        """Check the code and store the password (argon2id); an existing account's password
        is replaced (this is also "forgot password"), its lockout cleared and its open login
        challenges ended.

        Raises PasswordTooWeak (nothing written, the code still usable), SetupExpired
        (unknown, spent, expired or out of tries: start again), or Refusal(CodeInvalid with
        ``details.tries_left``)."""
        action = "accounts.password.set"
        check_password_policy(password)  # the rules that need no row, before any work
        row = (
            self._repo.code_by_secret(_hash_secret(setup_id), "setup")
            if _is_secret(setup_id)
            else None
        )
        if row is None:
            raise SetupExpired()
        person_id = row.person_id
        key = self._registry.person_key(person_id) if person_id else None
        verdict = self._check_code(row, code)
        if verdict is None:
            raise SetupExpired()
        if verdict is False:
            self._refuse(
                CodeInvalid(details={"tries_left": CODE_TRIES - row.tries}),
                action=action,
                outcome="code_invalid",
                key=key,
                person_id=person_id,
            )
        # Only a live row's right code gets here (a dead row's MAC matches nothing).
        assert person_id is not None
        number = None
        if row.number_sealed:
            number = open_sealed(
                self._keyring.seal_key,
                row.number_sealed,
                table="account_code",
                column="number",
                row_id=row.id,
            ).decode()
        normal = check_password_policy(password, number)
        now = self._now()
        row.used_at = now
        row.number_sealed = b""  # no longer needed: erase the number now, not at the purge
        password_hash = hash_password(normal)
        account = self._repo.account(person_id, for_update=True)
        replaced = account is not None
        if account is None:
            self._repo.add(
                PasswordAccount(
                    person_id=person_id,
                    password_hash=password_hash,
                    failed_logins=0,
                    lockouts=0,
                    locked_until=None,
                    created_at=now,
                    password_set_at=now,
                    last_login_at=None,
                )
            )
        else:
            # The phone code proves the same as a login would: the lockout ends with the reset.
            account.password_hash = password_hash
            account.failed_logins = 0
            account.lockouts = 0
            account.locked_until = None
            account.password_set_at = now
        self._repo.delete_live_logins(person_id)
        self._repo.flush()
        self._record(action, key=key, person_id=person_id, details={"replaced": replaced})

    # == login =========================================================================================
    def _count_failure(self, account: PasswordAccount) -> None:
        """One more wrong password; five lock the account for 15 minutes, doubling with each
        lockout (at most a day)."""
        account.failed_logins += 1
        if account.failed_logins >= LOGIN_TRIES:
            account.lockouts += 1
            lock = min(LOCK * 2 ** (account.lockouts - 1), LOCK_MAX)
            account.locked_until = self._now() + lock
            account.failed_logins = 0
        self._repo.flush()

    def start_login(self, document_number: str, password: str) -> LoginChallenge:
        """Check the password, then send a code to the first registry phone.

        Every failure is ``login_failed`` — unknown number (or one of no known format), no
        account, person deceased or document not valid, locked, wrong password, no phone —
        and costs one argon2id verification, so that its time says nothing either. Raised
        as Refusal(LoginFailed) (commit first; a wrong password counts), except for a number
        of no known format (LoginFailed directly: nothing was written). After a correct
        password only: Refusal(CodesExhausted) when the hour's codes are spent."""
        action = "accounts.login.password"
        try:
            subject = self._registry.unsafe_open_subject(document_number, with_phones=True)
        except InvalidInput:
            verify_password(dummy_hash(), password if isinstance(password, str) else "")
            raise LoginFailed() from None
        typed = password if isinstance(password, str) else ""
        if subject is None:
            verify_password(dummy_hash(), typed)
            self._refuse(LoginFailed(), action=action, outcome="unknown_person")
        pid, key = subject.person_id, subject.key
        account = self._repo.account(pid, for_update=True)
        now = self._now()
        refused: str | None = None
        if account is None:
            refused = "no_account"
        elif not self._eligible(subject):
            refused = "ineligible"
        elif account.locked_until is not None and now < account.locked_until:
            refused = "locked"  # not counted: a lock is not extended by more guesses
        if refused is not None or account is None:
            verify_password(dummy_hash(), typed)
            self._refuse(
                LoginFailed(),
                action=action,
                outcome=refused or "no_account",
                key=key,
                person_id=pid,
            )
        if not verify_password(account.password_hash, typed):
            self._count_failure(account)
            self._refuse(
                LoginFailed(), action=action, outcome="wrong_password", key=key, person_id=pid
            )
        account.failed_logins = 0
        if needs_rehash(account.password_hash):  # parameters raised since it was set
            account.password_hash = hash_password(typed)
        if not subject.phones:
            self._repo.flush()
            self._refuse(LoginFailed(), action=action, outcome="no_phone", key=key, person_id=pid)
        reset_at = self._window_full(pid, now)
        if reset_at is not None:
            self._repo.flush()
            self._refuse(
                CodesExhausted(details={"reset_at": reset_at.isoformat()}),
                action=action,
                outcome="rate_limited",
                key=key,
                person_id=pid,
            )
        phone = subject.phones[0]
        code = _new_code()
        secret, row = self._open_row(purpose="login", person_id=pid, code=code)
        self._send(phone, code, "account_login_otp")
        self._record(action, key=key, person_id=pid)
        return LoginChallenge(
            challenge_id=secret, phone_hint=mask_phone(phone), expires_at=row.expires_at
        )

    def finish_login(self, challenge_id: str, code: str) -> AuthenticatedPerson:
        """The code of :meth:`start_login` (5 minutes, once, 5 tries) completes the login.

        Refusal(CodeInvalid, ``details.tries_left``) for a wrong code of a live challenge;
        Refusal(LoginFailed) for an unknown, spent, expired or exhausted one (start over)."""
        action = "accounts.login.code"
        row = (
            self._repo.code_by_secret(_hash_secret(challenge_id), "login")
            if _is_secret(challenge_id)
            else None
        )
        if row is None or row.person_id is None:
            self._refuse(LoginFailed(), action=action, outcome="unknown_challenge")
        pid = row.person_id
        key = self._registry.person_key(pid)
        verdict = self._check_code(row, code)
        if verdict is None:
            self._refuse(LoginFailed(), action=action, outcome="code_spent", key=key, person_id=pid)
        if verdict is False:
            self._refuse(
                CodeInvalid(details={"tries_left": CODE_TRIES - row.tries}),
                action=action,
                outcome="code_invalid",
                key=key,
                person_id=pid,
            )
        now = self._now()
        row.used_at = now
        account = self._repo.account(pid, for_update=True)
        subject = self._registry.unsafe_open_person_subject(pid)
        if account is None or subject is None:  # deleted, or crypto-shredded, meanwhile
            self._refuse(LoginFailed(), action=action, outcome="no_account", key=key, person_id=pid)
        account.lockouts = 0
        account.last_login_at = now
        self._repo.flush()
        person = AuthenticatedPerson(person_id=pid, subject_id=subject.subject_id, auth_time=now)
        self._record(
            action,
            key=key,
            person_id=pid,
            details={"acr": person.acr, "amr": list(person.amr)},
        )
        return person

    # == housekeeping ==================================================================================
    def has_account(self, person_id: str) -> bool:
        return self._repo.account(person_id) is not None

    def unsafe_delete(self, person_id: str) -> bool:
        """Delete the person's account and codes (deregistration, erasure). The caller records
        the action it belongs to. Returns whether there was an account."""
        existed = self._repo.account(person_id) is not None
        self._repo.delete_account(person_id)
        self._repo.flush()
        return existed

    def purge_expired(self, *, batch_size: int = 1000) -> int:
        """Delete one batch of rows that neither count to a rate window nor can be used; each
        start also purges a small batch, so this is only for a quiet system."""
        return self._repo.purge(self._now() - CODE_WINDOW - CODE_TTL, batch_size)

    def references_to_key(self, key_id: str) -> int:
        """Live codes that still need ``key_id`` (token_mac or data key), for key retirement."""
        return self._repo.references_to_key(key_id, self._now())

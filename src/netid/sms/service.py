"""The embedded SMS sender (an outbox table) and the outbox reader.

Without an SMS gateway the platform "sends" a text by writing it, sealed, to ``sms_outbox``
in the caller's transaction: a request that rolls back sends nothing, as a gateway call made
after the commit would behave. ``netid sms outbox`` is the stand-in for the phone.
"""

from __future__ import annotations

from netid.audit.service import AccessRecorder
from netid.core.clock import Clock
from netid.core.ids import new_row_id
from netid.core.masking import mask_phone
from netid.crypto.sealing import SealKey, open_sealed, seal
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.sms.errors import SmsInvalid
from netid.sms.models import SmsOutboxMessage
from netid.sms.repository import SmsRepository
from netid.sms.schemas import E164, MAX_LIST, MAX_TEXT_LENGTH, PURPOSE, OutboxMessage

TABLE = "sms_outbox"


def _seal(key: SealKey, value: str, column: str, row_id: str) -> bytes:
    return seal(key, value.encode("utf-8"), table=TABLE, column=column, row_id=row_id)


def _open(key: SealKey, sealed: bytes, column: str, row_id: str) -> str:
    return open_sealed({key.key_id: key}, sealed, table=TABLE, column=column, row_id=row_id).decode(
        "utf-8"
    )


class OutboxSender:
    """:class:`netid.sms.schemas.SmsSender` that writes to the outbox (flushes, never
    commits)."""

    def __init__(self, *, repository: SmsRepository, keyring: Keyring, clock: Clock) -> None:
        self._repo = repository
        self._keyring = keyring
        self._clock = clock

    def send(self, phone: str, text: str, *, purpose: str) -> str:
        if not E164.match(phone) or not PURPOSE.match(purpose):
            raise SmsInvalid()
        if not text or len(text) > MAX_TEXT_LENGTH:
            raise SmsInvalid()
        try:
            text.encode("utf-8")  # a lone surrogate would fail at sealing, later and louder
        except UnicodeEncodeError:
            raise SmsInvalid() from None
        key = self._keyring.active_seal_key(KeyPurpose.DATA)
        message_id = new_row_id()
        self._repo.add(
            SmsOutboxMessage(
                id=message_id,
                phone_sealed=_seal(key, phone, "phone", message_id),
                text_sealed=_seal(key, text, "text", message_id),
                key_id=key.key_id,
                purpose=purpose,
                created_at=self._clock.now(),
            )
        )
        return message_id


class OutboxService:
    """Reads the outbox (recorded: the texts carry one-time codes and the phones are personal)
    and keeps it under the current data key."""

    def __init__(
        self,
        *,
        repository: SmsRepository,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
    ) -> None:
        self._repo = repository
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock

    def _opened(self, row: SmsOutboxMessage) -> tuple[str, str]:
        key = self._keyring.seal_key(row.key_id)
        return _open(key, row.phone_sealed, "phone", row.id), _open(
            key, row.text_sealed, "text", row.id
        )

    def list(
        self,
        limit: int = 20,
        *,
        actor: str,
        show_phone: bool = False,
        phone: str | None = None,
    ) -> list[OutboxMessage]:
        """The latest ``limit`` messages, newest first; with ``phone``, the latest ``limit``
        of those to that number among the newest :data:`MAX_LIST`. Phones are masked
        (``+86138****1234``) unless ``show_phone``; texts are in full (they are what the phone
        would show). The read is recorded, saying whether phones were shown."""
        if not 1 <= limit <= MAX_LIST:
            raise SmsInvalid("The limit is 1 to 1000 messages.")
        if phone is not None and not E164.match(phone):
            raise SmsInvalid()
        out: list[OutboxMessage] = []
        for row in self._repo.latest(MAX_LIST if phone is not None else limit):
            to, text = self._opened(row)
            if phone is not None and to != phone:
                continue
            out.append(
                OutboxMessage(
                    id=row.id,
                    phone=to if show_phone else mask_phone(to),
                    text=text,
                    purpose=row.purpose,
                    created_at=row.created_at,
                )
            )
            if len(out) == limit:
                break
        self._recorder.record(
            actor=actor,
            action="sms.outbox.read",
            outcome="ok",
            details={
                "messages": len(out),
                "phones_shown": show_phone,
                "by_phone": phone is not None,
            },
        )
        return out

    # -- data key rotation (DESIGN.md "Keys": rotation re-seals non-person data) -----------
    def reseal(self, *, batch_size: int, actor: str) -> int:
        """Re-seal one batch of messages still under an older data key; 0 when done."""
        active = self._keyring.active_seal_key(KeyPurpose.DATA)
        rows = self._repo.not_sealed_by(active.key_id, batch_size)
        for row in rows:
            to, text = self._opened(row)
            row.phone_sealed = _seal(active, to, "phone", row.id)
            row.text_sealed = _seal(active, text, "text", row.id)
            row.key_id = active.key_id
        self._repo.flush()
        if rows:
            self._recorder.record(
                actor=actor,
                action="keys.reseal_sms_outbox",
                outcome="ok",
                details={"rows": len(rows)},
            )
        return len(rows)

    def references_to_key(self, key_id: str) -> int:
        return self._repo.references_to_key(key_id)

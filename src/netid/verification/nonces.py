"""Where a QR nonce is spent exactly once (SEC-16: 50 concurrent redemptions, one success),
behind ONE interface with two implementations, like the monitoring counters:

* :class:`DatabaseNonceStore` (the embedded default): the ``qr_nonce`` primary key, inserted in
  the verification's own transaction. A redemption that rolls back (the database failed
  before the answer) leaves the nonce unspent; nothing was answered, so nothing is lost.
* :class:`RedisNonceStore` (``NETID_REDIS_URL``): ``SET key 1 NX PX ttl``, which Redis runs
  atomically for every server process sharing it. It is not in the database transaction: a
  redemption that fails later has still spent its nonce — the wallet shows a new code within
  30 seconds anyway, and erring towards refusal is the safe side. Any Redis failure raises
  :class:`NonceStoreUnavailable` (fail closed: an unchecked nonce is never accepted).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError

from netid.verification.errors import NonceStoreUnavailable
from netid.verification.repository import VerificationRepository


class NonceStore(Protocol):
    def spend(self, nonce: bytes, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Spend ``nonce``: True the first time, False ever after (until ``expires_at``, past
        which a token carrying it is refused by its expiry anyway)."""
        ...


class DatabaseNonceStore:
    def __init__(self, repository: VerificationRepository) -> None:
        self._repo = repository

    def spend(self, nonce: bytes, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        # Housekeeping on the way: a nonce past its expiry can never be presented again (its
        # token is refused by its time first), so its row is only weight.
        self._repo.purge_nonces(now)
        return self._repo.insert_nonce(nonce, expires_at)


class RedisNonceStore:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def spend(self, nonce: bytes, *, expires_at: dt.datetime, now: dt.datetime) -> bool:
        # Kept at least a second, so a token at the very edge of its life cannot race the key's
        # expiry.
        ttl_ms = max(1000, int((expires_at - now).total_seconds() * 1000))
        try:
            created = self._redis.set(
                f"{self._prefix}qr-nonce:{nonce.hex()}", b"1", nx=True, px=ttl_ms
            )
        except RedisError as error:
            raise NonceStoreUnavailable() from error
        return bool(created)

"""The counters behind the rules, behind ONE interface (:class:`CounterStore`), with two
implementations:

* :class:`DatabaseCounterStore` (the embedded default): rows in ``monitor_mark``, written in
  the verification's own transaction under the institution's monitor row lock (``SELECT … FOR
  UPDATE`` on PostgreSQL; SQLite write transactions are serial), so add-and-count is exact
  under concurrency and rolls back with the query.
* :class:`RedisCounterStore` (production, ``NETID_REDIS_URL``): one Lua script per operation,
  which Redis runs atomically; keys carry TTLs equal to their window. Any Redis failure raises
  :class:`MonitoringUnavailable` (fail closed); redis-py reconnects on the next call, so the
  service recovers by itself when Redis returns. Redis is not in the database transaction:
  a query that rolls back afterwards has still been counted, which errs on the safe side.

``scope`` is the institution id, ``counter`` a rule name. Times come from the caller (the
application's clock) so both stores agree, and tests can pin them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError

from netid.monitoring.errors import MonitoringUnavailable
from netid.monitoring.repository import MonitoringRepository


@dataclass(frozen=True, slots=True)
class OutcomeWindow:
    failures: int
    total: int


def epoch_ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


class CounterStore(Protocol):
    def add_distinct(
        self, scope: str, counter: str, member: str, *, at: dt.datetime, window: dt.timedelta
    ) -> int:
        """Add ``member`` (seen now) and return how many distinct members were seen within
        ``window`` up to now, this one included."""
        ...

    def add_event(self, scope: str, counter: str, *, at: dt.datetime, window: dt.timedelta) -> int:
        """Count one event now; return the number of events within ``window``, this one
        included."""
        ...

    def add_outcome(
        self,
        scope: str,
        counter: str,
        *,
        failed: bool,
        last: int,
        at: dt.datetime,
        window: dt.timedelta,
    ) -> OutcomeWindow:
        """Append one outcome; return failures and total among the newest ``last`` outcomes
        that are within ``window``, this one included."""
        ...

    def reset(self, scope: str) -> None:
        """Forget every counter of ``scope``."""
        ...


class DatabaseCounterStore:
    """Counters in the database, in the caller's transaction (one store per session)."""

    def __init__(self, repository: MonitoringRepository) -> None:
        self._repo = repository
        self._locked: set[str] = set()

    def _lock(self, scope: str, at: dt.datetime) -> None:
        if scope not in self._locked:
            self._repo.lock_institution(scope, at)
            self._locked.add(scope)

    def add_distinct(
        self, scope: str, counter: str, member: str, *, at: dt.datetime, window: dt.timedelta
    ) -> int:
        self._lock(scope, at)
        now = epoch_ms(at)
        cutoff = now - int(window.total_seconds() * 1000)
        self._repo.prune(scope, counter, cutoff)
        self._repo.upsert_mark(scope, counter, member, 1, now)
        return self._repo.count_marks(scope, counter, cutoff)

    def add_event(self, scope: str, counter: str, *, at: dt.datetime, window: dt.timedelta) -> int:
        return self.add_distinct(scope, counter, secrets.token_hex(16), at=at, window=window)

    def add_outcome(
        self,
        scope: str,
        counter: str,
        *,
        failed: bool,
        last: int,
        at: dt.datetime,
        window: dt.timedelta,
    ) -> OutcomeWindow:
        self._lock(scope, at)
        now = epoch_ms(at)
        cutoff = now - int(window.total_seconds() * 1000)
        self._repo.upsert_mark(scope, counter, secrets.token_hex(16), int(failed), now)
        marks = self._repo.last_marks(scope, counter, last)
        if len(marks) == last:
            self._repo.prune(scope, counter, cutoff, below_seq=marks[-1][0])
        live = [value for _, value, at_ms in marks if at_ms > cutoff]
        return OutcomeWindow(failures=sum(live), total=len(live))

    def reset(self, scope: str) -> None:
        self._repo.clear_marks(scope)


# KEYS[1] a sorted set (score = time in ms); ARGV: now_ms, window_ms, member.
_ADD_DISTINCT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1] a list of "at_ms:0|1", newest first; ARGV: now_ms, window_ms, failed (0/1), last.
_ADD_OUTCOME = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('LPUSH', KEYS[1], ARGV[1] .. ':' .. ARGV[3])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[1], window)
local failures, total = 0, 0
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local sep = string.find(item, ':', 1, true)
  if tonumber(string.sub(item, 1, sep - 1)) > now - window then
    total = total + 1
    if string.sub(item, sep + 1) == '1' then failures = failures + 1 end
  end
end
return {failures, total}
"""


class RedisCounterStore:
    """Counters in Redis under ``<prefix><scope>:<counter>`` (the prefix keeps deployments and
    test runs apart)."""

    def __init__(self, client: Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._distinct = client.register_script(_ADD_DISTINCT)
        self._outcome = client.register_script(_ADD_OUTCOME)

    def _key(self, scope: str, counter: str) -> str:
        return f"{self._prefix}{scope}:{counter}"

    def _run(self, script: Any, key: str, *args: object) -> Any:
        try:
            return script(keys=[key], args=list(args))
        except RedisError:
            raise MonitoringUnavailable() from None

    def add_distinct(
        self, scope: str, counter: str, member: str, *, at: dt.datetime, window: dt.timedelta
    ) -> int:
        window_ms = int(window.total_seconds() * 1000)
        return int(
            self._run(self._distinct, self._key(scope, counter), epoch_ms(at), window_ms, member)
        )

    def add_event(self, scope: str, counter: str, *, at: dt.datetime, window: dt.timedelta) -> int:
        return self.add_distinct(scope, counter, secrets.token_hex(16), at=at, window=window)

    def add_outcome(
        self,
        scope: str,
        counter: str,
        *,
        failed: bool,
        last: int,
        at: dt.datetime,
        window: dt.timedelta,
    ) -> OutcomeWindow:
        window_ms = int(window.total_seconds() * 1000)
        failures, total = self._run(
            self._outcome,
            self._key(scope, counter),
            epoch_ms(at),
            window_ms,
            int(failed),
            last,
        )
        return OutcomeWindow(failures=int(failures), total=int(total))

    def reset(self, scope: str) -> None:
        try:
            keys = list(self._client.scan_iter(match=f"{self._prefix}{scope}:*", count=100))
            if keys:
                self._client.delete(*keys)
        except RedisError:
            raise MonitoringUnavailable() from None

"""Rate limits kept in the database, so every worker process sees the same count.

Every limit counts first and compares after: `Limit.hit` adds the attempt in one atomic statement
and reads back the new count, so of a burst of parallel attempts exactly as many go through as
the limit allows. An attempt that turns out to be right gives its count back (`give_back`): the
limits count failures, but a failure is only known after the check, and the check must not run
for attempts past the limit.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from packyard.accounts.models import RateLimitCounter
from packyard.http import Refused, wait_in_words


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after

    def refusal(self, what: str) -> Refused:
        """`what` ("Too many wrong codes") as a 429 that says how long to wait."""
        return Refused(
            f"{what}. Try again {wait_in_words(self.retry_after)}.",
            429,
            retry_after=self.retry_after,
        )


def _key(scope: str, seconds: int, subject: str) -> str:
    # Hashed so that a username or address of any length fits the column.
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{scope}:{seconds}:{digest}"


def _as_datetime(value: object) -> datetime:
    """A timestamp as the driver returns it: a datetime (PostgreSQL) or text (SQLite)."""
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"unreadable timestamp {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _db_time(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def _wait(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


# One statement does the whole count: a new row, a row whose window has passed (start again at
# one), or a row in its window (one more). Both SQLite (3.35+) and PostgreSQL evaluate the right
# sides against the row as it was, and lock it for the statement.
_UPSERT = """
INSERT INTO {table} (key, window_start, count) VALUES (%s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN {table}.window_start > %s THEN {table}.count + 1 ELSE 1 END,
    window_start = CASE WHEN {table}.window_start > %s
        THEN {table}.window_start ELSE excluded.window_start END
RETURNING count, window_start
"""


@dataclass(frozen=True)
class Limit:
    """At most `count` attempts per subject in a fixed window of `seconds`."""

    scope: str
    count: int
    seconds: int

    def key(self, subject: str) -> str:
        return _key(self.scope, self.seconds, subject)

    def hit(self, subject: str) -> None:
        """Count one attempt; raise RateLimited (with the attempt given back) past the limit."""
        now = timezone.now()
        window_open = _db_time(now - timedelta(seconds=self.seconds))
        sql = _UPSERT.format(table=connection.ops.quote_name(RateLimitCounter._meta.db_table))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [self.key(subject), _db_time(now), window_open, window_open])
            count, window_start = cursor.fetchone()
        if count > self.count:
            self.give_back(subject)
            raise RateLimited(
                _wait(_as_datetime(window_start) + timedelta(seconds=self.seconds), now)
            )

    def give_back(self, subject: str) -> None:
        """Take back one counted attempt: it was refused, or it turned out to be right."""
        RateLimitCounter.objects.filter(key=self.key(subject), count__gt=0).update(
            count=F("count") - 1
        )

    def used(self, subject: str) -> int:
        """Attempts counted in the current window. Advisory (an early answer, tests): only
        `hit` decides."""
        row = (
            RateLimitCounter.objects.filter(key=self.key(subject))
            .values_list("window_start", "count")
            .first()
        )
        if row is None or row[0] + timedelta(seconds=self.seconds) <= timezone.now():
            return 0
        return int(row[1])

    def peek(self, subject: str) -> None:
        """Raise RateLimited if the window is used up now, counting nothing. Advisory."""
        row = (
            RateLimitCounter.objects.filter(key=self.key(subject))
            .values_list("window_start", "count")
            .first()
        )
        now = timezone.now()
        if row is not None and row[1] >= self.count:
            window_end = row[0] + timedelta(seconds=self.seconds)
            if window_end > now:
                raise RateLimited(_wait(window_end, now))

    def reset(self, subject: str) -> None:
        RateLimitCounter.objects.filter(key=self.key(subject)).delete()


@dataclass(frozen=True)
class Backoff:
    """The first `free` failures in a row cost nothing; after that each attempt waits twice as
    long as the one before (from `base` seconds up to `cap`) since the last counted attempt.
    A run of failures is forgotten `forget` seconds after its last attempt, or on a success.

    Used where a hard lock would let strangers shut an owner out: the wait grows, but never
    blocks for longer than `cap`.
    """

    scope: str
    free: int
    base: int
    cap: int
    forget: int

    def key(self, subject: str) -> str:
        return _key(self.scope, 0, subject)

    def _delay(self, attempts: int) -> int:
        if attempts < self.free:
            return 0
        return int(min(self.cap, self.base * 2 ** min(attempts - self.free, 30)))

    def hit(self, subject: str) -> None:
        """Claim the next attempt with a compare-and-set on the row: of parallel attempts only
        the one that claims it goes on."""
        key = self.key(subject)
        now = timezone.now()
        for _attempt in range(3):
            row = (
                RateLimitCounter.objects.filter(key=key)
                .values_list("window_start", "count")
                .first()
            )
            if row is None:
                with transaction.atomic():
                    _, created = RateLimitCounter.objects.get_or_create(
                        key=key, defaults={"window_start": now, "count": 1}
                    )
                if created:
                    return
                continue
            last, attempts = row
            if last + timedelta(seconds=self.forget) <= now:
                attempts = 0
            allowed_at = last + timedelta(seconds=self._delay(attempts))
            if attempts and allowed_at > now:
                raise RateLimited(_wait(allowed_at, now))
            claimed = RateLimitCounter.objects.filter(
                key=key, window_start=last, count=row[1]
            ).update(window_start=now, count=attempts + 1)
            if claimed:
                return
        # Others claimed every turn while we looked: the caller waits like them.
        raise RateLimited(max(1, self._delay(self.free)))

    def give_back(self, subject: str) -> None:
        """Take back one counted attempt (another limit refused it); a success calls reset."""
        RateLimitCounter.objects.filter(key=self.key(subject), count__gt=0).update(
            count=F("count") - 1
        )

    def reset(self, subject: str) -> None:
        RateLimitCounter.objects.filter(key=self.key(subject)).delete()


Counter = Limit | Backoff


def hit_all(limits: Sequence[tuple[Counter, str]]) -> None:
    """Count one attempt against each limit. If any is used up, give back the ones already
    counted and raise for the longest wait among those checked."""
    counted: list[tuple[Counter, str]] = []
    for limit, subject in limits:
        try:
            limit.hit(subject)
        except RateLimited:
            for done, done_subject in counted:
                done.give_back(done_subject)
            raise
        counted.append((limit, subject))


def give_back_all(limits: Sequence[tuple[Counter, str]]) -> None:
    for limit, subject in limits:
        limit.give_back(subject)

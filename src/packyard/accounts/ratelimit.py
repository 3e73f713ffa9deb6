"""Fixed-window rate limits kept in the database, so every worker process sees the same count."""

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from packyard.accounts.models import RateLimitCounter


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    seconds: int

    def key(self, subject: str) -> str:
        # Hashed so that a username or address of any length fits the column.
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.scope}:{self.seconds}:{digest}"

    def check(self, subject: str) -> None:
        """Raise RateLimited if the subject has used up this window."""
        now = timezone.now()
        row = (
            RateLimitCounter.objects.filter(key=self.key(subject))
            .values_list("window_start", "count")
            .first()
        )
        if row is None:
            return
        window_start, count = row
        window_end = window_start + timedelta(seconds=self.seconds)
        if count >= self.count and window_end > now:
            raise RateLimited(max(1, math.ceil((window_end - now).total_seconds())))

    def record(self, subject: str) -> None:
        key = self.key(subject)
        now = timezone.now()
        current = now - timedelta(seconds=self.seconds)
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    counter = RateLimitCounter.objects.filter(key=key)
                    if counter.filter(window_start__gt=current).update(count=F("count") + 1):
                        return
                    if counter.update(window_start=now, count=1):
                        return
                    RateLimitCounter.objects.create(key=key, window_start=now, count=1)
                    return
            except IntegrityError:  # a concurrent first hit created the row; count again
                continue

    def reset(self, subject: str) -> None:
        RateLimitCounter.objects.filter(key=self.key(subject)).delete()


def check_all(limits: list[tuple[Limit, str]]) -> None:
    """Check several limits and raise for the one that frees up last."""
    waits = []
    for limit, subject in limits:
        try:
            limit.check(subject)
        except RateLimited as exc:
            waits.append(exc.retry_after)
    if waits:
        raise RateLimited(max(waits))

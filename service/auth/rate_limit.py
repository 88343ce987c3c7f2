"""A token bucket per key: `rate` calls a second on average, bursts of `burst`."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Bucket:
    level: float
    at: float


class RateLimiter:
    """Token buckets by key (a token's id). Not shared between server processes: each
    process of `caviar serve --workers N` allows the rate on its own."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[object, _Bucket] = {}

    def wait(self, key: object, now: float) -> float:
        """Take one call from the key's bucket: 0 if allowed, else the seconds until the
        bucket holds a call again (nothing is taken)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.level = min(self.burst, bucket.level + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.level >= 1:
            bucket.level -= 1
            return 0.0
        return (1 - bucket.level) / self.rate


def retry_after(seconds: float) -> str:
    """A Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))

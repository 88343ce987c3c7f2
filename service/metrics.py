"""Prometheus metrics of the server process, in the text exposition format, by hand.

Trials by state and the fleet's demand come from the searches' counters (exact, no
scan); claims and request latency are counted in this process since it started.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from domain.fleet import FleetDemand

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Claim counters and a request-latency histogram per (method, route)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.claims: dict[str, int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self._counts: dict[tuple[str, str], int] = defaultdict(int)

    def count_claim(self, result: str) -> None:
        """One claim answered: result is "assigned" or "empty"."""
        with self._lock:
            self.claims[result] += 1

    def observe(self, method: str, route: str, seconds: float) -> None:
        """One request took seconds."""
        key = (method, route)
        with self._lock:
            buckets = self._buckets.setdefault(key, [0] * len(BUCKETS))
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sums[key] += seconds
            self._counts[key] += 1

    def render(self, trials_by_state: dict[str, int], demand: FleetDemand) -> str:
        """The exposition text, with the given trial counts and fleet demand as gauges."""
        lines = [
            "# HELP caviar_trials Trials by state, over all searches.",
            "# TYPE caviar_trials gauge",
        ]
        lines += [f'caviar_trials{{state="{state}"}} {n}' for state, n in trials_by_state.items()]
        lines += [
            "# HELP caviar_fleet_trials The fleet's demand over the running searches: trials "
            "running, and waiting for a worker (GET /api/v1/fleet).",
            "# TYPE caviar_fleet_trials gauge",
            f'caviar_fleet_trials{{state="running"}} {demand.running}',
            f'caviar_fleet_trials{{state="waiting"}} {demand.waiting}',
        ]
        lines += [
            "# HELP caviar_claims_total Claims answered, by result.",
            "# TYPE caviar_claims_total counter",
        ]
        with self._lock:
            for result in ("assigned", "empty"):
                lines.append(f'caviar_claims_total{{result="{result}"}} {self.claims[result]}')
            lines += [
                "# HELP caviar_request_duration_seconds Time to answer an HTTP request.",
                "# TYPE caviar_request_duration_seconds histogram",
            ]
            for (method, route), buckets in sorted(self._buckets.items()):
                labels = f'method="{method}",route="{route}"'
                for bound, n in zip(BUCKETS, buckets, strict=True):
                    lines.append(
                        f'caviar_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}'
                    )
                total = self._counts[(method, route)]
                lines.append(
                    f'caviar_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}'
                )
                lines.append(
                    f"caviar_request_duration_seconds_sum{{{labels}}} "
                    f"{self._sums[(method, route)]:.6f}"
                )
                lines.append(f"caviar_request_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(lines) + "\n"

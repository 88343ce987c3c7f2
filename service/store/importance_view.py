"""Parameter importance of a search (service.search.importance), read from its completed
trials and remembered in the server process per (search, number of completed trials).

A completed trial never changes, so that pair names one answer: while no trial completes,
a dashboard polling for importance costs one read of the search's row. A new answer is
computed by one thread at a time (a forest's fit takes a core for up to half a second), in
the caller's thread: the route runs in FastAPI's thread pool, off the event loop.

Re-tests (trials with an `origin_trial_id`) are left out: each repeats a setting already
counted, and would weigh the few best settings several times over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Text, bindparam, cast, select

from domain.errors import NotFound
from domain.lifecycle.states import TrialStatus
from service.db.session import Database
from service.search import importance
from service.search.plans import plan_of
from service.store.tables import SEARCHES, TRIALS

_COUNT = select(cast(SEARCHES.c.spec, Text), SEARCHES.c.count_completed).where(
    SEARCHES.c.id == bindparam("search_id"))
_COMPLETED = (select(TRIALS.c.params, TRIALS.c.value, TRIALS.c.origin_trial_id)
              .where(TRIALS.c.search_id == bindparam("search_id"),
                     TRIALS.c.status == TrialStatus.COMPLETED)
              .order_by(TRIALS.c.number))


@dataclass(frozen=True)
class Importance:
    """How many trials the model was fitted on, each parameter's share of the objective's
    variance (largest first), or why there is none yet."""

    finished_trials: int
    parameters: list[tuple[str, float]]
    reason: str | None


class ImportanceCache:
    """The answers of the latest searches asked about, by (search id, completed trials)."""

    def __init__(self, size: int = 64) -> None:
        self._answers: OrderedDict[tuple[int, int], Importance] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._computing = threading.Lock()

    def get(self, db: Database, search_id: int) -> Importance:
        """The search's parameter importance, or NotFound."""
        with db.read_connection() as connection:
            found = connection.execute(_COUNT, {"search_id": search_id}).first()
        if found is None:
            raise NotFound(f"search {search_id} not found")
        spec_text, completed = found
        if completed < importance.MIN_TRIALS:
            return Importance(completed, [], _too_few())
        answer = self._recall((search_id, completed))
        if answer is not None:
            return answer
        with self._computing:
            answer = self._recall((search_id, completed))
            if answer is None:
                answer, completed = _compute(db, search_id, spec_text)
                self._remember((search_id, completed), answer)
            return answer

    def _recall(self, key: tuple[int, int]) -> Importance | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def _remember(self, key: tuple[int, int], answer: Importance) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)


def _too_few() -> str:
    return f"needs at least {importance.MIN_TRIALS} completed trials"


def _compute(db: Database, search_id: int, spec_text: str) -> tuple[Importance, int]:
    """The importance from the search's completed trials, and how many completed trials
    there were when they were read (the answer's key)."""
    with db.read_connection() as connection:
        rows = connection.execute(_COMPLETED, {"search_id": search_id}).all()
    used = [(params, value) for params, value, origin in rows if origin is None]
    if len(used) < importance.MIN_TRIALS:
        return Importance(len(used), [], _too_few()), len(rows)
    space = plan_of(spec_text).space
    shares = importance.importance(space.to_unit_many([params for params, _ in used]),
                                   [value for _, value in used])
    ranked = sorted(zip(space.names, shares.tolist(), strict=True), key=lambda p: -p[1])
    return Importance(len(used), ranked, None), len(rows)

"""Reading a search's rungs for the dashboard: where each bracket's rungs are, and every
value recorded at them with what the rule made of it (the decisions themselves are
service.store.rungs').

The values come in one query, a range of the (search_id, bracket, rung, value) index
joined to each trial's number; the rungs follow from the search's rule (its spec).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, Text, bindparam, cast, select

from domain.errors import NotFound
from service.db.session import Database
from service.search.plans import plan_of
from service.search.rungs import RungRule
from service.store.rungs import RUNG_ENTRIES
from service.store.tables import SEARCHES, TRIALS

_SPEC = select(cast(SEARCHES.c.spec, Text)).where(SEARCHES.c.id == bindparam("search_id"))
_ENTRIES = (select(RUNG_ENTRIES.c.trial_id, TRIALS.c.number, RUNG_ENTRIES.c.bracket,
                   RUNG_ENTRIES.c.rung, RUNG_ENTRIES.c.epochs, RUNG_ENTRIES.c.value,
                   RUNG_ENTRIES.c.outcome)
            .join(TRIALS, TRIALS.c.id == RUNG_ENTRIES.c.trial_id)
            .where(RUNG_ENTRIES.c.search_id == bindparam("search_id"))
            .order_by(RUNG_ENTRIES.c.bracket, RUNG_ENTRIES.c.rung, TRIALS.c.number))


@dataclass(frozen=True)
class Rung:
    """A rung of a bracket: its index, its epochs, how many values it holds."""

    rung: int
    epochs: int
    values: int


@dataclass(frozen=True)
class RungView:
    """A search's rule (None without ASHA or Hyperband), each bracket's rungs, and the
    recorded values as rows of (trial_id, number, bracket, rung, epochs, value, outcome),
    by bracket, rung and trial number."""

    rule: RungRule | None
    brackets: list[list[Rung]]
    entries: Sequence[Row]


def read_rungs(db: Database, search_id: int) -> RungView:
    """The search's rungs and the values at them, or NotFound."""
    with db.read_connection() as connection:
        spec_text = connection.scalar(_SPEC, {"search_id": search_id})
        if spec_text is None:
            raise NotFound(f"search {search_id} not found")
        rule = plan_of(spec_text).early_stopping
        if not isinstance(rule, RungRule):
            return RungView(None, [], [])
        entries = connection.execute(_ENTRIES, {"search_id": search_id}).all()
    counts = Counter((entry.bracket, entry.rung) for entry in entries)
    brackets = [[Rung(k, epochs, counts[bracket, k])
                 for k, epochs in enumerate(rule.rungs(bracket, rule.max_epochs))]
                for bracket in range(rule.brackets)]
    return RungView(rule, brackets, entries)

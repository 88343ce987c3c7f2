"""The search's history as its sampler sees it, kept by the server process between claims.

A model-based sampler (TPE, coarse_to_fine) reads every trial of its search at
each proposal. Reading and decoding 10,000 trials costs some 50 ms of CPU, more
than the proposal itself, so each process keeps the entries it read, per search,
with the search's change cursor they are current to, and at the next claim reads
only the trials whose `seq` passed it (`ix_trials_search_id_seq`). Every change of
a trial a sampler sees (its state, its value, a rung value) moves its `seq`
(domain.lifecycle.transitions.touch), and the claim holds the search's lock, so
the entries are exact. Re-tests are left out: the sampler did not propose them.
A claim reads its own transaction's changes too (a lease it failed out); if that
transaction then fails, the process forgets every search's entries (Lifecycle.claim):
its cursor would otherwise skip the changes later committed under the same numbers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from domain.lifecycle.records import SearchRecord
from domain.lifecycle.states import TrialStatus
from service.search.plans import History
from service.search.samplers import HistoryEntry
from service.store.rows import Rows
from service.store.rungs import RUNG_ENTRIES
from service.store.tables import TRIALS

_CHANGED = (select(TRIALS.c.number, TRIALS.c.params, TRIALS.c.status, TRIALS.c.value,
                   TRIALS.c.round)
            .where(TRIALS.c.search_id == bindparam("search_id"),
                   TRIALS.c.seq > bindparam("seq"), TRIALS.c.origin_trial_id.is_(None))
            .order_by(TRIALS.c.number))
_CHANGED_AT_RUNGS = (select(TRIALS.c.number, RUNG_ENTRIES.c.epochs, RUNG_ENTRIES.c.value)
                     .join_from(TRIALS, RUNG_ENTRIES, RUNG_ENTRIES.c.trial_id == TRIALS.c.id)
                     .where(TRIALS.c.search_id == bindparam("search_id"),
                            TRIALS.c.seq > bindparam("seq"),
                            TRIALS.c.origin_trial_id.is_(None),
                            RUNG_ENTRIES.c.value.is_not(None)))


@dataclass
class _Known:
    """One search's entries by trial number, current to the cursor `seq`."""

    seq: int = -1
    entries: dict[int, HistoryEntry] = field(default_factory=dict)


class HistoryCache:
    """The history of the searches this process proposed for lately (at most `keep`)."""

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._searches: OrderedDict[int, _Known] = OrderedDict()
        self._guard = threading.Lock()

    def history(self, rows: Rows, search: SearchRecord, with_rungs: bool) -> History:
        """The (locked) search's history, brought up to date only if its sampler looks."""
        def load() -> list[HistoryEntry]:
            return self._entries(rows, search, with_rungs)
        return History(search.n_trials - search.n_retests, load)

    def _entries(self, rows: Rows, search: SearchRecord, with_rungs: bool
                 ) -> list[HistoryEntry]:
        """Every entry, by number: those known, with the trials changed since read again.

        New trials take the highest numbers, so the entries stay in number order. If
        what is known cannot be current (the database went back, or the count of
        entries is not the search's), everything is read again.
        """
        known = self._known(search.id)
        expected = search.n_trials - search.n_retests
        if known.seq > search.last_seq:
            known.seq, known.entries = -1, {}
        full = known.seq == -1
        self._read_changes(rows, search, with_rungs, known)
        if len(known.entries) != expected and not full:
            known.seq, known.entries = -1, {}
            self._read_changes(rows, search, with_rungs, known)
        return list(known.entries.values())

    @staticmethod
    def _read_changes(rows: Rows, search: SearchRecord, with_rungs: bool, known: _Known
                      ) -> None:
        """Read the trials whose `seq` passed the known cursor into `known`."""
        rows.flush()
        params = {"search_id": search.id, "seq": known.seq}
        rungs: dict[int, dict[int, float]] = {}
        if with_rungs:
            for number, epochs, value in rows.sql.all(_CHANGED_AT_RUNGS, params):
                rungs.setdefault(number, {})[epochs] = value
        for number, trial_params, status, value, round_ in rows.sql.all(_CHANGED, params):
            known.entries[number] = HistoryEntry(
                number=number, params=trial_params, status=TrialStatus(status), value=value,
                round=round_, at_rungs=rungs.get(number, {}))
        known.seq = search.last_seq

    def clear(self) -> None:
        """Forget every search's entries: a claim transaction that read them failed, and
        what it read may include its own changes, rolled back (the next claim reads all)."""
        with self._guard:
            self._searches.clear()

    def _known(self, search_id: int) -> _Known:
        with self._guard:
            known = self._searches.get(search_id)
            if known is None:
                known = self._searches[search_id] = _Known()
                while len(self._searches) > self.keep:
                    self._searches.popitem(last=False)
            self._searches.move_to_end(search_id)
            return known

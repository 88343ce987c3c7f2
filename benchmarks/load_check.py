"""After a load run: does the database agree with what the simulated workers were answered?

Plain SQL on the run's database against the clients' ledger (load_sim.Attempt):

- no trial attempt was handed to two simulated workers;
- every trial the clients completed (answered 200) is `completed` in the database at that
  attempt, and no trial is completed that no client completed: exactly once each;
- the epoch rows of a trial that is completed or still running are exactly the epochs its
  current attempt's reports were answered 200 for (plus, at most, epochs sent whose answer
  never came back); a trial back to pending (given back, or its lease ran out) has none;
  no (trial, epoch) row twice;
- a pending trial's attempt is one past the last attempt a client claimed;
- each search's `n_trials` and counts by status equal a recount of its trials.

Trials running at the end whose claim's answer never reached a client (a transport error),
or whose give-back had no answer, are counted apart: the server is right to hold them until
their lease runs out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import psycopg
from load_sim import Attempt  # this folder

STATUSES = ("pending", "running", "paused", "completed", "failed", "pruned", "cancelled")
SHOWN = 10  # problems of each kind printed


@dataclass
class Checked:
    """The check's findings: problems (each breaks consistency) and the final states."""

    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    states: Counter = field(default_factory=Counter)  # final trial status -> trials
    attempts: Counter = field(default_factory=Counter)  # final attempt number -> trials
    orphaned: int = 0
    left_running: int = 0  # their give-back had no answer: the lease runs out
    epoch_rows: int = 0
    completed_by_clients: int = 0

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def add(self, kind: str, text: str) -> None:
        self.problems[kind].append(text)

    def lines(self) -> list[str]:
        """The findings, for the report."""
        states = ", ".join(f"{status} {self.states[status]}" for status in STATUSES
                           if self.states[status])
        attempts = ", ".join(f"{n}: {self.attempts[n]}" for n in sorted(self.attempts))
        out = [f"trials by final state: {states or 'none'}; by attempt: {attempts or 'none'}",
               f"completions answered 200 to clients: {self.completed_by_clients}; epoch rows: "
               f"{self.epoch_rows}; orphaned claims (answer lost, lease runs out): "
               f"{self.orphaned}; left running (give-back unanswered): {self.left_running}"]
        if self.ok:
            return [*out, "consistency: OK"]
        out.append("consistency: FAILED")
        for kind, texts in self.problems.items():
            out.append(f"  {kind}: {len(texts)}")
            out += [f"    {text}" for text in texts[:SHOWN]]
        return out


def _plain(url: str) -> str:
    """A psycopg URL from the server's SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def check(database_url: str, search_ids: list[int], attempts: list[Attempt]) -> Checked:
    """Compare the database with the clients' ledger (see the module docstring)."""
    found = Checked()
    with psycopg.connect(_plain(database_url)) as connection:
        trials = connection.execute(
            "SELECT id, status, attempt FROM trials WHERE search_id = ANY(%s)",
            (search_ids,)).fetchall()
        epochs: dict[int, set[int]] = defaultdict(set)
        for trial_id, epoch, count in connection.execute(
                "SELECT i.trial_id, i.epoch, count(*) FROM intermediate i "
                "JOIN trials t ON t.id = i.trial_id WHERE t.search_id = ANY(%s) "
                "GROUP BY i.trial_id, i.epoch", (search_ids,)):
            epochs[trial_id].add(epoch)
            found.epoch_rows += count
            if count > 1:
                found.add("epoch rows doubled", f"trial {trial_id} epoch {epoch}: {count} rows")
        _check_counters(connection, search_ids, found)
    by_trial: dict[int, dict[int, list[Attempt]]] = defaultdict(lambda: defaultdict(list))
    for attempt in attempts:
        by_trial[attempt.trial_id][attempt.attempt].append(attempt)
    known = {trial_id for trial_id, _, _ in trials}
    for trial_id in sorted(set(by_trial) - known):
        found.add("claimed trials missing", f"trial {trial_id} is not in the database")
    for trial_id, status, attempt in trials:
        found.states[status] += 1
        found.attempts[attempt] += 1
        _check_trial(trial_id, status, attempt, by_trial.get(trial_id, {}),
                     epochs.get(trial_id, set()), found)
    found.completed_by_clients = sum(a.completed for a in attempts)
    return found


def _check_trial(trial_id: int, status: str, attempt: int, claims: dict[int, list[Attempt]],
                 rows: set[int], found: Checked) -> None:
    """One trial's final state against its claims (attempt number -> who claimed it)."""
    for number, holders in claims.items():
        if len(holders) > 1:
            found.add("attempts handed out twice", f"trial {trial_id} attempt {number}: "
                      f"{', '.join(h.worker for h in holders)}")
    completions = [a for holders in claims.values() for a in holders if a.completed]
    if status == "completed":
        if len(completions) != 1 or completions[0].attempt != attempt:
            found.add("completions not exactly once",
                      f"trial {trial_id} completed at attempt {attempt}; clients completed "
                      f"{[a.attempt for a in completions]}")
    elif completions:
        found.add("completions lost", f"trial {trial_id} is {status}; a client's complete "
                  f"of attempt {completions[0].attempt} was answered 200")
    current = claims.get(attempt)
    if status in ("completed", "running"):
        if current is None:
            if status == "running":
                found.orphaned += 1
            else:
                found.add("completions not exactly once",
                          f"trial {trial_id} completed at attempt {attempt}, never claimed")
            return
        holder = current[0]
        if not holder.acked <= rows:
            found.add("epoch rows lost", f"trial {trial_id}: epochs "
                      f"{sorted(holder.acked - rows)} answered 200 but not stored")
        if not rows <= holder.acked | holder.unsure:
            found.add("epoch rows unexpected", f"trial {trial_id}: epochs "
                      f"{sorted(rows - holder.acked - holder.unsure)} stored, never sent")
        if status == "running" and holder.given_back:
            found.add("give-backs lost", f"trial {trial_id} still running after its give-back "
                      "was answered 200")
        elif status == "running":
            found.left_running += 1
    elif status == "pending":
        if rows:
            found.add("epoch rows unexpected",
                      f"trial {trial_id} is pending with epochs {sorted(rows)}")
        last = max(claims, default=0)
        if claims and attempt != last + 1:
            found.add("attempts miscounted", f"trial {trial_id} is pending at attempt "
                      f"{attempt}; the last claimed was {last}")


def _check_counters(connection: psycopg.Connection, search_ids: list[int],
                    found: Checked) -> None:
    """Each search's n_trials and counts by status against a recount of its trials."""
    columns = ", ".join(f"count_{status}" for status in STATUSES)
    stored = {row[0]: row[1:] for row in connection.execute(
        f"SELECT id, n_trials, {columns} FROM searches WHERE id = ANY(%s)", (search_ids,))}
    recount: dict[int, Counter] = defaultdict(Counter)
    for search_id, status, count in connection.execute(
            "SELECT search_id, status, count(*) FROM trials WHERE search_id = ANY(%s) "
            "GROUP BY search_id, status", (search_ids,)):
        recount[search_id][status] = count
    for search_id in search_ids:
        n_trials, *counts = stored[search_id]
        actual = recount[search_id]
        if n_trials != sum(actual.values()):
            found.add("search counters wrong", f"search {search_id}: n_trials {n_trials}, "
                      f"{sum(actual.values())} trials")
        for status, count in zip(STATUSES, counts, strict=True):
            if count != actual[status]:
                found.add("search counters wrong", f"search {search_id}: count_{status} "
                          f"{count}, recount {actual[status]}")

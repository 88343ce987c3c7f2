"""The fault tests' final check finds what it is there to find: a trial not finished, a
report lost or doubled, a trial run twice under one number, counts that drifted."""

from __future__ import annotations

import copy

import pytest

from tests.support.consistency import SearchRecount, consistency_errors

COUNTS = {"pending": 0, "running": 0, "paused": 0, "completed": 2, "failed": 0, "pruned": 0,
          "cancelled": 0, "n_trials": 2}


def _trial(number: int, epochs: int = 3) -> dict:
    return {"id": number + 1, "number": number, "status": "completed", "attempt": 1,
            "last_epoch": epochs - 1, "stop_cause": None, "epochs": list(range(epochs)),
            "expected_epochs": 3}


def _consistent() -> SearchRecount:
    return SearchRecount("completed", dict(COUNTS), dict(COUNTS), [_trial(0), _trial(1)])


def test_a_consistent_search_passes():
    assert consistency_errors(_consistent()) == []


def _break(what: str) -> SearchRecount:
    found = copy.deepcopy(_consistent())
    if what == "lost epoch":
        found.trials[0]["epochs"] = [0, 2]
    elif what == "doubled epoch":
        found.trials[0]["epochs"] = [0, 1, 1, 2]
    elif what == "short trial":
        found.trials[1].update(epochs=[0, 1], last_epoch=1)
    elif what == "not final":
        found.trials[1]["status"] = "running"
    elif what == "number twice":
        found.trials[1]["number"] = 0
    elif what == "counts drifted":
        found.counts["completed"] = 3
    elif what == "search running":
        return SearchRecount("running", found.counts, found.recount, found.trials)
    return found


@pytest.mark.parametrize("what", ["lost epoch", "doubled epoch", "short trial", "not final",
                                  "number twice", "counts drifted", "search running"])
def test_each_broken_rule_is_named(what):
    assert len(consistency_errors(_break(what))) == 1

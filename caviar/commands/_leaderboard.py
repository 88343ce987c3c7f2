"""Tables for the terminal: the top trials of a search, and the list of searches."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from domain.lifecycle.states import TERMINAL, TrialStatus


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits (scientific when tiny), the rest as text."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Aligned columns: text left, numbers right."""
    cells = [[format_value(v) for v in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in cells) and bool(cells)
               for i in range(len(headers))]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if numeric[i] else v.ljust(w)
                 for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]),
                      *(line(row) for row in cells)])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def goal_of(search: Mapping[str, Any]) -> tuple[str, str]:
    """The objective's metric and goal (maximize | minimize)."""
    objective = (search.get("spec") or {}).get("objective") or {}
    return objective.get("metric", "dev_accuracy"), objective.get("goal", "maximize")


def ranked(trials: Iterable[Mapping[str, Any]], goal: str) -> list[Mapping[str, Any]]:
    """Completed trials with a value, best first."""
    done = [t for t in trials
            if t.get("status") == TrialStatus.COMPLETED and t.get("value") is not None]
    return sorted(done, key=lambda t: (-t["value"] if goal == "maximize" else t["value"],
                                       t["number"]))


def best_of(trials: Iterable[Mapping[str, Any]], goal: str) -> Mapping[str, Any] | None:
    """The best completed trial, or None."""
    top = ranked(trials, goal)
    return top[0] if top else None


def leaderboard(search: Mapping[str, Any], trials: Iterable[Mapping[str, Any]],
                top: int = 10) -> str:
    """The top completed trials: rank, trial number, objective value, epochs, params."""
    metric, goal = goal_of(search)
    best = ranked(trials, goal)[:top]
    if not best:
        return "no completed trials yet"
    names = sorted({key for t in best for key in t.get("params", {})})
    rows = []
    for rank, trial in enumerate(best, start=1):
        metrics = trial.get("metrics") or {}
        rows.append([rank, trial["number"], trial["value"], metrics.get("epochs", "-"),
                     *(trial.get("params", {}).get(name) for name in names)])
    return table(["rank", "trial", metric, "epochs", *names], rows)


def mean_leaderboard(search: Mapping[str, Any], board: Mapping[str, Any]) -> str:
    """The server's leaderboard of a search with re-tests (`GET .../leaderboard`): rank, trial
    number, runs, the objective's mean ± sample std over the runs, params."""
    metric, _ = goal_of(search)
    entries = board.get("items") or []
    if not entries:
        return "no completed trials yet"
    names = sorted({key for entry in entries for key in entry.get("params", {})})
    rows = []
    for rank, entry in enumerate(entries, start=1):
        spread = "" if entry.get("std") is None else f" ± {format_value(entry['std'])}"
        rows.append([rank, entry["number"], entry["runs"],
                     f"{format_value(entry['mean'])}{spread}",
                     *(entry.get("params", {}).get(name) for name in names)])
    return table(["rank", "trial", "runs", f"{metric} mean ± std", *names], rows)


def params_text(params: Mapping[str, Any]) -> str:
    """`key=value` pairs in one line."""
    return ", ".join(f"{key}={format_value(value)}" for key, value in sorted(params.items()))


def done_count(search: Mapping[str, Any]) -> int:
    """Trials that have finished, whatever their outcome."""
    counts = search.get("counts") or {}
    return sum(int(counts.get(state, 0)) for state in TERMINAL)


def searches_table(searches: Iterable[Mapping[str, Any]]) -> str:
    """One row per search: id, name, status, progress, running, best value, created."""
    rows = []
    for s in searches:
        best = s.get("best_trial") or {}
        rows.append([s["id"], s["name"], s["status"], f"{done_count(s)}/{s.get('max_trials')}",
                     (s.get("counts") or {}).get(TrialStatus.RUNNING, 0), best.get("value"),
                     s.get("created_at", "")])
    return table(["id", "name", "status", "done", TrialStatus.RUNNING, "best", "created"], rows)

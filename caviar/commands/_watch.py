"""Following a search live: a progress line fed by the trials' `since` cursor."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

from caviar.commands._leaderboard import best_of, done_count, format_value, goal_of, params_text
from domain.lifecycle.states import SearchStatus, TrialStatus
from worker.client import CaviarClient

BAR_WIDTH = 24


class SearchWatcher:
    """Keeps every trial of one search up to date by polling only what changed."""

    def __init__(self, client: CaviarClient, search_id: int) -> None:
        self.client = client
        self.search_id = search_id
        self.cursor = 0
        self.trials: dict[int, dict[str, Any]] = {}
        self.search: dict[str, Any] = {}

    def poll(self) -> dict[str, Any]:
        """Fetch the changed trials and the search; return the search."""
        while True:
            changes = self.client.trials_since(self.search_id, self.cursor)
            for trial in changes.items:
                self.trials[trial["number"]] = trial
            self.cursor = changes.cursor
            if not changes.has_more:
                break
        self.search = self.client.get_search(self.search_id)
        return self.search

    def progress_line(self) -> str:
        """`[#####.....] 12/60 done, 2 running, best dev_accuracy 0.97 (#7: lr=...)`."""
        search = self.search
        total = max(int(search.get("max_trials") or 0), 1)
        done = done_count(search)
        filled = min(BAR_WIDTH, round(BAR_WIDTH * done / total))
        running = (search.get("counts") or {}).get(TrialStatus.RUNNING, 0)
        metric, goal = goal_of(search)
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} done, " \
               f"{running} running"
        best = best_of(self.trials.values(), goal)
        if best is not None:
            line += f", best {metric} {format_value(best['value'])} (#{best['number']}: " \
                    f"{params_text(best.get('params', {}))})"
        if search.get("status") != SearchStatus.RUNNING:
            line += f" [{search.get('status')}]"
        return line


def watch(client: CaviarClient, search_id: int, out: TextIO = sys.stdout,
          interval: float = 1.0) -> SearchWatcher:
    """Show the progress line until the search ends; return the watcher with every trial.

    On a terminal the line is redrawn in place (cut to the terminal's width);
    otherwise a new line is printed whenever it changes.
    """
    watcher = SearchWatcher(client, search_id)
    live = out.isatty()
    shown = ""
    while True:
        search = watcher.poll()
        line = watcher.progress_line()
        if line != shown:
            if live:
                width = shutil.get_terminal_size().columns - 1
                out.write("\r\033[K" + line[:width])
            else:
                out.write(line + "\n")
            out.flush()
            shown = line
        if search.get("status") != SearchStatus.RUNNING:
            break
        time.sleep(interval)
    if live:
        out.write("\n")
    return watcher

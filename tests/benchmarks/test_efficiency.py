"""benchmarks/efficiency.py's own arithmetic: best-so-far curves, epochs to a target, medians
over seeds with infinities, duplicate proposals; tiny searches through the store and through a
real server."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks import efficiency as eff

INF = math.inf


def test_best_so_far_is_a_step_function_of_completions_in_any_order() -> None:
    completions = [(90, 0.8), (30, 0.5), (60, 0.4)]
    grid = [0, 29, 30, 59, 60, 89, 90, 500]
    assert eff.best_so_far(completions, grid).tolist() == [
        -INF, -INF, 0.5, 0.5, 0.5, 0.5, 0.8, 0.8]
    assert eff.best_so_far([], [0, 10]).tolist() == [-INF, -INF]


def test_epochs_to_target_is_the_first_completion_at_or_above_it() -> None:
    completions = [(30, 0.5), (60, 0.9), (90, 0.95)]
    assert eff.epochs_to_target(completions, 0.9) == 60  # equal to the target counts
    assert eff.epochs_to_target(completions, 0.91) == 90
    assert eff.epochs_to_target(completions, 0.99) == INF
    assert eff.epochs_to_target([], 0.0) == INF
    assert eff.final_best(completions) == 0.95
    assert eff.final_best([]) == -INF


def test_medians_are_conservative_and_keep_infinities() -> None:
    assert eff.median_epochs([300, INF, 100]) == 300
    assert eff.median_epochs([INF, 100, INF]) == INF
    assert eff.median_epochs([100, 200, 300, INF]) == 300  # even: the upper middle
    assert eff.median_value([0.9, 0.8, 0.95, 0.7]) == 0.8  # even: the lower middle
    assert eff.median_value([-INF, 0.5, 0.7]) == 0.5
    assert math.isnan(eff.median_epochs([]))
    # the reference reaches its own target on at least half its seeds
    finals = [0.91, 0.95, 0.93, 0.97]
    target = eff.median_value(finals)
    assert sum(value >= target for value in finals) >= len(finals) / 2


def test_quartiles_of_curves_over_seeds_with_no_value_yet() -> None:
    curves = np.array([[-INF, 0.5, 0.6], [-INF, -INF, 0.8], [0.2, 0.7, 0.9]])
    q1, median, q3 = eff.quartiles(curves)
    assert median.tolist() == [-INF, 0.5, 0.8]
    assert q1.tolist() == [-INF, -INF, 0.6]
    assert q3.tolist() == [0.2, 0.7, 0.9]


def test_ratio_and_number_texts() -> None:
    assert eff.ratio_text(100, 200) == "0.50x"
    assert eff.ratio_text(100, INF) == "0.00x"
    assert eff.ratio_text(INF, 200) == "inf"
    assert eff.fmt_epochs(INF) == "never"
    assert eff.fmt(-INF) == "none"


def test_the_ratio_interval_is_exact_without_spread_and_widens_with_it() -> None:
    assert eff.ratio_interval([100] * 5, [300] * 7) == (1 / 3, 1 / 3)
    assert eff.ratio_interval([100, INF], [INF] * 3) == (0.0, INF)  # never/never: no evidence
    assert eff.ratio_interval([INF] * 3, [200] * 3) == (INF, INF)
    assert all(math.isnan(b) for b in eff.ratio_interval([], [100]))
    mine, reference = [60, 90, 120, 500, INF], [100, 150, 200, 250, 900]
    low, high = eff.ratio_interval(mine, reference, seed=3)
    plain = eff.median_epochs(mine) / eff.median_epochs(reference)
    assert low < plain < high  # the ratio of medians inside its own interval
    assert (low, high) == eff.ratio_interval(mine, reference, seed=3)  # the seed fixes it
    assert eff.interval_text((0.5, INF)) == "[0.50, inf]"
    assert eff.interval_text((math.nan, 1.0)) == "-"


def _trial(number: int, params: dict, created: int, end: int | None,
           running: list[tuple[int, int | None]] | None = None) -> eff.StoredTrial:
    t0 = datetime(2026, 1, 1)

    def at(seconds: int | None) -> datetime | None:
        return None if seconds is None else t0 + timedelta(seconds=seconds)

    spans = running or [(created, end)]
    return eff.StoredTrial(number, params, "completed", 0.5, t0 + timedelta(seconds=created),
                           at(end), [(at(start) or t0, at(stop)) for start, stop in spans])


def test_duplicates_are_near_in_every_coordinate_of_a_trial_running_then() -> None:
    spec = eff.caviar_spec(eff.TASKS["digits-demo"], eff.CONTENDERS["random"], 0, 10)
    base = {"learning_rate": 0.01, "beta1": 0.99, "num_layers": 3, "hidden_units": 70,
            "batch_size": 128}
    trials = [
        _trial(0, base, 0, 100),
        _trial(1, {**base, "learning_rate": 0.0101}, 10, 50),  # near trial 0, which runs
        _trial(2, {**base, "learning_rate": 0.02}, 20, 60),  # 0.075 apart in learning rate
        _trial(3, {**base, "hidden_units": 71}, 30, 80),  # near 0 but one unit apart
        _trial(4, base, 200, 300),  # the same point, after trial 0 ended
        _trial(5, base, 20, 400, running=[(20, 25), (350, 400)]),  # paused from 25 to 350
        _trial(6, base, 330, 340),  # 5 is paused then: not a duplicate
    ]
    assert eff.count_duplicates(trials, spec) == 2  # trials 1 and 5 (0 still runs at 20)
    assert eff.count_duplicates([trials[0], trials[4]], spec) == 0


def test_the_default_keeps_the_servers_defaults_but_takes_the_seed() -> None:
    spec = eff.caviar_spec(eff.TASKS["spirals-wide"], eff.CONTENDERS["default"], 3, 40)
    assert spec["sampler"]["seed"] == 3
    assert spec["budget"]["max_trials"] == 40
    from domain.spec import parse_spec

    plain = parse_spec({"name": "x", **eff.TASKS["spirals-wide"].spec}).to_json()
    assert spec["sampler"]["kind"] == plain["sampler"]["kind"]
    assert spec["early_stopping"] == plain["early_stopping"]


def test_every_task_is_a_valid_search_for_every_caviar_contender() -> None:
    caviar = [c for c in eff.CONTENDERS.values() if c.framework == "caviar"]
    for task in eff.ALL_TASKS.values():
        for contender in caviar:
            spec = eff.caviar_spec(task, contender, 0, task.trials)
            assert spec["fixed"]["epochs"] == task.epochs, (task.name, contender.name)


def test_a_tiny_caviar_search_through_the_store_counts_every_epoch() -> None:
    run = eff.run_one("digits-demo", "random+median", 0, 2)
    assert run.error is None
    # neither diverges, and the median rule stops nothing before 5 trials completed
    assert (run.trials, run.completed, run.pruned, run.failed) == (2, 2, 0, 0)
    assert run.epochs == 60
    assert [epochs for epochs, _ in run.completions] == [30, 60]


def test_a_search_that_pauses_and_resumes_counts_each_epoch_once() -> None:
    run = eff.run_one("digits-demo", "tpe+asha(resume)", 0, 6)
    assert run.error is None
    assert run.paused >= 1 and run.resumed >= 1
    assert run.trials > 6  # the epochs of 6 full trials pay for more trials cut short
    assert run.epochs == 6 * 30  # the budget, each epoch counted once


def test_an_optuna_hyperband_search_repeats_exactly() -> None:
    first, again = (eff.run_one("digits-demo", "optuna-tpe+hyperband", 1, 4) for _ in range(2))
    assert first.error is None and again.error is None
    assert (first.completions, first.epochs) == (again.completions, again.epochs)


def test_a_parallel_search_through_a_server_is_cancelled_at_its_budget_of_epochs(
        tmp_path: Path) -> None:
    result = eff.parallel_search(eff.TASKS["digits-demo"], 0, 2, 2, tmp_path)
    run = result.run
    assert run.epochs == 2 * 30  # the budget; epochs stored after it are left out
    assert run.trials > 2  # rung rules spend the epochs of 2 full trials on more trials
    # Two workers may pause trial 0 behind a better first rung, so no trial need complete
    # within the budget; any that did is counted where it ended.
    assert all(epochs <= run.epochs for epochs, _ in run.completions)
    assert (result.duplicates, result.proposals) == (0, run.trials)
    with sqlite3.connect(tmp_path / "parallel-2-0.db") as connection:
        (status,), = connection.execute("SELECT status FROM searches").fetchall()
    assert status == "cancelled"


def test_one_worker_through_a_server_repeats_the_in_process_search(tmp_path: Path) -> None:
    """The parallel run's harness against the in-process one: with one worker, the server
    proposes and decides as the store does in-process, completion for completion."""
    served = eff.parallel_search(eff.TASKS["digits-demo"], 0, 2, 1, tmp_path).run
    in_process = eff.run_one("digits-demo", eff.DEFAULT, 0, 2)
    assert in_process.error is None
    assert served.completions and served.completions == in_process.completions
    assert served.epochs == in_process.epochs == 2 * 30

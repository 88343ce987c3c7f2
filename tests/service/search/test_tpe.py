"""TPE: Sobol' startup, convergence on known objectives (float, log scale, choice, int),
the constant liar, comparisons at equal budget, which trials count, determinism."""

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from domain.lifecycle.states import TrialStatus
from domain.space import Space
from domain.spec import parse_spec
from service.search import tpe
from service.search.samplers import HistoryEntry, SobolSampler, make_sampler, trial_rng
from service.search.tpe import TPESampler

X = {"l2": {"type": "float", "low": 0.0, "high": 1.0}}
XY = {**X, "keep_prob": {"type": "float", "low": 0.5, "high": 1.0}}
MIXED = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "hidden_units": {"type": "int", "low": 16, "high": 1024, "scale": "log"},
    "num_layers": {"type": "int", "low": 2, "high": 4},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
}
Objective = Callable[[dict], float]


def spec_of(sampler: dict, parameters: dict, metric: str = "dev_accuracy"):
    return parse_spec({"name": "s", "dataset": {"id": 1}, "sampler": sampler,
                       "parameters": parameters, "objective": {"metric": metric}})


SPACE_X = Space.from_spec(spec_of({"kind": "tpe"}, X).parameters)


def run(spec, objective: Objective, n: int) -> list[HistoryEntry]:
    """Drive the sampler as the server does, completing each trial with its value at once."""
    space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
    history: list[HistoryEntry] = []
    for number in range(n):
        params = sampler.sample(space, history, trial_rng(spec.sampler.seed, number)).params
        history.append(HistoryEntry(number, params, TrialStatus.COMPLETED, objective(params)))
    return history


def median_distance(history: list[HistoryEntry], where: Callable[[dict], float]) -> float:
    return float(np.median([abs(where(trial.params)) for trial in history]))


def entry(number: int, status: TrialStatus, value: float | None = None,
          at_rungs: dict[int, float] | None = None, x: float | None = None) -> HistoryEntry:
    """A trial of the 1-D space X, at l2 = x (number / 100 by default)."""
    return HistoryEntry(number, {"l2": number / 100 if x is None else x}, status, value,
                        at_rungs=at_rungs or {})


def numbers(params: list[dict]) -> list[int]:
    return [round(p["l2"] * 100) for p in params]


def test_make_sampler_builds_tpe_with_the_objective_s_goal():
    spec = spec_of({"kind": "tpe", "seed": 4, "startup_trials": 7, "multivariate": False}, X,
                   metric="dev_loss")
    assert make_sampler(spec) == TPESampler(4, 7, False, "minimize")
    assert make_sampler(spec).capacity(Space.from_spec(spec.parameters)) is None


def test_startup_trials_are_the_sobol_points_then_the_model_takes_over():
    spec = spec_of({"kind": "tpe", "seed": 3, "startup_trials": 12}, MIXED)
    space = Space.from_spec(spec.parameters)
    history = run(spec, lambda p: -p["learning_rate"], 13)
    sobol = [SobolSampler(3).sample(space, history[:n], trial_rng(3, n)).params
             for n in range(13)]
    assert [trial.params for trial in history[:12]] == sobol[:12]
    assert history[12].params != sobol[12]


@pytest.mark.parametrize("multivariate", [True, False])
def test_same_seed_and_history_give_the_same_proposals(multivariate):
    def objective(p: dict) -> float:
        return -abs(math.log10(p["learning_rate"]) + 2) - abs(p["num_layers"] - 3)

    spec = spec_of({"kind": "tpe", "seed": 5, "multivariate": multivariate}, MIXED)
    first = run(spec, objective, 30)
    assert first == run(spec, objective, 30)
    other = run(spec_of({"kind": "tpe", "seed": 6, "multivariate": multivariate}, MIXED),
                objective, 30)
    assert [t.params for t in first[10:]] != [t.params for t in other[10:]]
    assert len({tuple(t.params.values()) for t in first}) > 20


def test_concentrates_near_the_optimum_of_a_quadratic():
    def objective(p: dict) -> float:
        return -(p["l2"] - 0.3) ** 2

    found = run(spec_of({"kind": "tpe"}, X), objective, 60)
    random = run(spec_of({"kind": "random"}, X), objective, 60)
    tpe_distance = median_distance(found[-20:], lambda p: p["l2"] - 0.3)
    assert tpe_distance < median_distance(random[-20:], lambda p: p["l2"] - 0.3) / 4
    assert tpe_distance < 0.06


def test_concentrates_in_decades_on_a_log_scale():
    parameters = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1.0, "scale": "log"}}

    def decades(p: dict) -> float:
        return math.log10(p["learning_rate"]) + 3  # the optimum: 1e-3

    found = run(spec_of({"kind": "tpe", "seed": 1}, parameters), lambda p: -decades(p) ** 2, 60)
    random = run(spec_of({"kind": "random", "seed": 1}, parameters),
                 lambda p: -decades(p) ** 2, 60)
    assert median_distance(found[-20:], decades) < median_distance(random[-20:], decades) / 3
    assert median_distance(found[-20:], decades) < 0.4  # a tenth of the width of 5 decades


@pytest.mark.parametrize("multivariate", [True, False])
def test_choices_favour_the_best_value(multivariate):
    parameters = {**X, "batch_size": {"type": "choice", "values": [64, 128, 256, 512]}}
    bonus = {64: 0.1, 128: 0.0, 256: 0.3, 512: 0.0}  # the best is not at an end

    def objective(p: dict) -> float:
        return bonus[p["batch_size"]] - (p["l2"] - 0.5) ** 2

    found = run(spec_of({"kind": "tpe", "multivariate": multivariate}, parameters),
                objective, 60)
    counts = Counter(t.params["batch_size"] for t in found[-20:])
    assert counts.most_common(1)[0] == (256, counts[256]) and counts[256] >= 12
    assert {t.params["batch_size"] for t in found} == set(bonus)


def test_int_params_stay_ints_in_range_and_converge():
    def objective(p: dict) -> float:
        return -abs(math.log2(p["hidden_units"] / 128)) - abs(p["num_layers"] - 3)

    found = run(spec_of({"kind": "tpe", "seed": 2}, MIXED), objective, 80)
    for trial in found:
        for key in ("hidden_units", "num_layers"):
            value = trial.params[key]
            assert type(value) is int and MIXED[key]["low"] <= value <= MIXED[key]["high"]
    assert {t.params["num_layers"] for t in found} == {2, 3, 4}
    assert Counter(t.params["num_layers"] for t in found[-20:]).most_common(1)[0][0] == 3
    assert median_distance(found[-20:], lambda p: math.log2(p["hidden_units"] / 128)) < 1


def chebyshev(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max())


@pytest.mark.parametrize("multivariate", [True, False])
def test_running_trials_count_as_bad_so_parallel_proposals_spread(multivariate):
    """8 workers ask in turn, each proposal then running: none lands within 1% (in every
    unit coordinate) of a running trial. Without the running trials in the history, the
    same generators propose points that crowd together."""
    spec = spec_of({"kind": "tpe", "multivariate": multivariate}, XY)
    space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
    optimum = np.array([0.3, 0.6])
    finished = run(spec, lambda p: -float(np.sum((space.to_unit(p) - optimum) ** 2)), 30)
    history, alone = list(finished), []
    for number in range(30, 38):
        proposal = sampler.sample(space, history, trial_rng(0, number)).params
        point = space.to_unit(proposal)
        for trial in history[30:]:
            assert chebyshev(point, space.to_unit(trial.params)) >= 0.01
        history.append(HistoryEntry(number, proposal, TrialStatus.RUNNING, None))
        alone.append(space.to_unit(sampler.sample(space, finished, trial_rng(0, number)).params))

    def mean_nearest(points: list[np.ndarray]) -> float:
        return float(np.mean([min(chebyshev(a, b) for j, b in enumerate(points) if j != i)
                              for i, a in enumerate(points)]))

    spread = mean_nearest([space.to_unit(trial.params) for trial in history[30:]])
    assert spread > 2 * mean_nearest(alone)


def test_rungs_compare_trials_at_equal_budget():
    """At rung 3 the best trials are near 0.8; their final values say 0.2. Rung 9 holds
    too few values (5 < 20) to be compared at, so rung 3 decides."""
    def near(x: float, centre: float) -> float:
        return -(x - centre) ** 2

    xs = [(i + 0.5) / 40 for i in range(40)]
    history = [HistoryEntry(i, {"l2": x}, TrialStatus.COMPLETED, near(x, 0.2),
                            at_rungs={1: near(x, 0.8) - 0.1, 3: near(x, 0.8)}
                            | ({9: near(x, 0.5)} if i % 8 == 0 else {}))
               for i, x in enumerate(xs)]
    without_rungs = [HistoryEntry(t.number, t.params, t.status, t.value) for t in history]
    sampler = TPESampler(0, 10, True, "maximize")

    def proposals(trials: list[HistoryEntry]) -> list[float]:
        return [sampler.sample(SPACE_X, trials, trial_rng(0, n)).params["l2"]
                for n in range(40, 60)]

    assert np.median(np.abs(np.array(proposals(history)) - 0.8)) < 0.08
    assert np.median(np.abs(np.array(proposals(without_rungs)) - 0.2)) < 0.08


@pytest.mark.parametrize(("goal", "good"), [("maximize", [9, 16]), ("minimize", [0, 1])])
def test_which_trials_count_without_rungs(goal, good):
    history = [entry(i, TrialStatus.COMPLETED, float(i)) for i in range(10)] + [
        entry(10, TrialStatus.PRUNED, 100.0),     # a best value over fewer epochs: bad
        entry(11, TrialStatus.FAILED),
        entry(12, TrialStatus.CANCELLED, 50.0),   # does not count
        entry(13, TrialStatus.RUNNING, 99.0),     # a partial value: the liar's bad
        entry(14, TrialStatus.PENDING),
        entry(15, TrialStatus.COMPLETED, math.nan),  # diverged: bad
        entry(16, TrialStatus.COMPLETED, 9.0),    # ties with 9: the lower number ranks first
    ]
    got_good, got_bad = TPESampler(0, 10, True, goal).split(history)
    # 11 values: the best ⌈11 / 10⌉ = 2 are good
    assert numbers(got_good) == good
    assert sorted(numbers(got_bad)) == sorted(set(range(17)) - {12} - set(good))


def test_which_trials_count_with_rungs():
    """Rung 3 holds 23 values (>= 20, unlike rung 9), so trials are compared there."""
    history = [entry(i, TrialStatus.COMPLETED, 1.0, {1: float(i), 3: -float(i)})
               for i in range(22)] + [
        entry(22, TrialStatus.PRUNED, 5.0, {1: 5.0}),        # stopped below rung 3: not counted
        entry(23, TrialStatus.RUNNING, 5.0, {1: 5.0}),       # live, no value at rung 3: bad
        entry(24, TrialStatus.RUNNING, 9.0, {1: 9.0, 3: 9.0}),  # live, value at rung 3: ranked
        entry(25, TrialStatus.FAILED, None, {1: 7.0}),       # failed: bad
        entry(26, TrialStatus.COMPLETED, 9.0),               # started above rung 3: not counted
        entry(27, TrialStatus.COMPLETED, 9.0, {9: 9.0}),
    ]
    good, bad = TPESampler(0, 10, True, "maximize").split(history)
    assert numbers(good) == [24, 0, 1]  # ⌈23 / 10⌉ = 3 best at rung 3
    assert sorted(numbers(bad)) == [*range(2, 22), 23, 25]
    # with 30 startup trials a rung needs 30 values: none has, and the fullest (rung 1) decides
    good, _ = TPESampler(0, 30, True, "maximize").split(history)
    assert numbers(good) == [21, 20, 19]


def test_the_bad_group_is_subsampled_past_the_cap_but_keeps_every_running_trial(monkeypatch):
    monkeypatch.setattr(tpe, "MAX_BAD", 100)
    history = [entry(i, TrialStatus.COMPLETED, float(i), x=i / 2000) for i in range(1000)]
    running = [0.9, 0.95, 1.0]
    history += [entry(1000 + i, TrialStatus.RUNNING, x=x) for i, x in enumerate(running)]
    sampler = TPESampler(0, 10, True, "maximize")
    good, bad = sampler.split(history)
    assert len(good) == 25
    # 975 finished bad trials, every 10th kept (numbers 0, 10, ... 970), then the 3 running
    assert len(bad) == 98 + 3
    assert [p["l2"] for p in bad[:3]] == [0.0, 10 / 2000, 20 / 2000]
    assert [p["l2"] for p in bad[-3:]] == running
    first = sampler.sample(SPACE_X, history, trial_rng(0, 1003))
    assert first == sampler.sample(SPACE_X, history, trial_rng(0, 1003))


def test_the_kernels_are_normalized_densities_and_draws_follow_them():
    """The float kernels are Gaussians truncated to [0, 1]: the mixture integrates to 1 and
    its draws follow it. The choice kernels are Optuna's: with one observation among K = 4
    values (a = 1/2), its own value has 1/3 + (2/3)/4 = 1/2, the others 1/6 each, and the
    uniform prior 1/4; no value is nearer the observed one than another."""
    floats = tpe._Parzen(np.array([[0.02], [0.1], [0.7]]), [0])
    grid = (np.arange(20_000) + 0.5) / 20_000
    density = np.exp(floats.log_pdf(grid[:, None]))
    assert density.mean() == pytest.approx(1.0, abs=1e-6)
    draws = floats.draw(20_000, np.random.default_rng(0))[:, 0]
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    tenths = np.histogram(draws, bins=10, range=(0.0, 1.0))[0] / len(draws)
    expected = density.reshape(10, -1).mean(axis=1) / 10
    np.testing.assert_allclose(tenths, expected, atol=0.01)

    choices = tpe._Parzen(np.array([[0.125]]), [4])
    bins = (np.arange(4)[:, None] + 0.5) / 4
    np.testing.assert_allclose(np.exp(choices.log_pdf(bins)),
                               [(1 / 2 + 1 / 4) / 2] + [(1 / 6 + 1 / 4) / 2] * 3)
    drawn = choices.draw(20_000, np.random.default_rng(1))[:, 0]
    assert set(np.unique(drawn)) == set(bins[:, 0])
    np.testing.assert_allclose(np.bincount((drawn * 4).astype(int)) / len(drawn),
                               [0.375] + [5 / 24] * 3, atol=0.01)

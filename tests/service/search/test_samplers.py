"""Samplers: determinism, grid enumeration, Sobol's low discrepancy, coarse-to-fine rounds."""

import numpy as np
import pytest
from scipy.stats import qmc

from domain.lifecycle.states import TrialStatus
from domain.space import Space
from domain.spec import parse_spec
from service.search.samplers import (
    CoarseToFineSampler,
    GridSampler,
    HistoryEntry,
    Proposal,
    RandomSampler,
    SobolSampler,
    make_sampler,
    trial_rng,
)

PARAMETERS = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "beta1": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "num_layers": {"type": "int", "low": 2, "high": 4},
    "batch_size": {"type": "choice", "values": [64, 128, 256, 512]},
}
UNIT = {"l2": {"type": "float", "low": 0.0, "high": 1.0},
        "bn_momentum": {"type": "float", "low": 0.25, "high": 0.75}}
KINDS = [{"kind": "random"}, {"kind": "grid", "grid_points": 3}, {"kind": "sobol"},
         {"kind": "coarse_to_fine", "round_size": 8}]


def spec_of(sampler: dict, parameters: dict = PARAMETERS, objective: dict | None = None):
    data = {"name": "s", "dataset": {"id": 1}, "sampler": sampler, "parameters": parameters}
    if objective:
        data["objective"] = objective
    return parse_spec(data)


def objective(space: Space, params: dict, optimum: np.ndarray) -> float:
    """A known objective in unit space: 1 at the optimum, falling off quadratically."""
    return 1.0 - float(np.sum((space.to_unit(params) - optimum) ** 2))


def run(spec, n: int, optimum: np.ndarray | None = None) -> list[Proposal]:
    """Drive a sampler like the server does; finish every trial when the sampler waits."""
    space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
    optimum = np.full(len(space.dims), 0.5) if optimum is None else optimum
    history: list[HistoryEntry] = []
    proposals = []
    while len(history) < n:
        proposal = sampler.sample(space, history, trial_rng(spec.sampler.seed, len(history)))
        if proposal is None:
            if all(t.status == TrialStatus.COMPLETED for t in history):
                break
            history = [HistoryEntry(t.number, t.params, TrialStatus.COMPLETED,
                                   objective(space, t.params, optimum), t.round)
                       for t in history]
            continue
        proposals.append(proposal)
        history.append(HistoryEntry(len(history), proposal.params, TrialStatus.RUNNING, None,
                                   proposal.round))
    return proposals


@pytest.mark.parametrize("sampler", KINDS, ids=[k["kind"] for k in KINDS])
def test_same_seed_same_sequence(sampler):
    first = run(spec_of({**sampler, "seed": 7}), 40)
    assert first == run(spec_of({**sampler, "seed": 7}), 40)
    assert len(first) == 40
    if sampler["kind"] != "grid":
        assert first != run(spec_of({**sampler, "seed": 8}), 40)
        assert len({tuple(p.params.values()) for p in first}) > 30


def test_make_sampler_builds_the_kind_the_spec_names():
    assert isinstance(make_sampler(spec_of({"kind": "random"})), RandomSampler)
    assert make_sampler(spec_of({"kind": "grid", "grid_points": 4})) == GridSampler(4)
    assert make_sampler(spec_of({"kind": "sobol", "seed": 3})) == SobolSampler(3)
    ctf = make_sampler(spec_of({"kind": "coarse_to_fine", "shrink": 0.3},
                               objective={"metric": "dev_loss"}))
    assert ctf == CoarseToFineSampler(10, 0.2, 0.3, "minimize")


def test_random_draws_depend_on_the_trial_number_only():
    space = Space.from_spec(spec_of({"kind": "random"}).parameters)
    sampler = RandomSampler()
    a = sampler.sample(space, [], trial_rng(0, 5))
    b = sampler.sample(space, [HistoryEntry(0, {}, TrialStatus.FAILED, None)] * 3, trial_rng(0, 5))
    assert a == b
    assert a != sampler.sample(space, [], trial_rng(0, 6))
    assert sampler.capacity(space) is None


def test_grid_visits_every_point_once_then_proposes_nothing():
    spec = spec_of({"kind": "grid", "grid_points": 3})
    space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
    assert sampler.capacity(space) == 3 * 3 * 3 * 4
    proposals = run(spec, 1000)
    assert len(proposals) == 108
    assert len({tuple(p.params.values()) for p in proposals}) == 108
    assert {p.params["batch_size"] for p in proposals} == {64, 128, 256, 512}
    assert {p.params["learning_rate"] for p in proposals} == pytest.approx([1e-4, 1e-2, 1.0])
    history = [HistoryEntry(i, p.params, TrialStatus.COMPLETED, 0.5)
               for i, p in enumerate(proposals)]
    assert sampler.sample(space, history, trial_rng(0, 108)) is None


def test_sobol_points_are_balanced_and_more_even_than_random():
    space = Space.from_spec(spec_of({"kind": "sobol"}, UNIT).parameters)
    sobol = np.array([space.to_unit(p.params) for p in run(spec_of({"kind": "sobol"}, UNIT),
                                                             256)])
    rand = np.array([space.to_unit(p.params) for p in run(spec_of({"kind": "random"}, UNIT),
                                                            256)])
    # the first 8 points of a scrambled Sobol' sequence hit each eighth of each axis once
    for axis in sobol[:8].T:
        assert sorted(np.floor(axis * 8).astype(int)) == list(range(8))
    assert qmc.discrepancy(sobol) < qmc.discrepancy(rand) / 4


def test_sobol_regenerates_the_same_point_from_the_history_length():
    spec = spec_of({"kind": "sobol", "seed": 2}, UNIT)
    space = Space.from_spec(spec.parameters)
    expected = qmc.Sobol(2, scramble=True, seed=2).random(16)
    got = np.array([space.to_unit(p.params) for p in run(spec, 16)])
    # dimensions are ordered by name: bn_momentum, l2
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_coarse_to_fine_narrows_around_good_trials():
    spec = spec_of({"kind": "coarse_to_fine", "round_size": 20, "top_fraction": 0.2,
                    "shrink": 0.5, "seed": 1}, UNIT)
    space = Space.from_spec(spec.parameters)
    optimum = np.array([0.8, 0.3])
    proposals = run(spec, 60, optimum)
    assert [p.round for p in proposals] == [0] * 20 + [1] * 20 + [2] * 20
    boxes = [proposals[0].box, proposals[20].box, proposals[40].box]
    assert boxes[0] == {"bn_momentum": (0.0, 1.0), "l2": (0.0, 1.0)}
    for r, box in enumerate(boxes):
        for i, name in enumerate(space.names):
            low, high = box[name]
            assert high - low == pytest.approx(0.5**r)
            assert low <= optimum[i] <= high, (r, name, box)
    for p in proposals:
        u = space.to_unit(p.params)
        assert all(p.box[n][0] - 1e-12 <= x <= p.box[n][1] + 1e-12
                   for n, x in zip(space.names, u, strict=True))
    errors = [np.abs(np.array([space.to_unit(p.params) for p in proposals[k:k + 20]]) - optimum)
              .max(axis=1).mean() for k in (0, 20, 40)]
    assert errors[0] > errors[1] > errors[2]


def test_coarse_to_fine_waits_for_its_round_and_moves_boxes_inside_the_cube():
    spec = spec_of({"kind": "coarse_to_fine", "round_size": 4, "top_fraction": 0.5,
                    "shrink": 0.5}, UNIT)
    space, sampler = Space.from_spec(spec.parameters), make_sampler(spec)
    history = [HistoryEntry(i, space.from_unit([0.05 * (i + 1), 0.95]), TrialStatus.COMPLETED,
                           float(i), 0) for i in range(3)]
    history.append(HistoryEntry(3, space.from_unit([0.5, 0.5]), TrialStatus.RUNNING, None, 0))
    assert sampler.sample(space, history, trial_rng(0, 4)) is None
    history[3] = HistoryEntry(3, history[3].params, TrialStatus.FAILED, None, 0)
    proposal = sampler.sample(space, history, trial_rng(0, 4))
    assert proposal.round == 1
    # top half of the completed trials: numbers 2 and 1 (values 2.0, 1.0), centre (0.125, 0.95)
    assert proposal.box["bn_momentum"] == pytest.approx((0.0, 0.5))
    assert proposal.box["l2"] == pytest.approx((0.5, 1.0))
    started = history + [HistoryEntry(4, proposal.params, TrialStatus.RUNNING, None, 1)]
    whole = {name: (0.0, 1.0) for name in space.names}
    assert sampler.boxes(space, started) == [whole, proposal.box]


def test_coarse_to_fine_minimizes_when_the_goal_says_so_and_keeps_a_box_without_results():
    sampler = CoarseToFineSampler(round_size=2, top_fraction=0.5, shrink=0.5, goal="minimize")
    space = Space.from_spec(spec_of({"kind": "random"}, UNIT).parameters)
    history = [HistoryEntry(0, space.from_unit([0.1, 0.1]), TrialStatus.COMPLETED, 0.2, 0),
               HistoryEntry(1, space.from_unit([0.9, 0.9]), TrialStatus.COMPLETED, 0.9, 0)]
    box = sampler.sample(space, history, trial_rng(0, 2)).box
    assert box == {"bn_momentum": pytest.approx((0.0, 0.5)), "l2": pytest.approx((0.0, 0.5))}
    failed = [HistoryEntry(2, space.from_unit([0.2, 0.2]), TrialStatus.FAILED, None, 1),
              HistoryEntry(3, space.from_unit([0.3, 0.3]), "pruned", 0.1, 1)]
    again = sampler.sample(space, history + failed, trial_rng(0, 4))
    assert again.round == 2 and again.box == box


def test_coarse_to_fine_top_fraction_counts_exactly():
    """0.3 of 10 completed trials is 3 (not 4 through floating-point rounding)."""
    sampler = CoarseToFineSampler(round_size=10, top_fraction=0.3, shrink=0.5, goal="maximize")
    space = Space.from_spec(spec_of({"kind": "random"}, UNIT).parameters)
    corners = [0.1, 0.2, 0.3] + [0.9] * 7
    history = [HistoryEntry(i, space.from_unit([x, x]), TrialStatus.COMPLETED, -float(i), 0)
               for i, x in enumerate(corners)]
    box = sampler.sample(space, history, trial_rng(0, 10)).box
    assert box["l2"] == pytest.approx((0.0, 0.5))  # centred on 0.2, the mean of the top 3
    history[2] = HistoryEntry(2, space.from_unit([0.3, 0.3]), TrialStatus.COMPLETED, -100.0, 0)
    box = sampler.sample(space, history, trial_rng(0, 10)).box
    assert box["l2"] == pytest.approx((0.15, 0.65))  # top 3: 0.1, 0.2 and a 0.9 → mean 0.4

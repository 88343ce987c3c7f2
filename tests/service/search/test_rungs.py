"""The rung rule of ASHA and Hyperband against hand-worked examples (METHODS.md section 4)."""

from __future__ import annotations

from collections import Counter

import pytest

from domain.lifecycle.states import StopCause
from domain.spec import parse_spec
from service.search.rungs import RungRule, make_rung_rule
from tests.service.helpers import make_spec


def rule(kind: str = "asha", eta: int = 3, min_epochs: int = 1, grace: int = 0,
         max_epochs: int = 27) -> RungRule:
    return RungRule(kind=kind, eta=eta, min_epochs=min_epochs, grace=grace, resume=False,
                    max_epochs=max_epochs)


def test_rungs_are_min_epochs_times_powers_of_eta_below_the_trials_epochs():
    asha = rule()
    assert asha.rungs(0, 27) == [1, 3, 9]  # 27 is the end, not a rung
    assert asha.rungs(0, 28) == [1, 3, 9, 27]
    assert asha.rungs(0, 9) == [1, 3]
    assert asha.rungs(0, 1) == []
    assert rule(eta=2, min_epochs=3).rungs(0, 20) == [3, 6, 12]
    assert asha.rung_at(0, 3, 27) == 1 and asha.rung_at(0, 2, 27) is None
    assert asha.rung_at(0, 9, 9) is None  # a trial's last epoch is no rung
    assert asha.brackets == 1 and asha.bracket_of(12345) == 0


@pytest.mark.parametrize("count, better, keeps", [
    (1, 0, True),   # alone: the best so far goes on (the paper's rule for sparse rungs)
    (2, 0, True),   # the best of two
    (2, 1, False),  # fewer than eta values: only the best goes on
    (3, 0, True),   # top ⌊3/3⌋ = 1
    (3, 1, False),
    (5, 1, False),  # ⌊5/3⌋ = 1
    (6, 1, True),   # ⌊6/3⌋ = 2: second place goes on
    (6, 2, False),
    (9, 2, True),
    (9, 3, False),
])
def test_a_value_goes_on_when_in_the_top_third(count: int, better: int, keeps: bool):
    assert rule().keeps(better, count) is keeps


def test_grace_stops_nothing_until_the_rung_holds_enough_values():
    lenient = rule(grace=5)
    assert lenient.keeps(better=3, count=4) is True  # 4 < grace: every trial goes on
    assert lenient.keeps(better=1, count=5) is False  # from grace on: the top ⌊5/3⌋ = 1


def test_hyperband_brackets_start_at_min_epochs_times_eta_to_the_s():
    hyperband = rule("hyperband")
    assert hyperband.brackets == 4  # s_max = ⌊log_3(27 / 1)⌋ = 3
    assert [hyperband.rungs(s, 27) for s in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    assert rule("hyperband", max_epochs=26).brackets == 3  # ⌊log_3 26⌋ = 2
    assert rule("hyperband", eta=2, min_epochs=2, max_epochs=20).brackets == 4  # 2,4,8,16


def test_expected_epochs_per_trial_of_each_bracket_by_hand():
    hyperband = rule("hyperband")
    # s = 0: 1 + (3-1)/3 + (9-3)/9 + (27-9)/27 = 3; s = 1: 3 + 6/3 + 18/9 = 7;
    # s = 2: 9 + 18/3 = 15; s = 3: plain random search, 27.
    assert [hyperband.expected_epochs(s) for s in range(4)] == pytest.approx([3, 7, 15, 27])


def test_brackets_spend_about_equal_epochs_from_the_first_trials_on():
    hyperband = rule("hyperband")
    assert [hyperband.bracket_of(n) for n in range(8)] == [
        hyperband.bracket_of(n) for n in range(8)]  # deterministic
    counts = Counter(hyperband.bracket_of(n) for n in range(3000))
    spent = [counts[s] * hyperband.expected_epochs(s) for s in range(4)]
    assert max(spent) / min(spent) < 1.05
    assert set(hyperband.bracket_of(n) for n in range(30)) == {0, 1, 2, 3}


def test_the_rule_follows_the_spec():
    spec = parse_spec(make_spec(early_stopping={"kind": "hyperband", "eta": 2, "min_epochs": 2},
                                fixed={"optimizer": "adam", "epochs": 16}))
    made = make_rung_rule(spec)
    assert made is not None and made.max_epochs == 16 and made.brackets == 4  # 2, 4, 8, 16
    assert made.cause == StopCause.HYPERBAND_RULE
    assert make_rung_rule(parse_spec(make_spec())) is None
    searched = parse_spec(make_spec(parameters={"epochs": {"type": "int", "low": 3,
                                                           "high": 30}},
                                    fixed={"optimizer": "adam"},
                                    early_stopping={"kind": "asha"}))
    assert make_rung_rule(searched).max_epochs == 30  # type: ignore[union-attr]
    assert searched.trial_epochs({"epochs": 12}) == 12
    assert spec.trial_epochs({}) == 16

"""The median rule: when a trial is stopped, and which spec asks for it."""

import math

import pytest

from domain.spec import parse_spec
from service.search.early_stopping import MedianRule, make_early_stopping
from service.search.rungs import RungRule

RULE = MedianRule(min_trials=3, min_epochs=2)
COMPLETED = [0.6, 0.7, 0.8]  # median 0.7


@pytest.mark.parametrize(
    ("epoch", "values", "completed", "goal", "stop"),
    [
        (1, [0.5, 0.65], COMPLETED, "maximize", True),     # best 0.65 < median 0.7
        (1, [0.75, 0.6], COMPLETED, "maximize", False),    # best so far counts, not the last
        (1, [0.5, 0.7], COMPLETED, "maximize", False),     # equal to the median is not worse
        (0, [0.1], COMPLETED, "maximize", False),          # epoch 0 + 1 < min_epochs 2
        (1, [0.1, 0.1], [0.6, 0.7], "maximize", False),    # only 2 completed < min_trials 3
        (1, [0.1, 0.1], [0.6, math.nan, 0.7], "maximize", False),  # NaN is not a value
        (5, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], COMPLETED, "maximize", True),
        (1, [0.9, 0.75], COMPLETED, "minimize", True),     # loss: best 0.75 > median 0.7
        (1, [0.9, 0.65], COMPLETED, "minimize", False),
        (1, [math.nan, math.inf], COMPLETED, "minimize", True),  # diverged: worst of all
        (1, [math.nan, 0.6], COMPLETED, "minimize", False),
    ],
)
def test_median_rule(epoch, values, completed, goal, stop):
    assert RULE.should_stop(epoch, values, completed, goal) is stop


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    rule = MedianRule(min_trials=4, min_epochs=1)
    assert rule.should_stop(0, [0.64], [0.5, 0.6, 0.7, 0.8], "maximize")
    assert not rule.should_stop(0, [0.66], [0.5, 0.6, 0.7, 0.8], "maximize")


def test_make_early_stopping_follows_the_spec():
    base = {"name": "s", "dataset": {"id": 1},
            "parameters": {"l2": {"type": "float", "low": 0, "high": 1}}}
    assert make_early_stopping(parse_spec({**base, "early_stopping": {"kind": "none"}})) is None
    assert make_early_stopping(parse_spec(base)) == RungRule(  # the default
        kind="asha", eta=3, min_epochs=1, grace=0, resume=True, max_epochs=20)
    median = parse_spec({**base, "early_stopping": {"kind": "median", "min_trials": 8}})
    assert make_early_stopping(median) == MedianRule(min_trials=8, min_epochs=3)

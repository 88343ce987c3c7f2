"""Validation errors as a 422's items and as the lines a person reads."""

import pytest
from pydantic import ValidationError

from domain.error_format import clean_errors, error_line, error_lines
from domain.spec import parse_spec


def spec_errors(data) -> list:
    with pytest.raises(ValidationError) as info:
        parse_spec(data)
    return info.value.errors()


def test_items_keep_only_loc_msg_and_type_with_the_request_part_in_front():
    (item,) = clean_errors(spec_errors({"name": "x", "dataset": "digits"}), prefix=("body",))
    assert item == {"loc": ["body", "parameters"], "msg": "Field required", "type": "missing"}


def test_a_line_names_the_field_path_without_the_request_part():
    assert error_line({"loc": ["body", "budget", "max_trials"], "msg": "too many"}) == (
        "budget.max_trials: too many")
    assert error_line({"loc": ["query", "limit"], "msg": "m"}) == "limit: m"
    assert error_line({"loc": ["body"], "msg": "not JSON"}) == "request: not JSON"
    assert error_line("a sentence") == "a sentence"


def test_error_lines_of_a_spec_are_the_lines_of_its_422_items():
    errors = spec_errors({"name": "", "dataset": "digits", "parameters": {}})
    assert error_lines(errors) == [error_line(item) for item in clean_errors(errors, ("body",))]
    assert error_lines(errors)[1] == (
        "parameters: Dictionary should have at least 1 item after validation, not 0")

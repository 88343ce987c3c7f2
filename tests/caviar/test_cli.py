"""`caviar`'s entry point: how a mistyped command line is answered."""

from __future__ import annotations

import pytest

from caviar.cli import main


def _exit_and_stderr(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return int(stopped.value.code or 0), capsys.readouterr().err


def test_an_unknown_option_is_reported_by_the_command_it_was_given_to(capsys):
    code, err = _exit_and_stderr(["serve", "--db", "sqlite:///x.db"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == "caviar serve: error: unrecognized arguments: --db sqlite:///x.db"
    assert err.startswith("usage: caviar serve "), "the command's own usage, with its options"


def test_extra_positional_arguments_name_the_command(capsys):
    code, err = _exit_and_stderr(["status", "1", "2"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == "caviar status: error: unrecognized arguments: 2"


def test_an_unknown_option_before_any_command_is_reported_by_caviar(capsys):
    code, err = _exit_and_stderr(["--bogus"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == "caviar: error: unrecognized arguments: --bogus"


def test_an_unknown_command_lists_the_commands(capsys):
    code, err = _exit_and_stderr(["bogus"], capsys)
    assert code == 2
    assert "invalid choice: 'bogus'" in err and "'demo'" in err

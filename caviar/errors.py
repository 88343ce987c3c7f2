"""The error a command raises for bad input: printed as one line, exit code 2."""


class UsageError(Exception):
    """Bad input from the user: the message names the field and the rule."""

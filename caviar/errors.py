"""The errors a command raises for bad input: printed one line each, exit code 2."""


class UsageError(Exception):
    """Bad input from the user: the message names the field and the rule."""


class InvalidSpec(UsageError):
    """A search spec that breaks rules: one `field: rule` line per rule, as a server's 422."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

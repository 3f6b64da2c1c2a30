"""One error type for every bad input a user can give: the CLI prints its message in one line."""


class ConfigError(ValueError):
    """A bad input: the message says what is wrong and what to do instead."""

"""One error type for every bad input a user can give: the CLI prints its message in one line."""


class ConfigError(ValueError):
    """A bad input: the message says what is wrong and what to do instead."""


def positive_int(value, what):
    """value as an int if it is a whole positive number (an int, a numpy integer or a float like 2e6)."""
    import numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer() or value <= 0:
        raise ConfigError(f"{what} must be a positive whole number, got {value!r}")
    return int(value)


class SweepError(RuntimeError):
    """Runs of a sweep failed after their retries: the message says how many, why, and where the rest are."""

"""Errors the core raises for bad user input; each message names the problem."""


class UserInputError(ValueError):
    """Bad input from a user: a configuration, a file or a command-line value."""


class ConfigError(UserInputError):
    """A configuration field is unknown or out of range."""


class DataError(UserInputError):
    """A data file cannot be used; the message names the file, line and column."""


def one_line(text: str) -> str:
    """Text with control characters escaped as in repr, so a message stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

"""Errors the core raises for bad user input; each message names the problem."""


class UserInputError(ValueError):
    """Bad input from a user: a configuration, a file or a command-line value."""


class ConfigError(UserInputError):
    """A configuration field is unknown or out of range."""


class DataError(UserInputError):
    """A data file cannot be used; the message names the file, line and column."""

"""The one error type users see: a one-line message naming the problem and the fix."""


class NoisyLabelsError(ValueError):
    """Bad input, configuration or data. The CLI prints it as one line and exits with status 2."""

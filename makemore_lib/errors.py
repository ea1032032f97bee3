"""Errors a reader can fix: each prints as one line when a chapter runs as a script."""


class MakemoreError(Exception):
    """Bad input or settings; the message says what was wrong and how to fix it."""


class DataError(MakemoreError):
    """The word list is missing or malformed."""


class SettingsError(MakemoreError):
    """An environment variable or command-line option has a bad value."""


class TrainingDiverged(MakemoreError):
    """The loss became NaN, infinite, or larger than train.MAX_LOSS."""


class BatchTooSmall(MakemoreError, ValueError):
    """BatchNorm in training mode was given a batch of one."""


class GradientShapeError(MakemoreError):
    """A manual gradient does not have its parameter's shape."""

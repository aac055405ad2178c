"""Errors the library raises for bad input; the CLI prints them as one line, no traceback."""
from __future__ import annotations


class AsrError(Exception):
    """Base class for every error caused by the user's input (files, manifests, configs)."""


class AudioError(AsrError):
    """An audio file or array that cannot be used: ``str(e)`` is ``"PATH: reason"``."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ManifestError(AsrError):
    """A bad manifest line: ``str(e)`` is ``"FILE:LINE: reason"``."""

    def __init__(self, path: object, line: int, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}")


class ConfigError(AsrError):
    """A bad config file, model directory or option."""


def check_keys(d, cls, what: str) -> dict:
    """The one check of a config section read from outside: ``d`` must be a mapping whose keys are
    fields of the dataclass ``cls`` (otherwise ConfigError naming the unknown ones and ``what``,
    e.g. "model option") and whose values have the fields' types and ranges
    (:func:`lstm_asr.validate.check_fields`). Returns ``d``."""
    import dataclasses
    if not isinstance(d, dict):
        raise ConfigError(f"{what}s must be a mapping of name: value, not {type(d).__name__}")
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)}, key=str)
    if unknown:
        raise ConfigError(f"unknown {what}(s): {', '.join(map(str, unknown))}")
    from .validate import check_fields  # the values: types and ranges (validate imports this module)
    return check_fields(d, cls, what)

"""Errors the library raises for bad input; the CLI prints them as one line, no traceback.
This module imports nothing of the package (the checks that raise them are in :mod:`.validate`)."""
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


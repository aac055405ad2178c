"""What one client may ask of the server: :class:`ServerLimits`. Each field is an option of
``lstm-asr serve`` and states its range beside it (:func:`~lstm_asr.validate.checked`); the
command line's flags take their ranges from these fields (:func:`~lstm_asr.validate.arg_field`),
so a value is checked the one way whether it comes from a flag or from Python. Needs no fastapi.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import validate as V
from ..chunking import DEFAULT_LOOKAHEAD_S, MAX_LOOKAHEAD_S
from ..errors import ConfigError
from ..validate import checked, ints, reals

MB = 1024 * 1024
MAX_UPLOAD_MB = 1_000_000      # --max-upload-mb; max_upload_bytes at most this many MB
DAY = 86400


@dataclass
class ServerLimits:
    """What one client may ask of the server (each an option of ``lstm-asr serve``)."""
    # POST /v1/transcribe file size, counted as it arrives (--max-upload-mb)
    max_upload_bytes: int = checked(50 * MB, ints(1, MAX_UPLOAD_MB * MB))
    max_seconds: float = checked(600.0, reals(0, 1e6, lo_open=True))  # audio duration of an upload, and of one stream
    max_streams: int = checked(64, ints(1, 10_000))        # WebSocket streams open at once (more: refused)
    workers: int = checked(2, ints(1, 64))                 # threads running the model (the cores to use)
    partial_interval: float = checked(0.5, reals(0, 60))   # seconds of new audio between partial results (0: none)
    # how far a stream's model reads ahead (None: each segment whole; --lookahead 0)
    lookahead_s: float | None = checked(DEFAULT_LOOKAHEAD_S, reals(0, MAX_LOOKAHEAD_S, lo_open=True))
    # a stream (or an upload's body) that sends nothing for this long is ended
    idle_seconds: float = checked(60.0, reals(0, DAY, lo_open=True))
    # beams a client may ask for (?beam=N): a search costs time in proportion to its beams, so a client
    # gets far fewer than the library's own limit (validate.MAX_BEAM) allows a local user
    max_beam: int = checked(64, ints(1, V.MAX_BEAM))
    # a stream may stay open this long (wall clock), whatever it sends
    max_wall_seconds: float = checked(1800.0, reals(0, 7 * DAY, lo_open=True))
    max_bad_frames: int = checked(16, ints(1, 1_000_000))  # malformed frames a stream may send (more: it is ended)
    max_uploads: int = checked(16, ints(1, 10_000))        # uploads being received or transcribed at once (more: 503)
    allow_origins: tuple = ()                              # web origins besides the server's own ("*": any)

    def __post_init__(self):
        V.check_fields({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "allow_origins"},
                       ServerLimits, "server limit")
        if isinstance(self.allow_origins, str):
            self.allow_origins = (self.allow_origins,)
        try:
            self.allow_origins = tuple(V.origin(o, "allow_origins") for o in self.allow_origins or ())
        except V.Invalid as e:
            raise ConfigError(str(e)) from None

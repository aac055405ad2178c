"""Transcripts written as files: plain text, JSON, and SRT / WebVTT subtitles from word timings.

``write_outputs(segments, name, out_dir, formats)`` writes ``out_dir/<name>.<ext>`` for each
format; ``segments`` are the :class:`~lstm_asr.transcribe.Transcript` objects of one input (one
for a short file, one per segment for a long one). Subtitle cues follow the words: a cue ends after
``MAX_CUE_WORDS`` words, ``MAX_CUE_SECONDS`` seconds, or at a segment's end.

Every file the package writes goes through :func:`write_atomic` (a temporary file in the same
folder, renamed into place; never over an input), and JSON through :func:`dumps` (strict JSON:
a non-finite number becomes null).
"""
from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path

FORMATS = ("txt", "json", "srt", "vtt")
MAX_CUE_WORDS = 8
MAX_CUE_SECONDS = 5.0


def finite(obj):
    """``obj`` with every non-finite float (NaN, +-inf) replaced by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj, **kw) -> str:
    """Strict JSON (no NaN or Infinity, which JSON does not have: they become null)."""
    return json.dumps(finite(obj), allow_nan=False, **{"ensure_ascii": False, **kw})


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one existing file (links and relative paths resolved)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def write_atomic(path, text: str | bytes, mkdir: bool = False, inputs=()) -> Path:
    """Write ``text`` (a str as UTF-8, or bytes) to ``path`` through a temporary file in the same folder renamed into
    place: a reader never sees half a file, and a failed write leaves the old file as it was.
    Refuses (ConfigError, one line) a ``path`` that is a directory, one in a folder that does not
    exist (unless ``mkdir``), and one that is the same file as any of ``inputs``."""
    from .errors import ConfigError
    path = Path(path)
    for src in inputs:
        if same_file(path, src):
            raise ConfigError(f"{path}: is an input ({src}); refusing to write over it")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file name to write")
    folder = path.parent
    try:
        if mkdir:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise ConfigError(f"{path}: cannot write: no such directory {folder}")
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(text.encode("utf-8") if isinstance(text, str) else text)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError as e:
        raise ConfigError(f"{path}: cannot write ({e.strerror or type(e).__name__})") from None
    return path


def cues(segments) -> list[tuple[float, float, str]]:
    """(start, end, text) subtitle cues from the segments' word timings (a segment without word
    timings is one cue spanning the segment)."""
    out = []
    for seg in segments:
        if not seg.text:
            continue
        if not seg.words:
            out.append((seg.start, seg.end or seg.start + seg.duration, seg.text))
            continue
        group: list[dict] = []
        for w in seg.words:
            if group and (len(group) >= MAX_CUE_WORDS or w["end"] - group[0]["start"] > MAX_CUE_SECONDS):
                out.append((group[0]["start"], group[-1]["end"], " ".join(x["word"] for x in group)))
                group = []
            group.append(w)
        out.append((group[0]["start"], group[-1]["end"], " ".join(x["word"] for x in group)))
    return out


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(segments) -> str:
    return "".join(f"{k}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n\n"
                   for k, (a, b, text) in enumerate(cues(segments), 1))


def to_vtt(segments) -> str:
    return "WEBVTT\n\n" + "".join(f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n\n" for a, b, text in cues(segments))


def to_txt(segments) -> str:
    return " ".join(s.text for s in segments if s.text) + "\n"


def to_json(segments, audio: str) -> str:
    return dumps({"audio": audio, "text": " ".join(s.text for s in segments if s.text),
                       "segments": [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
                                     "words": s.words} for s in segments]}, indent=1) + "\n"


def json_line(audio: str, t, segment: bool = False) -> str:
    """The line ``lstm-asr transcribe --json`` prints for an input's Transcript ``t``
    (``{"audio", "text", "duration"}``) or, with ``segment``, for one segment of a long input
    (``start`` and ``end`` instead of the duration); ``words`` and ``nbest`` when there are any."""
    obj = {"audio": audio, "text": t.text}
    if segment:
        obj.update(start=round(t.start, 3), end=round(t.end, 3))
    else:
        obj["duration"] = round(t.duration, 3)
    if t.words:
        obj["words"] = t.words
    if t.nbest:
        obj["nbest"] = t.nbest
    return dumps(obj)


def clash(outputs, inputs) -> str | None:
    """The first of ``outputs`` ((path, the input it is written for) pairs) that is one of ``inputs``
    or would be written for two inputs, as a message; None when there is none."""
    for o, _ in outputs:
        for i in inputs:
            if same_file(o, i):
                return f"{o}: is also an input ({i}); refusing to write over it"
    first: dict = {}
    for o, p in outputs:
        if first.setdefault(o, p) != p:
            return f"{o}: both {first[o]} and {p} would be written there (give them different names)"
    return None


def output_paths(audio: str, out_dir, formats) -> list[Path]:
    """The files :func:`write_outputs` writes for input ``audio``."""
    stem = "stdin" if audio == "-" else Path(audio).stem
    return [Path(out_dir) / f"{stem}.{fmt}" for fmt in formats]


def write_outputs(segments, audio: str, out_dir, formats) -> list[Path]:
    """Write one file per format for one input (never over the input itself); returns the paths
    written."""
    from .errors import ConfigError
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{out_dir}: cannot create the output directory ({e.strerror or type(e).__name__})") from None
    written = []
    for fmt in formats:
        text = {"txt": lambda: to_txt(segments), "json": lambda: to_json(segments, audio),
                "srt": lambda: to_srt(segments), "vtt": lambda: to_vtt(segments)}[fmt]()
        path = output_paths(audio, out_dir, [fmt])[0]
        written.append(write_atomic(path, text, inputs=() if audio == "-" else (audio,)))
    return written

"""Transcripts written as files: plain text, JSON, and SRT / WebVTT subtitles from word timings.

``write_outputs(segments, name, out_dir, formats)`` writes ``out_dir/<name>.<ext>`` for each
format; ``segments`` are the :class:`~lstm_asr.transcribe.Transcript` objects of one input (one
for a short file, one per segment for a long one). Subtitle cues follow the words: a cue ends after
``MAX_CUE_WORDS`` words, ``MAX_CUE_SECONDS`` seconds, or at a segment's end.
"""
from __future__ import annotations

import json
from pathlib import Path

FORMATS = ("txt", "json", "srt", "vtt")
MAX_CUE_WORDS = 8
MAX_CUE_SECONDS = 5.0


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
    return json.dumps({"audio": audio, "text": " ".join(s.text for s in segments if s.text),
                       "segments": [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
                                     "words": s.words} for s in segments]}, ensure_ascii=False, indent=1) + "\n"


def write_outputs(segments, audio: str, out_dir, formats) -> list[Path]:
    """Write one file per format for one input; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "stdin" if audio == "-" else Path(audio).stem
    written = []
    for fmt in formats:
        text = {"txt": lambda: to_txt(segments), "json": lambda: to_json(segments, audio),
                "srt": lambda: to_srt(segments), "vtt": lambda: to_vtt(segments)}[fmt]()
        path = out_dir / f"{stem}.{fmt}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

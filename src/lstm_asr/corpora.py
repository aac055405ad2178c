"""Import real corpora into JSON Lines manifests: LibriSpeech, Common Voice, Kaldi data dirs.

Each row is ``{"audio", "text", "speaker", "duration"}``: the audio path relative to the manifest,
the transcript normalised as training reads it (:func:`lstm_asr.text.normalize_text`), the
corpus's speaker id, and the audio's duration in seconds (from the file's header). Kaldi segments
add ``"start"`` and ``"end"`` (seconds in the recording); lstm-asr's manifest reader does not cut
audio, so for training run with ``cut=DIR``, which writes each segment as its own FLAC file.

The corpora are read line by line and the manifest written as they are read (to a temporary file
renamed into place at the end), so memory stays flat whatever the corpus's size; only a Kaldi dir's
``wav.scp`` (one line per recording) is held. A malformed line raises :class:`ManifestError`
("FILE:LINE: reason"), or with ``on_error="skip"`` is reported through ``log`` and skipped.
A directory that is not a corpus of the asked layout raises :class:`UsageError`.

    >>> import_corpus("librispeech", "LibriSpeech/dev-clean", "data/dev-clean.jsonl")
    ImportSummary(rows=2703, skipped=0, seconds=19452.3, out=...)
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError, ManifestError
from .text import normalize_text

KINDS = ("librispeech", "commonvoice", "kaldi")
AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3", ".opus")


class UsageError(ConfigError):
    """The command was asked for something that cannot be done (not a corpus of that layout, an
    option the layout does not take): the CLI exits 2."""


@dataclass
class ImportSummary:
    rows: int
    skipped: int
    seconds: float          # total duration of the rows written
    out: Path


@dataclass
class _Row:
    """One utterance found in a corpus, not yet checked against its audio."""
    where: tuple[Path, int]          # the corpus file and line it came from
    audio: Path
    text: str
    speaker: str | None
    start: float | None = None       # Kaldi segments (seconds)
    end: float | None = None         # None or < 0: the recording's end
    utt: str | None = None


# -- LibriSpeech ------------------------------------------------------------------------------------

def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order, one directory at a time (no list of the whole tree)."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(folder) / name


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) of a UTF-8 text file, streamed; ManifestError for
    bytes that are not UTF-8."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ManifestError(path, 0, f"cannot read ({e.strerror or e})") from None
    with f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise ManifestError(path, n, f"not UTF-8 text (byte {e.start + 1} of the line)") from None
            yield n, line.removeprefix("\ufeff") if n == 1 else line


def librispeech(root: Path, **_) -> Iterator[_Row | ManifestError]:
    """SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt with lines "SPEAKER-CHAPTER-UTT TRANSCRIPT" and
    the audio beside it (UTT-ID.flac). ``root``: the LibriSpeech folder, one subset, or a speaker."""
    found = False
    for path in _walk(root):
        if not path.name.endswith(".trans.txt"):
            continue
        found = True
        for n, line in _lines(path):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) < 2:
                yield ManifestError(path, n, f"expected 'UTTERANCE-ID TRANSCRIPT', got {line.strip()[:60]!r}")
                continue
            utt, text = parts
            audio = next((path.parent / (utt + s) for s in AUDIO_SUFFIXES if (path.parent / (utt + s)).is_file()),
                         path.parent / (utt + ".flac"))
            yield _Row((path, n), audio, text, utt.split("-")[0], utt=utt)
    if not found:
        raise UsageError(f"{root}: no *.trans.txt files: not a LibriSpeech folder (SPEAKER/CHAPTER/"
                         "SPEAKER-CHAPTER.trans.txt beside the .flac files)")


# -- Common Voice -----------------------------------------------------------------------------------

def commonvoice(root: Path, split: str | None = None, **_) -> Iterator[_Row | ManifestError]:
    """A Common Voice language folder: SPLIT.tsv (columns path, sentence, client_id, ...; default
    validated.tsv, else train.tsv) and clips/ with the audio."""
    names = [split] if split else ["validated", "train"]
    tsv = next((root / f"{s.removesuffix('.tsv')}.tsv" for s in names if (root / f"{s.removesuffix('.tsv')}.tsv").is_file()), None)
    if tsv is None:
        want = f"{split.removesuffix('.tsv')}.tsv" if split else "validated.tsv or train.tsv"
        raise UsageError(f"{root}: no {want}: not a Common Voice language folder")
    clips = root / "clips"
    lines = _lines(tsv)
    try:
        n, header = next(lines)
    except StopIteration:
        raise UsageError(f"{tsv}: empty file (expected a header line with path, sentence, client_id)") from None
    columns = header.split("\t")
    missing = [c for c in ("path", "sentence") if c not in columns]
    if missing:
        raise UsageError(f"{tsv}:1: no column {', '.join(missing)} in the header (expected path, sentence, client_id)")
    at = {c: columns.index(c) for c in ("path", "sentence", "client_id") if c in columns}
    for n, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")  # Common Voice's TSVs are unquoted: a quote is part of the sentence
        if len(fields) != len(columns):
            yield ManifestError(tsv, n, f"{len(fields)} tab-separated fields, the header has {len(columns)}")
            continue
        name = fields[at["path"]]
        if not name or "\0" in name:
            yield ManifestError(tsv, n, "empty 'path'")
            continue
        speaker = fields[at["client_id"]] if "client_id" in at else None
        yield _Row((tsv, n), clips / name, fields[at["sentence"]], speaker or None, utt=Path(name).stem)


# -- Kaldi ------------------------------------------------------------------------------------------

def _keyed(path: Path, required: bool, fields: int | None = None,
           least: int = 2) -> Iterator[tuple[int, str, list[str]]]:
    """(line, key, the rest split) of a Kaldi table file, checking that keys ascend (Kaldi sorts
    them, LC_ALL=C sort, which is Python's string order): a line out of order, or with other than
    ``fields`` (at least ``least``) fields, raises ManifestError (the table cannot be joined)."""
    if not path.is_file():
        if required:
            raise UsageError(f"{path.parent}: no {path.name}: not a Kaldi data directory")
        return
    last = None
    for n, line in _lines(path):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < least or (fields and len(parts) != fields):
            raise ManifestError(path, n, f"expected {fields or f'at least {least}'} whitespace-separated fields, "
                                f"got {len(parts)}")
        if last is not None and parts[0] <= last:
            raise ManifestError(path, n, f"key {parts[0]!r} is not after {last!r}: Kaldi tables are sorted "
                                "(LC_ALL=C sort) and their keys unique (utils/fix_data_dir.sh)")
        last = parts[0]
        yield n, parts[0], parts[1:]


class _Lookup:
    """Merge-join lookups into a sorted Kaldi table by ascending keys, reading it once, in step."""

    def __init__(self, path: Path, required: bool, fields: int | None = None):
        self.path = path
        self.it = _keyed(path, required, fields)
        self.present = path.is_file()
        self.head = next(self.it, None)

    def get(self, key: str):
        """The (line, rest) for ``key``, or None; keys asked for must ascend."""
        while self.head is not None and self.head[1] < key:
            self.head = next(self.it, None)
        if self.head is not None and self.head[1] == key:
            return self.head[0], self.head[2]
        return None


def _recordings(path: Path, base: Path) -> dict[str, Path | ManifestError]:
    """wav.scp: recording id -> audio path (relative paths: from the current directory, Kaldi's
    convention, else from the data dir), or the error of its line (a piped command)."""
    out: dict[str, Path | ManifestError] = {}
    for n, line in _lines(path):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) < 2:
            raise ManifestError(path, n, "expected 'RECORDING-ID PATH'")
        rec, value = parts[0], parts[1].strip()
        if value.endswith("|") or value.startswith("|") or " | " in f" {value} ":
            out[rec] = ManifestError(path, n, f"recording {rec} is a piped command ({value[:60]!r}), which is not "
                                     "supported: run it to write the audio as files and list their paths in wav.scp")
            continue
        if value.count(" ") or (":" in value and value.rsplit(":", 1)[1].isdigit()):
            out[rec] = ManifestError(path, n, f"recording {rec}: {value[:60]!r} is not a plain file path "
                                     "(commands and ark:offset entries are not supported)")
            continue
        p = Path(value)
        if not p.is_absolute() and not p.exists() and (base / p).exists():
            p = base / p
        out[rec] = p.absolute()
    return out


def kaldi(root: Path, **_) -> Iterator[_Row | ManifestError]:
    """A Kaldi data dir: wav.scp (plain paths), text, utt2spk (optional), segments (optional)."""
    text = root / "text"
    if not (root / "wav.scp").is_file() or not text.is_file():
        raise UsageError(f"{root}: no {'wav.scp' if not (root / 'wav.scp').is_file() else 'text'}: not a Kaldi data "
                         "directory (wav.scp, text, utt2spk, optional segments)")
    recs = _recordings(root / "wav.scp", root)
    spk = _Lookup(root / "utt2spk", required=False, fields=2)
    seg = _Lookup(root / "segments", required=False, fields=4)
    for n, utt, words in _keyed(text, required=True, least=1):
        where = (text, n)
        rest = " ".join(words)
        speaker = spk.get(utt)
        if spk.present and speaker is None:
            yield ManifestError(text, n, f"utterance {utt} has no line in utt2spk (read in step with text: both must be sorted, LC_ALL=C sort)")
            continue
        start = end = None
        if seg.present:
            found = seg.get(utt)
            if found is None:
                yield ManifestError(text, n, f"utterance {utt} has no line in segments (read in step with text: both must be sorted, LC_ALL=C sort)")
                continue
            line, (rec, a, b) = found
            try:
                start, end = float(a), float(b)
            except ValueError:
                yield ManifestError(seg.path, line, f"start and end must be seconds, not {a!r} {b!r}")
                continue
            if start < 0 or (end >= 0 and end <= start):
                yield ManifestError(seg.path, line, f"segment {utt}: {a} .. {b} is not a span of time")
                continue
            where = (seg.path, line)
        else:
            rec = utt
        audio = recs.get(rec)
        if audio is None:
            yield ManifestError(*where, f"recording {rec} is not in wav.scp")
            continue
        if isinstance(audio, ManifestError):
            yield audio
            continue
        yield _Row(where, audio, rest, speaker[1][0] if speaker else None, start, end, utt)


READERS: dict[str, Callable[..., Iterator]] = {"librispeech": librispeech, "commonvoice": commonvoice, "kaldi": kaldi}


# -- rows -> manifest -------------------------------------------------------------------------------

def _duration(path: Path) -> float:
    import soundfile as sf
    info = sf.info(str(path))
    return info.frames / info.samplerate if info.samplerate else 0.0


def _cut(row: _Row, cut_dir: Path, total: float) -> tuple[Path, float]:
    """Write a segment of a recording as DIR/UTT.flac; -> (path, duration)."""
    import soundfile as sf
    out = cut_dir / f"{row.utt}.flac"
    with sf.SoundFile(str(row.audio)) as f:
        sr = f.samplerate
        start = int(round(row.start * sr))
        stop = f.frames if row.end is None or row.end < 0 else min(f.frames, int(round(row.end * sr)))
        f.seek(min(start, f.frames))
        data = f.read(max(0, stop - start), dtype="int16", always_2d=True)
    if not len(data):
        raise ValueError(f"segment {row.start:.2f} .. {row.end:.2f} s is outside the recording ({total:.2f} s)")
    sf.write(str(out), data, sr, format="FLAC", subtype="PCM_16")
    return out, len(data) / sr


def _manifest_row(row: _Row, out_dir: Path, cut_dir: Path | None) -> dict:
    """A row -> its manifest dict; ValueError naming what is wrong with it."""
    text = normalize_text(row.text)
    if not text:
        raise ValueError("empty transcript (after normalisation)")
    if not row.audio.is_file():
        raise ValueError(f"audio file not found: {row.audio}")
    try:
        total = _duration(row.audio)
    except Exception as e:  # noqa: BLE001 - soundfile's LibsndfileError / RuntimeError
        raise ValueError(f"audio file {row.audio}: cannot read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    audio, duration, span = row.audio, total, {}
    if row.start is not None:
        end = total if row.end is None or row.end < 0 else row.end
        if cut_dir is not None:
            audio, duration = _cut(row, cut_dir, total)
        else:
            if row.start >= total:
                raise ValueError(f"segment starts at {row.start:.2f} s, after the recording's end ({total:.2f} s)")
            duration = min(end, total) - row.start
            span = {"start": round(row.start, 3), "end": round(min(end, total), 3)}
    if duration <= 0:
        raise ValueError(f"audio file {row.audio}: no samples")
    result = {"audio": os.path.relpath(audio.absolute(), out_dir.absolute()), "text": text}
    if row.speaker is not None:
        result["speaker"] = row.speaker
    result["duration"] = round(duration, 3)
    result.update(span)
    return result


def import_corpus(kind: str, root, out, *, split: str | None = None, cut=None, on_error: str = "stop",
                  progress: bool = False, log: Callable[[str], None] | None = None) -> ImportSummary:
    """Read the corpus ``kind`` ("librispeech", "commonvoice", "kaldi") in folder ``root`` and write
    the manifest ``out`` (JSON Lines, paths relative to it). ``split``: Common Voice's TSV (default
    validated, else train); ``cut``: Kaldi segments are written as files into this folder (for
    training); ``on_error``: "stop" raises the first bad line's ManifestError, "skip" passes each to
    ``log`` and goes on. UsageError for a folder that is not that corpus or an option it does not take."""
    import json

    from tqdm import tqdm

    from .output import same_file
    if kind not in READERS:
        raise UsageError(f"corpus must be one of {', '.join(KINDS)}, not {kind!r}")
    if on_error not in ("stop", "skip"):
        raise UsageError(f"on_error must be 'stop' or 'skip', not {on_error!r}")
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    if split and kind != "commonvoice":
        raise UsageError("--split is for Common Voice (which TSV to read)")
    if cut is not None and kind != "kaldi":
        raise UsageError("--cut is for Kaldi data dirs with a segments file")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; give the manifest's file name")
    for table in ("wav.scp", "text", "utt2spk", "segments"):
        if kind == "kaldi" and (root / table).exists() and same_file(out, root / table):
            raise UsageError(f"{out}: is the corpus's {table}; refusing to write over it")
    out.parent.mkdir(parents=True, exist_ok=True)
    cut_dir = Path(cut) if cut is not None else None
    if cut_dir is not None:
        if kind == "kaldi" and not (root / "segments").is_file():
            raise UsageError(f"--cut: {root} has no segments file (its utterances are whole recordings already)")
        cut_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda message: None)
    rows = skipped = 0
    seconds = 0.0
    warned = False
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f, \
                tqdm(desc=f"importing {kind}", unit=" utt", disable=not progress, leave=False) as bar:
            for item in READERS[kind](root, split=split):
                if isinstance(item, _Row):
                    try:
                        row = _manifest_row(item, out.parent, cut_dir)
                    except ValueError as e:
                        item = ManifestError(item.where[0], item.where[1], str(e))
                if isinstance(item, ManifestError):
                    if on_error == "stop":
                        raise item
                    with tqdm.external_write_mode():
                        log(str(item))
                    skipped += 1
                    continue
                if "start" in row and not warned:
                    with tqdm.external_write_mode():
                        log(f"warning: {root / 'segments'}: rows carry start/end, which lstm-asr's manifest reader does "
                            "not cut (it reads whole files): use --cut DIR to write each segment as a file for training")
                    warned = True
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows += 1
                seconds += row["duration"]
                bar.update()
        if not rows:
            raise ManifestError(root, 0, "no usable utterances" + (f" ({skipped} skipped)" if skipped else ""))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ImportSummary(rows, skipped, round(seconds, 3), out)

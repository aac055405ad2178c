"""JSON Lines manifests, the dataset that reads them, and length-bucketed batches.

A manifest line is ``{"audio": PATH, "text": STR, ...}``; PATH is absolute or relative to the
manifest's folder. Lines end at ``\n`` only (a JSON string may hold U+2028 or U+0085; a
``\r`` before the ``\n`` and a leading UTF-8 byte-order mark are dropped). Bad lines are reported as ``FILE:LINE: reason``: either the first one stops
the run (``on_error="stop"``) or they are skipped and counted (``on_error="skip"``).

Corpora larger than memory: a manifest may be split into shards (:func:`manifest_shards`: a
directory of ``*.jsonl`` files or a glob pattern), each read line by line; an utterance in memory is
its metadata only (path, text, duration, speaker), and :class:`AudioDataset` keeps decoded audio
up to a byte budget, reading the rest from its file on every access.
"""
from __future__ import annotations

import glob
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import soundfile as sf
import torch

from .audio import check_length, load_audio, open_checked
from .segment import trim_silence
from .errors import AudioError, ConfigError, ManifestError
from .text import normalize_text
from .validate import Invalid, real


@dataclass(slots=True)
class Utterance:
    audio: Path
    text: str                 # normalised
    duration: float | None = None
    speaker: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Manifest:
    path: Path
    utterances: list[Utterance]
    skipped: list[str]        # one message per skipped line

    def __len__(self):
        return len(self.utterances)


def read_manifest(path, on_error: str = "stop", require_text: bool = True,
                  check_audio: bool = True, extra: bool = True) -> Manifest:
    """Parse a JSON Lines manifest, line by line (memory holds the utterances, never the whole
    file). Raises :class:`ManifestError` on the first bad line when ``on_error == "stop"``; with
    ``"skip"`` bad lines are listed in ``Manifest.skipped``. ``extra=False`` drops the fields
    other than audio, text, duration and speaker (training keeps no more)."""
    path = Path(path)
    if on_error not in ("stop", "skip"):
        raise ValueError("on_error must be 'stop' or 'skip'")
    utts, skipped = [], []
    try:
        with open(path, "rb") as f:
            # binary lines end at b"\n" only (str.splitlines() would also split at U+2028, U+0085,
            # \x1c... inside JSON strings)
            for n, data in enumerate(f, 1):
                if n == 1:
                    data = data.removeprefix(b"\xef\xbb\xbf")
                try:
                    line = _decoded(path, n, data.removesuffix(b"\n"))
                    if line.strip():
                        utts.append(_parse_line(path, n, line, require_text, check_audio, extra))
                except ManifestError as e:
                    if on_error == "stop":
                        raise
                    skipped.append(str(e))
    except FileNotFoundError:
        raise ManifestError(path, 0, "no such manifest file") from None
    except OSError as e:
        raise ManifestError(path, 0, f"cannot read manifest ({e.strerror or e})") from None
    if not utts:
        raise ManifestError(path, 0, "no usable lines")
    return Manifest(path, utts, skipped)


def manifest_shards(entries, what: str = "train.manifests") -> list[Path]:
    """The manifest files that config entries name, in order: a file is itself, a directory its
    ``*.jsonl`` files (sorted by name), a pattern with ``*``, ``?`` or ``[`` the files it matches
    (sorted; ``**`` crosses folders), e.g. ``data/big/shard-*.jsonl``. A directory or pattern that
    names no file is a :class:`ConfigError` naming it (``what`` says where it was given); a missing
    plain file is reported when it is read."""
    shards: list[Path] = []
    for entry in entries:
        entry = str(entry)
        path = Path(entry)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.jsonl") if p.is_file())
            if not found:
                raise ConfigError(f"{what}: {entry}: a directory with no *.jsonl manifest shard in it")
        elif glob.has_magic(entry):
            found = sorted(Path(p) for p in glob.glob(entry, recursive=True) if Path(p).is_file())
            if not found:
                raise ConfigError(f"{what}: {entry}: no manifest file matches this pattern")
        else:
            found = [path]
        shards += found
    return shards


def _decoded(path: Path, n: int, data: bytes) -> str:
    """One manifest line's bytes (without its \\n, perhaps with a \\r) -> text, or ManifestError."""
    try:
        return data.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(path, n, f"not UTF-8 text (byte {e.start + 1} of the line)") from None


def _parse_line(path: Path, n: int, line: str, require_text: bool, check_audio: bool,
                keep_extra: bool = True) -> Utterance:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ManifestError(path, n, f"not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise ManifestError(path, n, "a line must be a JSON object")
    audio = obj.get("audio")
    if not isinstance(audio, str) or not audio:
        raise ManifestError(path, n, "missing 'audio' path")
    text = obj.get("text", "")
    if not isinstance(text, str):
        raise ManifestError(path, n, "'text' must be a string")
    text = normalize_text(text)
    if require_text and not text:
        raise ManifestError(path, n, "empty 'text'")
    duration = obj.get("duration")
    if duration is not None:
        try:
            duration = real(duration, "'duration'", 0, 24 * 3600, lo_open=True)
        except Invalid as e:
            raise ManifestError(path, n, f"{e} (seconds)") from None
    if "\0" in audio:
        raise ManifestError(path, n, "'audio' path holds a NUL character")
    apath = Path(audio) if Path(audio).is_absolute() else path.parent / audio
    if check_audio:
        try:
            found = apath.is_file()
        except OSError as e:  # e.g. a name too long
            raise ManifestError(path, n, f"audio file {apath}: {e.strerror or e}") from None
        if not found:
            raise ManifestError(path, n, f"audio file not found: {apath}")
    speaker = obj.get("speaker")
    if speaker is not None and not isinstance(speaker, (str, int)):
        raise ManifestError(path, n, "'speaker' must be a string")
    if not keep_extra:
        return Utterance(apath, text, duration, speaker, _NO_EXTRA)
    extra = {k: v for k, v in obj.items() if k not in ("audio", "text", "duration", "speaker")}
    return Utterance(apath, text, duration, speaker, extra)


_NO_EXTRA = MappingProxyType({})  # shared by the utterances read without their extra fields (read-only)


def write_manifest(path, rows: list[dict]) -> None:
    """Write ``rows`` as JSON Lines (to a temporary file renamed into place; see
    :func:`lstm_asr.output.write_atomic`)."""
    from .output import write_atomic
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), mkdir=True)


def load_waves(utts: list[Utterance], on_error: str = "stop", progress: bool = False,
               log=None, max_bytes: float = math.inf) -> tuple[list[Utterance], list[np.ndarray | None]]:
    """Read the utterances' audio (16 kHz mono, leading/trailing silence trimmed) in order while
    the waves read so far hold at most ``max_bytes``; from the first that would not fit on, only
    check each file (its header: it opens, its rate, its length) and give None for its wave, its
    duration taken from the manifest or else the header (untrimmed) -> (the utterances kept, their
    waves or None). An unusable file raises :class:`AudioError` with ``on_error="stop"``; with
    ``"skip"`` it is reported through ``log`` and left out."""
    from tqdm import tqdm
    kept, waves, held, full = [], [], 0, max_bytes <= 0
    for u in tqdm(utts, desc="loading audio", disable=not progress, leave=False):
        try:
            wave = None
            if not full:
                wave = trim_silence(load_audio(u.audio))
                if held + wave.nbytes > max_bytes:  # the first that does not fit: from here on, headers only
                    wave, full = None, True
                else:
                    held += wave.nbytes
            if wave is None:
                seconds = _checked_duration(u.audio)
                if u.duration is None:
                    u.duration = seconds
        except AudioError as e:
            if on_error == "stop":
                raise
            if log is not None:
                log(f"skipped: {e}")
            continue
        kept.append(u)
        waves.append(wave)
    return kept, waves


def _checked_duration(path: Path) -> float:
    """Seconds of audio in ``path`` from its header, after the checks every read makes (the file
    opens and decodes, a supported rate, long enough). Raises :class:`AudioError`."""
    with open_checked(path) as f:
        frames, rate = f.frames, f.samplerate
    check_length(path, frames, rate)
    return frames / rate


class AudioDataset(torch.utils.data.Dataset):
    """Utterances -> (wave (S,) float32 16 kHz, target). Audio is read on access (trimmed of
    leading/trailing silence) and kept in memory while the kept waves hold at most ``cache_bytes``
    (default: no limit); past that, each access reads the file again (lazy reading: memory holds
    the metadata only). ``waves`` are waves already read (None: not read). ``augment`` (a callable
    wave, rng -> wave) runs on every access. ``target`` maps an Utterance to what the loss needs."""

    def __init__(self, utterances: list[Utterance], target, augment=None, seed: int = 0,
                 waves: list[np.ndarray | None] | None = None, cache_bytes: float = math.inf):
        self.utts = utterances
        self.target = target
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.cache_bytes = cache_bytes
        self._cache: dict[int, np.ndarray] = {i: w for i, w in enumerate(waves or []) if w is not None}
        self._held = sum(w.nbytes for w in self._cache.values())

    def __len__(self):
        return len(self.utts)

    def wave(self, i: int) -> np.ndarray:
        wave = self._cache.get(i)
        if wave is None:
            wave = trim_silence(load_audio(self.utts[i].audio))
            if self._held + wave.nbytes <= self.cache_bytes:
                self._cache[i] = wave
                self._held += wave.nbytes
        return wave

    def cached(self) -> int:
        """How many utterances' audio is held in memory."""
        return len(self._cache)

    def duration(self, i: int) -> float:
        d = self.utts[i].duration
        return float(d) if d else len(self.wave(i)) / 16000

    def __getitem__(self, i):
        wave = self.wave(i)
        if self.augment is not None:
            wave = self.augment(wave, self.rng)
        return wave, self.target(self.utts[i])


def bucket_batches(durations: list[float], batch_seconds: float, shuffle: bool, seed: int = 0,
                   max_batch: int = 64) -> list[list[int]]:
    """Group indices of similar duration so padding stays small: sort by duration, cut into batches
    of at most ``batch_seconds`` of padded audio (and ``max_batch`` items), shuffle the batch order."""
    order = sorted(range(len(durations)), key=lambda i: durations[i])
    if shuffle:  # jitter within similar lengths so batches differ between epochs
        rnd = random.Random(seed)
        order = sorted(order, key=lambda i: durations[i] * (1 + 0.1 * rnd.random()))
    batches, cur, longest = [], [], 0.0
    for i in order:
        longest_new = max(longest, durations[i])
        if cur and (longest_new * (len(cur) + 1) > batch_seconds or len(cur) >= max_batch):
            batches.append(cur)
            cur, longest_new = [], durations[i]
        cur.append(i)
        longest = longest_new
    if cur:
        batches.append(cur)
    if shuffle:
        random.Random(seed + 1).shuffle(batches)
    return batches


def pad_waves(waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(S_i,) float32] -> (B, S_max) zero-padded batch, (B,) int64 lengths."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    batch = torch.zeros(len(waves), int(lengths.max()) if len(waves) else 0)
    for k, w in enumerate(waves):
        batch[k, : len(w)] = torch.from_numpy(np.ascontiguousarray(w))
    return batch, lengths


def collate(items):
    """[(wave, target)] -> waves (B, S_max) zero-padded, lengths (B,), targets as a list."""
    batch, lengths = pad_waves([w for w, _ in items])
    return batch, lengths, [t for _, t in items]




def make_sequences(utts: list[Utterance], out_dir, n: int, min_words: int = 2, max_words: int = 7,
                   pause_s: tuple = (0.05, 0.35), seed: int = 0, prefix: str = "seq") -> list[dict]:
    """Build ``n`` connected sequences (like phone numbers) from single-word recordings.

    Each sequence takes 2-7 recordings of one speaker, silence-trimmed, joined by short pauses that
    carry a faint noise floor, and is written as a 16 kHz wav into ``out_dir``. Returns manifest
    rows ``{"audio", "text", "duration", "speaker", "words": [{"word", "start", "end"}]}`` whose
    word spans (seconds) are exact, so they can check timestamps."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    by_speaker: dict = {}
    for u in utts:
        by_speaker.setdefault(u.speaker, []).append(u)
    speakers = sorted(by_speaker, key=str)
    cache: dict[Path, np.ndarray] = {}
    rows = []
    for k in range(n):
        pool = by_speaker[speakers[rng.integers(len(speakers))]]
        picks = [pool[j] for j in rng.integers(len(pool), size=int(rng.integers(min_words, max_words + 1)))]
        pieces, words, t = [], [], 0
        lead = int(rng.uniform(*pause_s) * 16000)
        for j, u in enumerate(picks):
            if u.audio not in cache:
                cache[u.audio] = trim_silence(load_audio(u.audio), margin_s=0.02)
            w = cache[u.audio]
            gap = lead if j == 0 else int(rng.uniform(*pause_s) * 16000)
            pieces += [np.zeros(gap, np.float32), w]
            t += gap
            words.append({"word": u.text, "start": round(t / 16000, 3), "end": round((t + len(w)) / 16000, 3)})
            t += len(w)
        pieces.append(np.zeros(int(rng.uniform(*pause_s) * 16000), np.float32))
        wave = np.concatenate(pieces)
        level = np.sqrt(np.mean(wave.astype(np.float64) ** 2)) * 10 ** (-55 / 20)
        wave = np.clip(wave + rng.standard_normal(len(wave)).astype(np.float32) * level, -1, 1)
        name = f"{prefix}_{k:05d}.wav"
        sf.write(str(out_dir / name), wave, 16000, subtype="PCM_16")
        rows.append({"audio": name, "text": " ".join(w["word"] for w in words),
                     "duration": round(len(wave) / 16000, 3), "speaker": picks[0].speaker, "words": words})
    return rows

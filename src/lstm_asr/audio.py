"""Audio in: any file soundfile reads, any rate or channel count -> float32 mono at 16 kHz.

Every input path of the library goes through this module: :func:`load_audio` (a whole file),
:func:`stream_audio` (a file of any duration, block by block, in flat memory),
:func:`to_model_input` (arrays) and :func:`read_stream` (any of them as a stream of chunks), so
every caller gets the same validation and the same clear errors (``PATH: reason``). Where the
speech is in that audio is :mod:`lstm_asr.segment`'s job.
"""
from __future__ import annotations

import os
import stat
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError, ConfigError
from .validate import MAX_SAMPLE_RATE as MAX_RATE
from .validate import MIN_SAMPLE_RATE as MIN_RATE
from .validate import Invalid
from .validate import sample_rate as _check_rate

SAMPLE_RATE = 16000
MIN_SECONDS = 0.025  # one 25 ms analysis window
TRUNCATED = "truncated file: the header promises more audio than the file holds"
MAX_SAMPLE = 2.0 ** 31  # float samples beyond int32 full scale are not audio (float audio is in -1..1)


def resample(wave: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """(S,) float32 at ``rate_in`` -> (S * rate_out / rate_in,) float32 at ``rate_out`` (soxr, HQ)."""
    if rate_in == rate_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def to_model_input(wave, sample_rate: int | None, name: object = "<array>") -> np.ndarray:
    """Validate an in-memory signal and bring it to float32 mono at 16 kHz.

    ``wave`` is (S,) or (S, channels) with fewer channels than samples; integer arrays are scaled
    to [-1, 1], float samples must be finite and within +-2^31. ``sample_rate`` (Hz, a whole number
    in 1000..384000; None: the array is already at 16 kHz). Raises :class:`AudioError` naming ``name``.
    """
    try:
        rate = SAMPLE_RATE if sample_rate is None else _check_rate(sample_rate)
    except Invalid as e:
        raise AudioError(name, str(e)) from None
    wave = to_mono(wave, name)
    check_length(name, wave.size, rate)
    return resample(wave, rate)


def to_mono(wave, name: object = "<array>", chunk: bool = False) -> np.ndarray:
    """(S,) or (S, channels) samples -> (S,) float32: integer samples scaled to [-1, 1], float
    samples checked (finite, within +-2^31), channels averaged. A whole signal (``chunk`` False)
    must have samples, and fewer channels than samples (a (channels, samples) array is refused with
    a hint); a ``chunk`` of a live stream may be empty or tiny. Raises :class:`AudioError`."""
    try:
        wave = np.asarray(wave)
    except (ValueError, TypeError) as e:  # e.g. ragged nested lists
        raise AudioError(name, f"not an array of samples ({_short(e)})") from None
    if wave.dtype.kind not in "iuf":
        raise AudioError(name, f"unsupported sample type {wave.dtype} (expected integer or float samples)")
    if not chunk and wave.ndim == 2 and wave.shape[1] >= wave.shape[0] and wave.size:
        raise AudioError(name, f"shape {wave.shape} is not (samples, channels) with fewer channels than samples"
                         + ("; a (channels, samples) array must be transposed (wave.T)"
                            if wave.shape[0] <= 16 else ""))
    if wave.ndim not in (1, 2):
        raise AudioError(name, f"expected (samples,) or (samples, channels), got shape {wave.shape}")
    if wave.size == 0 and not chunk:
        raise AudioError(name, "contains no samples")
    if wave.dtype.kind in "iu":
        info = np.iinfo(wave.dtype)
        wave = (wave.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    check_samples(name, wave)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    return wave.astype(np.float32, copy=False)


def check_samples(name: object, wave: np.ndarray) -> None:
    """Raise :class:`AudioError` unless every float sample is finite and within +-:data:`MAX_SAMPLE`."""
    if not np.all(np.isfinite(wave)):
        raise AudioError(name, "contains NaN or infinite samples")
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > MAX_SAMPLE:
        raise AudioError(name, f"samples out of range (peak {peak:.3g}; float audio is expected in -1..1, "
                         "and at most +-2^31 is accepted)")


def check_length(name: object, frames: int, rate: int) -> None:
    """Raise :class:`AudioError` unless ``frames`` samples at ``rate`` make at least one analysis window."""
    if frames < MIN_SECONDS * rate:
        raise AudioError(name, f"too short: {frames / rate:.4f} s (at least {MIN_SECONDS} s is needed)")


@contextmanager
def open_checked(path: str | os.PathLike) -> Iterator[sf.SoundFile]:
    """``with open_checked(path) as f:`` an open :class:`soundfile.SoundFile` for reading.

    Checks that ``path`` is a non-empty regular file that can be opened first; any OS error
    (permission, name too long, I/O) becomes ``AudioError(path, reason)``, and a decoder error
    raised while opening or while reading inside the ``with`` block becomes
    ``AudioError(path, "not a readable audio file (...)")``. Any file name works, UTF-8 or not.
    The MP3 decoder's own messages are kept off standard error. Shared by :func:`read_file` and
    the block-by-block reader :func:`stream_audio`.
    """
    path = Path(os.fsdecode(path))
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise AudioError(path, "no such file") from None
    except OSError as e:
        raise AudioError(path, _os_reason(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(path, "not a regular file (a pipe or a device): give a file, or - for standard input")
    if st.st_size == 0:
        raise AudioError(path, "empty file")
    try:
        os.close(os.open(path, os.O_RDONLY))  # the system's own reason (permission, ...)
    except OSError as e:
        raise AudioError(path, _os_reason(e)) from None
    try:
        with _decoder_quiet():
            f = sf.SoundFile(os.fsencode(path))  # bytes: names that are not UTF-8 too
    except (RuntimeError, ValueError, EOFError, TypeError) as e:  # LibsndfileError, compressed formats
        raise AudioError(path, f"not a readable audio file ({_decoder_reason(e)})") from None
    except OSError as e:
        raise AudioError(path, _os_reason(e)) from None
    try:
        with f:
            try:
                _check_rate(f.samplerate)
            except Invalid:  # e.g. a header saying 1 Hz: resampling it would need 16000 times the memory
                raise AudioError(path, f"unsupported sample rate {f.samplerate} Hz (accepted: "
                                 f"{MIN_RATE}..{MAX_RATE} Hz)") from None
            yield _QuietReads(f) if f.format == "MP3" else f
    except (RuntimeError, ValueError, EOFError) as e:  # decoders of compressed formats
        raise AudioError(path, f"not a readable audio file ({_decoder_reason(e)})") from None
    except OSError as e:
        raise AudioError(path, _os_reason(e)) from None


def _os_reason(e: OSError) -> str:
    return f"cannot read the file ({e.strerror or type(e).__name__})"


def _decoder_reason(e: Exception) -> str:
    return (getattr(e, "error_string", None) or _short(e)).strip().rstrip(".")


_quiet_lock = threading.Lock()
_quiet = {"depth": 0, "saved": None}  # nested or concurrent quiet sections share one redirection


@contextmanager
def _decoder_quiet():
    """Send what C libraries write to file descriptor 2 (libmpg123's warnings about damaged MP3s)
    to /dev/null for the duration; errors are reported by the caller as one line instead.
    Thread-safe: descriptor 2 comes back when the last of overlapping sections ends."""
    with _quiet_lock:
        if _quiet["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
                _quiet["saved"] = saved
            except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to hide
                _quiet["saved"] = None
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] is not None:
                os.dup2(_quiet["saved"], 2)
                os.close(_quiet["saved"])
                _quiet["saved"] = None


class _QuietReads:
    """A :class:`soundfile.SoundFile` whose reads and seeks run under :func:`_decoder_quiet`."""

    def __init__(self, f: sf.SoundFile):
        self._f = f

    def __getattr__(self, name):
        return getattr(self._f, name)

    def read(self, *args, **kw):
        with _decoder_quiet():
            return self._f.read(*args, **kw)

    def seek(self, *args, **kw):
        with _decoder_quiet():
            return self._f.seek(*args, **kw)


def read_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as it is: (S, channels) float32 and its sample rate. Raises :class:`AudioError`."""
    path = Path(os.fsdecode(path))
    with open_checked(path) as f:
        expected = f.frames
        data = f.read(dtype="float32", always_2d=True)
        rate = f.samplerate
    if _fewer_frames(expected, len(data)) or _cut_short(path):
        raise AudioError(path, TRUNCATED)
    return data, rate


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` and return (S,) float32 mono at 16 kHz. Raises :class:`AudioError`."""
    data, rate = read_file(path)
    return to_model_input(data, rate, name=path)


def stream_audio(path: str | os.PathLike, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Yield the file at ``path`` as float32 mono 16 kHz chunks (about ``block_seconds`` each).

    Reads ``block_seconds`` of the file at a time (channels are averaged, as
    :func:`lstm_asr.audio.load_audio` does) and resamples with a streaming soxr resampler (HQ), so
    memory does not grow with the duration. The concatenated chunks equal ``load_audio(path)`` up
    to resampler rounding. Raises :class:`AudioError` (``"PATH: reason"``, the same reasons as
    ``load_audio``) for a missing, empty, unreadable, truncated, too short or non-finite file;
    errors found late in the file are raised when the reader gets there, before the last chunk.
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, got {block_seconds}")
    path = Path(path)
    with open_checked(path) as f:
        rate, expected = f.samplerate, f.frames
        if _cut_short(path):  # checked once, before decoding: a WAV data chunk or Ogg pages cut short
            raise AudioError(path, TRUNCATED)
        block = max(1, int(round(block_seconds * rate)))
        resample = StreamResampler(rate)
        total = 0
        pending = None  # one block read ahead, so the last one is known (and checked) before it is yielded
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            last = len(data) == 0
            if not last:
                total += len(data)
                mono = data.mean(axis=1)
                check_samples(path, mono)
            if pending is not None:
                if last:
                    if total == 0:
                        raise AudioError(path, "contains no samples")
                    check_length(path, total, rate)
                    if _fewer_frames(expected, total):
                        raise AudioError(path, TRUNCATED)
                out = resample(pending, last=last)
                if len(out):
                    yield out.astype(np.float32, copy=False)
            if last:
                break
            pending = mono
        if total == 0:
            raise AudioError(path, "contains no samples")


class StreamResampler:
    """Any rate -> 16 kHz, chunk by chunk (soxr's streaming resampler, HQ): the chunks' outputs,
    joined, do not depend on how the input was cut. Used by :func:`stream_audio` and by live
    streams (:class:`lstm_asr.streaming.StreamingRecognizer`). ConfigError for a rate that is
    not a whole number of Hz in 1 kHz..384 kHz."""

    def __init__(self, sample_rate: int):
        if not isinstance(sample_rate, (int, np.integer)):
            raise ConfigError(f"sample rate must be an integer number of Hz, not {sample_rate!r}")
        try:
            self.rate = _check_rate(sample_rate)
        except Invalid as e:
            raise ConfigError(str(e)) from None
        self._soxr = (None if self.rate == SAMPLE_RATE
                      else soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ"))

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._soxr is None:
            return x
        return self._soxr.resample_chunk(x, last=last).astype(np.float32, copy=False)


def duration_of(path: str | os.PathLike) -> float:
    """Duration in seconds from the file's header (no audio is decoded). Raises :class:`AudioError`."""
    with open_checked(path) as f:
        return f.frames / f.samplerate



def read_stream(source, sample_rate: int | None = None, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Any input as a stream of float32 mono 16 kHz chunks: a path is read block by block
    (:func:`stream_audio`), an in-memory (S,) / (S, channels) array at ``sample_rate`` (None: 16 kHz)
    is validated and converted (:func:`to_model_input`) and comes out as one chunk."""
    if isinstance(source, (str, os.PathLike)):
        yield from stream_audio(source, block_seconds)
    else:
        yield to_model_input(source, sample_rate)


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def _ogg_truncated(path: Path) -> bool:
    """An Ogg file (Vorbis, Opus, FLAC in Ogg) cut short: its last page is incomplete, or a
    logical stream that began (BOS flag) never ends (no page with the EOS flag). Pages are walked
    through their headers only (a few bytes each)."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"OggS":
                return False
            size = os.fstat(f.fileno()).st_size
            pos, open_streams = 0, set()
            while pos < size:
                f.seek(pos)
                head = f.read(27)
                if len(head) < 27:
                    return True
                if head[:4] != b"OggS":
                    return False  # not a page: trailing data this check does not judge
                flags, serial, nseg = head[5], head[14:18], head[26]
                table = f.read(nseg)
                if len(table) < nseg:
                    return True
                pos += 27 + nseg + sum(table)
                if pos > size:
                    return True
                if flags & 2:
                    open_streams.add(serial)
                if flags & 4:
                    open_streams.discard(serial)
            return bool(open_streams)
    except OSError:
        return False


def _fewer_frames(expected_frames: int, read_frames: int) -> bool:
    """Whether libsndfile returned fewer frames than the header declares."""
    return 0 < expected_frames and read_frames < expected_frames


def _cut_short(path: Path) -> bool:
    """Whether the file's structure says it was cut short where libsndfile silently shortens the
    audio instead of failing: a WAV's data chunk declares more bytes than the file holds, or an
    Ogg stream does not reach its last page."""
    if _ogg_truncated(path):
        return True
    if path.suffix.lower() not in (".wav", ".wave"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos = 12
        while pos + 8 <= len(head):
            chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
            if chunk == b"data":
                return pos + 8 + size > path.stat().st_size and size != 0xFFFFFFFF
            pos += 8 + size + (size & 1)
    except OSError:
        return False
    return False

"""Audio in: any file soundfile reads, any rate or channel count -> float32 mono at 16 kHz.

Every input path of the library goes through :func:`load_audio` (files) or :func:`to_model_input`
(arrays), so every caller gets the same validation and the same clear errors (``PATH: reason``).
:func:`trim_silence` removes leading and trailing silence of any length with an energy check.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

SAMPLE_RATE = 16000
MIN_SECONDS = 0.025  # one 25 ms analysis window


def resample(wave: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """(S,) float32 at ``rate_in`` -> (S * rate_out / rate_in,) float32 at ``rate_out`` (soxr, HQ)."""
    if rate_in == rate_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def to_model_input(wave, sample_rate: int | None, name: object = "<array>") -> np.ndarray:
    """Validate an in-memory signal and bring it to float32 mono at 16 kHz.

    ``wave`` is (S,) or (S, channels); integer arrays are scaled to [-1, 1]. ``sample_rate`` None
    means the array is already at 16 kHz. Raises :class:`AudioError` naming ``name``.
    """
    wave = np.asarray(wave)
    if wave.dtype.kind in "iu":
        info = np.iinfo(wave.dtype)
        wave = (wave.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    elif wave.dtype.kind != "f":
        raise AudioError(name, f"unsupported sample type {wave.dtype}")
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    elif wave.ndim != 1:
        raise AudioError(name, f"expected a 1-D signal or (samples, channels), got shape {wave.shape}")
    if wave.size == 0:
        raise AudioError(name, "contains no samples")
    if not np.all(np.isfinite(wave)):
        raise AudioError(name, "contains NaN or infinite samples")
    rate = SAMPLE_RATE if sample_rate is None else int(sample_rate)
    if rate <= 0:
        raise AudioError(name, f"invalid sample rate {sample_rate}")
    check_length(name, wave.size, rate)
    return resample(wave.astype(np.float32), rate)


def check_length(name: object, frames: int, rate: int) -> None:
    """Raise :class:`AudioError` unless ``frames`` samples at ``rate`` make at least one analysis window."""
    if frames < MIN_SECONDS * rate:
        raise AudioError(name, f"too short: {frames / rate:.4f} s (at least {MIN_SECONDS} s is needed)")


@contextmanager
def open_checked(path: str | os.PathLike) -> Iterator[sf.SoundFile]:
    """``with open_checked(path) as f:`` an open :class:`soundfile.SoundFile` for reading.

    Checks that ``path`` is a non-empty file first; a decoder error raised while opening or while
    reading inside the ``with`` block becomes ``AudioError(path, "not a readable audio file (...)")``.
    Shared by :func:`read_file` and the block-by-block reader :func:`lstm_asr.segment.stream_audio`.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file")
    try:
        with sf.SoundFile(str(path)) as f:
            yield f
    except sf.LibsndfileError as e:
        raise AudioError(path, f"not a readable audio file ({_short(e)})") from None
    except (RuntimeError, ValueError, EOFError) as e:  # decoders of compressed formats
        raise AudioError(path, f"not a readable audio file ({_short(e)})") from None


def read_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as it is: (S, channels) float32 and its sample rate. Raises :class:`AudioError`."""
    path = Path(path)
    with open_checked(path) as f:
        expected = f.frames
        data = f.read(dtype="float32", always_2d=True)
        rate = f.samplerate
    if _is_truncated(path, expected, len(data)):
        raise AudioError(path, "truncated file: the header promises more audio than the file holds")
    return data, rate


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` and return (S,) float32 mono at 16 kHz. Raises :class:`AudioError`."""
    data, rate = read_file(path)
    return to_model_input(data, rate, name=path)


def frame_energy_db(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(S,) -> (S // hop,) energy in dB of consecutive 10 ms frames, each without its DC offset."""
    hop = sample_rate // 100
    n = len(wave) // hop
    frames = wave[: n * hop].reshape(n, hop).astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def speech_bounds(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold_db: float = 40.0,
                  margin_s: float = 0.1) -> tuple[int, int]:
    """(start, end) sample indices of the part of ``wave`` that is not leading or trailing
    silence: frames (10 ms) more than ``threshold_db`` below the loudest frame are silence, and
    ``margin_s`` of it is kept on each side. Level- and DC-independent. A signal with no frame
    above the threshold (digital silence) is kept whole."""
    hop = sample_rate // 100
    if len(wave) // hop < 3:
        return 0, len(wave)
    energy_db = frame_energy_db(wave, sample_rate)
    loud = np.flatnonzero(energy_db > energy_db.max() - threshold_db)
    if energy_db.max() < -100 or len(loud) == 0:  # digital silence: nothing to anchor on
        return 0, len(wave)
    margin = int(margin_s * sample_rate)
    return max(0, loud[0] * hop - margin), min(len(wave), (loud[-1] + 1) * hop + margin)


def trim_silence(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold_db: float = 40.0,
                 margin_s: float = 0.1) -> np.ndarray:
    """``wave`` without its leading and trailing silence (see :func:`speech_bounds`)."""
    start, end = speech_bounds(wave, sample_rate, threshold_db, margin_s)
    return wave[start:end]


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def _is_truncated(path: Path, expected_frames: int, read_frames: int) -> bool:
    """True when libsndfile returned fewer frames than the header declares, or when a WAV's data
    chunk declares more bytes than the file holds (libsndfile silently shortens those)."""
    if 0 < expected_frames and read_frames < expected_frames:
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

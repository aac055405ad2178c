"""Where a command's audio comes from when it is not a file path: standard input (a whole file,
or raw int16 PCM as it arrives) and the microphone, and a file fed block by block as a live source.

- :class:`stdin_file`: ``lstm-asr transcribe -``: standard input copied to a temporary file, so
  that it takes the one road of every file (errors then name ``-``);
- :func:`live_source`: ``lstm-asr stream``'s input as (sample rate, PCM chunks): a file read block
  by block (as fast as it plays with ``realtime``), raw int16 PCM on standard input, or the
  microphone until Ctrl-C (through ``sounddevice``, when installed).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Iterator

import numpy as np

from .audio import open_checked
from .errors import AudioError, ConfigError


class stdin_file:
    """``with stdin_file(path) as p``: ``p`` is ``path``, or for ``-`` a temporary copy of standard
    input (an AudioError then names ``-``, not the copy)."""

    def __init__(self, path: str):
        self.path, self.tmp = path, None

    def __enter__(self) -> str:
        if self.path != "-":
            return self.path
        self.tmp = tempfile.NamedTemporaryFile(prefix="lstm-asr-stdin-", delete=False)
        self.tmp.write(sys.stdin.buffer.read())
        self.tmp.close()
        return self.tmp.name

    def __exit__(self, kind, err, tb):
        if self.tmp is not None:
            os.unlink(self.tmp.name)
            if isinstance(err, AudioError):
                raise AudioError("-", err.reason.replace(self.tmp.name, "-")) from None
        return False


def live_source(path: str | None, mic: bool = False, rate: int = 16000, chunk: float = 0.1,
                realtime: bool = False) -> tuple[int, Iterator[np.ndarray]]:
    """(sample rate, iterator of PCM chunks of ``chunk`` seconds) of the microphone (``mic``), of raw
    int16 PCM at ``rate`` on standard input (``path`` "-"), or of the audio file ``path``."""
    if mic:
        return microphone(chunk)
    if path == "-":
        return rate, pcm_stdin(max(1, int(chunk * rate)))
    with open_checked(path) as f:
        file_rate = f.samplerate
    return file_rate, file_blocks(path, chunk, realtime)


def microphone(chunk: float) -> tuple[int, Iterator[np.ndarray]]:
    """The default input device at its own rate: int16 chunks until Ctrl-C. ConfigError (naming
    --mic) when there is no audio capture or no device."""
    try:
        import sounddevice as sd
        info = sd.query_devices(kind="input")
    except (ImportError, OSError) as e:  # no PortAudio library
        raise ConfigError(f"--mic: no audio capture available ({e})") from None
    except Exception as e:  # noqa: BLE001 - sounddevice.PortAudioError: no input device
        raise ConfigError(f"--mic: no capture device found ({e})") from None
    rate = int(info["default_samplerate"]) or 16000

    def chunks():
        import queue
        q: queue.Queue = queue.Queue()
        try:
            stream = sd.InputStream(samplerate=rate, channels=1, dtype="int16",
                                    blocksize=int(chunk * rate), callback=lambda d, *_: q.put(d[:, 0].copy()))
        except Exception as e:  # noqa: BLE001 - the device refuses the format
            raise ConfigError(f"--mic: cannot open {info['name']!r} ({e})") from None
        print(f"listening on {info['name']} at {rate} Hz; Ctrl-C ends", file=sys.stderr, flush=True)
        with stream:
            try:
                while True:
                    yield q.get()
            except KeyboardInterrupt:
                return
    return rate, chunks()


def pcm_stdin(block: int) -> Iterator[np.ndarray]:
    """Raw little-endian int16 PCM on standard input, up to ``block`` samples at a time as they
    arrive. An odd byte at the end raises AudioError after every whole sample was given."""
    pending = b""
    read = getattr(sys.stdin.buffer, "read1", sys.stdin.buffer.read)
    while True:
        data = read(2 * block)
        if not data:
            if pending:  # after every whole sample: the caller finishes the stream, then reports it
                raise AudioError("standard input", "raw int16 PCM ended with an odd byte: the last "
                                 "byte is not a whole sample and was ignored")
            return
        data, pending = pending + data, b""
        if len(data) % 2:
            data, pending = data[:-1], data[-1:]
        yield np.frombuffer(data, "<i2")


def file_blocks(path: str, chunk: float, realtime: bool = False) -> Iterator[np.ndarray]:
    """An audio file as mono float32 blocks of ``chunk`` seconds at its own rate; with
    ``realtime`` no faster than it plays."""
    with open_checked(path) as f:
        n = max(1, int(chunk * f.samplerate))
        while True:
            data = f.read(n, dtype="float32", always_2d=True)
            if not len(data):
                return
            if realtime:
                time.sleep(len(data) / f.samplerate)
            yield data.mean(axis=1)

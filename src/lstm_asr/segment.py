"""The speech detector: where speech is, in a stream of 16 kHz audio of any length.

This is the one place that decides speech from silence. :class:`Segmenter` (and
:func:`segment_stream` over it) is an online energy voice-activity segmenter: it cuts a stream into
:class:`Segment` s of at most ``max_seconds`` each and never holds more than about
``max_seconds`` + 2 s of audio, so hours of audio run in flat memory. Every recognition path
(a short clip, an hour-long file, a live stream) is cut by it; :func:`speech_bounds` /
:func:`trim_silence` (trimming training clips) run the same detector over a whole clip::

    for seg in segment_stream(lstm_asr.audio.stream_audio("meeting.flac")):
        print(f"{seg.start:.2f}-{seg.end:.2f}", seg.duration)

How speech is detected (10 ms frames, energy of each frame after removing its DC, in dBFS):
a frame is speech when its energy is

* within ``SPEECH_RANGE_DB`` (``threshold_db``) of a running reference level: the maximum of the
  5-frame median energy, decaying by 2 dB/s (follows level changes, ignores clicks shorter than
  30 ms);
* at least ``FLOOR_MARGIN_DB`` above the noise floor: the minimum frame energy over the last 3 s and
  the next 1 s, not counting digital silence (below ``DIGITAL_SILENCE_DB``) (so a stationary noise floor is never speech,
  even after long pauses when the reference decays, or right after digital silence);
* above ``ABS_FLOOR_DB`` (near-digital silence is never speech).

Decisions lag the input by 1 s (the look-ahead of the noise floor and of the reference level).
A segment opens at the first speech frame and closes after ``min_silence`` of non-speech; it is
padded by ``pad`` on both sides (context for the recogniser), never overlapping the previous
segment, clipped to the stream. A segment that reaches ``max_seconds`` is split at the quietest
frame of its last 3 s (the pieces are adjacent: no audio is lost). Segments with less than
``min_speech`` of speech are dropped. Each segment carries its frames' speech decisions forward
(``Segment.speech``), so later stages never go back to the waveform. The detector depends only on
level ratios, so scaling the input by a constant gives the same segments as long as the speech
stays well above -80 dBFS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .audio import SAMPLE_RATE

HOP = SAMPLE_RATE // 100  # one 10 ms frame, in samples
SPEECH_RANGE_DB = 35.0  # speech is within this much of the running reference level
ABS_FLOOR_DB = -80.0  # frames below this (dBFS) are never speech
DIGITAL_SILENCE_DB = -100.0  # frames below this are digital silence: not a noise floor
FLOOR_MARGIN_DB = 6.0  # speech must be this far above the noise floor
REF_DECAY_DB_PER_S = 2.0  # decay of the running reference level
LOOKAHEAD_S = 1.0  # decisions wait for this much audio after the frame
FLOOR_WINDOW_S = 3.0  # noise floor: minimum over this much past audio (+ the look-ahead)
SPLIT_SEARCH_S = 3.0  # a forced split happens at the quietest frame of the segment's last 3 s
PIECE = SAMPLE_RATE  # input is processed at most 1 s at a time
# Recognition defaults, chosen on the digits-commands recipe's test sets (recipes/digits-commands/
# README.md): a segment ends after 0.6 s without speech (shorter pauses stay inside, so connected
# words keep their context) and keeps 0.1 s of context on each side (the margin the models were
# trained with: wider pads cost 3-6 points of WER on digit strings); at most 20 s.
MAX_SEGMENT_S = 20.0
MIN_SILENCE_S = 0.6
PAD_S = 0.1
MIN_SPEECH_S = 0.1


def frame_energy_db(wave: np.ndarray) -> np.ndarray:
    """(S,) 16 kHz -> (S // HOP,) energy in dBFS of consecutive 10 ms frames, each without its DC."""
    n = len(wave) // HOP
    frames = wave[: n * HOP].reshape(n, HOP).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


# ---------------------------------------------------------------- segmenting

@dataclass
class Segment:
    """A stretch of speech: ``audio`` is the 16 kHz float32 signal of [start, end) seconds of the
    stream; ``speech`` the detector's decision for each of its 10 ms frames (len(audio) // 160)."""
    start: float
    end: float
    audio: np.ndarray
    speech: np.ndarray | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


class _Buffer:
    """The samples [start, end) of the stream (absolute indices) in one growable array."""

    def __init__(self, capacity: int):
        self.data = np.zeros(capacity, np.float32)
        self.start = self.end = 0  # absolute sample indices
        self.offset = 0  # data[offset] holds sample `start`

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, x: np.ndarray) -> None:
        n, used = len(x), len(self)
        if self.offset + used + n > len(self.data):
            if used + n > len(self.data):  # grow
                data = np.zeros(max(2 * len(self.data), used + n), np.float32)
            else:  # move the kept samples to the front
                data = self.data
            data[:used] = self.data[self.offset:self.offset + used]
            self.data, self.offset = data, 0
        self.data[self.offset + used:self.offset + used + n] = x
        self.end += n

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) (absolute), a view."""
        assert self.start <= a <= b <= self.end, (a, b, self.start, self.end)
        return self.data[self.offset + a - self.start:self.offset + b - self.start]

    def drop_before(self, a: int) -> None:
        a = min(max(a, self.start), self.end)
        self.offset += a - self.start
        self.start = a


class Segmenter:
    """Online speech segmenter: :meth:`feed` 16 kHz chunks, then :meth:`flush`; both return the
    :class:`Segment` s completed so far. See :func:`segment_stream` for the parameters and the
    module docstring for the method. ``peak_buffered_seconds`` is the most audio held at once."""

    def __init__(self, max_seconds: float = MAX_SEGMENT_S, min_silence: float = MIN_SILENCE_S,
                 threshold_db: float = SPEECH_RANGE_DB, pad: float = PAD_S, min_speech: float = MIN_SPEECH_S):
        if not max_seconds >= 1.0:
            raise ValueError(f"max_seconds must be at least 1 s, got {max_seconds}")
        if not 0.01 <= min_silence <= max_seconds / 2:
            raise ValueError(f"min_silence must be in [0.01, max_seconds/2], got {min_silence}")
        if not 0 <= pad <= max_seconds / 4:
            raise ValueError(f"pad must be in [0, max_seconds/4], got {pad}")
        if not threshold_db > 0:
            raise ValueError(f"threshold_db must be positive, got {threshold_db}")
        if not min_speech >= 0:
            raise ValueError(f"min_speech must be >= 0, got {min_speech}")
        self.threshold_db = float(threshold_db)
        self.max_samples = int(round(max_seconds * SAMPLE_RATE))
        self.min_silence_frames = max(1, int(round(min_silence * 100)))
        self.pad_samples = int(round(pad * SAMPLE_RATE))
        self.min_speech_frames = int(round(min_speech * 100))
        self.look = int(round(LOOKAHEAD_S * 100))
        self.floor_back = int(round(FLOOR_WINDOW_S * 100))
        self.split_back = max(1, int(round(min(SPLIT_SEARCH_S, max_seconds / 2) * 100)))
        self.decay = REF_DECAY_DB_PER_S / 100

        self.audio = _Buffer(self.max_samples + 3 * SAMPLE_RATE)
        self.peak_buffered = 0  # samples
        # per-frame tracks for frames [f0, f0 + len): energy (dB), reference level, speech flag
        self.f0 = 0
        self.energy = np.zeros(0)
        self.ref = np.zeros(0)
        self.speech = np.zeros(0, bool)
        self.ref_last = -math.inf
        self.next_frame = 0  # first frame not decided yet
        # segment state (absolute sample indices / frame numbers)
        self.open = False
        self.seg_start = 0
        self.last_speech = -1
        self.n_speech = 0
        self.prev_end = 0  # end of the last emitted segment: the next one may not start before it
        self.done = False

    @property
    def peak_buffered_seconds(self) -> float:
        return self.peak_buffered / SAMPLE_RATE

    @property
    def seconds_fed(self) -> float:
        """Seconds of audio fed so far (the duration of the stream, once flushed)."""
        return self.audio.end / SAMPLE_RATE

    def open_audio(self, since: int = 0) -> tuple[float, np.ndarray] | None:
        """(start in seconds, audio so far) of the segment still open, or None: what a live
        recogniser decodes for a partial result. The audio runs up to the newest sample fed;
        ``since``: leave out its first samples."""
        if not self.open:
            return None
        return self.seg_start / SAMPLE_RATE, self.audio.get(min(self.seg_start + since, self.audio.end),
                                                            self.audio.end).copy()

    def settled(self) -> tuple[float, int] | None:
        """(start in seconds, samples) of the segment still open, or None: how many of its first
        samples stay in it whatever audio comes next. It ends no earlier than its last speech frame
        decided so far, and a forced split at ``max_seconds`` cuts it no earlier than the start of
        its last 3 s. A live recogniser runs its model this far for good, the rest provisionally."""
        if not self.open:
            return None
        end = min((self.last_speech + 1) * HOP, self.seg_start + self.max_samples - self.split_back * HOP)
        return self.seg_start / SAMPLE_RATE, max(0, end - self.seg_start)

    # -- input
    def feed(self, chunk) -> list[Segment]:
        if self.done:
            raise RuntimeError("Segmenter.feed after flush")
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"expected a 1-D chunk of 16 kHz samples, got shape {chunk.shape}")
        out: list[Segment] = []
        for i in range(0, len(chunk), PIECE):
            piece = chunk[i:i + PIECE]
            self.audio.append(piece)
            self.peak_buffered = max(self.peak_buffered, len(self.audio))
            self._add_frames()
            n_frames = self.audio.end // HOP
            self._decide(n_frames - self.look, n_frames, out)
            self._trim()
        return out

    def flush(self) -> list[Segment]:
        """End of the stream: decide the last frames and close the open segment."""
        if self.done:
            return []
        self.done = True
        out: list[Segment] = []
        n_frames = self.audio.end // HOP
        self._decide(n_frames, n_frames, out)
        if self.open:
            end = min((self.last_speech + 1) * HOP + self.pad_samples, self.audio.end,
                      self.seg_start + self.max_samples)
            self._emit(self.seg_start, end, self.n_speech, out)
            self.open = False
        self._trim()
        return out

    # -- internals
    def _add_frames(self) -> None:
        have = self.f0 + len(self.energy)
        n = self.audio.end // HOP - have
        if n <= 0:
            return
        e = frame_energy_db(self.audio.get(have * HOP, (have + n) * HOP))
        # reference: decaying maximum of the (causal) 5-frame median energy
        hist = self.energy[-4:]
        ext = np.concatenate([hist, e])
        if len(hist) < 4:  # start of the stream: repeat the first frame
            ext = np.concatenate([np.full(4 - len(hist), ext[0]), ext])
        med = np.median(sliding_window_view(ext, 5), axis=1)
        idx = np.arange(1, n + 1) * self.decay
        ref = np.maximum(np.maximum.accumulate(med + idx) - idx, self.ref_last - idx)
        self.ref_last = float(ref[-1])
        self.energy = np.concatenate([self.energy, e])
        self.ref = np.concatenate([self.ref, ref])
        self.speech = np.concatenate([self.speech, np.zeros(n, bool)])

    def _decide(self, upto: int, n_frames: int, out: list[Segment]) -> None:
        """Decide frames [next_frame, upto) with the frames < n_frames known."""
        a, b = self.next_frame, upto
        if b <= a:
            return
        f0, E = self.f0, self.energy
        # noise floor: min over [t - floor_back, t + look], truncated at the ends of what is known
        lo, hi = a - self.floor_back, b + self.look  # window span for all t in [a, b)
        padded = np.full(hi - lo, np.inf)
        s, e = max(lo, f0), min(hi, n_frames)
        known = E[s - f0:e - f0]
        padded[s - lo:e - lo] = np.where(known < DIGITAL_SILENCE_DB, np.inf, known)  # digital silence is no floor
        floor = sliding_window_view(padded, self.floor_back + self.look + 1).min(axis=1)[: b - a]
        ref = self.ref[np.minimum(np.arange(a, b) + self.look, n_frames - 1) - f0]
        thr = np.maximum(np.maximum(ref - self.threshold_db, floor + FLOOR_MARGIN_DB), ABS_FLOOR_DB)
        sp = E[a - f0:b - f0] > thr
        self.speech[a - f0:b - f0] = sp
        for t, is_speech in zip(range(a, b), sp.tolist()):
            self._step(t, is_speech, out)
        self.next_frame = b

    def _step(self, t: int, is_speech: bool, out: list[Segment]) -> None:
        if not self.open:
            if not is_speech:
                return
            self.open = True
            self.seg_start = max(self.prev_end, t * HOP - self.pad_samples, 0)
            self.last_speech, self.n_speech = t, 1
        elif is_speech:
            self.last_speech = t
            self.n_speech += 1
        elif t - self.last_speech >= self.min_silence_frames:
            end = min((self.last_speech + 1) * HOP + self.pad_samples, self.seg_start + self.max_samples,
                      self.audio.end)
            self._emit(self.seg_start, end, self.n_speech, out)
            self.open = False
            return
        if (t + 1) * HOP - self.seg_start >= self.max_samples:
            self._force_split(t, out)

    def _force_split(self, t: int, out: list[Segment]) -> None:
        """The open segment reached max_seconds at frame t: cut it at its quietest recent frame."""
        first = -(-self.seg_start // HOP) + 1  # keep the first piece non-empty
        lo = max(first, t + 1 - self.split_back, self.f0)
        q = lo + int(np.argmin(self.energy[lo - self.f0:t + 1 - self.f0]))
        split = q * HOP
        rest = int(self.speech[q - self.f0:t + 1 - self.f0].sum())
        self._emit(self.seg_start, split, self.n_speech - rest, out)
        if rest:
            self.seg_start, self.n_speech = split, rest  # last_speech >= q: it goes on
        else:
            self.open = False

    def _emit(self, start: int, end: int, n_speech: int, out: list[Segment]) -> None:
        if n_speech < self.min_speech_frames or end <= start:
            return
        a, b = start // HOP, start // HOP + (end - start) // HOP  # the segment's whole frames
        speech = np.zeros(b - a, bool)
        known_a, known_b = max(a, self.f0), min(b, self.f0 + len(self.speech))  # decided by now
        if known_b > known_a:
            speech[known_a - a:known_b - a] = self.speech[known_a - self.f0:known_b - self.f0]
        out.append(Segment(start / SAMPLE_RATE, end / SAMPLE_RATE, self.audio.get(start, end).copy(), speech))
        self.prev_end = end

    def _trim(self) -> None:
        """Forget audio and frame tracks that no future segment or decision can need."""
        if self.open:
            keep = self.seg_start
        else:
            keep = max(self.prev_end, self.next_frame * HOP - self.pad_samples, 0)
        if self.done:
            keep = self.audio.end
        self.audio.drop_before(keep)
        f_keep = self.next_frame - max(self.floor_back, self.split_back) - 1
        if self.open:  # the open segment's speech decisions travel with it
            f_keep = min(f_keep, self.seg_start // HOP)
        if f_keep > self.f0:
            k = f_keep - self.f0
            self.energy, self.ref, self.speech = self.energy[k:], self.ref[k:], self.speech[k:]
            self.f0 = f_keep


def segment_stream(chunks: Iterable[np.ndarray], max_seconds: float = MAX_SEGMENT_S,
                   min_silence: float = MIN_SILENCE_S, threshold_db: float = SPEECH_RANGE_DB, pad: float = PAD_S,
                   min_speech: float = MIN_SPEECH_S) -> Iterator[Segment]:
    """Cut a stream of 16 kHz float32 chunks (any sizes) into speech :class:`Segment` s, online.

    ``max_seconds``: longest segment (longer speech is split at a quiet frame, without gap);
    ``min_silence``: non-speech that ends a segment; ``threshold_db``: speech is within this much
    of the running reference level; ``pad``: silence kept on each side of a segment (never
    overlapping its neighbour); ``min_speech``: segments with less speech are dropped. Holds at
    most about ``max_seconds`` + 2 s of audio; segments come out about 1 s after they end.
    """
    seg = Segmenter(max_seconds=max_seconds, min_silence=min_silence, threshold_db=threshold_db,
                    pad=pad, min_speech=min_speech)
    for chunk in chunks:
        yield from seg.feed(chunk)
    yield from seg.flush()


def segment_file(path, block_seconds: float = 10.0, **kw) -> Iterator[Segment]:
    """``segment_stream(stream_audio(path), **kw)``: the speech segments of a file of any duration."""
    from .audio import stream_audio
    return segment_stream(stream_audio(path, block_seconds=block_seconds), **kw)


def speech_bounds(wave: np.ndarray, margin_s: float = 0.1) -> tuple[int, int]:
    """(start, end) sample indices of a 16 kHz clip without its leading and trailing silence, as
    the detector sees it: from its first speech segment's start to its last one's end, each padded
    by ``margin_s``. A clip where no speech is found (digital silence, pure noise) is kept whole."""
    seconds = len(wave) / SAMPLE_RATE
    if seconds < 0.05:
        return 0, len(wave)
    max_seconds = max(1.0, seconds + 1.0, 4 * margin_s, 2 * MIN_SILENCE_S)  # never split a clip
    segs = list(segment_stream([wave], max_seconds=max_seconds, pad=margin_s, min_speech=0.0))
    if not segs:
        return 0, len(wave)
    return round(segs[0].start * SAMPLE_RATE), round(segs[-1].end * SAMPLE_RATE)


def trim_silence(wave: np.ndarray, margin_s: float = 0.1) -> np.ndarray:
    """``wave`` (16 kHz) without its leading and trailing silence (see :func:`speech_bounds`)."""
    start, end = speech_bounds(wave, margin_s)
    return wave[start:end]

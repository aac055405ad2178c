"""Live recognition: audio fed chunk by chunk, text out as it comes.

:class:`StreamingRecognizer` takes PCM chunks of any size at any sample rate and returns
:class:`StreamEvent` s: *partial* results while a stretch of speech goes on, and a *final* result
when it ends (the speech segmenter's endpoint: trailing silence, or a segment's maximum length) and
at the end of the input. It is the offline pipeline fed live, not a second one: the same speech
segmenter (:meth:`Recognizer.segmenter`) cuts the stream, and each segment's outputs go through the
same decoding and word timing as :meth:`Recognizer.transcribe`'s. So for the same audio the joined
final texts equal the offline transcript of the model run the same way::

    rec = lstm_asr.load_model()
    live = StreamingRecognizer(rec, sample_rate=48000)            # a look-ahead of 4 s
    for chunk in microphone_chunks():          # int16 or float32, any size
        for event in live.accept(chunk):
            print(event.type, event.text)
    for event in live.finish():
        print(event.type, event.text)
    # the same finals: rec.with_lookahead(4.0).transcribe(all_audio)

``lookahead_s`` is how far ahead the model may read (:mod:`.chunking`: a run-time option of any
CTC model). With one, the model runs on each segment's audio as it arrives (a
:class:`PosteriorStream` per segment, the exact chunked model) and each output frame is decoded
once, as it comes: a final is the segment's outputs and decoder so far, finished at its end; a
partial decodes, on top of those, the outputs of the audio the segmenter has not settled yet and
of the frames still waiting for their look-ahead, computed as if the stream ended now, on a copy
(:meth:`PosteriorStream.fork`). With ``lookahead_s=None`` a bidirectional model reads each segment
whole: finals are decoded when a segment closes, and each partial re-decodes the open segment
(at most ``max_seconds`` long).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .audio import SAMPLE_RATE, StreamResampler, to_mono
from .chunking import DEFAULT_LOOKAHEAD_S, ChunkedModel, ChunkState
from .errors import AudioError, ConfigError


def pcm_to_float(chunk, name: object = "<stream>") -> np.ndarray:
    """One chunk of PCM -> (n,) float32 in [-1, 1]: a 1-D or (n, channels) numpy array (as
    :func:`lstm_asr.audio.to_mono` takes it, any size) or ``bytes`` of little-endian int16 mono
    (an even number of them). Raises :class:`AudioError`."""
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        if len(chunk) % 2:
            raise AudioError(name, f"int16 PCM needs an even number of bytes, got {len(chunk)}")
        chunk = np.frombuffer(chunk, dtype="<i2")
    return to_mono(chunk, name, chunk=True)


@dataclass
class StreamEvent:
    """A result of a live stream. ``type``: "partial" (the open segment so far; later events
    replace it) or "final" (a closed segment; never changes). Times in seconds from the start of
    the stream; ``words`` as in :class:`~lstm_asr.transcribe.Transcript` (finals only)."""
    type: str
    text: str
    start: float
    end: float
    words: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = round(self.start, 3), round(self.end, 3)
        return d


class StreamingRecognizer:
    """Feed PCM with :meth:`accept`, end with :meth:`finish`; both return the new
    :class:`StreamEvent` s. See the module docstring.

    ``recognizer``: a loaded :class:`~lstm_asr.transcribe.Recognizer` (shared by many streams:
    it holds no per-stream state); ``sample_rate``: of the PCM fed; ``options``: decoding options
    (None: the recognizer's own); ``partial_interval``: seconds of new audio between partial
    results (0 or None: no partials); ``lookahead_s``: how far ahead the model may read (None:
    each segment whole)."""

    def __init__(self, recognizer, sample_rate: int = SAMPLE_RATE, options=None,
                 partial_interval: float | None = 0.5, lookahead_s: float | None = DEFAULT_LOOKAHEAD_S):
        self.recognizer = recognizer.with_lookahead(lookahead_s)
        self.options = options
        self.resample = StreamResampler(sample_rate)
        self.segmenter = recognizer.segmenter()
        self.partial_every = int(round((partial_interval or 0) * SAMPLE_RATE))
        self._since_partial = 0
        self._last_partial: tuple[float, str] | None = None
        self._live: _OpenSegment | None = None  # with a look-ahead: the open segment's model run so far
        self.finished = False

    @property
    def seconds(self) -> float:
        """Seconds of audio (at 16 kHz, after resampling) received so far."""
        return self.segmenter.seconds_fed

    def accept(self, chunk, partial: bool = True) -> list[StreamEvent]:
        """PCM (see :func:`pcm_to_float`; any size, even empty) -> events it completed.
        ``partial=False`` skips a partial result that is due (a busy server sheds them: finals
        never depend on partials)."""
        if self.finished:
            raise RuntimeError("StreamingRecognizer.accept after finish")
        x = self.resample(pcm_to_float(chunk))
        events = self._finals(self.segmenter.feed(x))
        self._run_settled()
        self._since_partial += len(x)
        if partial and self.partial_every and self._since_partial >= self.partial_every:
            self._since_partial = 0
            partial = self.partial()
            if partial is not None:
                events.append(partial)
        return events

    def finish(self) -> list[StreamEvent]:
        """End of input: the last finals (the resampler and the segmenter flushed)."""
        if self.finished:
            return []
        self.finished = True
        tail = self.resample(np.zeros(0, np.float32), last=True)
        events = self._finals(self.segmenter.feed(tail)) if len(tail) else []
        return events + self._finals(self.segmenter.flush())

    def partial(self) -> StreamEvent | None:
        """Decode the open segment's audio so far: a partial event, or None when no segment is
        open or its text has not changed since the last partial."""
        from .segment import Segment
        rec = self.recognizer
        opened = self.segmenter.open_audio()
        if opened is None or len(opened[1]) < 400:
            return None
        start, audio = opened
        if rec.streams:
            dec, frames = self._open_segment(start).provisional(audio)
            if not frames:
                return None
            text, t_start, t_end = rec.decoded_text(dec), start, start + frames * rec.frame_seconds
        else:
            t = rec.decode_segments([Segment(start, start + len(audio) / SAMPLE_RATE, audio)], self.options)[0]
            text, t_start, t_end = t.text, t.start, t.end
        if not text or self._last_partial == (start, text):
            return None
        self._last_partial = (start, text)
        return StreamEvent("partial", text, t_start, t_end)

    def _open_segment(self, start: float) -> "_OpenSegment":
        """The model's run over the open segment starting at ``start`` (a new one for a new segment)."""
        if self._live is None or self._live.start != start:
            self._live = _OpenSegment(self.recognizer, start, self.options)
        return self._live

    def _run_settled(self) -> None:
        """With a look-ahead: run the model on the open segment's audio that will stay in it."""
        opened = self.segmenter.settled()
        if self.recognizer.streams and opened is not None:
            start, settled = opened
            live = self._open_segment(start)
            if settled > live.fed:
                live.feed(self.segmenter.open_audio(since=live.fed)[1][:settled - live.fed])

    def _finals(self, segments) -> list[StreamEvent]:
        if not segments:
            return []
        self._last_partial = None
        if self.recognizer.streams:
            transcripts = [self._open_segment(s.start).close(s) for s in segments]
            self._live = None
        else:
            transcripts = self.recognizer.decode_segments(list(segments), self.options)
        return [StreamEvent("final", t.text, t.start, t.end, t.words) for t in transcripts]


def join_finals(events) -> str:
    """The transcript of a stream: its final texts joined (empty ones skipped), as
    :meth:`Recognizer.transcribe` joins segments."""
    return " ".join(e.text for e in events if e.type == "final" and e.text)


class _OpenSegment:
    """A segment of a live stream run through a model with a look-ahead: its audio goes to a
    :class:`PosteriorStream` as the segmenter settles it, and the outputs to a decoder, each once."""

    def __init__(self, recognizer, start: float, options):
        self.recognizer, self.start, self.options = recognizer, start, options
        self.stream = PosteriorStream.from_recognizer(recognizer)
        self.decoder = recognizer.decoder(options)
        self.outputs: list[torch.Tensor] = []  # the model's outputs so far (T_k, V)
        self.fed = 0  # samples of the segment run so far

    def feed(self, audio: np.ndarray) -> None:
        """The segment's next samples, for good."""
        out = self.stream.accept(audio)
        self.fed += len(audio)
        self.decoder.accept(out)
        self.outputs.append(out)

    def provisional(self, audio: np.ndarray):
        """The open segment's audio so far -> (a decoder that has taken outputs for all of it, how
        many): those run for good, then those of the rest computed as if the segment ended now."""
        fork = self.stream.fork()
        ahead = torch.cat([fork.accept(audio[self.fed:]), fork.finish()])
        dec = self.decoder.fork()
        dec.accept(ahead)
        return dec, sum(len(o) for o in self.outputs) + len(ahead)

    def close(self, segment):
        """The segment has closed: the rest of its audio, its end -> its Transcript."""
        self.feed(segment.audio[self.fed:])
        tail = self.stream.finish()
        self.decoder.accept(tail)
        self.outputs.append(tail)
        return self.recognizer.decoded_segment(segment, torch.cat(self.outputs), self.decoder, self.options)


class PosteriorStream:
    """The exact chunked model: :meth:`accept` 16 kHz float32 chunks of any size -> the CTC
    log-probabilities (T', V) of the output frames they completed; :meth:`finish` at the end.
    Joined, they equal the model run on the whole utterance with the same look-ahead
    (``ChunkedModel(FilterBank(whole))``) within float rounding: the front end, the convolutions'
    context and stride phase and the recurrent state are all carried, and the frames waiting for
    their look-ahead (or the level floor's warm-up) are held back until it has come."""

    def __init__(self, chunked: ChunkedModel):
        self.chunked = chunked
        self.features = chunked.stream_front_end()
        self.state: ChunkState | None = None
        self.device = next(chunked.model.parameters()).device

    @classmethod
    def from_recognizer(cls, recognizer) -> "PosteriorStream":
        """The stream of a Recognizer run with a look-ahead (:meth:`Recognizer.with_lookahead`)."""
        if recognizer.chunked is None:
            raise ConfigError("a model runs chunk by chunk with a look-ahead: Recognizer.with_lookahead(seconds)")
        return cls(recognizer.chunked)

    @torch.inference_mode()
    def accept(self, chunk) -> torch.Tensor:
        feats = self.features.accept(chunk)  # (n, F)
        out, self.state = self.chunked.forward_chunk(feats[None].to(self.device), self.state)
        return out[0].float().cpu()

    @torch.inference_mode()
    def finish(self) -> torch.Tensor:
        """The end of the stream: the output frames held back for the look-ahead or the front
        end's warm-up (none again after the first call)."""
        held = self.features.finish()
        out, self.state = self.chunked.forward_chunk(held[None].to(self.device), self.state, final=True)
        return out[0].float().cpu()

    def fork(self) -> "PosteriorStream":
        """An independent copy: what it is fed or finished leaves this stream as it is (for
        provisional outputs, as if the stream ended now). Cheap: nothing is copied but references
        (no state tensor is ever changed in place)."""
        other = copy.copy(self)
        other.features = copy.copy(self.features)
        return other

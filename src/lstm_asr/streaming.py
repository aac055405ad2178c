"""Live recognition: audio fed chunk by chunk, text out as it comes.

:class:`StreamingRecognizer` takes PCM chunks of any size at any sample rate and returns
:class:`StreamEvent` s: *partial* results while a stretch of speech goes on, and a *final* result
when it ends (the speech segmenter's endpoint: trailing silence, or a segment's maximum length) and
at the end of the input. It is the offline pipeline fed live, not a second one: the same speech
segmenter (:meth:`Recognizer.segmenter`) cuts the stream, and each closed segment is decoded by the
same call :meth:`Recognizer.transcribe` uses (:meth:`Recognizer.decode_segments`). So for the same
audio the joined final texts equal the offline transcript by construction::

    rec = lstm_asr.load_model()
    live = StreamingRecognizer(rec, sample_rate=48000)
    for chunk in microphone_chunks():          # int16 or float32, any size
        for event in live.accept(chunk):
            print(event.type, event.text)
    for event in live.finish():
        print(event.type, event.text)

A partial result decodes the audio of the open segment so far, every ``partial_interval`` seconds
of new audio. A model that streams (:attr:`Recognizer.streams`: unidirectional or latency-controlled,
such as the bundled ``digits-commands-streaming``) runs on that audio as it arrives, in a
:class:`PosteriorStream` per segment, and its outputs go to a decoder as they come, so a partial
only decodes what is new: the final outputs, and for the last frames, which a latency-controlled
model holds back until their look-ahead has come, provisional ones computed with the look-ahead
there is (:meth:`PosteriorStream.peek`, decoded by a fork of the decoder). Any
other model re-decodes the segment so far for each partial (at most ``max_seconds`` long). Finals
are decoded the offline way in both cases.

:class:`PosteriorStream` is the exact chunked model: waveform chunks -> front end with online
normalisation -> :meth:`AcousticModel.forward_chunk`, whose concatenated outputs equal the model run
on the whole utterance. It needs a CTC model that is unidirectional or latency-controlled
(``model.chunk``) and whose features normalise online (``features.normalize: causal`` or ``none``);
others raise :class:`ConfigError`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .audio import SAMPLE_RATE, StreamResampler, to_mono
from .errors import AudioError
from .features import FeatureConfig, StreamingFeatures, check_online
from .model import AcousticModel, ChunkState


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
    results (0 or None: no partials)."""

    def __init__(self, recognizer, sample_rate: int = SAMPLE_RATE, options=None,
                 partial_interval: float | None = 0.5):
        self.recognizer = recognizer
        self.options = options
        self.resample = StreamResampler(sample_rate)
        self.segmenter = recognizer.segmenter()
        self.partial_every = int(round((partial_interval or 0) * SAMPLE_RATE))
        self._since_partial = 0
        self._last_partial: tuple[float, str] | None = None
        self._streams = recognizer.streams  # the model runs as the audio arrives: partials from its outputs
        self._live: _OpenSegment | None = None  # then: the open segment's outputs so far
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
        opened = self.segmenter.open_audio()
        if opened is None or len(opened[1]) < 400:
            return None
        start, audio = opened
        if self._streams:
            if self._live is None or self._live.start != start:
                self._live = _OpenSegment(start, PosteriorStream.from_recognizer(self.recognizer),
                                          self.recognizer.decoder(self.options))
            dec, frames = self._live.feed(audio)
            if not frames:
                return None
            text = self.recognizer.decoded_text(dec)
            t_start, t_end = start, start + frames * self.recognizer.frame_seconds
        else:
            t = self.recognizer.decode_segments([Segment(start, start + len(audio) / SAMPLE_RATE, audio)],
                                                self.options)[0]
            text, t_start, t_end = t.text, t.start, t.end
        if not text or self._last_partial == (start, text):
            return None
        self._last_partial = (start, text)
        return StreamEvent("partial", text, t_start, t_end)

    def _finals(self, segments) -> list[StreamEvent]:
        if not segments:
            return []
        self._last_partial = self._live = None
        return [StreamEvent("final", t.text, t.start, t.end, t.words)
                for t in self.recognizer.decode_segments(list(segments), self.options)]


def join_finals(events) -> str:
    """The transcript of a stream: its final texts joined (empty ones skipped), as
    :meth:`Recognizer.transcribe` joins segments."""
    return " ".join(e.text for e in events if e.type == "final" and e.text)


class _OpenSegment:
    """The open segment of a live stream run through a model that streams: its audio is fed to a
    PosteriorStream as it grows (the segmenter's open_audio() keeps its start and extends it), and
    the stream's outputs to a decoder, so that a partial decodes only what is new."""

    def __init__(self, start: float, stream: "PosteriorStream", decoder):
        self.start, self.stream, self.decoder, self.fed, self.frames = start, stream, decoder, 0, 0

    def feed(self, audio: np.ndarray):
        """The open segment's audio so far -> (a decoder that has taken the model's outputs for all
        of it so far, how many): those final, then the provisional ones of the frames still waiting
        for their look-ahead (:meth:`PosteriorStream.peek`, decoded by a fork of the decoder)."""
        new = self.stream.accept(audio[self.fed:])
        self.fed = len(audio)
        self.decoder.accept(new)
        self.frames += len(new)
        ahead = self.stream.peek()
        dec = self.decoder.fork()
        dec.accept(ahead)
        return dec, self.frames + len(ahead)


class PosteriorStream:
    """The exact chunked model: :meth:`accept` 16 kHz float32 chunks of any size -> the CTC
    log-probabilities (T', V) of the output frames they completed. Joined, they equal
    ``AcousticModel(FilterBank(whole))`` within float rounding (the front end, its online
    normalisation, the convolutions' context and stride phase and the recurrent state are all
    carried; a latency-controlled model holds back its last frames until their look-ahead has
    come, or :meth:`finish`). ConfigError for a bidirectional model without ``model.chunk``, a
    classifier, or features normalised per utterance (``utterance`` / ``global``: their statistics
    need the whole utterance)."""

    def __init__(self, model: AcousticModel, feature_config: FeatureConfig):
        model.check_streamable()
        check_online(feature_config)
        self.model = model
        self.features = StreamingFeatures(feature_config)
        self.state: ChunkState | None = None
        device = next(model.parameters()).device
        self.device = device

    @classmethod
    def from_recognizer(cls, recognizer) -> "PosteriorStream":
        return cls(recognizer.model, recognizer.feature_config)

    @torch.inference_mode()
    def accept(self, chunk) -> torch.Tensor:
        feats = self.features.accept(chunk)  # (n, F)
        out, self.state = self.model.forward_chunk(feats[None].to(self.device), self.state)
        return out[0].float().cpu()

    @torch.inference_mode()
    def peek(self) -> torch.Tensor:
        """The outputs a latency-controlled model still holds back, computed as if the stream
        ended now (their look-ahead cut short, and the frames the front end holds back for its
        level floor's warm-up taken as they are so far), without consuming them: provisional outputs
        for a partial result, which later audio may change. Empty when nothing is held back."""
        held = self.features.peek()
        pending = self.state is not None and self.state.pending is not None and self.state.pending.shape[1]
        if not (pending or held.shape[0]):
            return torch.zeros(0, self.model.cfg.num_outputs)
        out, _ = self.model.forward_chunk(held[None].to(self.device), self.state, final=True)
        return out[0].float().cpu()

    @torch.inference_mode()
    def finish(self) -> torch.Tensor:
        """The end of the stream: the output frames held back for the model's look-ahead or the
        front end's warm-up (none for a unidirectional model without one; none again after the
        first call)."""
        held = self.features.finish()
        out, self.state = self.model.forward_chunk(held[None].to(self.device), self.state, final=True)
        return out[0].float().cpu()

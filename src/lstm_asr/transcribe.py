"""The recognizer: a loaded model that turns audio (files or arrays) into text.

One pipeline for every input: reader (:mod:`.audio`) -> speech segmenter (:mod:`.segment`) ->
features -> model -> decoder -> word timing. A short clip is a stream with one segment.

    >>> import lstm_asr
    >>> model = lstm_asr.load_model()                    # the bundled default (digits-commands)
    >>> model.transcribe("clip.wav").text
    'three one four'
    >>> model.transcribe("clip.wav", options=DecodeOptions(words=["one", "two"])).text  # this call only
    >>> model.set_decoding(beam_size=16, words=["one", "two", "three"])   # every later call
    >>> for seg in model.transcribe_segments("meeting.flac"):  # hours of audio, flat memory
    ...     print(seg.start, seg.end, seg.text)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .audio import read_stream
from .checkpoint import load_model_files, resolve_alias
from .chunking import ChunkedModel
from .data import pad_waves
from .decoding import BeamSearchDecoder, GreedyDecoder, WordChoiceDecoder, prior_bias, word_spans
from .errors import AsrError, ConfigError
from .segment import MAX_SEGMENT_S, Segment, Segmenter
from .features import FeatureConfig, FilterBank
from .model import AcousticModel, ModelConfig, resolve_device
from .options import DecodeOptions
from .text import Vocabulary
from .validate import check_fields


@dataclass
class Transcript:
    text: str
    duration: float                     # seconds of input audio (of this segment, for long audio)
    words: list[dict] = field(default_factory=list)   # {"word", "start", "end", "confidence"}, seconds
    nbest: list[dict] = field(default_factory=list)   # {"text", "score"} when more than one was asked for
    start: float = 0.0                  # segment start in the input (seconds)
    end: float = 0.0
    segments: list["Transcript"] = field(default_factory=list)  # a whole input's speech segments

    def __str__(self):
        return self.text


class Recognizer:
    """Front end + acoustic model + decoder, rebuilt exactly from a model directory's config."""

    def __init__(self, config: dict, vocab: Vocabulary, state_dict: dict | None = None, name: str = "model"):
        try:
            self.feature_config = FeatureConfig.from_dict(config["features"])
            self.model_config = ModelConfig.from_dict(config["model"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{name}: incomplete model config ({e})") from None
        if self.model_config.num_outputs != len(vocab):
            raise ConfigError(f"{name}: vocabulary has {len(vocab)} units but the model {self.model_config.num_outputs}")
        self.config = config
        self.vocab = vocab
        self.fbank = FilterBank(self.feature_config)
        self.model = AcousticModel(self.model_config)
        self.chunked: ChunkedModel | None = None  # the model as run with a look-ahead (with_lookahead)
        if state_dict is not None:
            try:
                self.model.load_state_dict(state_dict)
            except RuntimeError as e:
                raise ConfigError(f"{name}: weights do not match the config ({str(e).splitlines()[0]})") from None
        self.model.eval()
        self.frame_seconds = self.feature_config.hop_length / self.feature_config.sample_rate * self.model_config.subsample
        # the decoder the model was published with (e.g. its word list); set_decoding() changes it
        self._lms: dict = {}  # loaded n-gram LMs by path
        self._lexicons: dict = {}  # user lexicons by path (phone models)
        # the last options checked, and a beam search built for them: later segments with equal
        # options skip the check and fork the decoder (its word tables are built once)
        self._checked: tuple = (None, None)
        self.default_options = DecodeOptions.from_dict(config.get("decoding") or {}, name=f"{name}: decoding")
        self.set_decoding(self.default_options)

    @classmethod
    def from_dir(cls, name_or_dir=None, device: str | None = None) -> "Recognizer":
        d, lookahead_s = resolve_alias(name_or_dir)
        config, vocab_path, state = load_model_files(d)
        rec = cls(config, Vocabulary.load(vocab_path), state, name=str(d))
        rec = rec.to(device) if device else rec
        return rec.with_lookahead(lookahead_s) if lookahead_s else rec

    def with_lookahead(self, seconds: float | None) -> "Recognizer":
        """This model run with at most ``seconds`` of look-ahead (:mod:`.chunking`: a bidirectional
        model latency-controlled, its normalisation and level floor per window), so that it runs
        chunk by chunk exactly (:attr:`streams`) and ``transcribe`` gives what a stream gives;
        None: the model as trained, each segment read whole. The weights are shared, not copied."""
        view = copy.copy(self)
        if seconds is None:
            view.chunked, view.fbank = None, FilterBank(self.feature_config)
        else:
            model = getattr(self.model, "torch_model", self.model)  # under the onnx backend: its torch model
            view.chunked = ChunkedModel(model, self.feature_config, seconds)
            if model is not self.model:  # ... with its recurrent layers in onnxruntime
                view.chunked.layers = self.model.recurrent_layers()
            view.fbank = view.chunked.front_end()
        view.fbank.to(self.device)
        return view

    @property
    def lookahead_s(self) -> float | None:
        """The look-ahead this model runs with (rounded to whole output frames), None: none."""
        return None if self.chunked is None else self.chunked.seconds

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device) -> "Recognizer":
        """Run front end and model on ``device`` ("auto", "cpu", "cuda", a torch.device)."""
        device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model.to(device)
        self.fbank.to(device)
        return self

    def set_decoding(self, options: DecodeOptions | None = None, **kw) -> "Recognizer":
        """Choose the decoder every later call uses unless it passes its own ``options``:
        ``set_decoding(beam_size=16, lm="lm.arpa", alpha=0.5, beta=1.0, words=[...],
        hotwords={"word": 3.0}, nbest=5)``; no arguments: plain greedy decoding;
        ``set_decoding(rec.default_options)``: the model's own default (its config's ``decoding``).
        Words with characters outside the model's vocabulary raise ConfigError."""
        self.options = self.check_options(options or DecodeOptions(**kw))
        return self

    def check_options(self, opts: DecodeOptions) -> DecodeOptions:
        """Validate options (types and ranges; against this model: words it can spell, an LM that
        loads) once."""
        if not isinstance(opts, DecodeOptions):
            raise ConfigError(f"options must be a DecodeOptions, not {type(opts).__name__}")
        check_fields(vars(opts), DecodeOptions, "decoding option")
        if opts.beam_size == 1 and opts.searches:
            raise ConfigError("beam size 1 is greedy decoding (one path): a word list, LM, hotwords or n-best "
                              "need a beam of 2 or more")
        if opts.one_word and not opts.words:
            raise ConfigError("one word per segment needs a word list (--words) to choose from")
        if opts.one_word and opts.lm:
            raise ConfigError("one word per segment chooses from the word list alone: an LM does not apply")
        if opts.log_priors is not None and len(opts.log_priors) != len(self.vocab):
            raise ConfigError(f"log_priors has {len(opts.log_priors)} values; the model has {len(self.vocab)} units")
        if opts.prior_scale and opts.log_priors is None:
            raise ConfigError("a prior scale needs the model's unit priors, and this model has none "
                              "(lstm-asr priors -m MODEL_DIR --manifest TRAINING.jsonl estimates them)")
        if opts.lexicon and opts.lexicon not in self._lexicons:
            if self.vocab.kind != "phones":
                raise ConfigError(f"{opts.lexicon}: a lexicon is for phone models; this model's units are characters")
            from .lexicon import read_lexicon_file
            self._lexicons[opts.lexicon] = self.vocab.lexicon.with_entries(read_lexicon_file(opts.lexicon))
        lexicon = self._lexicons.get(opts.lexicon) if opts.lexicon else None
        listed = [w for entry in list(opts.words or []) + list(opts.hotwords or {}) for w in entry.split()]
        self.vocab.prepare(listed, lexicon)
        for w in listed:
            if not self.vocab.spellings(w, lexicon):
                if self.vocab.kind == "phones":
                    raise ConfigError(f"word {w!r} has no pronunciation, so the model cannot output it (not in the "
                                      "CMU dictionary, no guess for it: words in the Latin script are guessed with "
                                      "espeak-ng; or give it in a --lexicon file)")
                missing = self.vocab.unknown(w)
                raise ConfigError(f"word {w!r} uses characters the model cannot output: {''.join(sorted(missing))}")
        if opts.lm and opts.lm not in self._lms:
            from .lm import NgramLM
            self._lms[opts.lm] = NgramLM.load(opts.lm)
        if opts != self._checked[0]:
            self._checked = (copy.deepcopy(opts), None)
        return opts

    # -- the pipeline: reader -> speech segmenter -> features -> model -> decoder -> word timing ----
    #
    # Every input takes this one road. A clip of one second is a stream with one segment; an hour of
    # audio is a stream with many. `transcribe`, `transcribe_segments`, `transcribe_many` (evaluation)
    # and the streaming recogniser differ only in where the audio comes from and where text goes.

    def segmenter(self, max_seconds: float = MAX_SEGMENT_S) -> Segmenter:
        """A fresh speech segmenter, as every recognition path uses it."""
        return Segmenter(max_seconds=max_seconds)

    @torch.inference_mode()
    def posteriors(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """16 kHz waves -> CTC log-probs (B, T', V) and lengths (B,), or class logits (B, C)."""
        batch, lengths = pad_waves(waves)
        feats, flen = self.fbank(batch.to(self.device), lengths.to(self.device))
        out, olen = (self.chunked or self.model)(feats, flen.clamp(min=1))
        return out.float().cpu(), olen.cpu()

    def decode_segments(self, segments: list[Segment], options: DecodeOptions | None = None) -> list[Transcript]:
        """Speech segments -> one Transcript each (times in seconds of the stream), in one batch:
        features -> model -> decoder -> word timing (from the segment's own speech decisions)."""
        if not segments:
            return []
        opts = self._options(options)
        out, olen = self.posteriors([s.audio for s in segments])
        return [self._segment_transcript(seg, *self._decode(out[j], int(olen[j]), seg.start, opts))
                for j, seg in enumerate(segments)]

    def decoded_segment(self, segment: Segment, out: torch.Tensor, decoder, options: DecodeOptions | None = None
                        ) -> Transcript:
        """A segment's Transcript, as :meth:`decode_segments` gives it, from its CTC outputs (T', V)
        and a decoder from :meth:`decoder` that has taken all of them (a live stream's, which
        decoded them as they came)."""
        opts = self._options(options)
        return self._segment_transcript(segment, *self._read(decoder, out, segment.start, opts))

    def _segment_transcript(self, seg: Segment, text: str, words: list[dict], nbest: list[dict]) -> Transcript:
        if seg.speech is not None:
            widen_word_spans(words, seg.speech, seg.start)
        return Transcript(text, seg.duration, words, nbest, seg.start, seg.end)

    @property
    def streams(self) -> bool:
        """Whether the model runs chunk by chunk exactly (it has a look-ahead: :meth:`with_lookahead`):
        live recognition then decodes each output frame once, as it comes."""
        return self.chunked is not None

    def _decode(self, out: torch.Tensor, length: int, offset: float,
                opts: DecodeOptions) -> tuple[str, list[dict], list[dict]]:
        """One segment's model output ((T', V) log-probs of which ``length`` frames are real) -> text,
        word spans (``offset`` added), n-best list."""
        out = out[:length]
        dec = self._new_decoder(opts)
        dec.accept(out)
        return self._read(dec, out, offset, opts)

    def _read(self, dec, out: torch.Tensor, offset: float, opts: DecodeOptions) -> tuple[str, list[dict], list[dict]]:
        """A decoder that has taken CTC outputs ``out`` (T', V) -> text, word spans, n-best list."""
        ids, frames, text, hyps = self._best(dec, opts.nbest)
        nbest = [{"text": h.text, "score": round(h.score, 3)} for h in hyps] if opts.nbest > 1 else []
        spans = word_spans(ids, frames, self.vocab, self.frame_seconds, out, words=text.split())
        for w in spans:
            w["start"] = round(w["start"] + offset, 3)
            w["end"] = round(w["end"] + offset, 3)
        return text, spans, nbest

    def decoder(self, options: DecodeOptions | None = None):
        """A fresh CTC decoder for these options (None: the recognizer's own) that takes a stream's
        outputs as they come (``accept``) and can ``fork``; :meth:`decoded_text` reads it. Fed the
        same outputs, it gives the text :meth:`decode_segments` gives."""
        return self._new_decoder(self._options(options))

    def decoded_text(self, dec) -> str:
        """The best text of a decoder from :meth:`decoder` (for the frames it has taken so far)."""
        return self._best(dec)[2]

    def _new_decoder(self, o: DecodeOptions):
        bias = prior_bias(o.log_priors, o.prior_scale)
        if o.greedy:
            return GreedyDecoder(self.vocab.blank, unit_bias=bias)
        checked, template = self._checked
        if template is None or o != checked:
            lexicon = self._lexicons.get(o.lexicon) if o.lexicon else None
            if o.one_word:
                template = WordChoiceDecoder(self.vocab, o.words, hotwords=o.hotwords, lexicon=lexicon, unit_bias=bias)
            else:
                beam = max(o.beam, 4 * o.nbest if o.nbest > 1 else 1)  # give n-best room for distinct texts
                template = BeamSearchDecoder(self.vocab, beam_size=beam, lm=self._lms.get(o.lm) if o.lm else None,
                                             alpha=o.alpha, beta=o.beta, words=o.words, hotwords=o.hotwords,
                                             lexicon=lexicon, unit_bias=bias)
            if o == checked:
                self._checked = (checked, template)
        dec = template.fork()  # the template itself never decodes
        dec.reset()
        return dec

    def _best(self, dec, nbest: int = 1) -> tuple[list[int], list[int], str, list]:
        """A decoder's best hypothesis: unit ids, their frames, text (spaces normalised), n-best."""
        if isinstance(dec, GreedyDecoder):
            return dec.ids, dec.frames, " ".join(self.vocab.decode(dec.ids).split()), []
        hyps = dec.finalize(nbest=nbest)
        if not hyps:  # one word per segment, and no listed word fits in its frames
            return [], [], "", []
        return hyps[0].ids, hyps[0].frames, " ".join(hyps[0].text.split()), hyps

    def _options(self, options: DecodeOptions | None) -> DecodeOptions:
        if options is None:
            return self.options
        if options != self._checked[0]:
            self.check_options(options)
        return options

    def _events(self, sources, sample_rate, opts: DecodeOptions, batch_seconds: float,
                max_seconds: float) -> Iterator[tuple[int, object]]:
        """The pipeline over several inputs, in order: yields ``(i, Transcript)`` for each segment of
        input ``i``, then ``(i, seconds)`` (its duration) when it has ended, or ``(i, AsrError)`` when
        it cannot be read (after the segments already yielded). Segments of consecutive inputs
        share model batches of up to ``batch_seconds`` of audio (0: each segment alone, as soon as
        it closes); memory stays flat whatever the inputs' durations."""
        queue: list[list] = []          # [i, Segment | Transcript | float | AsrError], in order
        waiting: list[list] = []        # queue entries whose segment is not decoded yet
        batched = 0.0

        def add(i: int, segment: Segment) -> None:
            nonlocal batched
            entry = [i, segment]
            queue.append(entry)
            waiting.append(entry)
            batched += segment.duration
            if batched >= batch_seconds:
                run_batch()

        def run_batch() -> None:
            nonlocal batched
            for entry, t in zip(waiting, self.decode_segments([e[1] for e in waiting], opts)):
                entry[1] = t
            waiting.clear()
            batched = 0.0

        def ready():
            while queue and not isinstance(queue[0][1], Segment):
                yield tuple(queue.pop(0))

        for i, source in enumerate(sources):
            seg = self.segmenter(max_seconds)
            try:
                for chunk in read_stream(source, sample_rate):
                    for s in seg.feed(chunk):
                        add(i, s)
                    yield from ready()
                for s in seg.flush():
                    add(i, s)
                queue.append([i, seg.seconds_fed])
            except AsrError as e:  # the input's undecoded segments are dropped, its error takes their place
                waiting[:] = [w for w in waiting if w[0] != i]
                queue[:] = [q for q in queue if not (q[0] == i and isinstance(q[1], Segment))]
                queue.append([i, e])
            yield from ready()
        run_batch()
        yield from ready()

    def transcribe_segments(self, audio, sample_rate: int | None = None, options: DecodeOptions | None = None,
                            max_seconds: float = MAX_SEGMENT_S) -> Iterator[Transcript]:
        """Any input (a path, or an array at ``sample_rate``), of any duration, in flat memory:
        one Transcript per speech segment as soon as it is recognised, ``start``/``end`` in seconds
        from the start of the input. Raises :class:`AudioError` when the input cannot be read
        (possibly after some segments)."""
        for _, item in self._events([audio], sample_rate, self._options(options), 0.0, max_seconds):
            if isinstance(item, AsrError):
                raise item
            if isinstance(item, Transcript):
                yield item

    def transcribe(self, audio, sample_rate: int | None = None, options: DecodeOptions | None = None,
                   max_seconds: float = MAX_SEGMENT_S, on_segment=None, progress=None) -> Transcript:
        """A file path, or a (S,) / (S, channels) array at ``sample_rate`` (None: 16 kHz) -> one
        Transcript: its segments' texts joined, word timestamps in seconds from the start of the
        input, and (for one segment) the n-best list. ``on_segment(Transcript)`` is called as each
        segment is recognised, ``progress(seconds)`` with the audio done. Raises :class:`AudioError`."""
        parts: list[Transcript] = []
        for _, item in self._events([audio], sample_rate, self._options(options), 0.0, max_seconds):
            if isinstance(item, AsrError):
                raise item
            if isinstance(item, Transcript):
                parts.append(item)
                if on_segment is not None:
                    on_segment(item)
                if progress is not None:
                    progress(item.end)
            else:
                return join_segments(parts, item)
        raise AssertionError("the pipeline ended without the input's end")  # pragma: no cover

    def transcribe_many(self, sources, sample_rate: int | None = None, options: DecodeOptions | None = None,
                        batch_seconds: float = 60.0, max_seconds: float = MAX_SEGMENT_S
                        ) -> Iterator[tuple[int, Transcript | AsrError]]:
        """Many inputs (paths or arrays) -> ``(index, Transcript)`` or ``(index, AudioError)`` for
        each, in order; segments of neighbouring inputs share model batches of up to
        ``batch_seconds`` of audio (faster for many short clips; the same texts)."""
        parts: list[Transcript] = []
        for i, item in self._events(sources, sample_rate, self._options(options), batch_seconds, max_seconds):
            if isinstance(item, Transcript):
                parts.append(item)
                continue
            yield i, (item if isinstance(item, AsrError) else join_segments(parts, item))
            parts = []

    def transcribe_waves(self, waves: list[np.ndarray], batch_seconds: float = 60.0,
                         options: DecodeOptions | None = None) -> list[str]:
        """16 kHz waves -> texts (what training's dev evaluation uses): :meth:`transcribe_many`."""
        return [t.text for _, t in self.transcribe_many(waves, None, options, batch_seconds)]


def join_segments(parts: list[Transcript], duration: float) -> Transcript:
    """The Transcript of a whole input from those of its segments."""
    return Transcript(" ".join(t.text for t in parts if t.text), duration,
                      [w for t in parts for w in t.words], joint_nbest([t.nbest for t in parts]),
                      0.0, duration, list(parts))


def joint_nbest(lists: list[list[dict]]) -> list[dict]:
    """The k best texts of a whole input from the k best of each of its segments (decoded
    independently, so a joint score is the sum of the segments' scores): lists are merged pairwise,
    keeping the k best sums, which is exact. Equal texts have their probabilities added."""
    if not lists or not all(lists):
        return []
    k = len(lists[0])
    best = [("", 0.0)]
    for options in lists:
        merged: dict[str, float] = {}
        for text, score in best:
            for h in options:
                joined = f"{text} {h['text']}".strip()
                merged[joined] = float(np.logaddexp(merged[joined], score + h["score"])) if joined in merged \
                    else score + h["score"]
        best = sorted(merged.items(), key=lambda x: -x[1])[:k]
    return [{"text": t, "score": round(s, 3)} for t, s in best]


def widen_word_spans(words: list[dict], speech: np.ndarray, offset: float, max_move_s: float = 0.3) -> None:
    """Move CTC word boundaries to the acoustic edges of the words, in place.

    CTC emits a word's letters as short spikes, the last one often well before the word fades
    out. Each word is widened over the neighbouring 10 ms frames that the speech detector marked
    as speech (``speech``, one flag per frame from ``offset`` seconds), never into the previous or
    next word and by at most ``max_move_s`` on each side."""
    if not words:
        return
    n = len(speech)
    frame = lambda t: min(n, max(0, int(round((t - offset) * 100))))  # noqa: E731
    spans = [[frame(w["start"]), max(frame(w["end"]), frame(w["start"]) + 1)] for w in words]
    move = int(100 * max_move_s)
    for k, (s, e) in enumerate(spans):
        prev_end = spans[k - 1][1] if k else 0
        next_start = spans[k + 1][0] if k + 1 < len(spans) else n
        if s >= n:
            continue
        last, first = min(next_start, e + move), max(prev_end, s - move)
        while e < last and speech[e]:
            e += 1
        while s > first and speech[s - 1]:
            s -= 1
        spans[k] = [s, e]
        words[k]["start"] = round(offset + s / 100, 3)
        words[k]["end"] = round(offset + e / 100, 3)


def load_model(name_or_dir=None, device: str | None = None) -> Recognizer:
    """Load a model directory, or a bundled model by name (default: the bundled default model),
    on ``device`` (None: the CPU; "auto": CUDA when there is one)."""
    return Recognizer.from_dir(name_or_dir, device)

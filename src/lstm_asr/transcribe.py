"""The recognizer: a loaded model that turns audio (files or arrays) into text.

    >>> import lstm_asr
    >>> model = lstm_asr.load_model()                    # the bundled default (digits)
    >>> model.transcribe("clip.wav").text
    'three one four'
    >>> model.transcribe("clip.wav", options=DecodeOptions(words=["one", "two"])).text  # this call only
    >>> model.set_decoding(beam_size=16, words=["one", "two", "three"])   # every later call
    >>> for seg in model.transcribe_long("meeting.flac"):  # hours of audio, flat memory
    ...     print(seg.start, seg.end, seg.text)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .audio import SAMPLE_RATE, frame_energy_db, load_audio, speech_bounds, to_model_input
from .checkpoint import load_model_files, resolve_model
from .data import bucket_batches, pad_waves
from .decoding import BeamSearchDecoder, GreedyDecoder, word_spans
from .errors import ConfigError, check_keys
from .features import FeatureConfig, FilterBank
from .model import AcousticModel, ModelConfig, resolve_device
from .text import Vocabulary


@dataclass
class DecodeOptions:
    """How posteriors become text: the one place that holds every decoding default, built alike
    by the CLI, the Python API and the server. Nothing set is greedy decoding; a word list, an
    LM, hotwords or n-best switch prefix beam search on with ``AUTO_BEAM`` beams unless
    ``beam_size`` says otherwise."""
    AUTO_BEAM: ClassVar[int] = 8          # beams when a search is asked for without a beam size
    HOTWORD_BONUS: ClassVar[float] = 3.0  # natural-log bonus of a hotword given without one
    beam_size: int | None = None        # None: 1, or AUTO_BEAM when the options below need a search
    lm: str | None = None               # ARPA n-gram word LM
    alpha: float = 0.5                  # LM weight
    beta: float = 1.0                   # word insertion bonus (with an LM)
    words: list[str] | None = None      # restrict the output to these words
    hotwords: dict[str, float] | None = None   # word -> bonus (natural-log units)
    nbest: int = 1

    @classmethod
    def from_dict(cls, d: dict, name: str = "decoding") -> "DecodeOptions":
        try:
            return cls(**check_keys(d, cls, "decoding option"))
        except ConfigError as e:
            raise ConfigError(f"{name}: {e}") from None

    @property
    def searches(self) -> bool:
        """Whether something beyond the acoustics shapes the output (a search is needed)."""
        return bool(self.lm or self.words or self.hotwords or self.nbest > 1)

    @property
    def beam(self) -> int:
        """The number of beams actually used."""
        if self.beam_size is not None:
            return self.beam_size
        return self.AUTO_BEAM if self.searches else 1

    @property
    def greedy(self) -> bool:
        return self.beam <= 1 and not self.searches


@dataclass
class Transcript:
    text: str
    duration: float                     # seconds of input audio (of this segment, for long audio)
    words: list[dict] = field(default_factory=list)   # {"word", "start", "end", "confidence"}, seconds
    nbest: list[dict] = field(default_factory=list)   # {"text", "score"} when more than one was asked for
    start: float = 0.0                  # segment start in the file (long audio)
    end: float = 0.0

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
        self.trim = bool(config.get("trim_silence", True))
        self.fbank = FilterBank(self.feature_config)
        self.model = AcousticModel(self.model_config)
        if state_dict is not None:
            try:
                self.model.load_state_dict(state_dict)
            except RuntimeError as e:
                raise ConfigError(f"{name}: weights do not match the config ({str(e).splitlines()[0]})") from None
        self.model.eval()
        self.frame_seconds = self.feature_config.hop_length / self.feature_config.sample_rate * self.model_config.subsample
        # the decoder the model was published with (e.g. its word list); set_decoding() changes it
        self._lms: dict = {}  # loaded n-gram LMs by path
        self.default_options = DecodeOptions.from_dict(config.get("decoding") or {}, f"{name}: decoding")
        self.set_decoding(self.default_options)

    @classmethod
    def from_dir(cls, name_or_dir=None, device: str | None = None) -> "Recognizer":
        d = resolve_model(name_or_dir)
        config, vocab_path, state = load_model_files(d)
        rec = cls(config, Vocabulary.load(vocab_path), state, name=str(d))
        return rec.to(device) if device else rec

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device) -> "Recognizer":
        """Run front end and model on ``device`` ("auto", "cpu", "cuda", a torch.device)."""
        device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model.to(device)
        self.fbank.to(device)
        return self

    @property
    def is_classifier(self) -> bool:
        return self.model_config.head == "classifier"

    def set_decoding(self, options: DecodeOptions | None = None, **kw) -> "Recognizer":
        """Choose the decoder every later call uses unless it passes its own ``options``:
        ``set_decoding(beam_size=16, lm="lm.arpa", alpha=0.5, beta=1.0, words=[...],
        hotwords={"word": 3.0}, nbest=5)``; no arguments: plain greedy decoding;
        ``set_decoding(rec.default_options)``: the model's own default (its config's ``decoding``).
        Words with characters outside the model's vocabulary raise ConfigError."""
        self.options = self._checked(options or DecodeOptions(**kw))
        return self

    def _checked(self, opts: DecodeOptions) -> DecodeOptions:
        """Validate options against this model (words it can spell, an LM that loads) once."""
        for w in list(opts.words or []) + list(opts.hotwords or {}):
            missing = self.vocab.unknown(w)
            if missing:
                raise ConfigError(f"word {w!r} uses characters the model cannot output: {''.join(sorted(missing))}")
        if opts.beam_size is not None and opts.beam_size < 1:
            raise ConfigError(f"beam size must be >= 1, not {opts.beam_size}")
        if opts.lm and opts.lm not in self._lms:
            from .lm import NgramLM
            self._lms[opts.lm] = NgramLM.load(opts.lm)
        return opts

    # -- the pipeline -----------------------------------------------------------------------
    def _load(self, audio, sample_rate: int | None) -> np.ndarray:
        return load_audio(audio) if isinstance(audio, (str, Path)) else to_model_input(audio, sample_rate)

    def _bounds(self, wave: np.ndarray) -> tuple[int, int]:
        return speech_bounds(wave) if self.trim else (0, len(wave))

    @torch.inference_mode()
    def posteriors(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """16 kHz waves (already trimmed) -> CTC log-probs (B, T', V) and lengths (B,), or class
        logits (B, C)."""
        batch, lengths = pad_waves(waves)
        feats, flen = self.fbank(batch.to(self.device), lengths.to(self.device))
        out, olen, _ = self.model(feats, flen.clamp(min=1))
        return out.float().cpu(), olen.cpu()

    def _decode(self, out: torch.Tensor, length: int, offset: float, opts: DecodeOptions,
                words: bool = True) -> tuple[str, list[dict], list[dict]]:
        """One utterance's model output (CTC: (T', V) log-probs of which ``length`` frames are
        real; classifier: (C,) logits) -> text, word spans (offset added; none unless ``words``),
        n-best list."""
        if self.is_classifier:
            k = int(out.argmax(-1))
            return self.vocab.units[k], [], []
        out = out[:length]
        nbest: list[dict] = []
        if opts.greedy:
            dec = GreedyDecoder(self.vocab.blank)
            dec.accept(out)
            ids, frames = dec.ids, dec.frames
            text = self.vocab.decode(ids).strip()
        else:
            o = opts
            # give n-best room for distinct texts
            beam = max(o.beam, 4 * o.nbest if o.nbest > 1 else 1)
            dec = BeamSearchDecoder(self.vocab, beam_size=beam, lm=self._lms.get(o.lm) if o.lm else None, alpha=o.alpha,
                                    beta=o.beta, words=o.words, hotwords=o.hotwords)
            dec.accept(out)
            hyps = dec.finalize(nbest=o.nbest)
            ids, frames, text = hyps[0].ids, hyps[0].frames, hyps[0].text
            if o.nbest > 1:
                nbest = [{"text": h.text, "score": round(h.score, 3)} for h in hyps]
        spans = word_spans(ids, frames, self.vocab, self.frame_seconds, out) if words else []
        for w in spans:
            w["start"] = round(w["start"] + offset, 3)
            w["end"] = round(w["end"] + offset, 3)
        return " ".join(text.split()), spans, nbest

    def _options(self, options: DecodeOptions | None) -> DecodeOptions:
        return self.options if options is None else self._checked(options)

    def transcribe(self, audio, sample_rate: int | None = None, options: DecodeOptions | None = None) -> Transcript:
        """A file path, or a (S,) / (S, channels) array at ``sample_rate`` (None: 16 kHz) -> Transcript
        with text, duration, word timestamps (seconds from the start of the input) and n-best."""
        wave = self._load(audio, sample_rate)
        return self._transcribe_wave(wave, 0.0, self._options(options))

    def _transcribe_wave(self, wave: np.ndarray, start: float, opts: DecodeOptions) -> Transcript:
        a, b = self._bounds(wave)
        out, olen = self.posteriors([wave[a:b]])
        text, words, nbest = self._decode(out[0], int(olen[0]), start + a / SAMPLE_RATE, opts)
        refine_word_spans(words, wave, start)
        duration = len(wave) / SAMPLE_RATE
        return Transcript(text, duration, words, nbest, start, start + duration)

    def transcribe_waves(self, waves: list[np.ndarray], batch_seconds: float = 60.0,
                         options: DecodeOptions | None = None) -> list[str]:
        """16 kHz waves -> texts, batched by similar length (what evaluation uses)."""
        opts = self._options(options)
        waves = [w[slice(*self._bounds(w))] for w in waves]
        texts: list[str] = [""] * len(waves)
        seconds = [len(w) / SAMPLE_RATE for w in waves]
        for batch in bucket_batches(seconds, batch_seconds, shuffle=False, max_batch=len(waves)):
            out, olen = self.posteriors([waves[i] for i in batch])
            for j, i in enumerate(batch):
                texts[i] = self._decode(out[j], int(olen[j]), 0.0, opts, words=False)[0]
        return texts

    def transcribe_long(self, path, max_seconds: float = 20.0, progress=None,
                        options: DecodeOptions | None = None) -> Iterator[Transcript]:
        """Hours of audio with flat memory: the file is streamed, cut at pauses into segments of at
        most ``max_seconds`` (energy voice-activity detection), and each segment transcribed;
        yields one Transcript per segment with ``start``/``end`` in seconds from the file start.
        ``progress`` is called with the seconds of audio done after each segment."""
        from .segment import segment_file
        opts = self._options(options)
        for seg in segment_file(path, max_seconds=max_seconds):
            t = self._transcribe_wave(seg.audio, seg.start, opts)
            if progress is not None:
                progress(seg.end)
            if t.text:
                yield t


def refine_word_spans(words: list[dict], wave: np.ndarray, offset: float, floor_db: float = 35.0,
                      max_move_s: float = 0.3) -> None:
    """Move CTC word boundaries to the acoustic edges of the words, in place.

    CTC emits a word's letters as short spikes, the last one often well before the word fades
    out. Each word is widened over the neighbouring 10 ms frames whose energy is within
    ``floor_db`` of the word's loudest frame, never into the previous or next word and by at
    most ``max_move_s`` on each side (so a noisy recording cannot smear a word into the noise).
    ``wave`` starts at ``offset`` seconds; word times are in seconds."""
    if not words:
        return
    energy = frame_energy_db(wave)
    n = len(energy)
    frame = lambda t: min(n, max(0, int(round((t - offset) * 100))))  # noqa: E731
    spans = [[frame(w["start"]), max(frame(w["end"]), frame(w["start"]) + 1)] for w in words]
    for k, (s, e) in enumerate(spans):
        prev_end = spans[k - 1][1] if k else 0
        next_start = spans[k + 1][0] if k + 1 < len(spans) else n
        if s >= n:
            continue
        threshold = energy[s:e].max() - floor_db
        last, first = min(next_start, e + int(100 * max_move_s)), max(prev_end, s - int(100 * max_move_s))
        while e < last and energy[e] > threshold:
            e += 1
        while s > first and energy[s - 1] > threshold:
            s -= 1
        spans[k] = [s, e]
        words[k]["start"] = round(offset + s / 100, 3)
        words[k]["end"] = round(offset + e / 100, 3)


def load_model(name_or_dir=None, device: str | None = None) -> Recognizer:
    """Load a model directory, or a bundled model by name (default: the bundled default model),
    on ``device`` (None: the CPU; "auto": CUDA when there is one)."""
    return Recognizer.from_dir(name_or_dir, device)

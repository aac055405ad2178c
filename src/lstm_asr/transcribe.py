"""The recognizer: a loaded model that turns audio (files or arrays) into text.

    >>> import lstm_asr
    >>> model = lstm_asr.load_model()                    # the bundled default (digits)
    >>> model.transcribe("clip.wav").text
    'three one four'
    >>> model.set_decoding(beam_size=16, words=["one", "two", "three"])   # beam search, word list
    >>> for seg in model.transcribe_long("meeting.flac"):  # hours of audio, flat memory
    ...     print(seg.start, seg.end, seg.text)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .audio import SAMPLE_RATE, load_audio, speech_bounds, to_model_input
from .checkpoint import load_model_files, resolve_model
from .decoding import BeamSearchDecoder, GreedyDecoder, word_spans
from .errors import ConfigError
from .features import FeatureConfig, FilterBank
from .model import AcousticModel, ModelConfig
from .text import Vocabulary


@dataclass
class DecodeOptions:
    """How posteriors become text. beam_size 1 with nothing else set is greedy decoding."""
    beam_size: int = 1
    lm: str | None = None               # ARPA n-gram word LM
    alpha: float = 0.5                  # LM weight
    beta: float = 1.0                   # word insertion bonus (with an LM)
    words: list[str] | None = None      # restrict the output to these words
    hotwords: dict[str, float] | None = None   # word -> bonus (natural-log units)
    nbest: int = 1

    @property
    def greedy(self) -> bool:
        return self.beam_size <= 1 and not self.lm and not self.words and not self.hotwords and self.nbest <= 1


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
        self.options = DecodeOptions()
        self._lm = None

    @classmethod
    def from_dir(cls, name_or_dir=None) -> "Recognizer":
        d = resolve_model(name_or_dir)
        config, vocab_path, state = load_model_files(d)
        return cls(config, Vocabulary.load(vocab_path), state, name=str(d))

    @property
    def is_classifier(self) -> bool:
        return self.model_config.head == "classifier"

    def set_decoding(self, options: DecodeOptions | None = None, **kw) -> "Recognizer":
        """Choose the decoder: ``set_decoding(beam_size=16, lm="lm.arpa", alpha=0.5, beta=1.0,
        words=[...], hotwords={"word": 3.0}, nbest=5)``. Unknown words (characters outside the
        model's vocabulary) raise ConfigError."""
        opts = options or DecodeOptions(**kw)
        for w in list(opts.words or []) + list(opts.hotwords or {}):
            missing = self.vocab.unknown(w)
            if missing:
                raise ConfigError(f"word {w!r} uses characters the model cannot output: {''.join(sorted(missing))}")
        if opts.lm:
            from .lm import NgramLM
            self._lm = NgramLM.load(opts.lm)
        else:
            self._lm = None
        self.options = opts
        return self

    # -- the pipeline -----------------------------------------------------------------------
    def _load(self, audio, sample_rate: int | None) -> np.ndarray:
        return load_audio(audio) if isinstance(audio, (str, Path)) else to_model_input(audio, sample_rate)

    def _bounds(self, wave: np.ndarray) -> tuple[int, int]:
        return speech_bounds(wave) if self.trim else (0, len(wave))

    @torch.inference_mode()
    def posteriors(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """16 kHz waves (already trimmed) -> CTC log-probs (B, T', V) and lengths (B,), or class
        logits (B, C)."""
        lengths = torch.tensor([len(w) for w in waves])
        batch = torch.zeros(len(waves), int(lengths.max()))
        for k, w in enumerate(waves):
            batch[k, : len(w)] = torch.from_numpy(np.ascontiguousarray(w))
        feats, flen = self.fbank(batch, lengths)
        out, olen, _ = self.model(feats, flen.clamp(min=1))
        return out, olen

    def _decode(self, out: torch.Tensor, offset: float) -> tuple[str, list[dict], list[dict]]:
        """One utterance's (T', V) log-probs -> text, word spans (offset added), n-best list."""
        if self.is_classifier:
            k = int(out.argmax(-1))
            return self.vocab.units[k], [], []
        nbest: list[dict] = []
        if self.options.greedy:
            dec = GreedyDecoder(self.vocab.blank)
            dec.accept(out)
            ids, frames = dec.ids, dec.frames
            text = self.vocab.decode(ids).strip()
        else:
            o = self.options
            dec = BeamSearchDecoder(self.vocab, beam_size=max(o.beam_size, o.nbest), lm=self._lm, alpha=o.alpha,
                                    beta=o.beta, words=o.words, hotwords=o.hotwords)
            dec.accept(out)
            hyps = dec.finalize(nbest=o.nbest)
            ids, frames, text = hyps[0].ids, hyps[0].frames, hyps[0].text
            if o.nbest > 1:
                nbest = [{"text": h.text, "score": round(h.score, 3)} for h in hyps]
        words = word_spans(ids, frames, self.vocab, self.frame_seconds, out)
        for w in words:
            w["start"] = round(w["start"] + offset, 3)
            w["end"] = round(w["end"] + offset, 3)
        return " ".join(text.split()), words, nbest

    def transcribe(self, audio, sample_rate: int | None = None) -> Transcript:
        """A file path, or a (S,) / (S, channels) array at ``sample_rate`` (None: 16 kHz) -> Transcript
        with text, duration, word timestamps (seconds from the start of the input) and n-best."""
        wave = self._load(audio, sample_rate)
        return self._transcribe_wave(wave, 0.0)

    def _transcribe_wave(self, wave: np.ndarray, start: float) -> Transcript:
        a, b = self._bounds(wave)
        out, olen = self.posteriors([wave[a:b]])
        text, words, nbest = self._decode(out[0, : olen[0]] if not self.is_classifier else out[0],
                                          start + a / SAMPLE_RATE)
        duration = len(wave) / SAMPLE_RATE
        return Transcript(text, duration, words, nbest, start, start + duration)

    def transcribe_waves(self, waves: list[np.ndarray], batch_seconds: float = 60.0) -> list[str]:
        """16 kHz waves -> texts, batched by similar length (what evaluation uses)."""
        waves = [w[slice(*self._bounds(w))] for w in waves]
        order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
        texts: list[str] = [""] * len(waves)
        k = 0
        while k < len(order):
            batch = [order[k]]
            while (k + len(batch) < len(order)
                   and len(waves[order[k + len(batch)]]) * (len(batch) + 1) <= batch_seconds * SAMPLE_RATE):
                batch.append(order[k + len(batch)])
            out, olen = self.posteriors([waves[i] for i in batch])
            for j, i in enumerate(batch):
                texts[i] = self._decode(out[j, : olen[j]] if not self.is_classifier else out[j], 0.0)[0]
            k += len(batch)
        return texts

    def transcribe_long(self, path, max_seconds: float = 20.0, progress=None) -> Iterator[Transcript]:
        """Hours of audio with flat memory: the file is streamed, cut at pauses into segments of at
        most ``max_seconds`` (energy voice-activity detection), and each segment transcribed;
        yields one Transcript per segment with ``start``/``end`` in seconds from the file start.
        ``progress`` is called with the seconds of audio done after each segment."""
        from .segment import segment_file
        for seg in segment_file(path, max_seconds=max_seconds):
            t = self._transcribe_wave(seg.audio, seg.start)
            if progress is not None:
                progress(seg.end)
            if t.text:
                yield t


def load_model(name_or_dir=None) -> Recognizer:
    """Load a model directory, or a bundled model by name (default: the digits model)."""
    return Recognizer.from_dir(name_or_dir)

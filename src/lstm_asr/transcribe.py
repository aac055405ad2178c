"""The recognizer: a loaded model that turns audio (files or arrays) into text.

    >>> import lstm_asr
    >>> model = lstm_asr.load_model()              # the bundled default (digits)
    >>> model.transcribe("clip.wav").text
    'three one four'
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio import SAMPLE_RATE, load_audio, to_model_input, trim_silence
from .checkpoint import load_model_files, resolve_model
from .decoding import greedy_decode
from .errors import ConfigError
from .features import FeatureConfig, FilterBank
from .model import AcousticModel, ModelConfig
from .text import Vocabulary


@dataclass
class Transcript:
    text: str
    duration: float           # seconds of input audio

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

    @classmethod
    def from_dir(cls, name_or_dir=None) -> "Recognizer":
        d = resolve_model(name_or_dir)
        config, vocab_path, state = load_model_files(d)
        return cls(config, Vocabulary.load(vocab_path), state, name=str(d))

    def prepare(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """A path or an array -> (S,) float32 16 kHz, silence trimmed as the model was trained."""
        wave = load_audio(audio) if isinstance(audio, (str, Path)) else to_model_input(audio, sample_rate)
        return trim_silence(wave) if self.trim else wave

    @torch.inference_mode()
    def posteriors(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepared waves -> CTC log-probs (B, T', V) and lengths (B,), or class logits (B, C)."""
        lengths = torch.tensor([len(w) for w in waves])
        batch = torch.zeros(len(waves), int(lengths.max()))
        for k, w in enumerate(waves):
            batch[k, : len(w)] = torch.from_numpy(w)
        feats, flen = self.fbank(batch, lengths)
        out, olen, _ = self.model(feats, flen.clamp(min=1))
        return out, olen

    def decode(self, out: torch.Tensor, olen: torch.Tensor) -> list[str]:
        if self.model_config.head == "classifier":
            return [self.vocab.units[int(k)] for k in out.argmax(-1)]
        return [self.vocab.decode(greedy_decode(out[b, : olen[b]], self.vocab.blank)).strip()
                for b in range(out.shape[0])]

    def transcribe(self, audio, sample_rate: int | None = None) -> Transcript:
        """A file path, or a (S,) / (S, channels) array at ``sample_rate`` (None: 16 kHz) -> Transcript."""
        wave = load_audio(audio) if isinstance(audio, (str, Path)) else to_model_input(audio, sample_rate)
        duration = len(wave) / SAMPLE_RATE
        return Transcript(self.transcribe_waves([wave])[0], duration)

    def transcribe_waves(self, waves: list[np.ndarray], batch_seconds: float = 60.0) -> list[str]:
        """16 kHz waves -> texts, batched by similar length."""
        waves = [trim_silence(w) if self.trim else w for w in waves]
        order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
        texts: list[str] = [""] * len(waves)
        k = 0
        while k < len(order):
            batch = [order[k]]
            while (k + len(batch) < len(order)
                   and len(waves[order[k + len(batch)]]) * (len(batch) + 1) <= batch_seconds * SAMPLE_RATE):
                batch.append(order[k + len(batch)])
            out, olen = self.posteriors([waves[i] for i in batch])
            for i, text in zip(batch, self.decode(out, olen)):
                texts[i] = text
            k += len(batch)
        return texts


def load_model(name_or_dir=None) -> Recognizer:
    """Load a model directory, or a bundled model by name (default: the digits model)."""
    return Recognizer.from_dir(name_or_dir)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
